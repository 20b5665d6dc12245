"""Telemetry a device reports, and the averages it mirrors: sans-IO, time passed in.

CSIP-AUS monitoring asks for the average of samples taken at least every 5 s over each post
interval. :class:`Averager` keeps running sums only (a few floats per device, whatever the
interval), so a thousand simulated devices cost nothing here.

Sign conventions (what the readings mean, written once): ``site_w`` is the active power at the
connection point, positive when the site imports from the grid and negative when it exports;
``der_w`` is the DER's output, positive when it generates or discharges, negative when it
charges. Reactive power follows the same signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MAX_SAMPLE_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One instant at the device and its site."""

    site_w: float
    site_var: float
    der_w: float
    der_var: float
    hz: float
    volts: float
    soc_pct: float | None = None


class Telemetry(Protocol):
    """Where measurements come from (the simulator, or a vendor's meter driver)."""

    def sample(self, now: float) -> Sample: ...


FIELDS = ("site_w", "site_var", "der_w", "der_var", "hz", "volts", "soc_pct")


class Averager:
    """Running averages of :class:`Sample` fields since the last :meth:`take`."""

    __slots__ = ("count", "since", "soc_count", "sums")

    def __init__(self, since: float) -> None:
        self.sums = [0.0] * len(FIELDS)
        self._reset(since)

    def _reset(self, since: float) -> None:
        self.since = since
        self.count = 0
        self.soc_count = 0
        for i in range(len(self.sums)):
            self.sums[i] = 0.0

    def add(self, sample: Sample) -> None:
        self.count += 1
        sums = self.sums
        sums[0] += sample.site_w
        sums[1] += sample.site_var
        sums[2] += sample.der_w
        sums[3] += sample.der_var
        sums[4] += sample.hz
        sums[5] += sample.volts
        if sample.soc_pct is not None:
            sums[6] += sample.soc_pct
            self.soc_count += 1

    def take(self, now: float) -> Sample | None:
        """The averages since the last take (None when nothing was sampled), and restart."""
        if self.count == 0:
            self.since = now
            return None
        n, sums = self.count, self.sums
        soc = sums[6] / self.soc_count if self.soc_count else None
        average = Sample(
            sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n, sums[4] / n, sums[5] / n, soc
        )
        self._reset(now)
        return average
