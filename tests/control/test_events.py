"""IEEE 2030.5 event rules as vectors: supersession, cancellation, randomisation, defaults,
expiry, and the client's transition table."""

from __future__ import annotations

import random
from typing import Any

import pytest

from derlink.control.events import (
    TRANSITIONS,
    ClientInput,
    ClientState,
    InvalidTransition,
    Randomization,
    Transition,
    active_control,
    advance,
    device_event_statuses,
    device_events,
    draw_offset,
    effective_window,
    next_transition_time,
    program_event_statuses,
    randomize,
    step,
)
from derlink.domain.controls import Control, ControlBase, ControlStatus, Program
from derlink.domain.responses import ResponseStatus

EXPORT = ControlBase(export_limit_w=1000.0)
IMPORT = ControlBase(import_limit_w=2000.0)
BOTH = ControlBase(export_limit_w=500.0, import_limit_w=500.0)
P1 = Program("p1", primacy=10)
P2 = Program("p2", primacy=20)
S, I, R = ClientState, ClientInput, ResponseStatus  # noqa: E741


def ctl(n: int, **kw: Any) -> Control:
    """Control n of program p1 in [1000, 1100), created at 0, limiting export."""
    fields: dict[str, Any] = dict(
        mrid=f"{n:032X}", program="p1", start=1000, duration=100, base=EXPORT, created=0
    )
    fields.update(kw)
    return Control(**fields)


def mrid(n: int) -> str:
    return f"{n:032X}"


def statuses(controls: list[Control], now: int, program: Program = P1) -> dict[int, Any]:
    got = program_event_statuses(program, controls, now)
    return {int(m, 16): (s.current_status, s.date_time) for m, s in got.items()}


# --- supersession within one program (Annex B, currentStatus 4) -------------------------------

SUPERSESSION = [
    # (name, second control, now, expected {n: (status, dateTime)})
    (
        "newer overlapping same modes supersedes at its start",
        ctl(2, start=1050, created=10),
        1050,
        {1: (ControlStatus.SUPERSEDED, 1050), 2: (ControlStatus.ACTIVE, 1050)},
    ),
    (
        "not yet: superseded only from the newer event's earliest effective start",
        ctl(2, start=1050, created=10),
        1049,
        {1: (ControlStatus.ACTIVE, 1000), 2: (ControlStatus.SCHEDULED, 10)},
    ),
    (
        "negative randomizeStart brings the earliest effective start forward",
        ctl(2, start=1050, created=10, randomize_start=-30),
        1020,
        {1: (ControlStatus.SUPERSEDED, 1020), 2: (ControlStatus.ACTIVE, 1020)},
    ),
    (
        "created after its start: superseded at creation, never in the past",
        ctl(2, start=1010, created=1030),
        1030,
        {1: (ControlStatus.SUPERSEDED, 1030), 2: (ControlStatus.ACTIVE, 1030)},
    ),
    (
        "differing modes are independent",
        ctl(2, start=1050, created=10, base=IMPORT),
        1060,
        {1: (ControlStatus.ACTIVE, 1000), 2: (ControlStatus.ACTIVE, 1050)},
    ),
    (
        "non-overlapping events are untouched",
        ctl(2, start=2000, created=10),
        2000,
        {1: (ControlStatus.ACTIVE, 1000), 2: (ControlStatus.ACTIVE, 2000)},
    ),
    (
        "back to back (end == start) does not overlap",
        ctl(2, start=1100, created=10),
        1100,
        {1: (ControlStatus.ACTIVE, 1000), 2: (ControlStatus.ACTIVE, 1100)},
    ),
    (
        "superseding event cancelled before its start supersedes nothing",
        ctl(2, start=1050, created=10, status=ControlStatus.CANCELLED, status_time=1040),
        1060,
        {1: (ControlStatus.ACTIVE, 1000), 2: (ControlStatus.CANCELLED, 1040)},
    ),
]


