"""IEC 61850-8-1 layouts of unsolicited information: reports, LastApplError, CommandTermination."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.iec61850.mms import codec
from derlink.iec61850.mms.data import BinaryTime, td_float32, to_data
from derlink.iec61850.mms.errors import MmsDecodeError, MmsNameError
from derlink.iec61850.mms.names import mms_name
from derlink.iec61850.mms.reports import (
    LAST_APPL_ERROR,
    Report,
    build_report,
    command_termination,
    is_report,
    is_report_info,
    last_appl_error_data,
    last_appl_error_report,
    parse_last_appl_error,
    parse_report,
    report_data,
)
from iec61850.mms.mms_strategies import data_values

REASON_DCHG = (False, True, False, False, False, False, False)

reports = st.builds(
    lambda rpt_id, inclusion, values, seq, toe, ds, ovfl, eid, conf, seg, refs, reasons: Report(
        rpt_id=rpt_id,
        inclusion=tuple(inclusion),
        values=tuple(values[: sum(inclusion)])
        + (("boolean", True),) * (sum(inclusion) - len(values)),
        seq_num=seq,
        time_of_entry=toe,
        dat_set=ds,
        buf_ovfl=ovfl,
        entry_id=eid,
        conf_rev=conf,
        sub_seq_num=seg[0] if seg else None,
        more_segments_follow=seg[1] if seg else None,
        data_refs=tuple(refs for _ in range(sum(inclusion))) if refs is not None else None,
        reasons=(REASON_DCHG,) * sum(inclusion) if reasons else None,
    ),
    st.from_regex(r"[A-Za-z0-9/$_]{1,20}", fullmatch=True),
    st.lists(st.booleans(), max_size=12),
    st.lists(data_values, max_size=6),
    st.none() | st.integers(0, 2**16),
    st.none() | st.binary(min_size=6, max_size=6),
    st.none() | st.just("IED1LD0/LLN0$Meas"),
    st.none() | st.booleans(),
    st.none() | st.binary(min_size=8, max_size=8),
    st.none() | st.integers(0, 2**31),
    st.none() | st.tuples(st.integers(0, 100), st.booleans()),
    st.none() | st.just("IED1LD0/MMXU1$MX$TotW"),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(reports)
def test_reports_round_trip(report: Report) -> None:
    pdu = build_report(report)
    assert is_report(pdu)
    decoded = codec.decode(codec.encode(pdu))
    assert parse_report(decoded) == report


def test_report_layout() -> None:
    value = ("structure", [to_data(td_float32(), 1.0)])
    report = Report(
        rpt_id="brcbMeas01",
        inclusion=(False, True),
        values=(value,),
        seq_num=3,
        time_of_entry=BinaryTime(1000, 14600).to_bytes(),
        dat_set="IED1LD0/LLN0$Meas",
        entry_id=b"\x00" * 7 + b"\x01",
        conf_rev=1,
        reasons=(REASON_DCHG,),
    )
    data = [d for _, d in report_data(report)]
    assert data == [
        ("visible-string", "brcbMeas01"),
        # reserved seq-num time-stamp reason data-set data-ref buf-ovfl entryID conf-rev segm
        ("bit-string", (bytes([0b01111001, 0b10000000]), 10)),
        ("unsigned", 3),
        ("binary-time", BinaryTime(1000, 14600).to_bytes()),
        ("visible-string", "IED1LD0/LLN0$Meas"),
        ("octet-string", b"\x00" * 7 + b"\x01"),
        ("unsigned", 1),
        ("bit-string", (bytes([0b01000000]), 2)),
        value,
        ("bit-string", (bytes([0b01000000]), 7)),
    ]


def test_bad_reports() -> None:
    with pytest.raises(MmsNameError):
        report_data(Report(rpt_id="r", inclusion=(True,), values=()))
    with pytest.raises(MmsNameError):
        report_data(Report(rpt_id="r", inclusion=(), values=(), sub_seq_num=1))
    with pytest.raises(MmsNameError):
        report_data(
            Report(rpt_id="r", inclusion=(True,), values=(("boolean", True),), data_refs=())
        )
    good = build_report(
        Report(rpt_id="r", inclusion=(True,), values=(("boolean", True),), seq_num=1)
    )
    results = good[1]["service"][1]["listOfAccessResult"]
    for broken in (
        results[:-1],
        [*results, ("success", ("boolean", True))],
        [("failure", 1), *results[1:]],
        [results[0], ("success", ("integer", 1)), *results[2:]],
    ):
        pdu: Any = (
            "unconfirmed-PDU",
            {
                "service": (
                    "informationReport",
                    {**good[1]["service"][1], "listOfAccessResult": broken},
                )
            },
        )
        with pytest.raises(MmsDecodeError):
            parse_report(pdu)
    with pytest.raises(MmsDecodeError):
        parse_report(("conclude-RequestPDU", None))
    assert not is_report(None)


appl_errors = st.tuples(
    st.from_regex(r"[A-Za-z0-9/$_]{1,40}", fullmatch=True),
    st.integers(0, 3),
    st.integers(0, 8),
    st.binary(max_size=64),
    st.integers(0, 255),
    st.integers(0, 27),
)


@settings(max_examples=100, deadline=None)
@given(appl_errors, st.none() | data_values)
def test_control_feedback_round_trips(fields: tuple[Any, ...], oper: Any) -> None:
    error = last_appl_error_data(*fields)
    assert parse_last_appl_error(error) == fields
    pdu = codec.decode(codec.encode(last_appl_error_report(error)))
    info = pdu[1]["service"][1]
    assert not is_report_info(info)
    assert info["variableAccessSpecification"][1][0]["variableSpecification"] == (
        "name",
        ("vmd-specific", LAST_APPL_ERROR),
    )
    assert parse_last_appl_error(info["listOfAccessResult"][0][1]) == fields
    if oper is None:
        return
    name = mms_name("IED1LD0", "DWMX1", "CO", ("WMaxSptPct", "Oper"))
    for err in (None, error):
        pdu = codec.decode(codec.encode(command_termination(name, oper, err)))
        results = pdu[1]["service"][1]["listOfAccessResult"]
        assert results[-1] == ("success", oper)
        assert len(results) == (1 if err is None else 2)


def test_bad_last_appl_error() -> None:
    for data in (None, ("structure", []), ("integer", 1), ("structure", [1, 2, 3, 4, 5])):
        with pytest.raises(MmsDecodeError):
            parse_last_appl_error(data)
