"""Demand response: load-control events for categories of devices (IEEE 2030.5 DRLC).

A :class:`DemandProgram` (DemandResponseProgram) has a primacy and targets groups; its
:class:`LoadControl` events (EndDeviceControl) name the device categories that should respond
(DeviceCategoryType bits) and what they should do (:class:`LoadModes`: duty cycle, temperature
offsets or set points, a target reduction, an appliance load reduction).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields
from typing import ClassVar

from derlink.domain.errors import DomainError
from derlink.domain.events import Event, RankedPublication, check_event

# IEEE 2030.5 DeviceCategoryType: bit positions of the categories.
DEVICE_CATEGORIES: dict[str, int] = {
    name: bit
    for bit, name in enumerate(
        (
            "thermostat",
            "strip-heater",
            "baseboard-heater",
            "water-heater",
            "pool-pump",
            "sauna",
            "hot-tub",
            "smart-appliance",
            "irrigation-pump",
            "ci-load",
            "simple-load",
            "exterior-lighting",
            "interior-lighting",
            "load-control-switch",
            "ems",
            "smart-energy-module",
            "ev",
            "evse",
            "der",
            "engine",
            "fuel-cell",
            "pv",
            "chp",
            "pv-storage",
            "other-generation",
            "other-storage",
        )
    )
}


class ApplianceReduction(enum.IntEnum):
    """IEEE 2030.5 ApplianceLoadReductionType."""

    DELAY = 0
    TEMPORARY = 1


class ReductionUnit(enum.IntEnum):
    """IEEE 2030.5 UnitType of a TargetReduction."""

    KWH = 0
    KW = 1
    W = 2
    M3 = 3
    FT3 = 4
    US_GAL = 5
    IMP_GAL = 6
    BTU = 7
    L = 8
    KPA_GAUGE = 9
    KPA_ABSOLUTE = 10
    MJ = 11
    UNITLESS = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandProgram(RankedPublication):
    """A demand response program for groups; lower primacy wins."""

    LABEL: ClassVar[str] = "demand response program"


@dataclass(frozen=True, slots=True)
class LoadModes:
    """What a load control asks; None is "not part of the event".

    Offsets in °C (0..25.5, tenths), set points in °C (-273.15..327.67, hundredths),
    percentages 0..100 (hundredths), the target reduction a whole count of ``target_unit``.
    """

    duty_cycle_pct: int | None = None
    cooling_offset_c: float | None = None
    heating_offset_c: float | None = None
    load_adjustment_pct: float | None = None
    cooling_setpoint_c: float | None = None
    heating_setpoint_c: float | None = None
    target_reduction: int | None = None
    target_unit: ReductionUnit = ReductionUnit.KW
    appliance_reduction: ApplianceReduction | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_unit", ReductionUnit(self.target_unit))
        if self.appliance_reduction is not None:
            reduction = ApplianceReduction(self.appliance_reduction)
            object.__setattr__(self, "appliance_reduction", reduction)
        _within("duty cycle", self.duty_cycle_pct, 0, 100)
        _within("cooling offset", self.cooling_offset_c, 0, 25.5)
        _within("heating offset", self.heating_offset_c, 0, 25.5)
        _within("load adjustment", self.load_adjustment_pct, 0, 100)
        _within("cooling set point", self.cooling_setpoint_c, -273.15, 327.67)
        _within("heating set point", self.heating_setpoint_c, -273.15, 327.67)
        _within("target reduction", self.target_reduction, 0, 65535)

    def set_fields(self) -> dict[str, object]:
        """The modes this event sets (the unit of the target reduction is not a mode)."""
        return {
            f.name: v
            for f in fields(self)
            if f.name != "target_unit" and (v := getattr(self, f.name)) is not None
        }


def _within(name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and (not math.isfinite(value) or not low <= value <= high):
        raise DomainError(f"{name} {value} is outside {low:g}..{high:g}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadControl(Event):
    """A load-control event of demand response program ``program``.

    ``device_category`` is the DeviceCategoryType bitmap of who should respond; the event's
    scope for supersession (2030.5 Annex B EventStatus: "the exact same set of
    deviceCategory's"). ``override_duration`` (s) is how long a user override lasts.
    """

    device_category: int
    modes: LoadModes
    mandatory: bool = False
    load_shift_forward: bool = False
    override_duration: int | None = None

    def __post_init__(self) -> None:
        check_event(self)
        if not 0 < self.device_category < 2**32:
            raise DomainError("a load control names at least one device category (32 bits)")
        if not self.modes.set_fields():
            raise DomainError("a load control sets at least one load-control mode")
        _within("override duration", self.override_duration, 0, 65535)

    @property
    def categories(self) -> frozenset[str]:
        """The category bits, as the scope that decides supersession."""
        return frozenset(str(b) for b in range(32) if self.device_category >> b & 1)
