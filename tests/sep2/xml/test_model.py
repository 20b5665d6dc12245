"""Declared types validate on construction, as the XSD constrains them."""

from __future__ import annotations

import dataclasses
import enum
from typing import Annotated, Any

import pytest

from derlink.sep2.xml import (
    ActivePower,
    CurveData,
    DateTimeInterval,
    DERControl,
    DERControlBase,
    DERControlList,
    DERCurve,
    DeviceCapability,
    EndDevice,
    EndDeviceList,
    EventStatus,
    FieldError,
    Link,
    ListLink,
    Notification,
    Reading,
    encode,
    spec_of,
)
from derlink.sep2.xml.model import ATTRIBUTE, Sep2Object, sep2_type
from derlink.sep2.xml.simple import (
    AnyURIType,
    BooleanType,
    HexBinaryType,
    IntegerType,
    StringType,
    UInt8,
)

MRID = bytes.fromhex("B1A2C3D4E5F60718293A4B5C6D7E8F90")


def der_control(**changes: Any) -> DERControl:
    fields: dict[str, Any] = {
        "href": "/derp/1/derc/1",
        "mRID": MRID,
        "creationTime": 1700000000,
        "EventStatus": EventStatus(
            currentStatus=0, dateTime=1700000000, potentiallySuperseded=False
        ),
        "interval": DateTimeInterval(duration=300, start=1700000300),
        "DERControlBase": DERControlBase(opModExpLimW=ActivePower(multiplier=0, value=5000)),
    }
    fields.update(changes)
    return DERControl(**fields)


def rejects(match: str, make: Any) -> FieldError:
    with pytest.raises(FieldError, match=match) as info:
        make()
    assert "\n" not in str(info.value)
    return info.value


def test_field_error_names_type_and_field() -> None:
    err = rejects(
        r"ActivePower\.value: 40000 is out of range for Int16",
        lambda: ActivePower(multiplier=0, value=40000),
    )
    assert (err.type_name, err.field) == ("ActivePower", "value")


@pytest.mark.parametrize(
    ("match", "changes"),
    [
        (r"DERControl\.creationTime: .* out of range for TimeType", {"creationTime": 2**63}),
        (r"DERControl\.creationTime: TimeType must be an int, not bool", {"creationTime": True}),
        (r"DERControl\.creationTime: TimeType must be an int, not str", {"creationTime": "1"}),
        (r"DERControl\.mRID: 17 octets .* mRIDType allows \(16\)", {"mRID": bytes(17)}),
        (r"DERControl\.mRID: mRIDType must be bytes, not bytearray", {"mRID": bytearray(16)}),
        (r"DERControl\.description: 33 characters .* String32", {"description": "x" * 33}),
        (r"DERControl\.description: String32 holds '\\x00'", {"description": "a\x00"}),
        (r"DERControl\.description: String32 holds '\\ufffe'", {"description": "\ufffe"}),
        (r"DERControl\.href: anyURI '/a b' holds whitespace", {"href": "/a b"}),
        (r"DERControl\.mRID: is required", {"mRID": None}),
        (r"DERControl\.EventStatus: must be a EventStatus, not", {"EventStatus": Link(href="/")}),
        (r"DERControl\.responseRequired: 2 octets", {"responseRequired": b"\x00\x01"}),
    ],
)
def test_der_control_rejects(match: str, changes: dict[str, Any]) -> None:
    rejects(match, lambda: der_control(**changes))


def test_limits_are_inclusive() -> None:
    der_control(creationTime=2**63 - 1, description="x" * 32, mRID=bytes(16))
    der_control(creationTime=-(2**63), description="", mRID=b"")
    Reading(value=140737488355328)  # Int48's XSD maxInclusive is 2^47, not 2^47 - 1
    rejects("out of range for Int48", lambda: Reading(value=140737488355329))


def test_booleans_are_bools() -> None:
    rejects("boolean must be a bool, not int", lambda: DERControlBase(opModConnect=1))  # type: ignore[arg-type]
    assert DERControlBase(opModConnect=False).opModConnect is False


def test_repeated_elements_are_tuples_within_occurs() -> None:
    control = der_control()
    rejects(
        "must be a tuple, not list",
        lambda: DERControlList(
            all=1,
            results=1,
            DERControl=[control],  # type: ignore[arg-type]
        ),
    )
    rejects(
        r"DERControlList\.DERControl: must be a DERControl, not EndDevice",
        lambda: DERControlList(all=1, results=1, DERControl=(EndDevice(sFDI=1, changedTime=0),)),  # type: ignore[arg-type]
    )
    point = CurveData(xvalue=1, yvalue=2)
    curve = {"mRID": MRID, "creationTime": 0, "curveType": 11, "xMultiplier": 0, "yMultiplier": 0,
             "yRefType": 1}  # fmt: skip
    DERCurve(CurveData=(point,) * 10, **curve)
    rejects(r"DERCurve\.CurveData: 0 items, the XSD allows 1\.\.10", lambda: DERCurve(**curve))
    rejects(r"11 items, the XSD allows 1\.\.10", lambda: DERCurve(CurveData=(point,) * 11, **curve))