@pytest.mark.parametrize(
    ("second", "now", "expected"), [c[1:] for c in SUPERSESSION], ids=[c[0] for c in SUPERSESSION]
)
def test_supersession_within_a_program(second: Control, now: int, expected: dict[int, Any]) -> None:
    assert statuses([ctl(1), second], now) == expected


def test_superseded_event_names_its_successor_and_never_resumes() -> None:
    older, newer = ctl(1), ctl(2, start=1020, duration=10, created=10)
    status = program_event_statuses(P1, [older, newer], 1025)[mrid(1)]
    assert status.reason == f"superseded by {mrid(2)}"
    after = active_control([P1], [older, newer], 1050)
    assert after.events == ()  # the newer one ended; the superseded one stays out


def test_partial_mode_overlap_sets_potentially_superseded() -> None:
    older, newer = ctl(1), ctl(2, start=1050, created=10, base=BOTH)
    got = program_event_statuses(P1, [older, newer], 1060)
    assert got[mrid(1)].current_status is ControlStatus.ACTIVE
    assert got[mrid(1)].potentially_superseded
    assert got[mrid(1)].potentially_superseded_time == 10
    assert not got[mrid(2)].potentially_superseded
    in_force = active_control([P1], [older, newer], 1060)
    assert in_force.base.export_limit_w == 500.0  # the newer event wins the shared mode


def test_equal_creation_time_supersedes_neither() -> None:
    got = statuses([ctl(1), ctl(2, start=1050)], 1060)
    assert got == {1: (ControlStatus.ACTIVE, 1000), 2: (ControlStatus.ACTIVE, 1050)}


def test_stored_superseded_status_is_kept() -> None:
    stored = ctl(1, status=ControlStatus.SUPERSEDED, status_time=1010)
    assert statuses([stored], 1020) == {1: (ControlStatus.SUPERSEDED, 1010)}


def test_scheduled_active_and_no_completed_status() -> None:
    event = ctl(1, created=5)
    assert statuses([event], 999) == {1: (ControlStatus.SCHEDULED, 5)}
    assert statuses([event], 1000) == {1: (ControlStatus.ACTIVE, 1000)}
    assert statuses([event], 5000) == {1: (ControlStatus.ACTIVE, 1000)}


def test_duplicate_mrids_are_refused() -> None:
    with pytest.raises(ValueError, match="mRID"):
        program_event_statuses(P1, [ctl(1), ctl(1, start=5)], 0)


# --- across programs: primacy, then creation time ---------------------------------------------

PRECEDENCE = [
    # (name, (program, primacy, created) of A, same of B, winner)
    ("lower primacy wins", ("p1", 10, 50), ("p2", 20, 99), 1),
    ("lower primacy wins even when older", ("p1", 20, 99), ("p2", 10, 0), 2),
    ("equal primacy: later creation wins", ("p1", 10, 0), ("p2", 10, 5), 2),
    (
        "equal primacy and creation: the smaller mRID (derlink's tie)",
        ("p1", 10, 5),
        ("p2", 10, 5),
        1,
    ),
]


@pytest.mark.parametrize(
    ("a", "b", "winner"), [c[1:] for c in PRECEDENCE], ids=[c[0] for c in PRECEDENCE]
)
def test_precedence_across_programs(
    a: tuple[str, int, int], b: tuple[str, int, int], winner: int
) -> None:
    programs = [Program(a[0], a[1]), Program(b[0], b[1])]
    controls = [ctl(1, program=a[0], created=a[2]), ctl(2, program=b[0], created=b[2])]
    in_force = active_control(programs, controls, 1050)
    assert in_force.events == (mrid(winner),)
    got = device_event_statuses(programs, controls, 1050)
    loser = mrid(3 - winner)
    assert got[loser].current_status is ControlStatus.ACTIVE  # never 4 across programs
    tie = a[1:] == b[1:]
    assert got[loser].potentially_superseded is not tie
    assert not program_event_statuses(programs[0], controls, 1050)[mrid(1)].potentially_superseded


