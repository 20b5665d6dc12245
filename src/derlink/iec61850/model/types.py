"""Basic types of IEC 61850-7-2 Ed.2 clause 6 and their Python values.

Python representation of each basic type (what :class:`~.store.ValueStore` holds and what
:func:`check_value` returns):

- BOOLEAN -> ``bool``; INTxx / INTxxU / Enum / Dbpos / Tcmd -> ``int`` (Enum as its ``ord``);
- FLOAT32 / FLOAT64 -> ``float``;
- VisStringN / Unicode255 / ObjRef / Currency -> ``str``; Octet64 / Octet6 / Octet16 /
  EntryID -> ``bytes``;
- Quality -> :class:`Quality`; Timestamp -> :class:`Timestamp`; EntryTime -> ``int``
  milliseconds since 1984-01-01 (the MMS BinaryTime epoch);
- bit strings (Check, TrgOps, OptFlds, SvOptFlds, LogOptFlds) -> ``tuple[bool, ...]`` of the
  type's fixed length, bit 0 first (the first bit on the wire);
- PhyComAddr -> ``dict`` with ``addr`` (6 bytes), ``priority``, ``vid``, ``appid``;
- Struct -> ``dict[str, value]`` (handled by the node tree, not here).

Arrays (``count`` in SCL) are ``tuple`` of element values.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, StrEnum

from derlink.iec61850.model.errors import TypeMismatch


class BasicType(StrEnum):
    """SCL ``bType`` values (IEC 61850-6 tBasicTypeEnum / 7-2 basic types)."""

    BOOLEAN = "BOOLEAN"
    INT8 = "INT8"
    INT16 = "INT16"
    INT24 = "INT24"
    INT32 = "INT32"
    INT64 = "INT64"
    INT128 = "INT128"
    INT8U = "INT8U"
    INT16U = "INT16U"
    INT24U = "INT24U"
    INT32U = "INT32U"
    FLOAT32 = "FLOAT32"
    FLOAT64 = "FLOAT64"
    Enum = "Enum"
    Dbpos = "Dbpos"
    Tcmd = "Tcmd"
    Quality = "Quality"
    Timestamp = "Timestamp"
    VisString32 = "VisString32"
    VisString64 = "VisString64"
    VisString65 = "VisString65"
    VisString129 = "VisString129"
    VisString255 = "VisString255"
    Unicode255 = "Unicode255"
    Octet6 = "Octet6"
    Octet16 = "Octet16"
    Octet64 = "Octet64"
    EntryID = "EntryID"
    Check = "Check"
    ObjRef = "ObjRef"
    Currency = "Currency"
    PhyComAddr = "PhyComAddr"
    TrgOps = "TrgOps"
    OptFlds = "OptFlds"
    SvOptFlds = "SvOptFlds"
    LogOptFlds = "LogOptFlds"
    EntryTime = "EntryTime"
    Struct = "Struct"

    @classmethod
    def parse(cls, text: str) -> BasicType:
        """The basic type named ``text``; :class:`TypeMismatch` for an unknown bType."""
        try:
            return cls(text)
        except ValueError:
            raise TypeMismatch(f"unknown basic type (bType) {text!r}") from None


INT_RANGES: dict[BasicType, tuple[int, int]] = {
    BasicType.INT8: (-(2**7), 2**7 - 1),
    BasicType.INT16: (-(2**15), 2**15 - 1),
    BasicType.INT24: (-(2**23), 2**23 - 1),
    BasicType.INT32: (-(2**31), 2**31 - 1),
    BasicType.INT64: (-(2**63), 2**63 - 1),
    BasicType.INT128: (-(2**127), 2**127 - 1),
    BasicType.INT8U: (0, 2**8 - 1),
    BasicType.INT16U: (0, 2**16 - 1),
    BasicType.INT24U: (0, 2**24 - 1),
    BasicType.INT32U: (0, 2**32 - 1),
    BasicType.Dbpos: (0, 3),
    BasicType.Tcmd: (0, 3),
}

STRING_LENGTHS: dict[BasicType, int] = {
    BasicType.VisString32: 32,
    BasicType.VisString64: 64,
    BasicType.VisString65: 65,
    BasicType.VisString129: 129,
    BasicType.VisString255: 255,
    BasicType.ObjRef: 129,
    BasicType.Unicode255: 255,
    BasicType.Currency: 3,
}

OCTET_LENGTHS: dict[BasicType, tuple[int, int]] = {
    BasicType.Octet6: (0, 6),
    BasicType.Octet16: (0, 16),
    BasicType.Octet64: (0, 64),
    BasicType.EntryID: (8, 8),
}

BIT_LENGTHS: dict[BasicType, int] = {
    BasicType.Check: 2,
    BasicType.TrgOps: 6,
    BasicType.OptFlds: 10,
    BasicType.SvOptFlds: 5,
    BasicType.LogOptFlds: 1,
    BasicType.Quality: 13,
}

FLOAT32_MAX = struct.unpack(">f", bytes.fromhex("7f7fffff"))[0]


class Validity(IntEnum):
    """Quality validity (7-2 Ed.2 clause 6.2.3.2); the value is the 2-bit field, bit 0 first."""

    GOOD = 0
    INVALID = 1
    RESERVED = 2
    QUESTIONABLE = 3


class Source(IntEnum):
    """Quality source: process or substituted."""

    PROCESS = 0
    SUBSTITUTED = 1


class Dbpos(IntEnum):
    """Double point position."""

    INTERMEDIATE_STATE = 0
    OFF = 1
    ON = 2
    BAD_STATE = 3


class Tcmd(IntEnum):
    """Step position command."""

    STOP = 0
    LOWER = 1
    HIGHER = 2
    RESERVED = 3


QUALITY_DETAILS = (
    "overflow",
    "out_of_range",
    "bad_reference",
    "oscillatory",
    "failure",
    "old_data",
    "inconsistent",
    "inaccurate",
)


@dataclass(frozen=True, slots=True)
class Quality:
    """The 13-bit Quality of 7-2 Ed.2: validity (bits 0-1), eight detail bits (2-9), source (10),
    test (11), operatorBlocked (12). Bit 0 is the first bit of the bit string on the wire, so
    ``Validity.INVALID`` (``01``) sets bit 1."""

    validity: Validity = Validity.GOOD
    overflow: bool = False
    out_of_range: bool = False
    bad_reference: bool = False
    oscillatory: bool = False
    failure: bool = False
    old_data: bool = False
    inconsistent: bool = False
    inaccurate: bool = False
    source: Source = Source.PROCESS
    test: bool = False
    operator_blocked: bool = False

    def to_bits(self) -> tuple[bool, ...]:
        """The 13 bits, bit 0 first."""
        details = tuple(bool(getattr(self, name)) for name in QUALITY_DETAILS)
        validity = (bool(self.validity & 2), bool(self.validity & 1))
        return (
            *validity,
            *details,
            self.source == Source.SUBSTITUTED,
            self.test,
            self.operator_blocked,
        )

    @classmethod
    def from_bits(cls, bits: tuple[bool, ...] | list[bool]) -> Quality:
        """Inverse of :meth:`to_bits`; accepts 13 bits (extra trailing bits must be zero)."""
        if len(bits) < 13 or any(bits[13:]):
            raise TypeMismatch(f"Quality needs 13 bits, got {len(bits)}")
        validity = Validity((2 if bits[0] else 0) | (1 if bits[1] else 0))
        details = {name: bool(bits[2 + i]) for i, name in enumerate(QUALITY_DETAILS)}
        return cls(
            validity=validity,
            source=Source.SUBSTITUTED if bits[10] else Source.PROCESS,
            test=bool(bits[11]),
            operator_blocked=bool(bits[12]),
            **details,
        )

    def to_int(self) -> int:
        """The bits as an integer with bit ``i`` at ``1 << i``."""
        return sum(1 << i for i, bit in enumerate(self.to_bits()) if bit)

    @classmethod
    def from_int(cls, value: int) -> Quality:
        """Inverse of :meth:`to_int`."""
        if not 0 <= value < 1 << 13:
            raise TypeMismatch(f"Quality integer {value} does not fit 13 bits")
        return cls.from_bits(tuple(bool(value >> i & 1) for i in range(13)))


@dataclass(frozen=True, slots=True)
class TimeQuality:
    """TimeQuality of a Timestamp: three flags and a 5-bit accuracy (31 = unspecified)."""

    leap_seconds_known: bool = False
    clock_failure: bool = False
    clock_not_synchronized: bool = False
    accuracy: int = 31

    def __post_init__(self) -> None:
        if not 0 <= self.accuracy <= 31:
            raise TypeMismatch(f"TimeQuality accuracy {self.accuracy} is not 0..31")

    def to_byte(self) -> int:
        """The octet as sent: bit 7 leapSecondsKnown, 6 clockFailure, 5 notSynchronized,
        bits 4-0 accuracy."""
        return (
            (0x80 if self.leap_seconds_known else 0)
            | (0x40 if self.clock_failure else 0)
            | (0x20 if self.clock_not_synchronized else 0)
            | self.accuracy
        )

    @classmethod
    def from_byte(cls, value: int) -> TimeQuality:
        """Inverse of :meth:`to_byte`."""
        if not 0 <= value <= 0xFF:
            raise TypeMismatch(f"TimeQuality octet {value} out of range")
        return cls(bool(value & 0x80), bool(value & 0x40), bool(value & 0x20), value & 0x1F)


FRACTION_SCALE = 1 << 24


@dataclass(frozen=True, slots=True)
class Timestamp:
    """UTC time of 7-2 Ed.2 clause 6.2.3.7: seconds since 1970 (32 bits), fraction of a
    second in units of 2**-24, and a TimeQuality."""

    seconds: int = 0
    fraction: int = 0
    quality: TimeQuality = field(default_factory=TimeQuality)

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int):
            raise TypeMismatch("Timestamp seconds must be an integer")
        if not 0 <= self.seconds < 1 << 32:
            raise TypeMismatch(f"Timestamp seconds {self.seconds} out of the 32-bit range")
        if not 0 <= self.fraction < FRACTION_SCALE:
            raise TypeMismatch(f"Timestamp fraction {self.fraction} is not a 24-bit value")

    @classmethod
    def from_unix(cls, now: float, quality: TimeQuality | None = None) -> Timestamp:
        """The timestamp of ``now`` (seconds since 1970, e.g. from ``time.time()``)."""
        if not math.isfinite(now) or now < 0:
            raise TypeMismatch(f"cannot timestamp {now!r}")
        seconds = math.floor(now)
        fraction = min(int((now - seconds) * FRACTION_SCALE), FRACTION_SCALE - 1)
        return cls(seconds, fraction, quality if quality is not None else TimeQuality())

    @classmethod
    def from_datetime(cls, when: datetime, quality: TimeQuality | None = None) -> Timestamp:
        """The timestamp of an aware datetime."""
        if when.tzinfo is None:
            raise TypeMismatch("Timestamp needs a timezone-aware datetime")
        return cls.from_unix(when.timestamp(), quality)

    def to_unix(self) -> float:
        """Seconds since 1970 as a float."""
        return self.seconds + self.fraction / FRACTION_SCALE

    def to_datetime(self) -> datetime:
        """The UTC datetime (microsecond resolution)."""
        return datetime.fromtimestamp(self.to_unix(), tz=UTC)


@dataclass(frozen=True, slots=True)
class EnumType:
    """An SCL EnumType: ``ord -> name`` in declaration order."""

    id: str
    values: Mapping[int, str]

    def ord_of(self, name: str) -> int:
        """The ord of ``name``; :class:`TypeMismatch` when the enum has no such literal."""
        for ordinal, literal in self.values.items():
            if literal == name:
                return ordinal
        raise TypeMismatch(f"{name!r} is not a literal of enum {self.id}")

    def name_of(self, ordinal: int) -> str:
        """The literal of ``ordinal``; :class:`TypeMismatch` when absent."""
        try:
            return self.values[ordinal]
        except KeyError:
            raise TypeMismatch(f"{ordinal} is not a value of enum {self.id}") from None

    @property
    def default(self) -> int:
        """The first declared ord (the value an uninitialised Enum attribute takes)."""
        return next(iter(self.values), 0)


def _fail(btype: BasicType, value: object, why: str) -> TypeMismatch:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return TypeMismatch(f"{shown} is not a valid {btype.value}: {why}")


def check_value(btype: BasicType, value: object, enum_type: EnumType | None = None) -> object:
    """The value, normalised to its Python representation, if it fits ``btype``.

    Raises :class:`TypeMismatch` otherwise. Enum values may be given as ord or literal name;
    an Enum without ``enum_type`` accepts any INT8-range ord (7-2 Enum is an INT8 on MMS).
    """
    if btype in INT_RANGES or btype is BasicType.Enum:
        if btype is BasicType.Enum and isinstance(value, str):
            if enum_type is None:
                raise _fail(btype, value, "a literal needs the enum type")
            return enum_type.ord_of(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(btype, value, "want an integer")
        if btype is BasicType.Enum:
            if enum_type is not None:
                enum_type.name_of(int(value))
            elif not -128 <= value <= 127:
                raise _fail(btype, value, "out of range")
            return int(value)
        low, high = INT_RANGES[btype]
        if not low <= value <= high:
            raise _fail(btype, value, f"out of range {low}..{high}")
        return int(value)
    if btype is BasicType.BOOLEAN:
        if not isinstance(value, bool):
            raise _fail(btype, value, "want true or false")
        return value
    if btype in (BasicType.FLOAT32, BasicType.FLOAT64):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(btype, value, "want a number")
        number = float(value)
        if btype is BasicType.FLOAT32 and math.isfinite(number) and abs(number) > FLOAT32_MAX:
            raise _fail(btype, value, "too large for 32 bits")
        return number
    if btype in STRING_LENGTHS:
        return _check_string(btype, value)
    if btype in OCTET_LENGTHS:
        if not isinstance(value, bytes | bytearray):
            raise _fail(btype, value, "want bytes")
        low, high = OCTET_LENGTHS[btype]
        if not low <= len(value) <= high:
            raise _fail(btype, value, f"length {len(value)} not in {low}..{high}")
        return bytes(value)
    if btype is BasicType.Quality:
        if not isinstance(value, Quality):
            raise _fail(btype, value, "want a Quality")
        return value
    if btype is BasicType.Timestamp:
        if not isinstance(value, Timestamp):
            raise _fail(btype, value, "want a Timestamp")
        return value
    if btype in BIT_LENGTHS:
        size = BIT_LENGTHS[btype]
        if not isinstance(value, tuple | list) or not all(isinstance(b, bool) for b in value):
            raise _fail(btype, value, f"want a tuple of {size} booleans")
        if len(value) != size:
            raise _fail(btype, value, f"want {size} bits, got {len(value)}")
        return tuple(value)
    if btype is BasicType.EntryTime:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _fail(btype, value, "want milliseconds since 1984 as a non-negative integer")
        return value
    if btype is BasicType.PhyComAddr:
        return _check_phycomaddr(value)
    raise _fail(btype, value, "a structure is checked member by member")


def _check_string(btype: BasicType, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(btype, value, "want text")
    limit = STRING_LENGTHS[btype]
    if btype is BasicType.Unicode255:
        if len(value.encode("utf-8")) > limit:
            raise _fail(btype, value, f"longer than {limit} UTF-8 octets")
        return value
    if not value.isascii() or not value.isprintable():
        raise _fail(btype, value, "visible strings hold printable ASCII only")
    if len(value) > limit:
        raise _fail(btype, value, f"longer than {limit} characters")
    if btype is BasicType.Currency and value and (len(value) != 3 or not value.isupper()):
        raise _fail(btype, value, "want an ISO 4217 code such as EUR")
    return value


def _check_phycomaddr(value: object) -> dict[str, object]:
    btype = BasicType.PhyComAddr
    if not isinstance(value, Mapping) or set(value) != {"addr", "priority", "vid", "appid"}:
        raise _fail(btype, value, "want addr, priority, vid, appid")
    addr = value["addr"]
    if not isinstance(addr, bytes) or len(addr) != 6:
        raise _fail(btype, value, "addr must be 6 bytes")
    limits = {"priority": 7, "vid": 0xFFF, "appid": 0xFFFF}
    for key, high in limits.items():
        item = value[key]
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= high:
            raise _fail(btype, value, f"{key} not in 0..{high}")
    return dict(value)


def default_value(btype: BasicType, enum_type: EnumType | None = None) -> object:
    """The value an attribute of ``btype`` holds when SCL gives none (zero, empty, good)."""
    if btype in INT_RANGES:
        return 0
    if btype is BasicType.Enum:
        return enum_type.default if enum_type is not None else 0
    if btype is BasicType.BOOLEAN:
        return False
    if btype in (BasicType.FLOAT32, BasicType.FLOAT64):
        return 0.0
    if btype in STRING_LENGTHS:
        return ""
    if btype is BasicType.EntryID:
        return bytes(8)
    if btype in OCTET_LENGTHS:
        return b""
    if btype is BasicType.Quality:
        return Quality()
    if btype is BasicType.Timestamp:
        return Timestamp()
    if btype in BIT_LENGTHS:
        return (False,) * BIT_LENGTHS[btype]
    if btype is BasicType.EntryTime:
        return 0
    if btype is BasicType.PhyComAddr:
        return {"addr": bytes(6), "priority": 0, "vid": 0, "appid": 0}
    raise TypeMismatch(f"{btype.value} has no scalar default")


__all__ = [
    "BIT_LENGTHS",
    "INT_RANGES",
    "STRING_LENGTHS",
    "BasicType",
    "Dbpos",
    "EnumType",
    "Quality",
    "Source",
    "Tcmd",
    "TimeQuality",
    "Timestamp",
    "Validity",
    "check_value",
    "default_value",
]
