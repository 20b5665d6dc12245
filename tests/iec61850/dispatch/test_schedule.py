"""The dispatcher's sans-IO parts: envelope -> 61850 points, the schedule, the sim driver."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from derlink.domain import Control, ControlBase, ControlStatus
from derlink.iec61850.dispatch import Schedule, Tracked, envelope_points
from derlink.iec61850.model.der import DerSemantic
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from derlink.sim.iedfleet import NO_LIMIT, HouseholdDriver, SharedModel, clone_store, ied_spec
from derlink.sim.physics import Household

S = DerSemantic
SHARED = SharedModel()


def _tracked(
    mrid: str,
    base: ControlBase,
    *,
    primacy: int = 10,
    start: int = 100,
    duration: int = 100,
    created: int = 0,
    ieds: frozenset[str] = frozenset({"A"}),
    status: ControlStatus = ControlStatus.SCHEDULED,
) -> Tracked:
    control = Control(mrid.ljust(32, "0"), "p", start, duration, base, created, status=status)
    points, unsupported = envelope_points(base)
    return Tracked(control, primacy, points, unsupported, ieds)


def test_envelope_points_map_what_61850_carries() -> None:
    points, unsupported = envelope_points(
        ControlBase(export_limit_w=5000, max_limit_pct=50, connect=False, storage_target_w=1)
    )
    assert points == {S.EXPORT_LIMIT_W: 5000.0, S.GENERATION_LIMIT_PCT: 50.0, S.CONNECT: False}
    assert unsupported == ("storage_target_w",)
    assert envelope_points(ControlBase(ramp_time_s=3)) == ({}, ("ramp_time_s",))


def test_the_best_active_control_wins_per_point() -> None:
    schedule = Schedule()
    green = _tracked("1", ControlBase(export_limit_w=3000, max_limit_pct=80), primacy=100)
    red = _tracked("2", ControlBase(export_limit_w=500), primacy=0, start=150, duration=20)
    schedule.track(green)
    schedule.track(red)
    assert schedule.desired("A", 99) == {}
    assert schedule.desired("A", 120) == {
        S.EXPORT_LIMIT_W: (3000.0, green.mrid),
        S.GENERATION_LIMIT_PCT: (80.0, green.mrid),
    }
    assert schedule.desired("A", 160)[S.EXPORT_LIMIT_W] == (500.0, red.mrid)
    assert schedule.desired("A", 160)[S.GENERATION_LIMIT_PCT] == (80.0, green.mrid)
    assert schedule.desired("A", 170)[S.EXPORT_LIMIT_W] == (3000.0, green.mrid)  # red ended
    assert schedule.desired("B", 160) == {}  # not targeted
    # a point an IED refused for one control falls to the next best
    refused = frozenset({(red.mrid, S.EXPORT_LIMIT_W)})
    assert schedule.desired("A", 160, refused)[S.EXPORT_LIMIT_W] == (3000.0, green.mrid)
    assert schedule.next_change(120) == 150 and schedule.next_change(160) == 170


def test_a_cancelled_control_is_not_in_force() -> None:
    schedule = Schedule()
    schedule.track(_tracked("3", ControlBase(export_limit_w=1), status=ControlStatus.CANCELLED))
    assert schedule.desired("A", 150) == {}
    assert schedule.next_change(0) is None


@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 300), st.integers(1, 300)),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 700),
)
def test_the_winner_is_the_lowest_primacy_of_the_active(
    specs: list[tuple[int, int, int]], now: int
) -> None:
    schedule = Schedule()
    tracked = [
        _tracked(f"{i:X}", ControlBase(export_limit_w=float(i)), primacy=p, start=s, duration=d)
        for i, (p, s, d) in enumerate(specs)
    ]
    for t in tracked:
        schedule.track(t)
    active = [t for t in tracked if t.active(now)]
    desired = schedule.desired("A", now)
    if not active:
        assert desired == {}
    else:
        best = min(active, key=Tracked.rank)
        assert desired[S.EXPORT_LIMIT_W] == (best.points[S.EXPORT_LIMIT_W], best.mrid)


def test_household_driver_turns_settings_and_operates_into_the_envelope() -> None:
    driver = HouseholdDriver(Household(ied_spec(3), now=0.0), SHARED.measured, clock=lambda: 0.0)
    ld = SHARED.ld
    driver.apply(
        {
            f"{ld}/DECP1.WExpLim.setMag.f": 1500.0,
            f"{ld}/DWMX1.WMaxSptPct": {"f": 40.0},
            f"{ld}/DGEN1.DEROpStCtl": 5,
            f"{ld}/LLN0.Mod": 1,  # not an envelope point: ignored
        }
    )
    env = driver.envelope
    assert (env.export_limit_w, env.max_limit_pct, env.connect) == (1500.0, 40.0, False)
    driver.apply(
        {
            f"{ld}/DECP1.WExpLim.setMag.f": NO_LIMIT,
            f"{ld}/DWMX1.WMaxSptPct": {"f": 100.0},
            f"{ld}/DGEN1.DEROpStCtl": 4,
        }
    )
    env = driver.envelope
    assert (env.export_limit_w, env.max_limit_pct, env.connect) == (None, None, None)
    measured = driver.measurements()
    assert set(measured) <= set(SHARED.measured.values()) and measured


def test_cloned_stores_are_independent_and_start_unconstrained() -> None:
    one, two = SHARED.store(), clone_store(SHARED.template)
    export = FCDA(ObjectReference.parse(f"{SHARED.ld}/DECP1.WExpLim.setMag.f"), FC.SP)
    assert one.get(export) == NO_LIMIT
    one.set(export, 2000.0)
    assert one.get(export) == 2000.0 and two.get(export) == NO_LIMIT
    assert SHARED.template.get(export) == NO_LIMIT
