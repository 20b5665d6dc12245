"""ObjectReference / FCDA syntax: round trips and clear rejections (7-2 Ed.2, SCL types)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from derlink.iec61850.model import FC, FCDA, BadReference, ObjectReference
from derlink.iec61850.model.refs import (
    check_da_name,
    check_do_name,
    ln_name,
    split_element,
    split_ln_name,
)

ld_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_]{0,20}", fullmatch=True)
prefixes = st.from_regex(r"([A-Za-z][A-Za-z0-9_]{0,10})?", fullmatch=True)
classes = st.from_regex(r"[A-Z]{4}", fullmatch=True)
insts = st.from_regex(r"[0-9]{0,3}", fullmatch=True)
do_names = st.from_regex(r"[A-Z][A-Za-z0-9]{0,11}", fullmatch=True)
da_elements = st.from_regex(r"[a-z][A-Za-z0-9]{0,10}(\((0|[1-9][0-9]{0,2})\))?", fullmatch=True)


@st.composite
def references(draw: st.DrawFn) -> ObjectReference:
    ln = draw(prefixes) + draw(classes) + draw(insts)
    path = (draw(do_names), *draw(st.lists(da_elements, max_size=3)))
    return ObjectReference(draw(ld_names), ln, path)


@given(references())
def test_reference_round_trip(ref: ObjectReference) -> None:
    assert ObjectReference.parse(str(ref)) == ref


@given(prefixes, classes, insts)
def test_ln_name_splits_back(prefix: str, ln_class: str, inst: str) -> None:
    assert split_ln_name(ln_name(prefix, ln_class, inst)) == (prefix, ln_class, inst)


@given(references(), st.sampled_from(list(FC)))
def test_fcda_round_trip(ref: ObjectReference, fc: FC) -> None:
    fcda = FCDA(ref, fc)
    assert FCDA.parse(str(fcda)) == fcda


@given(st.text(max_size=80))
def test_parse_never_crashes(text: str) -> None:
    try:
        ref = ObjectReference.parse(text)
    except BadReference:
        return
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("LD0/DWMX1.WMaxSptPct.mxVal.f", ("LD0", "DWMX1", ("WMaxSptPct", "mxVal", "f"))),
        ("DER1LD0/LLN0", ("DER1LD0", "LLN0", ())),
        ("LD0", ("LD0", "", ())),
        ("LD0/Q1MMXU1.PhV.phsA.cVal", ("LD0", "Q1MMXU1", ("PhV", "phsA", "cVal"))),
        ("LD0/DVVR1.Crv.crvPts(3).xVal", ("LD0", "DVVR1", ("Crv", "crvPts(3)", "xVal"))),
    ],
)
def test_examples(text: str, parts: tuple[str, str, tuple[str, ...]]) -> None:
    ref = ObjectReference.parse(text)
    assert (ref.ld, ref.ln, ref.path) == parts
    assert str(ref) == text


def test_navigation() -> None:
    ref = ObjectReference.parse("LD0/MMXU1.TotW.mag.f")
    assert str(ref.parent) == "LD0/MMXU1.TotW.mag"
    assert str(ref.ln_ref) == "LD0/MMXU1"
    assert ref.startswith(ObjectReference.parse("LD0/MMXU1.TotW"))
    assert not ref.startswith(ObjectReference.parse("LD0/MMXU1.TotVAr"))
    assert ObjectReference("LD0").child("LLN0", "Mod") == ObjectReference.parse("LD0/LLN0.Mod")
    assert split_ln_name("LLN0") == ("", "LLN0", "")
    assert split_element("crvPts(12)") == ("crvPts", 12)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "logical-device name"),
        ("LD0/", "empty logical-node"),
        ("LD 0/LLN0", "logical-device name"),
        ("L" * 65 + "/LLN0", "logical-device name"),
        ("LD0/mmxu1.TotW", "logical-node name"),
        ("LD0/MMX1.TotW", "logical-node name"),
        ("LD0/MMXU1..mag", "empty name"),
        ("LD0/MMXU1.TotW.", "empty name"),
        ("LD0/MMXU1.Tot-W", "bad reference element"),
        ("LD0/DVVR1.Crv.crvPts(x)", "bad reference element"),
        ("LD0/DVVR1.Crv.crvPts(01)", "bad reference element"),
        ("LD0/ABCDEFGHIJKLMMXU1.TotW", "prefix"),
        ("LD0/MMXU1." + "a" * 61, "longer than"),
        ("LD0/MMXU1." + ".".join(["abcdefghij"] * 12), "longer than"),
    ],
)
def test_rejections(text: str, fragment: str) -> None:
    with pytest.raises(BadReference, match=fragment):
        ObjectReference.parse(text)


def test_fcda_rejections() -> None:
    with pytest.raises(BadReference, match="unknown functional constraint"):
        FCDA.parse("LD0/MMXU1.TotW[XY]")
    with pytest.raises(BadReference, match="must look like"):
        FCDA.parse("LD0/MMXU1.TotW")
    with pytest.raises(BadReference, match="data object or attribute"):
        FCDA.parse("LD0/MMXU1[MX]")


def test_name_checks() -> None:
    assert check_do_name("WMaxSptPct") == "WMaxSptPct"
    assert check_da_name("Oper") == "Oper"
    with pytest.raises(BadReference):
        check_do_name("ThirteenChars")
    with pytest.raises(BadReference):
        check_do_name("lower")
    with pytest.raises(BadReference):
        check_da_name("Upper")
    with pytest.raises(BadReference, match="LLN0"):
        ln_name("X", "LLN0", "")
