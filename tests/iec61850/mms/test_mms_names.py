"""IEC 61850-8-1 naming and report layout; MMS error codes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.iec61850.mms import codec
from derlink.iec61850.mms.data import BinaryTime, td_float32, to_data
from derlink.iec61850.mms.errors import (
    AccessError,
    DataAccessError,
    ErrorClass,
    InitiateError,
    MmsDecodeError,
    MmsNameError,
    ServiceProblem,
    parse_service_error,
    service_error,
)
from derlink.iec61850.mms.names import (
    FUNCTIONAL_CONSTRAINTS,
    ItemName,
    Report,
    build_report,
    dataset_name,
    is_report,
    item_id,
    mms_name,
    parse_dataset_name,
    parse_item_id,
    parse_mms_name,
    parse_rcb_name,
    parse_report,
    rcb_name,
    report_data,
)
from iec61850.mms.mms_strategies import data_values

lns = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,9}", fullmatch=True)
parts = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True), st.integers(0, 99).map(str)
)
domains = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True)


def test_examples() -> None:
    assert mms_name("IED1LD0", "MMXU1", "MX", ("TotW", "mag", "f")) == (
        "domain-specific",
        {"domainID": "IED1LD0", "itemID": "MMXU1$MX$TotW$mag$f"},
    )
    assert item_id("LLN0") == "LLN0"
    assert (
        item_id("DWMX1", "CO", ("WMaxSptPct", "Oper", "ctlVal"))
        == "DWMX1$CO$WMaxSptPct$Oper$ctlVal"
    )
    assert parse_item_id("MMXU1$MX$TotW$mag$f") == ItemName("MMXU1", "MX", ("TotW", "mag", "f"))
    assert str(ItemName("LLN0", "ST")) == "LLN0$ST"
    assert dataset_name("IED1LD0", "LLN0", "Meas") == (
        "domain-specific",
        {"domainID": "IED1LD0", "itemID": "LLN0$Meas"},
    )
    assert parse_dataset_name(dataset_name("IED1LD0", "LLN0", "Meas")) == (
        "IED1LD0",
        "LLN0",
        "Meas",
    )
    assert rcb_name("IED1LD0", "LLN0", "brcbMeas01", True)[1]["itemID"] == "LLN0$BR$brcbMeas01"
    assert rcb_name("IED1LD0", "LLN0", "urcb01", False)[1]["itemID"] == "LLN0$RP$urcb01"
    assert parse_rcb_name(rcb_name("IED1LD0", "LLN0", "urcb01", False)) == (
        "IED1LD0",
        "LLN0",
        "urcb01",
        False,
    )


@settings(max_examples=200, deadline=None)
@given(domains, lns, st.sampled_from(sorted(FUNCTIONAL_CONSTRAINTS)), st.lists(parts, max_size=5))
def test_names_round_trip(domain: str, ln: str, fc: str, path: list[str]) -> None:
    try:
        name = mms_name(domain, ln, fc, path)
    except MmsNameError:
        assert len("$".join([ln, fc, *path])) > 64
        return
    assert parse_mms_name(name) == (domain, ItemName(ln, fc, tuple(path)))
    assert codec.decode_value("ObjectName", codec.encode_value("ObjectName", name)) == name


@pytest.mark.parametrize(
    "item",
    [
        "",
        "1LN",
        "LN0$XX$a",
        "LN0$$a",
        "LN0$MX$",
        "LN0$MX$a.b",
        "LN0$MX$a b",
        "L" * 65,
        "LN0$MX$" + "a" * 60,
    ],
)
def test_bad_item_ids(item: str) -> None:
    with pytest.raises(MmsNameError):
        parse_item_id(item)


def test_bad_names() -> None:
    with pytest.raises(MmsNameError):
        item_id("LLN0", None, ("x",))
    with pytest.raises(MmsNameError):
        mms_name("IED/LD0", "LLN0")
    with pytest.raises(MmsNameError):
        mms_name("D" * 65, "LLN0")
    with pytest.raises(MmsNameError):
        parse_mms_name(("vmd-specific", "x"))
    with pytest.raises(MmsNameError):
        parse_mms_name("garbage")  # type: ignore[arg-type]
    with pytest.raises(MmsNameError):
        parse_rcb_name(mms_name("LD", "LLN0", "ST", ("Mod",)))
    with pytest.raises(MmsNameError):
        parse_dataset_name(mms_name("LD", "LLN0", "ST", ("Mod",)))


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


def test_error_codes() -> None:
    assert int(DataAccessError.OBJECT_NON_EXISTENT) == 10
    assert int(DataAccessError.OBJECT_VALUE_INVALID) == 11
    assert int(DataAccessError.OBJECT_ACCESS_DENIED) == 3
    value = service_error(AccessError.OBJECT_NON_EXISTENT, additional_description="x")
    assert value == {"errorClass": ("access", 2), "additionalDescription": "x"}
    pdu = ("confirmed-ErrorPDU", {"invokeID": 1, "serviceError": value})
    info = parse_service_error(codec.decode(codec.encode(pdu))[1]["serviceError"])
    assert info.error_class is ErrorClass.ACCESS and info.code is AccessError.OBJECT_NON_EXISTENT
    assert str(info) == "access: object_non_existent (x)"
    assert service_error((ErrorClass.OTHERS, 42)) == {"errorClass": ("others", 42)}
    assert parse_service_error({"errorClass": ("service", 3)}).code == 3  # reserved value kept
    assert service_error(InitiateError.NESTING_LEVEL_INSUFFICIENT)["errorClass"] == ("initiate", 7)
    assert (
        service_error(ServiceProblem.OBJECT_STATE_CONFLICT, additional_code=5)["additionalCode"]
        == 5
    )
    with pytest.raises(MmsDecodeError):
        parse_service_error({"errorClass": ("bogus", 1)})
