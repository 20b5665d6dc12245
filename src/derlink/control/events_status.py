"""EventStatus of DERControls as a head-end serves them (IEEE 2030.5-2018, Annex B EventStatus).

Every status is computed from the controls and ``now``; nothing is stored but what an operator
did (a cancellation, with its time). The facts that do not depend on ``now`` (when an event is
superseded, when it became potentially superseded) are computed once per control as a
:class:`Timeline` and read at ``now`` by :func:`status_at`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from derlink.control.events_window import control_modes, earliest_start, specified_window
from derlink.domain.controls import Control, ControlStatus, Program


@dataclass(frozen=True, slots=True)
class EventStatus:
    """IEEE 2030.5 EventStatus: currentStatus, dateTime, potentiallySuperseded(Time), reason."""

    current_status: ControlStatus
    date_time: int
    potentially_superseded: bool = False
    potentially_superseded_time: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Timeline:
    """The ``now``-independent facts about one control, within the programs considered."""

    control: Control
    primacy: int
    superseded_at: int | None = None
    superseded_by: str | None = None
    flagged_at: int | None = None


def outranks(a: Control, a_primacy: int, b: Control, b_primacy: int) -> bool:
    """Whether event ``a`` takes precedence over ``b``: lower primacy, then the later
    creationTime ("the Event with the larger creationTime is the newer Event", §12.1.3).

    Equal primacy and equal creationTime: neither outranks the other, as in the EPRI reference
    client (``x->creationTime > y->creationTime``).
    """
    if a_primacy != b_primacy:
        return a_primacy < b_primacy
    return a.created > b.created


def rank(control: Control, primacy: int) -> tuple[int, int, str]:
    """Sort key, best first. The mRID breaks ties the standard leaves open (derlink's choice)."""
    return (primacy, -control.created, control.mrid)


def _cancelled_by(control: Control, t: int) -> bool:
    return control.cancelled and control.status_time <= t


def supersedes_at(newer: Control, older: Control) -> int | None:
    """When the server marks ``older`` Superseded because of ``newer`` (same program), or None.

    Annex B, currentStatus 4: events "replaced by new events from the same program that target
    the exact same set of ... DERControl controls (e.g., opModTargetW) ... and overlap"; servers
    "SHALL mark an event as Superseded at the earliest Effective Start Time of the overlapping
    event". Differing controls are independent and overlap without superseding (§12.1.3).
    An event created after that instant supersedes when it is created (dateTime is never in
    the past); a superseding event cancelled before that instant supersedes nothing.
    """
    modes = control_modes(older.base)
    if newer.created <= older.created or not modes or control_modes(newer.base) != modes:
        return None
    if not specified_window(newer).overlaps(specified_window(older)):
        return None
    at = max(earliest_start(newer), newer.created)
    if _cancelled_by(newer, at) or at >= older.end:
        return None
    return at


def partially_overlaps_at(newer: Control, older: Control) -> int | None:
    """When ``newer`` makes ``older`` potentially superseded (same program), or None.

    Annex B, potentiallySuperseded: "events that overlap this event in time and also overlap in
    some, but not all, ... DERControl controls ... in the same function set instance". The flag
    is set when the overlapping event appears, its creationTime.
    """
    if newer.created <= older.created:
        return None
    mine, theirs = control_modes(older.base), control_modes(newer.base)
    if not mine & theirs or mine == theirs:
        return None
    if not specified_window(newer).overlaps(specified_window(older)):
        return None
    return newer.created


def preempted_at(
    higher: Control, higher_primacy: int, lower: Control, lower_primacy: int
) -> int | None:
    """When a device that sees both programs could have ``lower`` overridden by ``higher``.

    derlink's per-device reading of potentiallySuperseded (not in the 2018 text, which scopes
    the flag to one function set instance): a higher-priority event of another program that
    overlaps in time and shares a control mode. Set when both exist.
    """
    if higher.program == lower.program or not outranks(
        higher, higher_primacy, lower, lower_primacy
    ):
        return None
    if not control_modes(higher.base) & control_modes(lower.base):
        return None
    if not specified_window(higher).overlaps(specified_window(lower)):
        return None
    at = max(higher.created, lower.created)
    return None if _cancelled_by(higher, at) else at


def _first(times: Iterable[int | None]) -> int | None:
    return min((t for t in times if t is not None), default=None)


def _program_timeline(control: Control, primacy: int, peers: Sequence[Control]) -> Timeline:
    by = [(t, d.mrid) for d in peers if (t := supersedes_at(d, control)) is not None]
    superseded = min(by, default=None)
    at, who = superseded if superseded else (None, None)
    if control.status is ControlStatus.SUPERSEDED and (at is None or control.status_time < at):
        at, who = control.status_time, None
    flagged = _first(partially_overlaps_at(d, control) for d in peers)
    return Timeline(control, primacy, at, who, flagged)


def _checked(controls: Iterable[Control]) -> list[Control]:
    result = list(controls)
    mrids = [c.mrid for c in result]
    if len(set(mrids)) != len(mrids):
        raise ValueError("two controls share an mRID")
    return result


def program_timelines(program: Program, controls: Iterable[Control]) -> dict[str, Timeline]:
    """Timelines of ``program``'s controls (controls of other programs are ignored)."""
    mine = [c for c in _checked(controls) if c.program == program.id]
    return {c.mrid: _program_timeline(c, program.primacy, mine) for c in mine}


def device_timelines(
    programs: Iterable[Program], controls: Iterable[Control]
) -> dict[str, Timeline]:
    """Timelines of the controls a device sees through ``programs`` (its FSAs' DERPrograms),
    with the cross-program potentiallySuperseded reading of :func:`preempted_at`."""
    listed = list(programs)
    by_id = {p.id: p for p in listed}
    if len(by_id) != len(listed):
        raise ValueError("two programs share an id")
    grouped: dict[str, list[Control]] = defaultdict(list)
    for c in _checked(controls):
        if c.program in by_id:
            grouped[c.program].append(c)
    own: dict[str, Timeline] = {}
    for pid, mine in grouped.items():
        own.update(program_timelines(by_id[pid], mine))
    return {mrid: _with_preemption(tl, own.values()) for mrid, tl in own.items()}


def _with_preemption(tl: Timeline, everyone: Iterable[Timeline]) -> Timeline:
    cross = _first(preempted_at(o.control, o.primacy, tl.control, tl.primacy) for o in everyone)
    flagged = _first((tl.flagged_at, cross))
    return Timeline(tl.control, tl.primacy, tl.superseded_at, tl.superseded_by, flagged)


def status_at(tl: Timeline, now: int) -> EventStatus:
    """The EventStatus the server serves at ``now``.

    Cancelled (2, or 3 with randomization) from the cancellation time. Superseded (4) from the
    instant of :func:`supersedes_at`. Otherwise Active (1) from the earliest Effective Start Time
    ("for events with a start time less than or equal to the current time, [Scheduled] SHALL
    never be indicated") and Scheduled (0) before. The 2018 edition has no Completed status:
    an event that has run out stays Active. dateTime is when the status began.
    """
    c = tl.control
    flagged = tl.flagged_at is not None and tl.flagged_at <= now
    flags = (flagged, tl.flagged_at if flagged else None)
    if _cancelled_by(c, now):
        return EventStatus(c.status, c.status_time, *flags)
    if tl.superseded_at is not None and tl.superseded_at <= now:
        reason = f"superseded by {tl.superseded_by}" if tl.superseded_by else "superseded"
        return EventStatus(ControlStatus.SUPERSEDED, tl.superseded_at, *flags, reason)
    start = earliest_start(c)
    if now >= start:
        return EventStatus(ControlStatus.ACTIVE, max(start, c.created), *flags)
    return EventStatus(ControlStatus.SCHEDULED, c.created, *flags)


def program_event_statuses(
    program: Program, controls: Iterable[Control], now: int
) -> Mapping[str, EventStatus]:
    """EventStatus by mRID of ``program``'s controls, for rendering its DERControlList.

    The strict 2018 reading: supersession and potentiallySuperseded within this program only.
    """
    return {m: status_at(tl, now) for m, tl in program_timelines(program, controls).items()}


def device_event_statuses(
    programs: Iterable[Program], controls: Iterable[Control], now: int
) -> Mapping[str, EventStatus]:
    """EventStatus by mRID of every control one device sees through ``programs``.

    As :func:`program_event_statuses`, plus potentiallySuperseded on a control that a
    higher-priority control of another of these programs may override (:func:`preempted_at`).
    """
    return {m: status_at(tl, now) for m, tl in device_timelines(programs, controls).items()}