def test_element_types_are_exact_unless_xsi_typed() -> None:
    rejects(
        r"DeviceCapability\.TimeLink: must be a Link, not ListLink",
        lambda: DeviceCapability(TimeLink=ListLink(href="/tm")),
    )
    notification = Notification(
        subscribedResource="/derp/1/derc", Resource=der_control(), status=0, subscriptionURI="/s/1"
    )
    assert isinstance(notification.Resource, DERControl)


def test_frozen_hashable_equal_and_replace_validates() -> None:
    a, b = der_control(), der_control()
    assert a == b and hash(a) == hash(b) and a is not b
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.href = "/x"  # type: ignore[misc]
    assert dataclasses.replace(a, description="new").description == "new"
    rejects("out of range", lambda: dataclasses.replace(a, creationTime=2**64))
    assert not hasattr(a, "__dict__")


def test_repr_shows_set_fields_and_hex() -> None:
    text = repr(ActivePower(multiplier=0, value=5))
    assert text == "ActivePower(multiplier=0, value=5)"
    assert "mRID=bytes.fromhex('B1A2C3D4E5F60718293A4B5C6D7E8F90')" in repr(der_control())
    assert "None" not in repr(der_control())


class Status(enum.IntEnum):
    ACTIVE = 1


def test_int_enums_are_ints() -> None:
    status = EventStatus(currentStatus=Status.ACTIVE, dateTime=0, potentiallySuperseded=False)
    assert b"<currentStatus>1</currentStatus>" in encode(status)


def test_field_order_is_the_xsd_sequence_with_inherited_fields_first() -> None:
    names = [f.name for f in spec_of(DERControl).fields]
    assert names == [
        "href", "replyTo", "responseRequired", "subscribable", "mRID", "description", "version",
        "creationTime", "EventStatus", "interval", "randomizeDuration", "randomizeStart",
        "DERControlBase", "deviceCategory",
    ]  # fmt: skip
    tail = [f.name for f in spec_of(DERControlBase).elements][-6:]
    assert tail == ["rampTms", "opModImpLimW", "opModExpLimW", "opModGenLimW", "opModLoadLimW",
                    "opModStorageTargetW"]  # fmt: skip
    edev = spec_of(EndDeviceList)
    assert [f.name for f in edev.attributes] == ["href", "subscribable", "all", "results",
                                                 "pollRate"]  # fmt: skip


def test_only_declared_types_encode() -> None:
    with pytest.raises(TypeError, match=r"not a declared 2030\.5 type"):
        encode(object())  # type: ignore[arg-type]


def test_declaration_mistakes_fail_at_import() -> None:
    with pytest.raises(TypeError, match="an optional field defaults to None"):

        @sep2_type
        class Bad1(Sep2Object):
            x: UInt8 | None  # type: ignore[misc]

    with pytest.raises(TypeError, match="a required field has no default"):

        @sep2_type
        class Bad2(Sep2Object):
            x: UInt8 = 0

    with pytest.raises(TypeError, match="neither a simple type nor a declared class"):

        @sep2_type
        class Bad3(Sep2Object):
            x: int

    with pytest.raises(TypeError, match="an attribute holds one simple value"):

        @sep2_type
        class Bad4(Sep2Object):
            x: Annotated[Link | None, ATTRIBUTE] = None


@pytest.mark.parametrize(
    ("simple", "text", "value"),
    [
        (IntegerType("UInt8", 0, 255), " 42\n", 42),
        (IntegerType("Int8", -128, 127), "+7", 7),
        (IntegerType("Int8", -128, 127), "-0008", -8),
        (BooleanType("boolean"), " true ", True),
        (BooleanType("boolean"), "0", False),
        (HexBinaryType("HexBinary16", 2), "ab0F", b"\xab\x0f"),
        (HexBinaryType("HexBinary16", 2), "", b""),
        (StringType("String6", 6), "  a b ", "  a b "),
        (AnyURIType("anyURI", None), " /edev/1\t", "/edev/1"),
    ],
)
def test_lexical_forms_accepted(simple: Any, text: str, value: object) -> None:
    assert simple.from_text(text) == value


@pytest.mark.parametrize(
    ("simple", "text"),
    [
        (IntegerType("UInt8", 0, 255), "1_0"),
        (IntegerType("UInt8", 0, 255), "\u0663"),
        (IntegerType("UInt8", 0, 255), "256"),
        (IntegerType("UInt8", 0, 255), "-1"),
        (IntegerType("UInt8", 0, 255), "1.0"),
        (IntegerType("UInt8", 0, 255), ""),
        (IntegerType("UInt8", 0, 255), "0x10"),
        (BooleanType("boolean"), "True"),
        (BooleanType("boolean"), "yes"),
        (HexBinaryType("HexBinary16", 2), "ABC"),
        (HexBinaryType("HexBinary16", 2), "AB CD"),
        (HexBinaryType("HexBinary16", 2), "ZZ"),
        (HexBinaryType("HexBinary16", 2), "AABBCC"),
        (StringType("String6", 6), "1234567"),
        (AnyURIType("anyURI", None), "/a b"),
    ],
)
def test_lexical_forms_refused(simple: Any, text: str) -> None:
    with pytest.raises(ValueError):
        simple.from_text(text)
