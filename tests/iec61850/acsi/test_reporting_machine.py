"""The report-control-block state machine on its own (no PDUs)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.iec61850.acsi.errors import ServiceError, ServiceErrorClass
from derlink.iec61850.acsi.reporting import (
    NO_ENTRY,
    OptFlds,
    RcbConfig,
    Reason,
    Report,
    ReportControlBlock,
    entry_id_int,
    pack_bits,
    reason_from_bits,
    reason_to_bits,
    trg_ops_from_bits,
    trg_ops_to_bits,
    unpack_bits,
)

ALL_TRG = Reason.DCHG | Reason.QCHG | Reason.DUPD | Reason.INTEGRITY | Reason.GI


def _rcb(buffered: bool, **kw: object) -> ReportControlBlock:
    cfg = RcbConfig(
        ref="IEDLD0/LLN0.brcbA" if buffered else "IEDLD0/LLN0.urcbA",
        buffered=buffered,
        dat_set="IEDLD0/LLN0.ds",
        member_count=3,
        trg_ops=ALL_TRG,
        **kw,  # type: ignore[arg-type]
    )
    return ReportControlBlock(cfg)


def brcb(**kw: object) -> ReportControlBlock:
    return _rcb(True, **kw)


def urcb(**kw: object) -> ReportControlBlock:
    return _rcb(False, **kw)


SNAP = [1.0, 2.0, 3.0]


@given(st.lists(st.booleans(), max_size=40))
def test_bit_strings_round_trip(bits: list[bool]) -> None:
    assert unpack_bits(pack_bits(bits)) == bits


@given(st.integers(0, 63))
def test_reason_and_trgops_bits(mask: int) -> None:
    r = Reason(mask)
    assert reason_from_bits(reason_to_bits(r)) == r
    r5 = Reason(mask & 31)
    assert trg_ops_from_bits(trg_ops_to_bits(r5)) == r5
    assert OptFlds.from_bits(OptFlds(data_ref=True).to_bits()) == OptFlds(data_ref=True)


def test_dchg_report_and_sequence_numbers() -> None:
    rcb = urcb()
    assert rcb.on_change(0, 5.0, Reason.DCHG, 0.0) == []  # disabled: nothing
    assert rcb.write("a", "RptEna", True, 1.0, SNAP) == []
    first = rcb.on_change(1, 9.0, Reason.DCHG, 1.5)
    second = rcb.on_change(2, 8.0, Reason.QCHG, 1.6)
    assert [r.seq_num for r in first + second] == [0, 1]
    assert first[0].members[0].index == 1 and first[0].members[0].reason is Reason.DCHG
    assert not first[0].opt_flds.entry_id  # URCBs have no EntryID / BufOvfl
    assert rcb.owner == "a" and rcb.read("Resv") is True


def test_trigger_filtering() -> None:
    rcb = urcb()
    rcb.write("a", "TrgOps", Reason.QCHG, 0.0, SNAP)
    rcb.write("a", "RptEna", True, 0.0, SNAP)
    assert rcb.on_change(0, 1.0, Reason.DCHG, 0.1) == []
    assert len(rcb.on_change(0, 1.0, Reason.QCHG, 0.2)) == 1


def test_buftm_aggregates_and_flushes_on_second_change() -> None:
    rcb = urcb(buf_tm_ms=100)
    rcb.write("a", "RptEna", True, 0.0, SNAP)
    assert rcb.on_change(0, 1.0, Reason.DCHG, 1.0) == []
    assert rcb.on_change(1, 2.0, Reason.DCHG, 1.02) == []
    assert rcb.tick(1.05, SNAP) == []
    out = rcb.tick(1.1, SNAP)
    assert len(out) == 1 and [m.index for m in out[0].members] == [0, 1]
    rcb.on_change(0, 1.0, Reason.DCHG, 2.0)
    again = rcb.on_change(0, 2.0, Reason.DCHG, 2.01)  # same member again: send the first
    assert len(again) == 1 and again[0].members[0].value == 1.0
    merged = rcb.on_change(0, 2.0, Reason.QCHG, 2.01)  # same instant: merged reasons
    assert merged == []
    out = rcb.tick(2.2, SNAP)
    assert out[0].members[0].reason == Reason.DCHG | Reason.QCHG


def test_integrity_and_gi() -> None:
    rcb = urcb(intg_pd_ms=1000)
    rcb.write("a", "RptEna", True, 0.0, SNAP)
    assert rcb.tick(0.5, SNAP) == []
    out = rcb.tick(1.0, SNAP)
    assert len(out) == 1 and all(m.reason is Reason.INTEGRITY for m in out[0].members)
    assert [m.value for m in out[0].members] == SNAP
    assert rcb.next_deadline() == 2.0
    gi = rcb.write("a", "GI", True, 1.2, SNAP)
    assert len(gi) == 1 and all(m.reason is Reason.GI for m in gi[0].members)
    assert rcb.read("GI") is False


def test_reservation_and_state_rules() -> None:
    rcb = urcb()
    rcb.write("a", "Resv", True, 0.0, SNAP)
    with pytest.raises(ServiceError) as err:
        rcb.write("b", "RptEna", True, 0.0, SNAP)
    assert err.value.service_class is ServiceErrorClass.INSTANCE_LOCKED_BY_OTHER_CLIENT
    rcb.write("a", "RptEna", True, 0.0, SNAP)
    with pytest.raises(ServiceError) as err:
        rcb.write("a", "IntgPd", 5, 0.0, SNAP)
    assert err.value.service_class is ServiceErrorClass.ACCESS_NOT_ALLOWED_IN_CURRENT_STATE
    with pytest.raises(ServiceError) as err:
        rcb.write("a", "ConfRev", 5, 0.0, SNAP)
    assert err.value.service_class is ServiceErrorClass.ACCESS_VIOLATION
    rcb.peer_lost("a", 1.0)
    assert rcb.owner is None and not rcb.rpt_ena
    rcb.write("b", "RptEna", True, 2.0, SNAP)
    assert rcb.owner == "b"


def test_type_conflicts_change_nothing() -> None:
    rcb = brcb()
    for attr, bad in [("RptEna", 1), ("IntgPd", "x"), ("EntryID", b"123"), ("TrgOps", 3)]:
        with pytest.raises(ServiceError) as err:
            rcb.write("a", attr, bad, 0.0, SNAP)
        assert err.value.service_class is ServiceErrorClass.TYPE_CONFLICT
    assert rcb.owner is None and rcb.trg_ops == ALL_TRG


def test_brcb_buffers_while_away_and_resyncs() -> None:
    rcb = brcb(resv_tms=10)
    rcb.write("a", "RptEna", True, 0.0, SNAP)
    got = rcb.on_change(0, 1.0, Reason.DCHG, 1.0) + rcb.on_change(1, 2.0, Reason.DCHG, 1.1)
    assert len(got) == 2
    rcb.peer_lost("a", 2.0)
    for i in range(3):
        assert rcb.on_change(2, float(i), Reason.DCHG, 3.0 + i) == []
    # another client cannot take the block during ResvTms
    with pytest.raises(ServiceError):
        rcb.write("b", "RptEna", True, 4.0, SNAP)
    rcb.peer_back("a")
    rcb.write("a", "EntryID", got[-1].entry_id, 6.0, SNAP)
    resumed = rcb.write("a", "RptEna", True, 6.0, SNAP)
    assert [r.members[0].value for r in resumed] == [0.0, 1.0, 2.0]
    assert entry_id_int(resumed[0].entry_id) == entry_id_int(got[-1].entry_id) + 1


def test_brcb_without_entry_id_sends_all_buffered() -> None:
    rcb = brcb()
    rcb.on_change(0, 1.0, Reason.DCHG, 1.0)
    rcb.on_change(0, 2.0, Reason.DCHG, 2.0)
    out = rcb.write("a", "RptEna", True, 3.0, SNAP)
    assert [r.members[0].value for r in out] == [1.0, 2.0]
    rcb.write("a", "RptEna", False, 3.5, SNAP)
    again = rcb.write("a", "RptEna", True, 4.0, SNAP)
    assert len(again) == 2  # no EntryID written: everything buffered again


def test_brcb_unknown_entry_id_and_purge() -> None:
    rcb = brcb()
    rcb.on_change(0, 1.0, Reason.DCHG, 1.0)
    with pytest.raises(ServiceError) as err:
        rcb.write("a", "EntryID", (999).to_bytes(8, "big"), 2.0, SNAP)
    assert err.value.service_class is ServiceErrorClass.PARAMETER_VALUE_INAPPROPRIATE
    rcb.write("a", "PurgeBuf", True, 2.0, SNAP)
    assert rcb.buffered_entries == []
    assert rcb.write("a", "RptEna", True, 3.0, SNAP) == []


def test_brcb_overflow_flag() -> None:
    rcb = brcb(buffer_entries=4)
    for i in range(6):
        rcb.on_change(0, float(i), Reason.DCHG, float(i))
    out = rcb.write("a", "RptEna", True, 10.0, SNAP)
    assert [r.members[0].value for r in out] == [2.0, 3.0, 4.0, 5.0]
    assert [r.buf_ovfl for r in out] == [True, False, False, False]
    assert len({r.entry_id for r in out}) == 4 and out[0].entry_id != NO_ENTRY


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(0, 2), st.booleans()), min_size=1, max_size=40),
    cuts=st.sets(st.integers(0, 40), max_size=6),
    lost=st.sets(st.integers(0, 40), max_size=6),
)
def test_resync_by_entry_id_loses_and_repeats_nothing(
    events: list[tuple[int, bool]], cuts: set[int], lost: set[int]
) -> None:
    """Random disconnects (with reports in flight lost): the client sees every entry once."""
    rcb = brcb(resv_tms=30)
    received: list[Report] = []
    last = NO_ENTRY
    connected = True
    now = 0.0

    def deliver(reports: list[Report], drop: bool) -> None:
        nonlocal last
        for r in reports:
            if drop:
                continue
            if entry_id_int(r.entry_id) <= entry_id_int(last):
                continue
            received.append(r)
            last = r.entry_id

    deliver(rcb.write("c", "RptEna", True, now, SNAP), False)
    for step, (member, _) in enumerate(events):
        now += 0.1
        if step in cuts and connected:
            rcb.peer_lost("c", now)
            connected = False
        elif step in cuts and not connected:
            rcb.peer_back("c")
            if last != NO_ENTRY:
                rcb.write("c", "EntryID", last, now, SNAP)
            deliver(rcb.write("c", "RptEna", True, now, SNAP), False)
            connected = True
        out = rcb.on_change(member, float(step), Reason.DCHG, now)
        deliver(out, drop=step in lost)
        if step in lost and out and connected:
            # the transport dropped reports in flight: the client notices the gap and resyncs
            rcb.write("c", "RptEna", False, now, SNAP)
            if last != NO_ENTRY:
                rcb.write("c", "EntryID", last, now, SNAP)
            deliver(rcb.write("c", "RptEna", True, now, SNAP), False)
    if not connected:
        rcb.peer_back("c")
        if last != NO_ENTRY:
            rcb.write("c", "EntryID", last, now, SNAP)
        deliver(rcb.write("c", "RptEna", True, now, SNAP), False)
    values = [r.members[0].value for r in received]
    assert values == [float(i) for i in range(len(events))]
    ids = [entry_id_int(r.entry_id) for r in received]
    assert ids == sorted(set(ids))
