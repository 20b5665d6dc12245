"""ValueStore: initial values, typed writes, refusals that change nothing, trigger reasons."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.iec61850.model import (
    FC,
    FCDA,
    Cause,
    Change,
    ObjectNotFound,
    Quality,
    ReadOnly,
    Timestamp,
    TriggerReason,
    TypeMismatch,
    Validity,
    ValueStore,
)
from derlink.iec61850.model.der import DER_POINTS, DerSemantic, load_der_ied

MODEL = load_der_ied("DER7")


def fcda(text: str, fc: FC) -> FCDA:
    return FCDA(MODEL.ref(text), fc)


@pytest.fixture
def store() -> ValueStore:
    return ValueStore(MODEL)


def test_initial_values(store: ValueStore) -> None:
    assert store.get(fcda("LD0/DGEN1.WMax.setMag.f", FC.SP)) == 10000.0  # DOI Val
    assert store.get(fcda("LD0/LLN0.Beh.stVal", FC.ST)) == 1  # DOType Val "on"
    assert store.get(fcda("LD0/DWMX1.WMaxSptPct.ctlModel", FC.CF)) == 4
    assert store.get(fcda("LD0/MMXU1.TotW.q", FC.MX)) == Quality()
    assert store.get(fcda("LD0/LLN0.NamPlt.ldNs", FC.EX)) == "IEC 61850-7-420:2019A"
    assert store.get(fcda("LD0/MMXU1.TotW.units.SIUnit", FC.CF)) == 38


def test_get_trees_follow_fc(store: ValueStore) -> None:
    tree = store.get(fcda("LD0/MMXU1.TotW", FC.MX))
    assert isinstance(tree, dict)
    assert list(tree) == ["mag", "q", "t"]
    phv = store.get(fcda("LD0/MMXU1.PhV", FC.MX))
    assert isinstance(phv, dict) and list(phv) == ["phsA", "phsB", "phsC"]
    assert list(phv["phsA"]) == ["cVal", "q", "t"]
    cf = store.get(fcda("LD0/MMXU1.TotW", FC.CF))
    assert isinstance(cf, dict) and list(cf) == ["units", "db"]
    with pytest.raises(ObjectNotFound):
        store.get(fcda("LD0/MMXU1.TotW", FC.SP))


def test_dchg_dupd_and_timestamp(store: ValueStore) -> None:
    batches: list[tuple[Change, ...]] = []
    store.subscribe(batches.append)
    mag = fcda("LD0/MMXU1.TotW.mag.f", FC.MX)
    store.set(mag, 1500.0, now=1_700_000_000.25)
    (value_change, stamp) = batches[-1]
    assert value_change.triggers == {TriggerReason.DCHG, TriggerReason.DUPD}
    assert value_change.old == 0.0 and value_change.new == 1500.0
    assert value_change.data == MODEL.ref("LD0/MMXU1.TotW")
    assert stamp.ref.name == "t" and stamp.new == Timestamp(1_700_000_000, 1 << 22)
    assert store.get(fcda("LD0/MMXU1.TotW.t", FC.MX)) == stamp.new
    store.set(mag, 1500.0, now=1_700_000_001.0)
    assert batches[-1][0].triggers == {TriggerReason.DUPD}
    assert value_change.within(FCDA(MODEL.ref("LD0/MMXU1.TotW"), FC.MX))
    assert not value_change.within(FCDA(MODEL.ref("LD0/MMXU1.TotW"), FC.ST))


def test_qchg_on_quality(store: ValueStore) -> None:
    q = fcda("LD0/DGEN1.DEROpSt.q", FC.ST)
    (change, *_) = store.set(q, Quality(validity=Validity.INVALID))
    assert change.triggers == {TriggerReason.QCHG}
    (change, *_) = store.set(fcda("LD0/DGEN1.DEROpSt.stVal", FC.ST), "connected")
    assert change.triggers == {TriggerReason.DCHG}
    assert store.get(fcda("LD0/DGEN1.DEROpSt.stVal", FC.ST)) == 4


def test_clock_is_used_when_no_time_given() -> None:
    store = ValueStore(MODEL, clock=lambda: 1000.5)
    store.set(fcda("LD0/DSTO1.SocWh.mag.f", FC.MX), 5.0)
    assert store.get(fcda("LD0/DSTO1.SocWh.t", FC.MX)) == Timestamp(1000, 1 << 23)
    # setting points (SP) carry no t: nothing is stamped
    changes = store.set(fcda("LD0/DECP1.WExpLim.setMag.f", FC.SP), 5000.0)
    assert [c.ref.name for c in changes] == ["f"]


def test_client_writes_limited_by_fc(store: ValueStore) -> None:
    before = store.snapshot()
    with pytest.raises(ReadOnly):
        store.set(fcda("LD0/MMXU1.TotW.mag.f", FC.MX), 1.0, reason=Cause.CLIENT)
    with pytest.raises(ReadOnly):
        store.set(fcda("LD0/DGEN1.WSpt.Oper", FC.CO), {}, reason=Cause.CLIENT)
    export = DER_POINTS[DerSemantic.EXPORT_LIMIT_W].fcda(MODEL)
    store.set(export, 4000, reason=Cause.CLIENT)
    assert store.get(export) == 4000.0
    store.restore(before)
    assert store.get(export) == 0.0


def test_refused_write_changes_nothing(store: ValueStore) -> None:
    seen: list[object] = []
    store.subscribe(seen.append)
    before = store.snapshot()
    target = fcda("LD0/MMXU1.TotW", FC.MX)
    with pytest.raises(TypeMismatch):
        store.set(target, {"mag": {"f": 1.0}, "q": "good"})
    with pytest.raises(TypeMismatch):
        store.set(target, {"mag": {"f": 1.0}, "nope": 1})
    with pytest.raises(TypeMismatch):
        store.set(target, 3.0)
    with pytest.raises(TypeMismatch):
        store.set(fcda("LD0/MMXU1.TotW.db", FC.CF), -1)
    with pytest.raises(TypeMismatch):
        store.set(fcda("LD0/DGEN1.DEROpSt.stVal", FC.ST), "flying")
    with pytest.raises(ObjectNotFound):
        store.set(fcda("LD0/MMXU1.TotW.mag.f", FC.SP), 1.0)
    with pytest.raises(ObjectNotFound):
        store.set(fcda("LD0/MMXU9.TotW.mag.f", FC.MX), 1.0)
    assert seen == []
    assert store.snapshot() == before


def test_arrays(store: ValueStore) -> None:
    curve = DER_POINTS[DerSemantic.VOLT_VAR_CURVE].fcda(MODEL)
    points = tuple({"xVal": 0.9 + i / 100, "yVal": 50.0 - i * 10} for i in range(10))
    store.set(curve, points, reason=Cause.CLIENT)
    assert store.get(curve) == points
    element = fcda("LD0/DVVR1.Crv.crvPts(2).yVal", FC.SP)
    store.set(element, -7.5)
    assert store.get(element) == -7.5
    assert store.get(fcda("LD0/DVVR1.Crv.crvPts(2)", FC.SP)) == {"xVal": 0.92, "yVal": -7.5}
    with pytest.raises(TypeMismatch, match="array of 10"):
        store.set(curve, points[:3])
    with pytest.raises(TypeMismatch, match="exactly the members"):
        store.set(curve, ({"xVal": 1.0},) * 10)
    got = store.get(curve)
    assert isinstance(got, tuple)
    got[0]["xVal"] = 99.0  # a copy: the store is not changed through it
    assert store.get(fcda("LD0/DVVR1.Crv.crvPts(0).xVal", FC.SP)) == 0.9


def test_control_cause_may_write_co(store: ValueStore) -> None:
    oper = DER_POINTS[DerSemantic.GENERATION_LIMIT_PCT].control(MODEL)
    value = store.get(oper)
    assert isinstance(value, dict)
    value["ctlVal"] = {"f": 50.0}
    value["ctlNum"] = 3
    store.set(oper, value, reason=Cause.CONTROL)
    assert store.get(FCDA(oper.ref.child("ctlNum"), FC.CO)) == 3


def test_unsubscribe(store: ValueStore) -> None:
    seen: list[object] = []
    stop = store.subscribe(seen.append)
    stop()
    store.set(fcda("LD0/MMXU1.Hz.mag.f", FC.MX), 50.0)
    assert seen == []


def test_snapshot_from_other_model_refused(store: ValueStore) -> None:
    other = ValueStore(load_der_ied("OTHER"))
    with pytest.raises(ObjectNotFound):
        store.restore(other.snapshot())


finite = st.floats(min_value=-3e38, max_value=3e38, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(DER_POINTS)), finite), max_size=8))
def test_last_write_wins(writes: list[tuple[DerSemantic, float]]) -> None:
    store = ValueStore(MODEL)
    expected: dict[FCDA, float] = {}
    for semantic, number in writes:
        target = DER_POINTS[semantic].fcda(MODEL)
        leaf = MODEL.find(target.ref, target.fc)
        if getattr(leaf, "btype", None) != "FLOAT32":
            continue
        store.set(target, number)
        expected[target] = number
    for target, number in expected.items():
        assert store.get(target) == number
