"""The XSD simple types of IEEE 2030.5 (sep.xsd), as annotated Python types.

Each alias names the sep.xsd type and carries its constraint, so a field reads like the XSD:
``creationTime: TimeType``, ``description: String32 | None = None``. Ranges and lengths are the
XSD's own facets, quirks included: ``UInt40`` has the ``maxInclusive`` of ``UInt48`` and
``Int48`` runs from -2^47 to +2^47. The standard narrows some of them in prose (PerCent 0..10000,
PowerOfTenMultiplierType -9..9); those rules belong to the resource handlers, not to the codec.

Python types: integers are ``int``, ``xs:boolean`` is ``bool``, ``xs:hexBinary`` is ``bytes``
(written upper-case, read in either case), strings and URIs are ``str``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Generic, TypeVar

V = TypeVar("V")

_WS: Final = " \t\r\n"
# XML 1.0 Char production: what a document can carry at all.
_NOT_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _show(text: str) -> str:
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return repr(text if len(text) <= 40 else text[:37] + "...")


class SimpleType(Generic[V]):
    """An XSD simple type: constraint check, lexical form out (``to_text``) and in."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def check(self, value: object) -> None:
        """Raise ``TypeError`` or ``ValueError`` unless ``value`` is a valid instance."""
        raise NotImplementedError

    def to_text(self, value: V) -> str:
        raise NotImplementedError

    def from_text(self, text: str) -> V:
        """The value of a lexical form, raising ``ValueError`` unless it passes :meth:`check`.

        ``text`` comes from a parsed XML document, so it holds only characters XML allows.
        """
        raise NotImplementedError


class IntegerType(SimpleType[int]):
    """``xs:byte`` .. ``xs:unsignedLong`` and their sep.xsd restrictions."""

    __slots__ = ("hi", "lo")

    def __init__(self, name: str, lo: int, hi: int) -> None:
        super().__init__(name)
        self.lo = lo
        self.hi = hi

    def check(self, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{self.name} must be an int, not {type(value).__name__}")
        if not self.lo <= value <= self.hi:
            raise ValueError(f"{value} is out of range for {self.name} ({self.lo}..{self.hi})")

    def to_text(self, value: int) -> str:
        return int.__repr__(value)

    def from_text(self, text: str) -> int:
        s = text.strip(_WS)
        # int() alone would also take "1_000" and non-ASCII digits, which XSD does not.
        if s and s.isascii() and "_" not in s:
            try:
                value = int(s)
            except ValueError:
                pass
            else:
                if self.lo <= value <= self.hi:
                    return value
                raise ValueError(f"{value} is out of range for {self.name} ({self.lo}..{self.hi})")
        raise ValueError(f"{_show(text)} is not a valid {self.name}")


class BooleanType(SimpleType[bool]):
    """``xs:boolean``: written ``true``/``false``; ``1``/``0`` are accepted on input."""

    __slots__ = ()
    _LEXICAL: Final = {"true": True, "false": False, "1": True, "0": False}

    def check(self, value: object) -> None:
        if type(value) is not bool:
            raise TypeError(f"boolean must be a bool, not {type(value).__name__}")

    def to_text(self, value: bool) -> str:
        return "true" if value else "false"

    def from_text(self, text: str) -> bool:
        value = self._LEXICAL.get(text.strip(_WS))
        if value is None:
            raise ValueError(f"{_show(text)} is not a boolean (true, false, 1, 0)")
        return value


class HexBinaryType(SimpleType[bytes]):
    """``xs:hexBinary`` with sep.xsd's ``maxLength`` in octets."""

    __slots__ = ("max_octets",)

    def __init__(self, name: str, max_octets: int) -> None:
        super().__init__(name)
        self.max_octets = max_octets

    def check(self, value: object) -> None:
        if type(value) is not bytes:
            raise TypeError(f"{self.name} must be bytes, not {type(value).__name__}")
        if len(value) > self.max_octets:
            raise ValueError(
                f"{len(value)} octets is longer than {self.name} allows ({self.max_octets})"
            )

    def to_text(self, value: bytes) -> str:
        return value.hex().upper()

    def from_text(self, text: str) -> bytes:
        s = text.strip(_WS)
        # bytes.fromhex skips inner whitespace; XSD hexBinary has none.
        if len(s) % 2 == 0 and (not s or (s.isascii() and s.isalnum())):
            try:
                value = bytes.fromhex(s)
            except ValueError:
                pass
            else:
                self.check(value)
                return value
        raise ValueError(f"{_show(text)} is not a valid {self.name} (hex digit pairs)")


class StringType(SimpleType[str]):
    """``xs:string`` with sep.xsd's ``maxLength`` in characters; whitespace is preserved."""

    __slots__ = ("max_length",)

    def __init__(self, name: str, max_length: int | None) -> None:
        super().__init__(name)
        self.max_length = max_length

    def check(self, value: object) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{self.name} must be a str, not {type(value).__name__}")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(
                f"{len(value)} characters is longer than {self.name} allows ({self.max_length})"
            )
        bad = _NOT_XML_CHAR.search(value)
        if bad is not None:
            raise ValueError(f"{self.name} holds {bad.group()!r}, which XML cannot carry")

    def to_text(self, value: str) -> str:
        return value

    def from_text(self, text: str) -> str:
        if self.max_length is not None and len(text) > self.max_length:
            raise ValueError(
                f"{len(text)} characters is longer than {self.name} allows ({self.max_length})"
            )
        return text


