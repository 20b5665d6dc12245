"""Untrusted input: the server answers every PDU without crashing or changing state it
should not; the report layout survives the real codec for any report."""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.iec61850.acsi.reporting import Member, OptFlds, Reason, Report
from derlink.iec61850.acsi.rpt import decode_report, encode_report
from derlink.iec61850.acsi.server import IedServer, Outgoing
from derlink.iec61850.mms import names
from derlink.iec61850.model.der import load_der_ied
from derlink.iec61850.model.store import ValueStore
from iec61850.acsi.harness import Clock, wire
from iec61850.mms.mms_strategies import data_values, pdus

_MODEL = functools.cache(load_der_ied)


def _server() -> IedServer:
    clock = Clock()
    return IedServer(_MODEL(), ValueStore(_MODEL(), clock), clock=clock)


def _associate(server: IedServer, peer: str) -> None:
    detail = {
        "proposedVersionNumber": 1,
        "proposedParameterCBB": (b"\xf1\x00\x00", 18),
        "servicesSupportedCalling": (bytes(12), 93),
    }
    pdu = (
        "initiate-RequestPDU",
        {
            "proposedMaxServOutstandingCalling": 4,
            "proposedMaxServOutstandingCalled": 4,
            "initRequestDetail": detail,
        },
    )
    assert server.handle(peer, pdu)[0].pdu[0] == "initiate-ResponsePDU"


@settings(max_examples=60, deadline=None)
@given(st.lists(pdus, min_size=1, max_size=4))
def test_server_survives_any_pdu(sequence: list[object]) -> None:
    server = _server()
    _associate(server, "p")
    for pdu in sequence:
        out = server.handle("p", pdu)  # type: ignore[arg-type]
        assert all(isinstance(o, Outgoing) for o in out)
        for o in out:
            wire(o.pdu)  # whatever we answer is encodable


_TARGETS = [
    ("DWMX1$CO$WMaxSptPct$SBOw"),
    ("DWMX1$CO$WMaxSptPct$Oper"),
    ("DGEN1$SP$WMax$setMag"),
    ("LLN0$BR$brcbMeas01$RptEna"),
    ("LLN0$BR$brcbMeas01$EntryID"),
    ("LLN0$RP$urcbStatus01$TrgOps"),
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_TARGETS), data_values)
def test_random_writes_are_refused_cleanly(item: str, data: object) -> None:
    server = _server()
    _associate(server, "p")
    name = ("domain-specific", {"domainID": "DERIEDLD0", "itemID": item})
    request = {
        "variableAccessSpecification": (
            "listOfVariable",
            [{"variableSpecification": ("name", name)}],
        ),
        "listOfData": [data],
    }
    pdu = ("confirmed-RequestPDU", {"invokeID": 7, "service": ("write", request)})
    out = server.handle("p", pdu)
    response = [o for o in out if o.pdu[0] == "confirmed-ResponsePDU"]
    assert len(response) == 1
    for o in out:
        wire(o.pdu)


reports = st.builds(
    lambda opt, seq, n, picks, ovfl, eid: Report(
        rcb="LD/LLN0.rcb",
        owner="p",
        rpt_id="LD/LLN0$BR$rcb",
        opt_flds=opt,
        seq_num=seq,
        time_of_entry=1_700_000_000.123,
        dat_set="LD/LLN0$ds",
        buf_ovfl=ovfl,
        entry_id=eid,
        conf_rev=3,
        members=tuple(
            Member(i, ("unsigned", i), Reason(r or 1))
            for i, r in sorted({i % n: r for i, r in picks}.items())
        ),
    ),
    st.builds(OptFlds, *[st.booleans()] * 8),
    st.integers(0, 65535),
    st.integers(1, 20),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 63)), min_size=1, max_size=8),
    st.booleans(),
    st.binary(min_size=8, max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(reports)
def test_report_layout_round_trips_through_xer(report: Report) -> None:
    count = max(m.index for m in report.members) + 1
    refs = [f"LD/LN$MX$X{m.index}" for m in report.members]
    values = [m.value for m in report.members]
    pdu = wire(encode_report(report, refs, values, count))
    got = decode_report(pdu[1]["service"][1])
    assert got.rpt_id == report.rpt_id and got.opt_flds == report.opt_flds
    assert got.indices == tuple(m.index for m in report.members)
    assert list(got.values) == values
    if report.opt_flds.seq_num:
        assert got.seq_num == report.seq_num
    if report.opt_flds.entry_id:
        assert got.entry_id == report.entry_id
    if report.opt_flds.reason:
        assert got.reasons == tuple(m.reason for m in report.members)
    if report.opt_flds.data_ref:
        assert list(got.data_refs) == refs
    if report.opt_flds.time_stamp:
        assert got.time_of_entry is not None
        assert abs(got.time_of_entry - report.time_of_entry) < 0.001
    # the MMS layer's independent reading of the same 8-1 layout agrees
    theirs = names.parse_report(pdu)
    assert theirs.rpt_id == got.rpt_id and theirs.inclusion == got.inclusion
    assert list(theirs.values) == values
    assert theirs.entry_id == got.entry_id and theirs.seq_num == got.seq_num