def test_lower_priority_event_resumes_when_higher_one_ends() -> None:
    programs = [P1, P2]
    low = ctl(1, program="p2", start=1000, duration=300)
    high = ctl(2, program="p1", start=1100, duration=100, base=ControlBase(export_limit_w=0.0))
    assert active_control(programs, [low, high], 1050).events == (mrid(1),)
    assert active_control(programs, [low, high], 1150).base.export_limit_w == 0.0
    assert active_control(programs, [low, high], 1250).events == (mrid(1),)


def test_modes_merge_across_programs() -> None:
    programs = [P1, P2]
    controls = [ctl(1, program="p1"), ctl(2, program="p2", base=BOTH)]
    in_force = active_control(programs, controls, 1050)
    assert in_force.base.export_limit_w == 1000.0  # p1 wins export
    assert in_force.base.import_limit_w == 500.0  # only p2 sets import
    assert {(s.field, s.mrid) for s in in_force.sources} == {
        ("export_limit_w", mrid(1)),
        ("import_limit_w", mrid(2)),
    }


def test_controls_of_programs_the_device_does_not_see_are_ignored() -> None:
    assert active_control([P2], [ctl(1)], 1050).events == ()


# --- defaults (DefaultDERControl) -------------------------------------------------------------


def test_default_of_highest_priority_program_when_nothing_is_active() -> None:
    programs = [
        Program("p1", 10, default=ControlBase(export_limit_w=1.0)),
        Program("p2", 20, default=ControlBase(export_limit_w=2.0, import_limit_w=3.0)),
        Program("p3", 5),
    ]
    in_force = active_control(programs, [], 0)
    assert in_force.is_default
    assert (in_force.base.export_limit_w, in_force.base.import_limit_w) == (1.0, 3.0)
    assert {(s.field, s.program) for s in in_force.sources} == {
        ("export_limit_w", "p1"),
        ("import_limit_w", "p2"),
    }


def test_an_active_event_beats_a_higher_priority_default() -> None:
    programs = [Program("p0", 0, default=ControlBase(export_limit_w=1.0)), P2]
    in_force = active_control(programs, [ctl(1, program="p2")], 1050)
    assert in_force.base.export_limit_w == 1000.0


def test_nothing_at_all() -> None:
    in_force = active_control([P1], [], 0)
    assert in_force.base.is_empty() and in_force.sources == ()


# --- cancellation -----------------------------------------------------------------------------


def test_cancelled_from_its_cancellation_time() -> None:
    event = ctl(1, status=ControlStatus.CANCELLED, status_time=1050)
    assert statuses([event], 1049) == {1: (ControlStatus.ACTIVE, 1000)}
    assert statuses([event], 1050) == {1: (ControlStatus.CANCELLED, 1050)}
    assert active_control([P1], [event], 1049).events == (mrid(1),)
    assert active_control([P1], [event], 1050).events == ()
    [view] = device_events([P1], [event], 1060)
    assert advance(S.ACTIVE, view, 1060) == (S.CANCELLED, (R.EVENT_CANCELLED,))


def test_cancelled_with_randomization_waits_for_the_device_delay() -> None:
    event = ctl(
        1,
        randomize_start=-60,
        randomize_duration=120,
        status=ControlStatus.CANCELLED_RANDOM,
        status_time=1050,
    )
    delay = randomize(event, "device-7").cancel_delay
    assert 0 <= delay <= 120
    assert statuses([event], 1050) == {1: (ControlStatus.CANCELLED_RANDOM, 1050)}
    [view] = device_events([P1], [event], 1050, randomization="device-7")
    assert view.cancel_at == 1050 + delay
    offsets = {mrid(1): Randomization(0, 0, 30)}
    assert active_control([P1], [event], 1079, randomization=offsets).events == (mrid(1),)
    assert active_control([P1], [event], 1080, randomization=offsets).events == ()


