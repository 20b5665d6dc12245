"""ValueStore.copy: a cheap twin sharing the parsed model, its values independent from then on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from derlink.iec61850.model import FC, FCDA, Cause, Change, ValueStore
from derlink.iec61850.model.der import DER_POINTS, DerSemantic, load_der_ied

MODEL = load_der_ied("DER7")
TOTW = FCDA(MODEL.ref("LD0/MMXU1.TotW.mag.f"), FC.MX)
TOTW_T = FCDA(MODEL.ref("LD0/MMXU1.TotW.t"), FC.MX)
LIMIT = FCDA(MODEL.ref("LD0/DECP1.WExpLim.setMag.f"), FC.SP)
POINT = FCDA(MODEL.ref("LD0/DVVR1.Crv.crvPts(2).yVal"), FC.SP)
CURVE = DER_POINTS[DerSemantic.VOLT_VAR_CURVE].fcda(MODEL)


def test_a_copy_holds_the_current_values_and_shares_the_model() -> None:
    store = ValueStore(MODEL, clock=lambda: 1_700_000_000.0)
    store.set(LIMIT, 4200.0, reason=Cause.CLIENT)
    store.set(POINT, -7.5)
    seen: list[tuple[Change, ...]] = []
    store.subscribe(seen.append)
    twin = store.copy()
    assert twin.model is store.model
    assert twin.snapshot() == store.snapshot()
    assert twin.get(LIMIT) == 4200.0 and twin.get(POINT) == -7.5
    # the copy has no listeners: its writes notify nobody of the original's
    twin.set(TOTW, 10.0)
    assert seen == []
    # and it timestamps with the original's clock
    assert twin.get(TOTW_T) != store.get(TOTW_T)


def test_writes_to_a_copy_and_its_original_stay_apart() -> None:
    store = ValueStore(MODEL)
    twin = store.copy()
    twin.set(LIMIT, 1000.0, reason=Cause.CLIENT)
    twin.set(POINT, 12.5)
    assert store.get(LIMIT) != 1000.0
    assert store.get(POINT) != 12.5
    points = tuple({"xVal": 0.9 + i / 100, "yVal": float(i)} for i in range(10))
    store.set(CURVE, points, reason=Cause.CLIENT)
    assert twin.get(POINT) == 12.5 and store.get(POINT) == 2.0
    other = store.copy()
    other.set(POINT, -1.0)
    assert store.get(CURVE) == points  # a write inside an array makes a new array


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["store", "twin"]),
            st.sampled_from([TOTW, LIMIT, POINT]),
            st.floats(-1e6, 1e6, allow_nan=False, width=32),
        ),
        max_size=20,
    )
)
def test_each_store_sees_only_its_own_writes(writes: list[tuple[str, FCDA, float]]) -> None:
    store = ValueStore(MODEL)
    stores = {"store": store, "twin": store.copy()}
    expected: dict[str, dict[FCDA, object]] = {
        name: {f: store.get(f) for f in (TOTW, LIMIT, POINT)} for name in stores
    }
    for name, target, value in writes:
        stores[name].set(target, value)
        expected[name][target] = value
    for name, each in stores.items():
        assert {f: each.get(f) for f in expected[name]} == expected[name]
