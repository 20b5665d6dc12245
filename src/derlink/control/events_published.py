"""EventStatus of the events of the other function sets, sans-IO: price intervals
(TimeTariffInterval), load controls (EndDeviceControl) and text messages (TextMessage).

IEEE 2030.5 gives every function set the same event rules (§12.1.3; Annex B EventStatus), as
:mod:`derlink.control.events_status` applies them to DERControls; only the *scope* that
decides supersession differs. Within one function set instance (a rate component's
TimeTariffIntervalList, a program's EndDeviceControlList or TextMessageList):

- Superseded (4): a newer event overlapping in time with "the exact same set of
  deviceCategory's (if applicable)" marks the older one at its earliest Effective Start Time
  (Annex B). Price intervals have no categories: every interval of a rate component shares one
  scope. Never for TextMessage, "since multiple text messages can be active".
- potentiallySuperseded: a newer overlapping event whose scope shares some, not all, of this
  one's (load controls naming overlapping sets of categories), from its creationTime.
- Cancelled (2, 3) from the cancellation; Active from the earliest Effective Start Time;
  Scheduled before; an event that ran out stays Active (the 2018 server has no Completed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from derlink.control.events_status import EventStatus
from derlink.control.events_window import EventWindow
from derlink.domain import ControlStatus, Event, LoadControl

# The scope of an event for supersession; None: the function set never supersedes.
Scope = Callable[[Event], frozenset[str]] | None


def whole_list(_event: Event) -> frozenset[str]:
    """The scope of a price interval: its whole rate component."""
    return frozenset()


def device_categories(event: Event) -> frozenset[str]:
    """The scope of a load control: "the exact same set of deviceCategory's" (Annex B)."""
    assert isinstance(event, LoadControl)
    return event.categories


def _earliest(event: Event) -> int:
    return event.start + min(0, event.randomize_start)


def _overlap(a: Event, b: Event) -> bool:
    return EventWindow(a.start, a.end).overlaps(EventWindow(b.start, b.end))


def _newer_overlapping(event: Event, other: Event, scope: Scope) -> bool:
    return scope is not None and other.created > event.created and _overlap(event, other)


def superseded_at(event: Event, newer: Event, scope: Scope) -> int | None:
    """When ``newer`` marks ``event`` Superseded, or None."""
    if not _newer_overlapping(event, newer, scope) or scope is None:
        return None
    if scope(newer) != scope(event):
        return None
    at = max(_earliest(newer), newer.created)
    cancelled_first = newer.cancelled and newer.status_time <= at
    return None if cancelled_first or at >= event.end else at


def flagged_at(event: Event, newer: Event, scope: Scope) -> int | None:
    """When ``newer`` makes ``event`` potentially superseded, or None."""
    if not _newer_overlapping(event, newer, scope) or scope is None:
        return None
    mine, theirs = scope(event), scope(newer)
    return newer.created if mine & theirs and mine != theirs else None


def status_of(event: Event, peers: Sequence[Event], now: int, scope: Scope) -> EventStatus:
    """The EventStatus of ``event`` at ``now`` among the events of its list."""
    superseded = min(
        ((t, p.mrid) for p in peers if (t := superseded_at(event, p, scope)) is not None),
        default=None,
    )
    flag = min((t for p in peers if (t := flagged_at(event, p, scope)) is not None), default=None)
    flagged = flag is not None and flag <= now
    flags = (flagged, flag if flagged else None)
    if event.cancelled and event.status_time <= now:
        return EventStatus(event.status, event.status_time, *flags)
    if superseded is not None and superseded[0] <= now:
        at, by = superseded
        return EventStatus(ControlStatus.SUPERSEDED, at, *flags, f"superseded by {by}")
    start = _earliest(event)
    if now >= start:
        return EventStatus(ControlStatus.ACTIVE, max(start, event.created), *flags)
    return EventStatus(ControlStatus.SCHEDULED, event.created, *flags)


def event_statuses(events: Sequence[Event], now: int, scope: Scope) -> Mapping[str, EventStatus]:
    """EventStatus by mRID of the events of one list (one function set instance)."""
    return {e.mrid: status_of(e, events, now, scope) for e in events}
