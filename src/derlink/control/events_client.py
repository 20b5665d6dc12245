"""The DER client's life cycle of one event, and the Response status each step posts.

Everything that affects the state lives in :data:`TRANSITIONS`, one table of
``(state, input) -> Transition(response, state)``; ``response`` is the Response status to POST
to the event's replyTo (IEEE 2030.5-2018 Table 27), None when nothing is posted. A pair not in
the table cannot happen in a correct client and raises :class:`InvalidTransition`.

Inputs that arrive again (the same mRID on the next poll, a cancellation seen after the event
ended) leave the state as it is and post nothing: clients "SHALL detect duplicate Events by
comparing the mRIDs", and a finished event has already reported its outcome.
:func:`inputs_due` tells a client which inputs an event has reached at ``now``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from derlink.control.events_device import DeviceEvent
from derlink.domain.controls import Control
from derlink.domain.responses import ResponseStatus
from derlink.errors import DerlinkError


class ClientState(enum.Enum):
    NEW = "new"  # not yet seen
    SCHEDULED = "scheduled"  # received, waiting for its effective start
    ACTIVE = "active"  # started
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        return self not in (ClientState.NEW, ClientState.SCHEDULED, ClientState.ACTIVE)


class ClientInput(enum.Enum):
    RECEIVED = "received"
    START_TIME_REACHED = "start-time-reached"
    END_TIME_REACHED = "end-time-reached"
    CANCELLED = "cancelled"  # EventStatus 2, or 3 once the cancel delay has run
    SUPERSEDED = "superseded"  # EventStatus 4
    REJECTED_INVALID = "rejected-invalid"
    REJECTED_EXPIRED = "rejected-expired"


@dataclass(frozen=True, slots=True)
class Transition:
    response: ResponseStatus | None
    state: ClientState


class EventRuleError(DerlinkError):
    """A 2030.5 event rule was broken; ``response_status`` is what a client would post."""

    response_status: ResponseStatus = ResponseStatus.REJECTED_INVALID


class InvalidTransition(EventRuleError):
    """An input that cannot reach an event in this state (a timer or driver fault, not the
    server's); if it must reach the wire, the closest Table 27 code is "rejected, invalid
    event"."""

    def __init__(self, state: ClientState, event_input: ClientInput) -> None:
        super().__init__(f"{event_input.value} cannot happen to an event that is {state.value}")
        self.state = state
        self.event_input = event_input


_S, _I, _R = ClientState, ClientInput, ResponseStatus


def _quiet(*states: ClientState) -> dict[tuple[ClientState, ClientInput], Transition]:
    """Repeats that change nothing: the mRID seen again, a late cancel or supersede."""
    repeats = (_I.RECEIVED, _I.CANCELLED, _I.SUPERSEDED)
    return {(s, i): Transition(None, s) for s in states for i in repeats}


TRANSITIONS: Mapping[tuple[ClientState, ClientInput], Transition] = {
    (_S.NEW, _I.RECEIVED): Transition(_R.EVENT_RECEIVED, _S.SCHEDULED),
    (_S.NEW, _I.REJECTED_INVALID): Transition(_R.REJECTED_INVALID, _S.REJECTED),
    (_S.NEW, _I.REJECTED_EXPIRED): Transition(_R.REJECTED_EXPIRED, _S.REJECTED),
    (_S.SCHEDULED, _I.RECEIVED): Transition(None, _S.SCHEDULED),
    (_S.SCHEDULED, _I.START_TIME_REACHED): Transition(_R.EVENT_STARTED, _S.ACTIVE),
    (_S.SCHEDULED, _I.CANCELLED): Transition(_R.EVENT_CANCELLED, _S.CANCELLED),
    (_S.SCHEDULED, _I.SUPERSEDED): Transition(_R.EVENT_SUPERSEDED, _S.SUPERSEDED),
    (_S.SCHEDULED, _I.REJECTED_INVALID): Transition(_R.REJECTED_INVALID, _S.REJECTED),
    (_S.SCHEDULED, _I.REJECTED_EXPIRED): Transition(_R.REJECTED_EXPIRED, _S.REJECTED),
    (_S.ACTIVE, _I.RECEIVED): Transition(None, _S.ACTIVE),
    (_S.ACTIVE, _I.END_TIME_REACHED): Transition(_R.EVENT_COMPLETED, _S.COMPLETED),
    (_S.ACTIVE, _I.CANCELLED): Transition(_R.EVENT_CANCELLED, _S.CANCELLED),
    (_S.ACTIVE, _I.SUPERSEDED): Transition(_R.EVENT_SUPERSEDED, _S.SUPERSEDED),
    **_quiet(_S.COMPLETED, _S.CANCELLED, _S.SUPERSEDED, _S.REJECTED),
}


def step(state: ClientState, event_input: ClientInput) -> Transition:
    """The transition for ``event_input`` in ``state``, or :class:`InvalidTransition`."""
    try:
        return TRANSITIONS[(state, event_input)]
    except KeyError:
        raise InvalidTransition(state, event_input) from None


def is_expired(control: Control, now: int) -> bool:
    """ "When a client receives an Event with the Specified End Time in the past (Specified End
    Time < Current Time), this Event SHALL be ignored. Note that the Duration Randomization is
    not used in this calculation" (§12.1.3); the client posts "rejected, event received after
    it had expired" (REJECTED_EXPIRED, Table 27)."""
    return control.end < now


def _halt(event: DeviceEvent) -> tuple[int, ClientInput] | None:
    halts = [(event.cancel_at, _I.CANCELLED), (event.superseded_at, _I.SUPERSEDED)]
    return min(((t, i) for t, i in halts if t is not None), default=None, key=lambda h: h[0])


def inputs_due(state: ClientState, event: DeviceEvent, now: int) -> tuple[ClientInput, ...]:
    """The inputs ``event`` has reached by ``now`` from ``state``, in the order they happened.

    A cancellation or supersession at the effective start keeps the event from starting; one
    at the effective end comes after its completion.
    """
    due: list[ClientInput] = []
    if state is _S.NEW:
        if now < event.control.created:
            return ()
        if is_expired(event.control, now):
            return (_I.RECEIVED, _I.REJECTED_EXPIRED)
        due.append(_I.RECEIVED)
        state = _S.SCHEDULED
    halt = _halt(event)
    if state is _S.SCHEDULED:
        if halt is not None and halt[0] <= min(now, event.window.start):
            return (*due, halt[1])
        if event.window.start > now:
            return tuple(due)
        due.append(_I.START_TIME_REACHED)
        state = _S.ACTIVE
    if state is _S.ACTIVE:
        ending = [(event.window.end, _I.END_TIME_REACHED)] + ([halt] if halt else [])
        first = min(ending, key=lambda e: e[0])
        if first[0] <= now:
            due.append(first[1])
    return tuple(due)


def advance(
    state: ClientState, event: DeviceEvent, now: int
) -> tuple[ClientState, tuple[ResponseStatus, ...]]:
    """Feed :func:`inputs_due` through :func:`step`: the new state and the Responses to post."""
    responses: list[ResponseStatus] = []
    for event_input in inputs_due(state, event, now):
        transition = step(state, event_input)
        state = transition.state
        if transition.response is not None:
            responses.append(transition.response)
    return state, tuple(responses)
