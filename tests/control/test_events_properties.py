"""Properties of the event rules over random programs, controls, instants and devices."""

from __future__ import annotations

import itertools
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.control.events import (
    TRANSITIONS,
    ClientInput,
    ClientState,
    DeviceEvent,
    InvalidTransition,
    Transition,
    active_control,
    advance,
    cancel_bound,
    device_event_statuses,
    device_events,
    earliest_start,
    effective_window,
    next_transition_time,
    randomize,
    step,
)
from derlink.control.events_status import rank
from derlink.domain.controls import Control, ControlBase, ControlStatus, Program
from derlink.domain.responses import ResponseStatus

MODES = ("export_limit_w", "import_limit_w", "target_var")
PROGRAM_IDS = ("p0", "p1", "p2")

bounds = st.integers(-3600, 3600)
seeds = st.one_of(st.none(), st.integers(0, 2**32), st.text(max_size=8))


@st.composite
def bases(draw: st.DrawFn, modes: tuple[str, ...] = MODES) -> ControlBase:
    chosen = draw(st.sets(st.sampled_from(modes), min_size=1))
    values: dict[str, Any] = {m: float(draw(st.integers(0, 9)) * 100) for m in chosen}
    return ControlBase(**values)


@st.composite
def programs(draw: st.DrawFn) -> list[Program]:
    ids = draw(st.sets(st.sampled_from(PROGRAM_IDS), min_size=1))
    return [
        Program(pid, draw(st.integers(0, 2)), default=draw(st.none() | bases()))
        for pid in sorted(ids)
    ]


@st.composite
def controls(
    draw: st.DrawFn,
    program_ids: tuple[str, ...] = PROGRAM_IDS,
    modes: tuple[str, ...] = MODES,
    *,
    random_bounds: bool = True,
    cancels: bool = True,
) -> list[Control]:
    result = []
    for n in range(draw(st.integers(0, 7))):
        status = ControlStatus.SCHEDULED
        if cancels:
            status = draw(
                st.sampled_from([ControlStatus.SCHEDULED] * 3 + [ControlStatus.CANCELLED])
            )
        randomized = random_bounds and draw(st.booleans())
        rs, rd = (draw(bounds), draw(bounds)) if randomized else (0, 0)
        if status is ControlStatus.CANCELLED and (rs or rd) and draw(st.booleans()):
            status = ControlStatus.CANCELLED_RANDOM
        result.append(
            Control(
                mrid=f"{n + 1:032X}",
                program=draw(st.sampled_from(program_ids)),
                start=draw(st.integers(0, 3000)),
                duration=draw(st.integers(1, 1500)),
                base=draw(bases(modes)),
                created=draw(st.integers(0, 3000)),
                randomize_start=rs,
                randomize_duration=rd,
                status=status,
                status_time=draw(st.integers(0, 6000)),
            )
        )
    return result


instants = st.integers(-100, 8000)


def _eligible(events: tuple[DeviceEvent, ...], now: int) -> list[DeviceEvent]:
    return [e for e in events if e.eligible(now)]


# (1) never two events applied for the same control mode at the same instant ------------------


@settings(max_examples=300)
@given(programs(), controls(), instants, seeds)
def test_each_field_has_one_source_and_no_superseded_or_cancelled_event_applies(
    progs: list[Program], ctls: list[Control], now: int, seed: int | str | None
) -> None:
    in_force = active_control(progs, ctls, now, randomization=seed)
    by_mrid = {c.mrid: c for c in ctls}
    defaults = {p.id: p.default for p in progs}
    assert set(in_force.base.set_fields()) == {s.field for s in in_force.sources}
    assert len({s.field for s in in_force.sources}) == len(in_force.sources)
    for source in in_force.sources:
        base = by_mrid[source.mrid].base if source.mrid else defaults[source.program]
        assert base is not None
        assert getattr(in_force.base, source.field) == getattr(base, source.field)
    served = device_event_statuses(progs, ctls, now)
    for m in in_force.events:
        status = served[m].current_status
        assert status not in (ControlStatus.SUPERSEDED, ControlStatus.CANCELLED)
        assert by_mrid[m].created <= now


@settings(max_examples=300)
@given(programs(), controls(modes=("export_limit_w",)), instants, seeds)
def test_single_mode_at_most_one_event_in_force(
    progs: list[Program], ctls: list[Control], now: int, seed: int | str | None
) -> None:
    assert len(active_control(progs, ctls, now, randomization=seed).events) <= 1


# (2) the event in force has the best precedence among the events covering now ----------------