def test_cancelled_before_start_never_starts() -> None:
    event = ctl(1, status=ControlStatus.CANCELLED, status_time=900, created=0)
    [view] = device_events([P1], [event], 1050)
    assert advance(S.NEW, view, 1050) == (S.CANCELLED, (R.EVENT_RECEIVED, R.EVENT_CANCELLED))


# --- randomisation ----------------------------------------------------------------------------

BOUNDS = [(600, 0, 600), (-600, -600, 0), (0, 0, 0), (3600, 0, 3600), (-3600, -3600, 0)]


@pytest.mark.parametrize(("bound", "low", "high"), BOUNDS)
def test_offsets_stay_within_their_bound(bound: int, low: int, high: int) -> None:
    rng = random.Random(1)
    draws = {draw_offset(bound, rng) for _ in range(2000)}
    assert min(draws) >= low and max(draws) <= high
    if 0 < abs(bound) <= 600:
        assert low in draws and high in draws  # both ends reachable


@pytest.mark.parametrize("bound", [3601, -3601])
def test_offsets_outside_one_hour_are_refused(bound: int) -> None:
    with pytest.raises(ValueError):
        draw_offset(bound, random.Random(0))


def test_seeded_offsets_are_fixed_per_event_and_device() -> None:
    event = ctl(1, randomize_start=300, randomize_duration=-300)
    assert randomize(event, 7) == randomize(event, 7)
    assert len({randomize(event, seed).start_offset for seed in range(50)}) > 1
    rng = random.Random(7)
    first = randomize(event, rng)
    assert first.fits(event) and randomize(event, rng).fits(event)


def test_effective_window_moves_start_and_duration() -> None:
    event = ctl(1, randomize_start=300, randomize_duration=-300)
    assert effective_window(event, Randomization(120, -60)).start == 1120
    assert effective_window(event, Randomization(120, -60)).end == 1160
    assert effective_window(event, Randomization(0, -300)).end == 1000  # empty, not negative
    with pytest.raises(ValueError):
        effective_window(event, Randomization(-1, 0))  # wrong sign for the bound


def test_running_event_hands_over_at_once_to_the_event_superseding_it() -> None:
    older = ctl(1)
    newer = ctl(2, start=1050, created=10, randomize_start=40)
    offsets = {mrid(2): Randomization(40, 0)}
    in_force = active_control([P1], [older, newer], 1050, randomization=offsets)
    assert in_force.events == (mrid(2),)  # not idle until its own randomized start, 1090


def test_superseded_before_it_started_on_this_device_obeys_the_new_start() -> None:
    older = ctl(1, randomize_start=100)
    newer = ctl(2, start=1050, created=10, randomize_start=40)
    offsets = {mrid(1): Randomization(80, 0), mrid(2): Randomization(40, 0)}
    assert active_control([P1], [older, newer], 1060, randomization=offsets).events == ()
    assert active_control([P1], [older, newer], 1090, randomization=offsets).events == (mrid(2),)


def test_next_transition_time() -> None:
    events = [ctl(1), ctl(2, start=1050, created=10)]
    assert next_transition_time([P1], events, 0) == 10
    assert next_transition_time([P1], events, 1000) == 1050
    assert next_transition_time([P1], events, 1050) == 1100
    assert next_transition_time([P1], events, 1150) is None


# --- the client: expiry on receipt and the transition table -----------------------------------


def _advance(event: Control, now: int, state: ClientState = S.NEW) -> Any:
    [view] = device_events([P1], [event], now)
    return advance(state, view, now)


def test_expired_on_receipt() -> None:
    assert _advance(ctl(1), 1101) == (S.REJECTED, (R.EVENT_RECEIVED, R.REJECTED_EXPIRED))
    assert int(R.REJECTED_EXPIRED) == 254  # Table 27
    # "Specified End Time < Current Time": at the end itself it still runs through
    assert _advance(ctl(1), 1100) == (
        S.COMPLETED,
        (R.EVENT_RECEIVED, R.EVENT_STARTED, R.EVENT_COMPLETED),
    )


