"""MMS Data <-> Python values typed by TypeDescription."""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.iec61850.mms import codec
from derlink.iec61850.mms.data import (
    BinaryTime,
    UtcTime,
    bits_from_int,
    bits_to_int,
    from_data,
    structure_components,
    td_array,
    td_binary_time,
    td_bit_string,
    td_boolean,
    td_float32,
    td_float64,
    td_integer,
    td_mms_string,
    td_octet_string,
    td_structure,
    td_unsigned,
    td_utc_time,
    td_visible_string,
    to_data,
)
from derlink.iec61850.mms.errors import MmsDataError
from iec61850.mms.mms_strategies import identifiers, xml_text


def _float32(x: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", x))[0])


def _leaf() -> Any:
    """(TypeDescription, strategy of matching Python values)."""
    bits = st.integers(1, 40)
    return st.one_of(
        st.just((td_boolean(), st.booleans())),
        st.sampled_from([8, 16, 32, 64]).map(
            lambda n: (td_integer(n), st.integers(-(2 ** (n - 1)), 2 ** (n - 1) - 1))
        ),
        st.sampled_from([8, 16, 32]).map(lambda n: (td_unsigned(n), st.integers(0, 2**n - 1))),
        st.just(
            (
                td_float32(),
                st.floats(width=32, allow_nan=False),
            )
        ),
        st.just((td_float64(), st.floats(allow_nan=False))),
        bits.map(
            lambda n: (td_bit_string(n), st.lists(st.booleans(), min_size=n, max_size=n).map(tuple))
        ),
        bits.map(lambda n: (td_bit_string(-n), st.lists(st.booleans(), max_size=n).map(tuple))),
        bits.map(lambda n: (td_octet_string(n), st.binary(max_size=n))),
        bits.map(
            lambda n: (
                td_visible_string(n),
                st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=n),
            )
        ),
        st.just((td_mms_string(255), xml_text)),
        st.just(
            (
                td_utc_time(),
                st.builds(
                    UtcTime,
                    st.integers(0, 2**32 - 1),
                    st.integers(0, 2**24 - 1),
                    st.integers(0, 255),
                ),
            )
        ),
        st.just(
            (
                td_binary_time(True),
                st.builds(BinaryTime, st.integers(0, 86_399_999), st.integers(0, 65535)),
            )
        ),
        st.just((td_binary_time(False), st.builds(BinaryTime, st.integers(0, 86_399_999)))),
    )


def _extend(children: Any) -> Any:
    def structure(parts: list[tuple[str, Any]]) -> tuple[Any, Any]:
        td = td_structure([(name, ctd) for name, (ctd, _) in parts])
        return td, st.fixed_dictionaries({name: strat for name, (_, strat) in parts})

    def array(arg: tuple[int, tuple[Any, Any]]) -> tuple[Any, Any]:
        count, (etd, strat) = arg
        return td_array(count, etd), st.lists(strat, min_size=count, max_size=count)

    return st.one_of(
        st.lists(st.tuples(identifiers, children), max_size=4, unique_by=lambda p: p[0]).map(
            structure
        ),
        st.tuples(st.integers(0, 4), children).map(array),
    )


typed_values = st.recursive(_leaf(), _extend, max_leaves=12).flatmap(
    lambda pair: st.tuples(st.just(pair[0]), pair[1])
)


@settings(max_examples=300, deadline=None)
@given(typed_values)
def test_values_round_trip_through_data_and_xer(pair: tuple[Any, Any]) -> None:
    td, value = pair
    data = to_data(td, value)
    assert codec.decode_value("Data", codec.encode_value("Data", data)) == data
    back = from_data(td, data)
    assert back == value
    # the type description itself is an encodable TypeDescription
    assert codec.decode_value(
        "TypeDescription", codec.encode_value("TypeDescription", td)
    ) == _with_defaults(td)


def _with_defaults(td: Any) -> Any:
    kind, spec = td
    if kind == "structure":
        return (
            kind,
            {
                "packed": False,
                "components": [
                    {
                        "componentName": c["componentName"],
                        "componentType": ("typeDescription", _with_defaults(c["componentType"][1])),
                    }
                    for c in spec["components"]
                ],
            },
        )
    if kind == "array":
        return (
            kind,
            {
                "packed": False,
                "numberOfElements": spec["numberOfElements"],
                "elementType": ("typeDescription", _with_defaults(spec["elementType"][1])),
            },
        )
    return td