@settings(max_examples=300)
@given(programs(), controls(), instants, seeds)
def test_each_mode_comes_from_the_best_eligible_event(
    progs: list[Program], ctls: list[Control], now: int, seed: int | str | None
) -> None:
    eligible = _eligible(device_events(progs, ctls, now, randomization=seed), now)
    in_force = active_control(progs, ctls, now, randomization=seed)
    for source in in_force.sources:
        setting = [e for e in eligible if source.field in e.control.base.set_fields()]
        if source.mrid is None:
            assert not setting  # a default only where no eligible event sets the field
            continue
        best = min(setting, key=lambda e: rank(e.control, e.primacy))
        assert best.control.mrid == source.mrid


@settings(max_examples=300)
@given(st.data(), instants)
def test_lowest_primacy_then_latest_creation_among_events_covering_now(
    data: st.DataObject, now: int
) -> None:
    # One control per program, no randomization, no cancellation: nothing but precedence.
    ctls = data.draw(controls(random_bounds=False, cancels=False, modes=("export_limit_w",)))
    ctls = [
        Control(c.mrid, f"p{i}", c.start, c.duration, c.base, c.created) for i, c in enumerate(ctls)
    ]
    progs = [Program(c.program, data.draw(st.integers(0, 2))) for c in ctls]
    primacy = {p.id: p.primacy for p in progs}
    covering = [c for c in ctls if c.created <= now and c.start <= now < c.end]
    expected = min(covering, key=lambda c: (primacy[c.program], -c.created, c.mrid), default=None)
    got = active_control(progs, ctls, now).events
    assert got == ((expected.mrid,) if expected else ())


# (3) randomised start and duration stay within their bounds ----------------------------------


@given(bounds, bounds, st.one_of(st.integers(), st.text(max_size=8), st.randoms()))
def test_randomization_within_bounds(rs: int, rd: int, source: Any) -> None:
    control = Control("A" * 32, "p0", 10_000, 600, ControlBase(target_w=1.0), 0, "", rs, rd)
    offsets = randomize(control, source)
    assert offsets.fits(control)
    assert abs(offsets.start_offset) <= abs(rs) and offsets.start_offset * rs >= 0
    assert abs(offsets.duration_offset) <= abs(rd) and offsets.duration_offset * rd >= 0
    assert 0 <= offsets.cancel_delay <= cancel_bound(control)
    window = effective_window(control, offsets)
    assert earliest_start(control) <= window.start <= control.start + max(0, rs)
    assert window.end - window.start == max(0, 600 + offsets.duration_offset)
    if not isinstance(source, random.Random):
        assert randomize(control, source) == offsets  # once per event per device


# (4) every (state, input) pair: a valid next state, or the typed error ------------------------


@given(st.sampled_from(ClientState), st.sampled_from(ClientInput))
def test_every_pair_is_a_transition_or_a_typed_error(
    state: ClientState, event_input: ClientInput
) -> None:
    try:
        transition = step(state, event_input)
    except InvalidTransition as error:
        assert isinstance(error.response_status, ResponseStatus)
        assert (state, event_input) not in TRANSITIONS
        return
    assert isinstance(transition, Transition)
    assert isinstance(transition.state, ClientState)
    assert transition.response is None or isinstance(transition.response, ResponseStatus)
    if state.terminal:
        assert transition == Transition(None, state)  # nothing leaves a finished event


def test_table_covers_only_real_pairs() -> None:
    pairs = set(itertools.product(ClientState, ClientInput))
    assert set(TRANSITIONS) <= pairs
    assert all(t.state is not ClientState.NEW for t in TRANSITIONS.values())


# the client, driven over time, never meets an invalid transition ----------------------------


@settings(max_examples=200)
@given(programs(), controls(), st.lists(instants, min_size=1, max_size=6), seeds)
def test_driving_the_client_over_time_never_breaks_the_table(
    progs: list[Program], ctls: list[Control], times: list[int], seed: int | str | None
) -> None:
    states = {c.mrid: ClientState.NEW for c in ctls}
    posted: dict[str, list[ResponseStatus]] = {c.mrid: [] for c in ctls}
    for now in [*sorted(times), 20_000]:
        for event in device_events(progs, ctls, now, randomization=seed):
            m = event.control.mrid
            states[m], responses = advance(states[m], event, now)
            posted[m] += responses
    for m, state in states.items():
        if m not in {e.control.mrid for e in device_events(progs, ctls, 0)}:
            continue
        assert state.terminal
        assert posted[m][0] is ResponseStatus.EVENT_RECEIVED
        assert len(posted[m]) == len(set(posted[m]))


# the envelope in force only changes at next_transition_time ----------------------------------


@settings(max_examples=200)
@given(programs(), controls(), instants, seeds, st.integers(0, 10_000))
def test_nothing_changes_before_the_next_transition(
    progs: list[Program], ctls: list[Control], now: int, seed: int | str | None, step_: int
) -> None:
    upcoming = next_transition_time(progs, ctls, now, randomization=seed)
    later = now + step_ if upcoming is None else now + step_ % (upcoming - now)
    before = active_control(progs, ctls, now, randomization=seed)
    assert active_control(progs, ctls, later, randomization=seed) == before
