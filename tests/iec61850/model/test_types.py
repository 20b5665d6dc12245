"""Basic types: Quality bits, Timestamp, value checks and defaults (7-2 Ed.2 clause 6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from derlink.iec61850.model import (
    BasicType,
    EnumType,
    Quality,
    TimeQuality,
    Timestamp,
    TypeMismatch,
    Validity,
    check_value,
    default_value,
)
from derlink.iec61850.model.types import Source

qualities = st.builds(
    Quality,
    validity=st.sampled_from(list(Validity)),
    overflow=st.booleans(),
    out_of_range=st.booleans(),
    bad_reference=st.booleans(),
    oscillatory=st.booleans(),
    failure=st.booleans(),
    old_data=st.booleans(),
    inconsistent=st.booleans(),
    inaccurate=st.booleans(),
    source=st.sampled_from(list(Source)),
    test=st.booleans(),
    operator_blocked=st.booleans(),
)


@given(qualities)
def test_quality_round_trips(quality: Quality) -> None:
    assert len(quality.to_bits()) == 13
    assert Quality.from_bits(quality.to_bits()) == quality
    assert Quality.from_int(quality.to_int()) == quality


def test_quality_bit_positions() -> None:
    # validity is bits 0-1 written "good 00, invalid 01, reserved 10, questionable 11"
    assert Quality(validity=Validity.INVALID).to_int() == 0b10
    assert Quality(validity=Validity.QUESTIONABLE).to_int() == 0b11
    assert Quality(validity=Validity.RESERVED).to_int() == 0b01
    assert Quality(overflow=True).to_int() == 1 << 2
    assert Quality(inaccurate=True).to_int() == 1 << 9
    assert Quality(source=Source.SUBSTITUTED).to_int() == 1 << 10
    assert Quality(test=True).to_int() == 1 << 11
    assert Quality(operator_blocked=True).to_int() == 1 << 12
    with pytest.raises(TypeMismatch):
        Quality.from_int(1 << 13)


@given(st.floats(min_value=0, max_value=2**32 - 1, allow_nan=False))
def test_timestamp_from_unix(now: float) -> None:
    stamp = Timestamp.from_unix(now)
    assert 0 <= stamp.fraction < 1 << 24
    assert abs(stamp.to_unix() - now) < 1e-6 * max(1.0, now) + 2**-24


@given(st.integers(0, 255))
def test_time_quality_octet(octet: int) -> None:
    assert TimeQuality.from_byte(octet).to_byte() == octet


def test_timestamp_rejections() -> None:
    with pytest.raises(TypeMismatch):
        Timestamp(seconds=-1)
    with pytest.raises(TypeMismatch):
        Timestamp(fraction=1 << 24)
    with pytest.raises(TypeMismatch):
        Timestamp.from_unix(float("nan"))


@pytest.mark.parametrize(
    ("btype", "low", "high"),
    [
        (BasicType.INT8, -128, 127),
        (BasicType.INT16, -(2**15), 2**15 - 1),
        (BasicType.INT32, -(2**31), 2**31 - 1),
        (BasicType.INT64, -(2**63), 2**63 - 1),
        (BasicType.INT8U, 0, 255),
        (BasicType.INT16U, 0, 65535),
        (BasicType.INT32U, 0, 2**32 - 1),
    ],
)
def test_integer_ranges(btype: BasicType, low: int, high: int) -> None:
    assert check_value(btype, low) == low
    assert check_value(btype, high) == high
    for bad in (low - 1, high + 1, True, 1.5, "1"):
        with pytest.raises(TypeMismatch):
            check_value(btype, bad)


def test_strings_and_octets() -> None:
    assert check_value(BasicType.VisString32, "a" * 32) == "a" * 32
    with pytest.raises(TypeMismatch, match="longer than 32"):
        check_value(BasicType.VisString32, "a" * 33)
    with pytest.raises(TypeMismatch, match="printable ASCII"):
        check_value(BasicType.VisString64, "é")
    assert check_value(BasicType.Unicode255, "é" * 127) == "é" * 127
    with pytest.raises(TypeMismatch):
        check_value(BasicType.Unicode255, "é" * 128)
    assert check_value(BasicType.Octet64, bytearray(b"ab")) == b"ab"
    with pytest.raises(TypeMismatch):
        check_value(BasicType.Octet64, bytes(65))
    with pytest.raises(TypeMismatch):
        check_value(BasicType.EntryID, bytes(7))


def test_floats_booleans_bits() -> None:
    assert check_value(BasicType.FLOAT32, 3) == 3.0
    with pytest.raises(TypeMismatch, match="32 bits"):
        check_value(BasicType.FLOAT32, 1e39)
    assert check_value(BasicType.FLOAT64, 1e300) == 1e300
    with pytest.raises(TypeMismatch):
        check_value(BasicType.BOOLEAN, 1)
    assert check_value(BasicType.Check, [True, False]) == (True, False)
    with pytest.raises(TypeMismatch):
        check_value(BasicType.Check, (True,))
    with pytest.raises(TypeMismatch):
        check_value(BasicType.Quality, 0)


def test_enum_membership() -> None:
    beh = EnumType("BehaviourModeKind", {1: "on", 2: "on-blocked", 5: "off"})
    assert check_value(BasicType.Enum, 5, beh) == 5
    assert check_value(BasicType.Enum, "off", beh) == 5
    with pytest.raises(TypeMismatch, match="not a value"):
        check_value(BasicType.Enum, 3, beh)
    with pytest.raises(TypeMismatch, match="not a literal"):
        check_value(BasicType.Enum, "test", beh)
    assert default_value(BasicType.Enum, beh) == 1


@pytest.mark.parametrize("btype", [b for b in BasicType if b is not BasicType.Struct])
def test_defaults_pass_their_own_check(btype: BasicType) -> None:
    value = default_value(btype)
    assert check_value(btype, value) == value


def test_unknown_btype() -> None:
    with pytest.raises(TypeMismatch, match="unknown basic type"):
        BasicType.parse("INT7")
