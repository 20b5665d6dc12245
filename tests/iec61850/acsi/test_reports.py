"""Reports end to end: URCB/BRCB triggers, BufTm, integrity, GI, buffering and resync."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.iec61850.acsi.client import ReportReceived
from derlink.iec61850.acsi.reporting import OptFlds, Reason
from derlink.iec61850.acsi.server import IedServer
from derlink.iec61850.model.der import load_der_ied
from derlink.iec61850.model.nodes import ServerModel
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from derlink.iec61850.model.store import ValueStore
from derlink.iec61850.model.types import Quality, Validity
from iec61850.acsi.harness import Clock, Link, Rig

LD = "DERIEDLD0"
URCB = ObjectReference.parse(f"{LD}/LLN0.urcbStatus01")
BRCB = ObjectReference.parse(f"{LD}/LLN0.brcbMeas01")
OPSTATE = FCDA(ObjectReference.parse(f"{LD}/DGEN1.DEROpSt.stVal"), FC.ST)
OPSTATE_Q = FCDA(ObjectReference.parse(f"{LD}/DGEN1.DEROpSt.q"), FC.ST)
TOTW = FCDA(ObjectReference.parse(f"{LD}/MMXU1.TotW.mag"), FC.MX)
HZ = FCDA(ObjectReference.parse(f"{LD}/MMXU1.Hz.mag"), FC.MX)


def reports(events: list[object]) -> list[ReportReceived]:
    return [e for e in events if isinstance(e, ReportReceived)]


def set_value(rig: Rig, fcda: FCDA, value: object) -> None:
    rig.store.set(fcda, value, now=rig.clock.now)


def test_urcb_dchg_and_qchg_with_buftm(rig: Rig) -> None:
    link = rig.link()
    values = link.call(link.client.get_rcb_values(URCB, buffered=False))
    assert values["RptID"] and values["BufTm"] == 50 and values["DatSet"] == f"{LD}/LLN0$DsStatus"
    link.call(link.client.enable_reporting(URCB, False))
    assert rig.server.report_blocks()[2].owner == link.peer
    assert reports(link.process(lambda: set_value(rig, OPSTATE, 3))) == []  # BufTm runs
    got = reports(link.tick(0.05))
    assert len(got) == 1
    rpt = got[0].report
    assert rpt.rpt_id == values["RptID"] and rpt.dat_set == f"{LD}/LLN0$DsStatus"
    assert rpt.indices == (2,) and rpt.reasons == (Reason.DCHG,)
    assert rpt.python_values()[0][0] == 3  # DEROpSt [ST]: stVal, q, t
    assert rpt.entry_id is None and rpt.seq_num == 0
    link.process(lambda: set_value(rig, OPSTATE_Q, Quality(validity=Validity.INVALID)))
    got = reports(link.tick(0.05))
    assert got[0].report.reasons == (Reason.QCHG,) and got[0].report.seq_num == 1


def test_urcb_reservation_blocks_other_clients(rig: Rig) -> None:
    a, b = rig.link("a@x/1"), rig.link("b@x/1")
    a.call(a.client.enable_reporting(URCB, False))
    from derlink.iec61850.acsi.errors import ServiceError, ServiceErrorClass

    try:
        b.call(b.client.enable_reporting(URCB, False))
    except ServiceError as exc:
        assert exc.service_class is ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE
    else:
        raise AssertionError("a reserved URCB accepted another client")
    a.drop()
    b.call(b.client.enable_reporting(URCB, False))


def test_brcb_integrity_gi_and_buftm(rig: Rig) -> None:
    link = rig.link()
    link.call(link.client.get_rcb_values(BRCB, buffered=True))
    link.call(link.client.enable_reporting(BRCB, True, intg_pd_ms=1000))
    got = reports(link.tick(1.0))
    assert len(got) == 1 and got[0].report.indices == tuple(range(10))
    assert set(got[0].report.reasons) == {Reason.INTEGRITY}
    assert got[0].report.entry_id is not None and got[0].report.conf_rev == 1
    link.events.clear()
    link.call(link.client.general_interrogation(BRCB, True))
    gi = reports(link.events)
    assert len(gi) == 1 and set(gi[0].report.reasons) == {Reason.GI}
    # two members within BufTm (100 ms): one report
    link.process(lambda: set_value(rig, TOTW, {"f": 1000.0}))
    rig.clock.now += 0.03
    link.process(lambda: set_value(rig, HZ, {"f": 50.02}))
    assert reports(link.tick(0.03)) == []
    got = reports(link.tick(0.05))
    assert len(got) == 1 and got[0].report.indices == (0, 2)
    assert got[0].report.python_values()[0][0] == [1000.0]


def test_rcb_attribute_rules(rig: Rig) -> None:
    from derlink.iec61850.acsi.errors import ServiceError, ServiceErrorClass

    link = rig.link()
    link.call(link.client.enable_reporting(BRCB, True))
    with pytest.raises(ServiceError) as enabled:  # IntgPd written while enabled
        link.call(link.client.set_rcb_values(BRCB, True, {"IntgPd": ("unsigned", 5)}))
    assert enabled.value.service_class is ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE
    with pytest.raises(ServiceError) as mistyped:  # GI given an integer
        link.call(link.client.set_rcb_values(BRCB, True, {"GI": ("integer", 1)}))
    assert mistyped.value.service_class is ServiceErrorClass.TYPE_CONFLICT
    link.call(link.client.disable_reporting(BRCB, True))
    opt = OptFlds(data_ref=True)
    link.call(link.client.set_rcb_values(BRCB, True, {"OptFlds": ("bit-string", opt.to_bits())}))
    values = link.call(link.client.get_rcb_values(BRCB, True))
    assert values["OptFlds"] == opt and values["RptEna"] is False


def _new_rig(model: ServerModel, buffer_entries: int = 256) -> Rig:
    clock = Clock()
    store = ValueStore(model, clock)
    server = IedServer(model, store, clock=clock, buffer_entries=buffer_entries)
    return Rig(model, store, server, clock, set())


def test_buffer_overflow_flag(model: ServerModel) -> None:
    rig = _new_rig(model, buffer_entries=5)
    link = rig.link()
    link.call(link.client.get_rcb_values(BRCB, True))
    link.call(link.client.enable_reporting(BRCB, True, buf_tm_ms=0, resv_tms=60))
    link.drop()
    for i in range(8):
        rig.clock.now += 1
        link.process(lambda i=i: set_value(rig, TOTW, {"f": float(i)}))
    assert link.dropped == 0  # nothing is sent while the owner is away
    link.reconnect()
    link.events.clear()
    link.call(link.client.enable_reporting(BRCB, True))
    got = [r.report for r in reports(link.events)]
    assert [r.python_values()[0][0] for r in got] == [[3.0], [4.0], [5.0], [6.0], [7.0]]
    assert [r.buf_ovfl for r in got] == [True, False, False, False, False]


_MODEL = functools.cache(load_der_ied)


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(
        st.sampled_from(["change", "change", "change", "drop", "reconnect", "lose"]),
        min_size=1,
        max_size=30,
    )
)
def test_resync_after_random_disconnects(steps: list[str]) -> None:
    """Whatever the disconnect points (and reports lost in flight), the client ends with every
    change exactly once, in order, by writing the last EntryID it received."""
    rig = _new_rig(_MODEL())
    link = rig.link()
    link.call(link.client.get_rcb_values(BRCB, True))
    link.call(link.client.enable_reporting(BRCB, True, buf_tm_ms=0, resv_tms=300))
    sent: list[float] = []
    for step in steps:
        rig.clock.now += 1
        if step == "change":
            value = 100.0 + len(sent)
            sent.append(value)
            link.process(lambda v=value: set_value(rig, TOTW, {"f": v}))
        elif step == "drop" and link.connected:
            link.drop()
        elif step == "reconnect" and not link.connected:
            link.reconnect()
            link.call(link.client.enable_reporting(BRCB, True))
        elif step == "lose" and link.connected:
            # the transport loses the next report in flight, then the association
            value = 100.0 + len(sent)
            sent.append(value)
            link.connected = False
            link.process(lambda v=value: set_value(rig, TOTW, {"f": v}))
            link.client.connection_lost()
            link.deliver(rig.server.peer_lost(link.peer))
    if not link.connected:
        link.reconnect()
        link.call(link.client.enable_reporting(BRCB, True))
    received = [
        r.report.python_values()[0][0][0]
        for r in reports(link.events)
        if r.report.reasons == (Reason.DCHG,)
    ]
    assert received == sent


def test_duplicates_dropped_without_entry_id_resync(model: ServerModel) -> None:
    rig = _new_rig(model)
    link: Link = rig.link()
    link.call(link.client.get_rcb_values(BRCB, True))
    link.call(link.client.enable_reporting(BRCB, True, buf_tm_ms=0, resv_tms=60))
    link.process(lambda: set_value(rig, TOTW, {"f": 1.0}))
    link.drop()
    link.process(lambda: set_value(rig, TOTW, {"f": 2.0}))
    link.reconnect()
    link.events.clear()
    link.call(link.client.enable_reporting(BRCB, True, resync=False))  # server sends all
    values = [r.report.python_values()[0][0] for r in reports(link.events)]
    assert values == [[2.0]] and link.client.duplicates_dropped == 1


def test_resync_with_entry_id_lost_to_overflow(model: ServerModel) -> None:
    rig = _new_rig(model, buffer_entries=3)
    link = rig.link()
    link.call(link.client.get_rcb_values(BRCB, True))
    link.call(link.client.enable_reporting(BRCB, True, buf_tm_ms=0, resv_tms=60))
    link.process(lambda: set_value(rig, TOTW, {"f": 1.0}))
    link.drop()
    for i in range(2, 7):
        rig.clock.now += 1
        link.process(lambda i=i: set_value(rig, TOTW, {"f": float(i)}))
    link.reconnect()
    link.events.clear()
    assert link.call(link.client.enable_reporting(BRCB, True)) is False  # entry 1 is gone
    got = [r.report for r in reports(link.events)]
    assert [r.python_values()[0][0] for r in got] == [[4.0], [5.0], [6.0]]
    assert got[0].buf_ovfl is True