def test_duration_randomization_is_not_used_for_expiry() -> None:
    event = ctl(1, randomize_duration=600)
    [view] = device_events([P1], [event], 1150, randomization={mrid(1): Randomization(0, 600)})
    assert advance(S.NEW, view, 1150)[0] is S.REJECTED


def test_client_life_cycle() -> None:
    event = ctl(1, created=0)
    assert _advance(event, 10) == (S.SCHEDULED, (R.EVENT_RECEIVED,))
    assert _advance(event, 20, S.SCHEDULED) == (S.SCHEDULED, ())
    assert _advance(event, 1000, S.SCHEDULED) == (S.ACTIVE, (R.EVENT_STARTED,))
    assert _advance(event, 1100, S.ACTIVE) == (S.COMPLETED, (R.EVENT_COMPLETED,))
    assert _advance(event, 1200, S.COMPLETED) == (S.COMPLETED, ())


def test_client_sees_supersession() -> None:
    events = [ctl(1), ctl(2, start=1050, created=10)]
    views = {v.control.mrid: v for v in device_events([P1], events, 1060)}
    assert advance(S.ACTIVE, views[mrid(1)], 1060) == (S.SUPERSEDED, (R.EVENT_SUPERSEDED,))
    assert advance(S.SCHEDULED, views[mrid(2)], 1060) == (S.ACTIVE, (R.EVENT_STARTED,))


TABLE = [
    (S.NEW, I.RECEIVED, R.EVENT_RECEIVED, S.SCHEDULED),
    (S.NEW, I.REJECTED_INVALID, R.REJECTED_INVALID, S.REJECTED),
    (S.NEW, I.REJECTED_EXPIRED, R.REJECTED_EXPIRED, S.REJECTED),
    (S.SCHEDULED, I.START_TIME_REACHED, R.EVENT_STARTED, S.ACTIVE),
    (S.SCHEDULED, I.CANCELLED, R.EVENT_CANCELLED, S.CANCELLED),
    (S.SCHEDULED, I.SUPERSEDED, R.EVENT_SUPERSEDED, S.SUPERSEDED),
    (S.SCHEDULED, I.RECEIVED, None, S.SCHEDULED),
    (S.ACTIVE, I.END_TIME_REACHED, R.EVENT_COMPLETED, S.COMPLETED),
    (S.ACTIVE, I.CANCELLED, R.EVENT_CANCELLED, S.CANCELLED),
    (S.ACTIVE, I.SUPERSEDED, R.EVENT_SUPERSEDED, S.SUPERSEDED),
    (S.COMPLETED, I.CANCELLED, None, S.COMPLETED),
    (S.CANCELLED, I.RECEIVED, None, S.CANCELLED),
]


@pytest.mark.parametrize(("state", "event_input", "response", "new_state"), TABLE)
def test_transition_vectors(
    state: ClientState,
    event_input: ClientInput,
    response: ResponseStatus | None,
    new_state: ClientState,
) -> None:
    assert step(state, event_input) == Transition(response, new_state)


INVALID = [
    (S.NEW, I.START_TIME_REACHED),
    (S.SCHEDULED, I.END_TIME_REACHED),
    (S.ACTIVE, I.START_TIME_REACHED),
    (S.ACTIVE, I.REJECTED_EXPIRED),
    (S.COMPLETED, I.END_TIME_REACHED),
]


@pytest.mark.parametrize(("state", "event_input"), INVALID)
def test_invalid_transitions_carry_a_response_status(
    state: ClientState, event_input: ClientInput
) -> None:
    with pytest.raises(InvalidTransition) as caught:
        step(state, event_input)
    assert caught.value.response_status is R.REJECTED_INVALID
    assert (caught.value.state, caught.value.event_input) == (state, event_input)
    assert (state, event_input) not in TRANSITIONS
