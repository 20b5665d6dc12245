"""What one device executes: its events' effective windows and the envelope in force at ``now``.

The device sees the DERControls of the DERPrograms its FunctionSetAssignments list. The rules:

- An event is *eligible* while it exists (creationTime), its effective window covers ``now``,
  and it is neither cancelled (from the cancellation time, plus the device's cancel delay for
  status 3) nor superseded (Annex B currentStatus 2, 3, 4).
- Control modes are independent: "differing controls (e.g., opModTargetVar, opModTargetW)
  within DERControl Events are independent and are allowed to overlap or nest without
  superseding" (IEEE 2030.5-2018 §12.1.3). So precedence is decided mode by mode: each mode
  comes from the eligible event with the lowest primacy, then the latest creationTime
  (CSIP v2.1 §4.4.3: "controls only conflict if they affect the same control type").
- Across programs a preempted event resumes when the higher-priority one ends (the 2023 text
  makes this explicit: the overlapped event ends at the overlapping event's start and restarts
  at its end). Within a program an event marked Superseded never resumes (CSIP v2.1 §7.10).
- A mode no eligible event sets comes from the DefaultDERControl ("to be used if no active
  DERControl is found", Annex B) of the highest-priority program whose default sets it; equal
  primacy falls to the program id (derlink's choice: the standard has no tie rule here).
- When a running event is superseded the device starts the superseding event at once, "unless
  the current time is within the start randomization window of the superseded event, in which
  case the client SHALL obey the start randomization of the new event" (Annex B, status 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from derlink.control.events_status import EventStatus, Timeline, device_timelines, rank, status_at
from derlink.control.events_window import (
    DeviceRandomness,
    EventWindow,
    Randomization,
    effective_window,
    offsets_for,
)
from derlink.domain.controls import Control, ControlBase, ControlStatus, Program


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One control as one device executes it.

    ``status`` is the EventStatus served at the ``now`` asked for; the other fields do not
    depend on ``now``. ``window`` is the effective window, its start brought forward when the
    event takes over from a running event it supersedes.
    """

    control: Control
    primacy: int
    status: EventStatus
    window: EventWindow
    cancel_at: int | None = None
    superseded_at: int | None = None

    @property
    def stop(self) -> int:
        """When the event stops being eligible: its end, cancellation or supersession."""
        ends = (self.window.end, self.cancel_at, self.superseded_at)
        return min(t for t in ends if t is not None)

    def eligible(self, t: int) -> bool:
        return self.control.created <= t and self.window.start <= t < self.stop


@dataclass(frozen=True, slots=True)
class FieldSource:
    """Where one field of the envelope in force comes from; ``mrid`` None is the program's
    DefaultDERControl."""

    field: str
    program: str
    mrid: str | None


@dataclass(frozen=True, slots=True)
class InForce:
    """The envelope a device applies at one instant, and the source of each of its fields."""

    base: ControlBase
    sources: tuple[FieldSource, ...]

    @property
    def events(self) -> tuple[str, ...]:
        """mRIDs of the events supplying at least one field (empty: defaults only)."""
        return tuple(sorted({s.mrid for s in self.sources if s.mrid is not None}))

    @property
    def is_default(self) -> bool:
        return not self.events


def _cancel_at(control: Control, offsets: Randomization) -> int | None:
    if not control.cancelled:
        return None
    delay = offsets.cancel_delay if control.status is ControlStatus.CANCELLED_RANDOM else 0
    return control.status_time + delay


def _handover_starts(
    timelines: Mapping[str, Timeline],
    windows: Mapping[str, EventWindow],
    cancels: Mapping[str, int | None],
) -> dict[str, int]:
    """Start times pulled forward: a superseding event starts when the event it supersedes,
    running on this device at that instant, is marked Superseded."""
    pulled: dict[str, int] = {}
    for mrid, tl in timelines.items():
        at, by = tl.superseded_at, tl.superseded_by
        if at is None or by is None:
            continue
        window, cancel = windows[mrid], cancels[mrid]
        running_until = window.end if cancel is None else min(window.end, cancel)
        if window.start <= at < running_until:
            pulled[by] = min(pulled.get(by, at), at)
    return pulled


def device_events(
    programs: Iterable[Program],
    controls: Iterable[Control],
    now: int,
    *,
    randomization: DeviceRandomness = None,
) -> tuple[DeviceEvent, ...]:
    """Every control the device sees through ``programs``, best precedence first."""
    timelines = device_timelines(programs, controls)
    offsets = {m: offsets_for(tl.control, randomization) for m, tl in timelines.items()}
    windows = {m: effective_window(tl.control, offsets[m]) for m, tl in timelines.items()}
    cancels = {m: _cancel_at(tl.control, offsets[m]) for m, tl in timelines.items()}
    pulled = _handover_starts(timelines, windows, cancels)
    events = []
    for mrid, tl in timelines.items():
        window = windows[mrid]
        if mrid in pulled:
            window = EventWindow(min(window.start, pulled[mrid]), window.end)
        status = status_at(tl, now)
        events.append(
            DeviceEvent(tl.control, tl.primacy, status, window, cancels[mrid], tl.superseded_at)
        )
    return tuple(sorted(events, key=lambda e: rank(e.control, e.primacy)))


def _take(
    chosen: dict[str, tuple[Any, FieldSource]], base: ControlBase, program: str, mrid: str | None
) -> None:
    for name, value in base.set_fields().items():
        chosen.setdefault(name, (value, FieldSource(name, program, mrid)))


def active_control(
    programs: Iterable[Program],
    controls: Iterable[Control],
    now: int,
    *,
    randomization: DeviceRandomness = None,
) -> InForce:
    """The envelope in force for a device at ``now``: events mode by mode, then defaults.

    ``randomization`` None gives the nominal view (no offsets), as a head-end predicts it; a
    device passes its seed or the offsets it drew.
    """
    programs = tuple(programs)
    chosen: dict[str, tuple[Any, FieldSource]] = {}
    for event in device_events(programs, controls, now, randomization=randomization):
        if event.eligible(now):
            _take(chosen, event.control.base, event.control.program, event.control.mrid)
    for program in sorted(programs, key=lambda p: (p.primacy, p.id)):
        if program.default is not None:
            _take(chosen, program.default, program.id, None)
    base = ControlBase(**{name: value for name, (value, _) in chosen.items()})
    sources = tuple(sorted((source for _, source in chosen.values()), key=lambda s: s.field))
    return InForce(base, sources)


def next_transition_time(
    programs: Iterable[Program],
    controls: Iterable[Control],
    now: int,
    *,
    randomization: DeviceRandomness = None,
) -> int | None:
    """The first instant after ``now`` at which the envelope in force or an event's client
    state can change (for a sans-IO timer); None when nothing is pending."""
    times: list[int] = []
    for e in device_events(programs, controls, now, randomization=randomization):
        times += [e.control.created, e.window.start, e.window.end]
        times += [t for t in (e.cancel_at, e.superseded_at) if t is not None]
    return min((t for t in times if t > now), default=None)
