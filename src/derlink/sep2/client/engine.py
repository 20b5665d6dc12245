"""Which envelope one device applies, and which Responses it posts: the event rules at work.

Sans-IO, ``now`` passed in (the server's time as the client estimates it). Each
:meth:`EventEngine.update` feeds the events the device sees through
:func:`derlink.control.events.advance` (the client transition table) and
:func:`~derlink.control.events.active_control`, with randomisation seeded by the device's LFDI
(so each device draws its own offsets, and the same ones every time).

Three cases the table alone does not cover:

- An event the domain refused (:class:`~derlink.sep2.client.convert.Rejected`) is answered once
  with its rejection status and never applied.
- An event that leaves its list before its specified end was withdrawn by the server: it is
  cancelled (Response 6). One that leaves at or after its specified end has run out on the
  server, but may still run here when this device drew a longer duration: it is kept until its
  effective end.
- A finished event is remembered for :data:`FORGET_AFTER` seconds after it leaves its list, so a
  repeat of its mRID is recognised ("clients SHALL detect duplicate Events by comparing the
  mRIDs", §12.1.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from derlink.control.events import (
    ClientInput,
    ClientState,
    InForce,
    active_control,
    advance,
    device_events,
    next_transition_time,
    step,
)
from derlink.domain import Control, ControlBase, ResponseStatus
from derlink.sep2.client.convert import EventMeta
from derlink.sep2.client.walker import ProgramView

FORGET_AFTER = 86_400


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A Response to POST to ``reply_to``."""

    reply_to: str
    subject: bytes
    mrid: str
    status: ResponseStatus
    created: int


@dataclass(slots=True)
class Tracked:
    state: ClientState
    meta: EventMeta
    control: Control | None
    gone_since: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do now: the envelope in force (``changed`` when it differs from the last one),
    the Responses to post, and when to look again."""

    in_force: InForce
    changed: bool
    responses: tuple[Outgoing, ...]
    wake_at: int | None

    @property
    def envelope(self) -> ControlBase:
        return self.in_force.base


@dataclass
class EventEngine:
    """One device's event states, by mRID."""

    seed: str
    tracked: dict[str, Tracked] = field(default_factory=dict)
    applied: InForce | None = None

    def update(self, view: ProgramView, now: int) -> Decision:
        out: list[Outgoing] = []
        self._reject(view, now, out)
        listed = {c.mrid for c in view.controls}
        if view.complete:
            self._withdraw(view, listed, now, out)
        controls = list(view.controls) + self._retained(view, listed)
        programs = view.programs
        for event in device_events(programs, controls, now, randomization=self.seed):
            mrid = event.control.mrid
            tracked = self.tracked.get(mrid)
            if tracked is None:
                meta = view.meta.get(mrid) or EventMeta(bytes.fromhex(mrid), None, 0)
                tracked = self.tracked[mrid] = Tracked(ClientState.NEW, meta, event.control)
            tracked.control = event.control
            if mrid in listed:
                tracked.gone_since = None
                tracked.meta = view.meta.get(mrid, tracked.meta)
            tracked.state, statuses = advance(tracked.state, event, now)
            out += [_response(tracked, mrid, s, now) for s in statuses if tracked.meta.wants(s)]
        self._forget(now)
        in_force = active_control(programs, controls, now, randomization=self.seed)
        changed = self.applied is None or in_force.base != self.applied.base
        self.applied = in_force
        wake = next_transition_time(programs, controls, now, randomization=self.seed)
        return Decision(in_force, changed, tuple(out), wake)

    def state_of(self, mrid: str) -> ClientState | None:
        tracked = self.tracked.get(mrid.upper())
        return None if tracked is None else tracked.state

    def _reject(self, view: ProgramView, now: int, out: list[Outgoing]) -> None:
        for rejected in view.rejected:
            if rejected.mrid in self.tracked:
                continue
            tracked = Tracked(ClientState.REJECTED, rejected.meta, None)
            self.tracked[rejected.mrid] = tracked
            if rejected.meta.wants(rejected.status):
                out.append(_response(tracked, rejected.mrid, rejected.status, now))

    def _withdraw(self, view: ProgramView, listed: set[str], now: int, out: list[Outgoing]) -> None:
        """Events gone from a completely fetched view: withdrawn (cancelled) before their
        specified end or with their program, run out on the server after it."""
        programs = {p.id for p in view.programs}
        shown = listed | {r.mrid for r in view.rejected}
        for mrid, tracked in self.tracked.items():
            if mrid in shown:
                continue
            if tracked.gone_since is None:
                tracked.gone_since = now
            control = tracked.control
            if control is None or tracked.state.terminal:
                continue
            if now >= control.end and control.program in programs:
                continue
            transition = step(tracked.state, ClientInput.CANCELLED)
            tracked.state = transition.state
            status = transition.response
            if status is not None and tracked.meta.wants(status):
                out.append(_response(tracked, mrid, status, now))

    def _retained(self, view: ProgramView, listed: set[str]) -> list[Control]:
        """Controls no longer listed that this device still runs (or has just cancelled)."""
        programs = {p.id for p in view.programs}
        kept = []
        for mrid, tracked in self.tracked.items():
            control = tracked.control
            if mrid in listed or control is None or control.program not in programs:
                continue
            if not tracked.state.terminal:
                kept.append(control)
        return kept

    def _forget(self, now: int) -> None:
        stale = [
            m
            for m, t in self.tracked.items()
            if t.state.terminal and t.gone_since is not None and now - t.gone_since > FORGET_AFTER
        ]
        for mrid in stale:
            del self.tracked[mrid]


def _response(tracked: Tracked, mrid: str, status: ResponseStatus, now: int) -> Outgoing:
    assert tracked.meta.reply_to is not None
    return Outgoing(tracked.meta.reply_to, tracked.meta.subject, mrid, status, now)
