"""IEC 61850-8-1 naming; MMS error codes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.iec61850.mms import codec
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
    dataset_name,
    item_id,
    mms_name,
    parse_dataset_name,
    parse_item_id,
    parse_mms_name,
    parse_rcb_name,
    rcb_name,
)

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


def _component_reading(item: str) -> ItemName | None:
    """The item id rules applied component by component (what the one-pass check must match)."""
    part = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
    if not item or len(item) > 64 or item[0].isdigit():
        return None
    ln, *rest = item.split("$")
    if not part.fullmatch(ln) or (rest and rest[0] not in FUNCTIONAL_CONSTRAINTS):
        return None
    if not all(part.fullmatch(p) for p in rest[1:]):
        return None
    return ItemName(ln, rest[0], tuple(rest[1:])) if rest else ItemName(ln)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["LLN0", "MMXU1", "MX", "CO", "XX", "a", "_b", "3", "1x", "", "mx"]),
        min_size=1,
        max_size=6,
    ).map("$".join)
)
def test_item_id_checks_agree(item: str) -> None:
    want = _component_reading(item)
    if want is None:
        with pytest.raises(MmsNameError):
            parse_item_id(item)
        return
    assert parse_item_id(item) == want
    assert item_id(want.ln, want.fc, want.path) == item
