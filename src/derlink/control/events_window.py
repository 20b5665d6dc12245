"""Event windows and randomisation (IEEE 2030.5-2018 RandomizableEvent, Annex B).

A DERControl's *specified* window is ``[start, start + duration)``: half-open, so an event that
ends at the instant the next one starts does not overlap it. A device executes the *effective*
window: start moved by a random offset drawn within ``randomizeStart`` and duration moved by
one drawn within ``randomizeDuration`` ("Number of seconds boundary inside which a random value
must be selected", OneHourRangeType -3600..3600). The offset has the sign of its bound and a
magnitude in ``0..|bound|`` (the reading of the EPRI reference client, ``rand_bound``).

Offsets are drawn once per event per device. With a seed they are derived from
``random.Random(f"{seed}:{mRID}")``, so the same device computes the same window on every call
and the functions here stay pure.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TypeAlias

from derlink.domain.controls import MAX_RANDOMIZE, Control, ControlBase

# Every ControlBase field is a control mode except the ramp time, which modifies the modes an
# event carries rather than commanding anything itself (DERControlBase rampTms).
MODE_FIELDS: frozenset[str] = frozenset(f.name for f in fields(ControlBase)) - {"ramp_time_s"}


@dataclass(frozen=True, slots=True)
class EventWindow:
    """A half-open interval of Unix seconds ``[start, end)``."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    def covers(self, t: int) -> bool:
        return self.start <= t < self.end

    def overlaps(self, other: EventWindow) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Randomization:
    """One device's draws for one event: start and duration offsets, and the cancel delay.

    ``cancel_delay`` is used only when the event is Cancelled with Randomization (status 3):
    the client cancels after a delay within the larger of ``|randomizeStart|`` and
    ``|randomizeDuration|`` (Annex B, EventStatus.currentStatus 3).
    """

    start_offset: int = 0
    duration_offset: int = 0
    cancel_delay: int = 0

    def __post_init__(self) -> None:
        for name in ("start_offset", "duration_offset"):
            if abs(getattr(self, name)) > MAX_RANDOMIZE:
                raise ValueError(f"{name} must be within -3600..3600 s")
        if not 0 <= self.cancel_delay <= MAX_RANDOMIZE:
            raise ValueError("cancel_delay must be within 0..3600 s")

    def fits(self, control: Control) -> bool:
        """Whether these offsets could have been drawn for ``control``'s bounds."""
        return (
            _within(self.start_offset, control.randomize_start)
            and _within(self.duration_offset, control.randomize_duration)
            and self.cancel_delay <= cancel_bound(control)
        )


NO_RANDOMIZATION = Randomization()

# How a device's offsets are chosen in the per-device functions: None (no randomization, the
# server's nominal view), a device seed, or the offsets the device already drew, by mRID.
# A bare random.Random is not accepted there: each call would draw anew.
DeviceRandomness: TypeAlias = int | str | Mapping[str, Randomization] | None


def _within(offset: int, bound: int) -> bool:
    return 0 <= offset <= bound if bound >= 0 else bound <= offset <= 0


def draw_offset(bound: int, rng: random.Random) -> int:
    """A random offset with the sign of ``bound`` and a magnitude in ``0..|bound|``."""
    if abs(bound) > MAX_RANDOMIZE:
        raise ValueError(f"randomization bound {bound} is outside -3600..3600 s")
    if bound == 0:
        return 0
    magnitude = rng.randint(0, abs(bound))
    return magnitude if bound > 0 else -magnitude


def cancel_bound(control: Control) -> int:
    """The cancel delay bound: the larger of ``|randomizeStart|`` and ``|randomizeDuration|``."""
    return max(abs(control.randomize_start), abs(control.randomize_duration))


def randomize(control: Control, source: random.Random | int | str) -> Randomization:
    """Draw ``control``'s offsets from a ``random.Random``, or derive them from a device seed.

    A ``random.Random`` is consumed (the caller keeps the result: one draw per event per
    device). An ``int`` or ``str`` seed gives the same offsets for the same seed and mRID every
    time, whatever else was drawn before.
    """
    rng = source if isinstance(source, random.Random) else random.Random(f"{source}:{control.mrid}")
    start = draw_offset(control.randomize_start, rng)
    duration = draw_offset(control.randomize_duration, rng)
    cancel = draw_offset(cancel_bound(control), rng)
    return Randomization(start, duration, cancel)


def offsets_for(control: Control, source: DeviceRandomness) -> Randomization:
    """The offsets a device uses for ``control``: none, drawn, derived, or looked up."""
    if source is None:
        return NO_RANDOMIZATION
    if isinstance(source, Mapping):
        offsets = source.get(control.mrid, NO_RANDOMIZATION)
        if not offsets.fits(control):
            raise ValueError(f"offsets {offsets} do not fit the bounds of {control.mrid}")
        return offsets
    return randomize(control, source)


def specified_window(control: Control) -> EventWindow:
    """The window as the server wrote it; overlap and expiry are judged on it."""
    return EventWindow(control.start, control.end)


def effective_window(control: Control, offsets: Randomization = NO_RANDOMIZATION) -> EventWindow:
    """The window a device executes. A negative duration offset larger than the duration
    leaves an empty window rather than one that ends before it starts."""
    if not offsets.fits(control):
        raise ValueError(f"offsets {offsets} do not fit the bounds of {control.mrid}")
    start = control.start + offsets.start_offset
    return EventWindow(start, start + max(0, control.duration + offsets.duration_offset))


def earliest_start(control: Control) -> int:
    """The earliest Effective Start Time any device can draw (the server's Active instant)."""
    return control.start + min(0, control.randomize_start)


def control_modes(base: ControlBase) -> frozenset[str]:
    """The control modes a base commands (the DERControlBase opMod* elements it carries)."""
    return frozenset(base.set_fields()) & MODE_FIELDS