class AnyURIType(StringType):
    """``xs:anyURI``. Whitespace collapses in XSD, so a URI value carries none."""

    __slots__ = ()

    def check(self, value: object) -> None:
        super().check(value)
        assert isinstance(value, str)
        if any(c in value for c in _WS):
            raise ValueError(f"anyURI {_show(value)} holds whitespace; percent-encode it")

    def from_text(self, text: str) -> str:
        value = text.strip(_WS)
        self.check(value)
        return value


BOOLEAN: Final = BooleanType("boolean")


def _uint(name: str, bits: int) -> IntegerType:
    return IntegerType(name, 0, (1 << bits) - 1)


def _int(name: str, bits: int) -> IntegerType:
    return IntegerType(name, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


# sep.xsd primitive restrictions.
UInt8 = Annotated[int, _uint("UInt8", 8)]
UInt16 = Annotated[int, _uint("UInt16", 16)]
UInt32 = Annotated[int, _uint("UInt32", 32)]
UInt40 = Annotated[int, IntegerType("UInt40", 0, 281474976710655)]  # XSD facet, sic
UInt48 = Annotated[int, IntegerType("UInt48", 0, 281474976710655)]
UInt64 = Annotated[int, _uint("UInt64", 64)]
Int8 = Annotated[int, _int("Int8", 8)]
Int16 = Annotated[int, _int("Int16", 16)]
Int32 = Annotated[int, _int("Int32", 32)]
Int48 = Annotated[int, IntegerType("Int48", -140737488355328, 140737488355328)]  # XSD facets
Int64 = Annotated[int, _int("Int64", 64)]
HexBinary8 = Annotated[bytes, HexBinaryType("HexBinary8", 1)]
HexBinary16 = Annotated[bytes, HexBinaryType("HexBinary16", 2)]
HexBinary32 = Annotated[bytes, HexBinaryType("HexBinary32", 4)]
HexBinary48 = Annotated[bytes, HexBinaryType("HexBinary48", 6)]
HexBinary64 = Annotated[bytes, HexBinaryType("HexBinary64", 8)]
HexBinary128 = Annotated[bytes, HexBinaryType("HexBinary128", 16)]
HexBinary160 = Annotated[bytes, HexBinaryType("HexBinary160", 20)]
String6 = Annotated[str, StringType("String6", 6)]
String16 = Annotated[str, StringType("String16", 16)]
String20 = Annotated[str, StringType("String20", 20)]
String32 = Annotated[str, StringType("String32", 32)]
String42 = Annotated[str, StringType("String42", 42)]
String192 = Annotated[str, StringType("String192", 192)]
String = Annotated[str, StringType("string", None)]
AnyURI = Annotated[str, AnyURIType("anyURI", None)]

# sep.xsd simpleContent types: a name in the standard's words over one of the above.
TimeType = Annotated[int, _int("TimeType", 64)]
TimeOffsetType = Annotated[int, _int("TimeOffsetType", 32)]
OneHourRangeType = Annotated[int, _int("OneHourRangeType", 16)]
PowerOfTenMultiplierType = Annotated[int, _int("PowerOfTenMultiplierType", 8)]
SignedPerCent = Annotated[int, _int("SignedPerCent", 16)]
PerCent = Annotated[int, _uint("PerCent", 16)]
VersionType = Annotated[int, _uint("VersionType", 16)]
CurrencyCode = Annotated[int, _uint("CurrencyCode", 16)]
PENType = Annotated[int, _uint("PENType", 32)]
PINType = Annotated[int, _uint("PINType", 32)]
SFDIType = Annotated[int, IntegerType("SFDIType", 0, 281474976710655)]  # UInt40, sic
SubscribableType = Annotated[int, _uint("SubscribableType", 8)]
mRIDType = Annotated[bytes, HexBinaryType("mRIDType", 16)]
DERControlType = Annotated[bytes, HexBinaryType("DERControlType", 4)]
DeviceCategoryType = Annotated[bytes, HexBinaryType("DeviceCategoryType", 4)]
RoleFlagsType = Annotated[bytes, HexBinaryType("RoleFlagsType", 2)]
LocaleType = Annotated[str, StringType("LocaleType", 42)]
AccumulationBehaviourType = Annotated[int, _uint("AccumulationBehaviourType", 8)]
ApplianceLoadReductionType = Annotated[int, _uint("ApplianceLoadReductionType", 8)]
CommodityType = Annotated[int, _uint("CommodityType", 8)]
ConsumptionBlockType = Annotated[int, _uint("ConsumptionBlockType", 8)]
CostKindType = Annotated[int, _uint("CostKindType", 8)]
DataQualifierType = Annotated[int, _uint("DataQualifierType", 8)]
DERCurveType = Annotated[int, _uint("DERCurveType", 8)]
DERType = Annotated[int, _uint("DERType", 8)]
DERUnitRefType = Annotated[int, _uint("DERUnitRefType", 8)]
FlowDirectionType = Annotated[int, _uint("FlowDirectionType", 8)]
KindType = Annotated[int, _uint("KindType", 8)]
PhaseCode = Annotated[int, _uint("PhaseCode", 8)]
PowerSourceType = Annotated[int, _uint("PowerSourceType", 8)]
PrimacyType = Annotated[int, _uint("PrimacyType", 8)]
PriorityType = Annotated[int, _uint("PriorityType", 8)]
ServiceKind = Annotated[int, _uint("ServiceKind", 8)]
TOUType = Annotated[int, _uint("TOUType", 8)]
UnitType = Annotated[int, _uint("UnitType", 8)]
UomType = Annotated[int, _uint("UomType", 8)]

# csipaus-ext.xsd: bitmaps over HexBinary8.
DOEControlType = Annotated[bytes, HexBinaryType("DOEControlType", 1)]
VPPControlType = Annotated[bytes, HexBinaryType("VPPControlType", 1)]

AnySimpleType = SimpleType[Any]