def test_floating_point_format_octet() -> None:
    assert to_data(td_float32(), 42.0) == ("floating-point", b"\x08\x42\x28\x00\x00")
    assert to_data(td_float64(), 1.0) == ("floating-point", b"\x0b\x3f\xf0" + b"\x00" * 6)
    assert from_data(td_float32(), ("floating-point", b"\x08\x42\x28\x00\x00")) == 42.0
    assert math.isnan(from_data(td_float32(), to_data(td_float32(), math.nan)))
    assert from_data(td_float32(), to_data(td_float32(), 0.1)) == _float32(0.1)


def test_quality_bits_and_helpers() -> None:
    quality = bits_from_int(0b0000000000011, 13)  # validity = invalid (bits 0-1 = 11)
    data = to_data(td_bit_string(13), quality)
    assert data == ("bit-string", (b"\xc0\x00", 13))
    assert bits_to_int(from_data(td_bit_string(13), data)) == 0b11


def test_utc_time_layout() -> None:
    t = UtcTime.from_timestamp(1_700_000_000.5, quality=0x0A)
    assert t.to_bytes() == bytes.fromhex("6553F100") + b"\x80\x00\x00" + b"\x0a"
    assert t.timestamp() == 1_700_000_000.5
    assert t.time_accuracy == 10 and not t.clock_failure
    assert UtcTime.from_bytes(t.to_bytes()) == t
    with pytest.raises(MmsDataError):
        UtcTime.from_bytes(b"\x00" * 7)
    with pytest.raises(MmsDataError):
        UtcTime(-1)


def test_binary_time_layout() -> None:
    when = dt.datetime(2024, 1, 1, 0, 0, 1, 500_000, tzinfo=dt.UTC)
    bt = BinaryTime.from_datetime(when)
    assert bt.ms_of_day == 1500
    assert bt.days == (dt.date(2024, 1, 1) - dt.date(1984, 1, 1)).days
    assert bt.to_datetime() == when
    assert BinaryTime.from_bytes(bt.to_bytes()) == bt
    with pytest.raises(MmsDataError):
        BinaryTime(86_400_000)
    with pytest.raises(MmsDataError):
        BinaryTime(1).to_datetime()


MEAS = td_structure(
    [("mag", td_structure([("f", td_float32())])), ("q", td_bit_string(13)), ("t", td_utc_time())]
)


@pytest.mark.parametrize(
    ("td", "value"),
    [
        (td_boolean(), 1),
        (td_integer(8), 128),
        (td_integer(8), True),
        (td_unsigned(16), -1),
        (td_float32(), "1.0"),
        (td_float32(), 1e300),
        (td_bit_string(13), (True,) * 12),
        (td_bit_string(-4), (True,) * 5),
        (td_octet_string(2), b"abc"),
        (td_visible_string(10), "caf\u00e9"),
        (td_visible_string(3), "abcd"),
        (td_mms_string(3), 3),
        (td_utc_time(), 1.5),
        (td_binary_time(True), BinaryTime(5)),
        (MEAS, {"mag": {"f": 1.0}, "q": (False,) * 13}),
        (MEAS, {"mag": {"f": 1.0}, "q": (False,) * 13, "t": UtcTime(0), "x": 1}),
        (MEAS, [1, 2, 3]),
        (td_array(2, td_boolean()), [True]),
        (("typeName", None), 1),
    ],
)
def test_bad_python_values(td: Any, value: Any) -> None:
    with pytest.raises(MmsDataError):
        to_data(td, value)


@pytest.mark.parametrize(
    ("td", "data"),
    [
        (td_boolean(), ("integer", 1)),
        (td_integer(8), ("integer", 300)),
        (td_float32(), ("floating-point", b"\x0b" + b"\x00" * 8)),
        (td_float32(), ("floating-point", b"\x08\x00")),
        (td_bit_string(13), ("bit-string", (b"\x00", 8))),
        (td_utc_time(), ("utc-time", b"\x00" * 6)),
        (td_binary_time(False), ("binary-time", b"\x00" * 6)),
        (MEAS, ("structure", [])),
        (td_array(1, td_boolean()), ("array", [])),
        (td_boolean(), "garbage"),
        (td_structure([("a", ("bcd", 2))]), ("structure", [("bcd", 100)])),
    ],
)
def test_bad_data_values(td: Any, data: Any) -> None:
    with pytest.raises(MmsDataError):
        from_data(td, data)


def test_structure_components_and_unnamed() -> None:
    td = ("structure", {"components": [{"componentType": ("typeDescription", td_boolean())}]})
    assert structure_components(td) == [("#0", td_boolean())]
    assert from_data(td, ("structure", [("boolean", True)])) == {"#0": True}
    with pytest.raises(MmsDataError):
        structure_components(td_boolean())


def test_deep_nesting_is_refused() -> None:
    td = td_boolean()
    value: Any = True
    for _ in range(80):
        td = td_array(1, td)
        value = [value]
    with pytest.raises(MmsDataError):
        to_data(td, value)
