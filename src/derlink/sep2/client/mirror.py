"""CSIP-AUS telemetry through the Metering Mirror function set, sans-IO.

Each EndDevice mirrors two usage points (CSIP-AUS monitoring): the *site* at its connection
point (roleFlags 0x03: isMirror, isPremisesAggregationPoint) and the *device* (0x49: isMirror,
isDER, isSubmeter). Each carries one MirrorMeterReading per quantity: average active power W
(uom 38), reactive power var (63), frequency Hz (33), voltage V (29), and for storage the state
of charge; every ReadingType is kind 37 (instantaneous), dataQualifier 2 (average),
accumulationBehaviour 12 (indicating), commodity 1, flowDirection 1 (forward: positive values
import at the site and generate at the device, see :mod:`derlink.sep2.client.telemetry`).
The state of charge is a percentage: 2030.5's UomType has no percent, so it travels as uom 0
("not applicable") with the description saying so; DERStatus.stateOfChargeStatus carries it too.

mRIDs are derived from the LFDI, the role and the quantity, so a client that restarts posts the
same mirrors again and the server finds them (it answers the existing href).
:class:`MirrorClock` decides when to post: at the end of each post interval, aligned to the
interval in server time, plus a per-device offset so a fleet does not post all at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from derlink.sep2.client.telemetry import Sample
from derlink.sep2.xml import (
    DateTimeInterval,
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorReadingSet,
    MirrorUsagePoint,
    Reading,
    ReadingType,
)

SITE_ROLE = 0x0003
DEVICE_ROLE = 0x0049
KIND_INSTANTANEOUS = 37
QUALIFIER_AVERAGE = 2
ACCUMULATION_INDICATING = 12
COMMODITY_ELECTRICITY_SECONDARY = 1
FLOW_FORWARD = 1
SERVICE_ELECTRICITY = 0
STATUS_ON = 1
MAX_OFFSET = 30.0


@dataclass(frozen=True, slots=True)
class Quantity:
    name: str
    uom: int
    multiplier: int
    site_field: str
    device_field: str
    description: str


QUANTITIES = (
    Quantity("W", 38, 0, "site_w", "der_w", "average active power W"),
    Quantity("var", 63, 0, "site_var", "der_var", "average reactive power var"),
    Quantity("Hz", 33, -2, "hz", "hz", "average frequency Hz"),
    Quantity("V", 29, -1, "volts", "volts", "average voltage V"),
    Quantity("SoC", 0, 0, "", "soc_pct", "average state of charge %"),
)


def mrid(lfdi: str, *parts: object) -> bytes:
    text = ":".join(["derlink-mirror", lfdi.upper(), *map(str, parts)])
    return hashlib.sha256(text.encode()).digest()[:16]


def quantities(role: int, storage: bool) -> tuple[Quantity, ...]:
    chosen: tuple[Quantity, ...] = QUANTITIES[:4]
    if role == DEVICE_ROLE and storage:
        chosen += QUANTITIES[4:]
    return chosen


def reading_type(q: Quantity, interval: int) -> ReadingType:
    return ReadingType(
        accumulationBehaviour=ACCUMULATION_INDICATING,
        commodity=COMMODITY_ELECTRICITY_SECONDARY,
        dataQualifier=QUALIFIER_AVERAGE,
        flowDirection=FLOW_FORWARD,
        intervalLength=interval,
        kind=KIND_INSTANTANEOUS,
        phase=0,
        powerOfTenMultiplier=q.multiplier,
        uom=q.uom,
    )


def usage_point(lfdi: str, role: int, *, storage: bool, interval: int) -> MirrorUsagePoint:
    """The MirrorUsagePoint to POST once (its MirrorMeterReadings, without readings)."""
    name = "site" if role == SITE_ROLE else "device"
    return MirrorUsagePoint(
        mRID=mrid(lfdi, role),
        description=f"{name} {lfdi[:16]}",
        roleFlags=role.to_bytes(2, "big"),
        serviceCategoryKind=SERVICE_ELECTRICITY,
        status=STATUS_ON,
        deviceLFDI=bytes.fromhex(lfdi),
        MirrorMeterReading=tuple(
            MirrorMeterReading(
                mRID=mrid(lfdi, role, q.name),
                description=q.description,
                ReadingType=reading_type(q, interval),
            )
            for q in quantities(role, storage)
        ),
    )


def value_of(q: Quantity, role: int, average: Sample) -> int | None:
    raw = getattr(average, q.site_field if role == SITE_ROLE else q.device_field)
    if raw is None:
        return None
    return round(float(raw) / 10.0**q.multiplier)


def readings(
    lfdi: str, role: int, average: Sample, start: int, duration: int, *, storage: bool
) -> MirrorMeterReadingList:
    """One MirrorReadingSet per quantity with the average over ``[start, start+duration)``."""
    window = DateTimeInterval(duration=duration, start=start)
    meters = []
    for q in quantities(role, storage):
        value = value_of(q, role, average)
        if value is None:
            continue
        meters.append(
            MirrorMeterReading(
                mRID=mrid(lfdi, role, q.name),
                description=q.description,
                MirrorReadingSet=(
                    MirrorReadingSet(
                        mRID=mrid(lfdi, role, q.name, start),
                        timePeriod=window,
                        Reading=(Reading(timePeriod=window, value=value),),
                    ),
                ),
            )
        )
    return MirrorMeterReadingList(
        all=len(meters), results=len(meters), MirrorMeterReading=tuple(meters)
    )


@dataclass(slots=True)
class MirrorClock:
    """When the next post is due: the end of the current aligned interval, plus this device's
    ``phase`` (a fraction of the interval, at most :data:`MAX_OFFSET` seconds)."""

    interval: int
    phase: float = 0.0
    window_start: int = 0

    def start(self, now: int) -> None:
        self.window_start = now - now % self.interval

    @property
    def offset(self) -> float:
        return min(self.phase * self.interval, MAX_OFFSET)

    @property
    def window_end(self) -> int:
        return self.window_start + self.interval

    def due_at(self) -> float:
        return self.window_end + self.offset

    def due(self, now: float) -> bool:
        return now >= self.due_at()

    def advance(self, now: int) -> tuple[int, int]:
        """Close the window: ``(start, duration)`` of what is posted; the next one begins."""
        start, end = self.window_start, self.window_end
        self.window_start = max(end, now - now % self.interval)
        return start, end - start

    def set_interval(self, interval: int) -> None:
        if interval != self.interval and interval > 0:
            self.interval = interval
            self.window_start -= self.window_start % interval
