"""MMS ``Data`` <-> Python values, typed by an MMS ``TypeDescription`` (ISO 9506-2, 8-1).

Both sides are asn1tools values of ``mms.asn``: a ``TypeDescription`` is e.g.
``("floating-point", {"format-width": 32, "exponent-width": 8})`` and the matching ``Data``
``("floating-point", b"\\x08" + IEEE-754 big-endian)``. Python values:

=====================  ==================================================================
TypeDescription        Python value
=====================  ==================================================================
boolean                ``bool``
integer n / unsigned n ``int`` within the n-bit signed / unsigned range
floating-point 32/64   ``float`` (float32: rounded to nearest)
bit-string n           ``tuple[bool, ...]``, bit 0 first (n > 0: exactly n bits,
                       n < 0: at most -n bits)
octet-string n         ``bytes`` of at most abs(n) octets
visible-string n       ``str`` of printable ASCII, at most abs(n) characters
mMSString n            ``str`` (UTF-8), at most abs(n) characters
utc-time               :class:`UtcTime` (8-1: seconds, 24-bit fraction, time quality)
binary-time            :class:`BinaryTime` (ms of day, days since 1984-01-01 or None)
bcd n                  ``int`` of at most n decimal digits
objId                  ``str`` dotted OID
structure              ``dict[str, value]`` in component order (unnamed: key ``"#<i>"``)
array                  ``list`` of exactly numberOfElements values
=====================  ==================================================================

A mismatch raises :class:`MmsDataError` (an ACSI server maps it to
``DataAccessError.TYPE_INCONSISTENT`` / ``OBJECT_VALUE_INVALID``).
"""

from __future__ import annotations

import datetime as _dt
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from derlink.iec61850.mms.errors import MmsDataError

TypeDescription = tuple[str, Any]
"""An asn1tools value of ``TypeDescription``."""
DataValue = tuple[str, Any]
"""An asn1tools value of ``Data``."""

_EPOCH_1984 = _dt.date(1984, 1, 1)
_MAX_STRUCT_DEPTH = 64


# --- time types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UtcTime:
    """IEC 61850-8-1 UtcTime: 4 octets seconds since 1970 (UTC), 3 octets fraction of a second
    (value / 2**24), 1 octet TimeQuality (LeapSecondsKnown, ClockFailure,
    ClockNotSynchronized, 5 bits TimeAccuracy)."""

    seconds: int
    fraction: int = 0
    quality: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.seconds < 1 << 32:
            raise MmsDataError(f"UtcTime seconds out of range: {self.seconds}")
        if not 0 <= self.fraction < 1 << 24:
            raise MmsDataError(f"UtcTime fraction out of range: {self.fraction}")
        if not 0 <= self.quality < 1 << 8:
            raise MmsDataError(f"UtcTime quality out of range: {self.quality}")

    def to_bytes(self) -> bytes:
        return (
            self.seconds.to_bytes(4, "big")
            + self.fraction.to_bytes(3, "big")
            + bytes([self.quality])
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> UtcTime:
        if len(raw) != 8:
            raise MmsDataError(f"UtcTime needs 8 octets, got {len(raw)}")
        return cls(int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:7], "big"), raw[7])

    @classmethod
    def from_timestamp(cls, when: float, quality: int = 0) -> UtcTime:
        """From POSIX seconds (the fraction is rounded down to 2**-24 s)."""
        seconds = math.floor(when)
        fraction = min(int((when - seconds) * (1 << 24)), (1 << 24) - 1)
        return cls(seconds, fraction, quality)

    def timestamp(self) -> float:
        return self.seconds + self.fraction / (1 << 24)

    @property
    def leap_seconds_known(self) -> bool:
        return bool(self.quality & 0x80)

    @property
    def clock_failure(self) -> bool:
        return bool(self.quality & 0x40)

    @property
    def clock_not_synchronized(self) -> bool:
        return bool(self.quality & 0x20)

    @property
    def time_accuracy(self) -> int:
        return self.quality & 0x1F


@dataclass(frozen=True)
class BinaryTime:
    """ISO 9506 TimeOfDay (``binary-time``, 61850 EntryTime): milliseconds since midnight
    and, in the 6-octet form, days since 1984-01-01."""

    ms_of_day: int
    days: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.ms_of_day < 86_400_000:
            raise MmsDataError(f"TimeOfDay milliseconds out of range: {self.ms_of_day}")
        if self.days is not None and not 0 <= self.days < 1 << 16:
            raise MmsDataError(f"TimeOfDay days out of range: {self.days}")

    def to_bytes(self) -> bytes:
        raw = self.ms_of_day.to_bytes(4, "big")
        return raw if self.days is None else raw + self.days.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, raw: bytes) -> BinaryTime:
        if len(raw) not in (4, 6):
            raise MmsDataError(f"TimeOfDay needs 4 or 6 octets, got {len(raw)}")
        days = int.from_bytes(raw[4:6], "big") if len(raw) == 6 else None
        return cls(int.from_bytes(raw[:4], "big"), days)

    @classmethod
    def from_datetime(cls, when: _dt.datetime) -> BinaryTime:
        """From an aware datetime (converted to UTC), with the date."""
        when = when.astimezone(_dt.UTC)
        midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
        ms = (when - midnight) // _dt.timedelta(milliseconds=1)
        return cls(ms, (when.date() - _EPOCH_1984).days)

    def to_datetime(self) -> _dt.datetime:
        if self.days is None:
            raise MmsDataError("a TimeOfDay without date has no datetime")
        day = _EPOCH_1984 + _dt.timedelta(days=self.days)
        base = _dt.datetime(day.year, day.month, day.day, tzinfo=_dt.UTC)
        return base + _dt.timedelta(milliseconds=self.ms_of_day)


# --- TypeDescription builders -----------------------------------------------------------------


def td_boolean() -> TypeDescription:
    return ("boolean", None)


def td_integer(bits: int) -> TypeDescription:
    """Signed integer of ``bits`` bits (61850: INT8/16/32/64 -> 8/16/32/64)."""
    return ("integer", bits)


def td_unsigned(bits: int) -> TypeDescription:
    """Unsigned integer of ``bits`` bits (61850: INT8U/16U/32U -> 8/16/32)."""
    return ("unsigned", bits)


def td_float32() -> TypeDescription:
    return ("floating-point", {"format-width": 32, "exponent-width": 8})


def td_float64() -> TypeDescription:
    return ("floating-point", {"format-width": 64, "exponent-width": 11})


def td_bit_string(size: int) -> TypeDescription:
    """``size`` > 0: exactly that many bits; < 0: at most ``-size`` bits."""
    return ("bit-string", size)


def td_octet_string(size: int) -> TypeDescription:
    return ("octet-string", size)


def td_visible_string(size: int) -> TypeDescription:
    return ("visible-string", size)


def td_mms_string(size: int) -> TypeDescription:
    return ("mMSString", size)


def td_utc_time() -> TypeDescription:
    return ("utc-time", None)


def td_binary_time(with_date: bool = True) -> TypeDescription:
    return ("binary-time", with_date)


def td_structure(components: Sequence[tuple[str, TypeDescription]]) -> TypeDescription:
    return (
        "structure",
        {
            "components": [
                {"componentName": name, "componentType": ("typeDescription", td)}
                for name, td in components
            ]
        },
    )


def td_array(count: int, element: TypeDescription) -> TypeDescription:
    return ("array", {"numberOfElements": count, "elementType": ("typeDescription", element)})


def _inner(spec: Any, where: str) -> TypeDescription:
    """The TypeDescription of a TypeSpecification (named types are not supported)."""
    if isinstance(spec, tuple) and len(spec) == 2 and spec[0] == "typeDescription":
        return spec[1]  # type: ignore[no-any-return]
    raise MmsDataError(f"{where}: only inline typeDescription is supported, got {spec!r}")


def structure_components(td: TypeDescription) -> list[tuple[str, TypeDescription]]:
    """``(name, TypeDescription)`` of each component of a structure description."""
    if td[0] != "structure":
        raise MmsDataError(f"not a structure type: {td[0]}")
    out = []
    for index, component in enumerate(td[1]["components"]):
        name = component.get("componentName", f"#{index}")
        out.append((name, _inner(component["componentType"], name)))
    return out


# --- conversion -------------------------------------------------------------------------------


def to_data(td: TypeDescription, value: Any) -> DataValue:
    """The ``Data`` value of ``value`` typed by ``td``; raises :class:`MmsDataError`."""
    return _to_data(td, value, "value", 0)


def from_data(td: TypeDescription, data: DataValue) -> Any:
    """The Python value of ``data`` typed by ``td``; raises :class:`MmsDataError`."""
    return _from_data(td, data, "value", 0)


def _int_range(kind: str, bits: int) -> tuple[int, int]:
    if kind == "integer":
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _check_int(value: Any, lo: int, hi: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MmsDataError(f"{where}: expected an int, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise MmsDataError(f"{where}: {value} outside {lo}..{hi}")
    return value


def _float_double(spec: Mapping[str, int], where: str) -> bool:
    """Whether a floating-point TypeDescription is the 64-bit one (only 32/8 and 64/11 are)."""
    width, exponent = spec.get("format-width"), spec.get("exponent-width")
    if (width, exponent) in ((32, 8), (64, 11)):
        return width == 64
    raise MmsDataError(f"{where}: unsupported floating-point format {width}/{exponent}")


def pack_bits(bits: Sequence[bool]) -> tuple[bytes, int]:
    """The asn1tools BIT STRING value ``(octets, length)`` of ``bits``, bit 0 first (the most
    significant bit of the first octet), as 8-1 numbers Quality, TrgOps, OptFlds, ..."""
    raw = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            raw[index // 8] |= 0x80 >> (index % 8)
    return bytes(raw), len(bits)


def pack_positions(positions: Iterable[int], size: int) -> tuple[bytes, int]:
    """A BIT STRING of ``size`` bits with the bits at ``positions`` set (e.g. the
    ParameterSupportOptions and ServiceSupportOptions of Initiate)."""
    chosen = set(positions)
    return pack_bits([i in chosen for i in range(size)])


def unpack_bits(value: tuple[bytes, int], where: str = "value") -> tuple[bool, ...]:
    """Inverse of :func:`pack_bits`; :class:`MmsDataError` when the octets are too few."""
    raw, count = value
    if len(raw) * 8 < count:
        raise MmsDataError(f"{where}: malformed BIT STRING")
    return tuple(bool(raw[i // 8] & (0x80 >> (i % 8))) for i in range(count))


def encode_float(value: float, double: bool = False) -> bytes:
    """8-1 FloatingPoint octets: the exponent width (8 or 11), then IEEE 754 big-endian."""
    try:
        if double:
            return b"\x0b" + struct.pack(">d", value)
        return b"\x08" + struct.pack(">f", value)
    except OverflowError:
        raise MmsDataError(f"{value} does not fit a float32") from None


def decode_float(octets: bytes) -> float:
    """Inverse of :func:`encode_float` (either width); :class:`MmsDataError` otherwise."""
    if len(octets) == 5 and octets[0] == 8:
        return float(struct.unpack(">f", octets[1:])[0])
    if len(octets) == 9 and octets[0] == 11:
        return float(struct.unpack(">d", octets[1:])[0])
    raise MmsDataError("FloatingPoint is neither a 32-bit nor a 64-bit IEEE value")


def _check_size(length: int, size: int, exact: bool, where: str, unit: str) -> None:
    if exact and size > 0:
        if length != size:
            raise MmsDataError(f"{where}: expected exactly {size} {unit}, got {length}")
    elif length > abs(size):
        raise MmsDataError(f"{where}: at most {abs(size)} {unit}, got {length}")


def _to_data(td: TypeDescription, value: Any, where: str, depth: int) -> DataValue:
    if depth > _MAX_STRUCT_DEPTH:
        raise MmsDataError(f"{where}: nested deeper than {_MAX_STRUCT_DEPTH}")
    kind, spec = td
    if kind == "boolean":
        if not isinstance(value, bool):
            raise MmsDataError(f"{where}: expected a bool, got {type(value).__name__}")
        return ("boolean", value)
    if kind in ("integer", "unsigned"):
        lo, hi = _int_range(kind, spec)
        return (kind, _check_int(value, lo, hi, where))
    if kind == "floating-point":
        double = _float_double(spec, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MmsDataError(f"{where}: expected a float, got {type(value).__name__}")
        try:
            return ("floating-point", encode_float(float(value), double))
        except MmsDataError as exc:
            raise MmsDataError(f"{where}: {exc}") from None
    if kind == "bit-string":
        if not isinstance(value, (tuple, list)) or not all(isinstance(b, bool) for b in value):
            raise MmsDataError(f"{where}: expected a tuple of bools")
        _check_size(len(value), spec, True, where, "bits")
        return ("bit-string", pack_bits(value))
    if kind == "octet-string":
        if not isinstance(value, (bytes, bytearray)):
            raise MmsDataError(f"{where}: expected bytes, got {type(value).__name__}")
        _check_size(len(value), spec, False, where, "octets")
        return ("octet-string", bytes(value))
    if kind in ("visible-string", "mMSString"):
        if not isinstance(value, str):
            raise MmsDataError(f"{where}: expected a str, got {type(value).__name__}")
        if kind == "visible-string" and not all(" " <= c <= "~" for c in value):
            raise MmsDataError(f"{where}: VisibleString allows printable ASCII only")
        _check_size(len(value), spec, False, where, "characters")
        return (kind, value)
    if kind == "utc-time":
        if not isinstance(value, UtcTime):
            raise MmsDataError(f"{where}: expected a UtcTime, got {type(value).__name__}")
        return ("utc-time", value.to_bytes())
    if kind == "binary-time":
        if not isinstance(value, BinaryTime):
            raise MmsDataError(f"{where}: expected a BinaryTime, got {type(value).__name__}")
        if (value.days is not None) != bool(spec):
            raise MmsDataError(f"{where}: TimeOfDay date presence does not match the type")
        return ("binary-time", value.to_bytes())
    if kind == "bcd":
        return ("bcd", _check_int(value, 0, 10**spec - 1, where))
    if kind == "objId":
        if not isinstance(value, str):
            raise MmsDataError(f"{where}: expected a dotted OID string")
        return ("objId", value)
    if kind == "structure":
        components = structure_components(td)
        if not isinstance(value, Mapping):
            raise MmsDataError(f"{where}: expected a mapping, got {type(value).__name__}")
        names = [name for name, _ in components]
        if set(value) != set(names):
            missing = [n for n in names if n not in value]
            extra = [str(n) for n in value if n not in names]
            raise MmsDataError(f"{where}: components missing {missing} / unknown {extra}")
        return (
            "structure",
            [_to_data(ctd, value[name], f"{where}.{name}", depth + 1) for name, ctd in components],
        )
    if kind == "array":
        count = spec["numberOfElements"]
        element = _inner(spec["elementType"], where)
        if not isinstance(value, (list, tuple)) or len(value) != count:
            raise MmsDataError(f"{where}: expected a list of {count} elements")
        return (
            "array",
            [_to_data(element, item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)],
        )
    raise MmsDataError(f"{where}: unsupported type {kind}")


def _expect(data: Any, kind: str, where: str) -> Any:
    if not isinstance(data, tuple) or len(data) != 2:
        raise MmsDataError(f"{where}: malformed Data value {data!r}")
    if data[0] != kind:
        raise MmsDataError(f"{where}: expected {kind}, got {data[0]}")
    return data[1]


def _from_data(td: TypeDescription, data: DataValue, where: str, depth: int) -> Any:
    if depth > _MAX_STRUCT_DEPTH:
        raise MmsDataError(f"{where}: nested deeper than {_MAX_STRUCT_DEPTH}")
    kind, spec = td
    raw = _expect(data, kind, where)
    if kind == "boolean":
        return bool(raw)
    if kind in ("integer", "unsigned"):
        lo, hi = _int_range(kind, spec)
        return _check_int(raw, lo, hi, where)
    if kind == "floating-point":
        size = 8 if _float_double(spec, where) else 4
        if len(raw) != size + 1 or raw[0] != (11 if size == 8 else 8):
            raise MmsDataError(f"{where}: FloatingPoint is not a {size * 8}-bit IEEE value")
        return decode_float(raw)
    if kind == "bit-string":
        bits = unpack_bits(raw, where)
        _check_size(len(bits), spec, True, where, "bits")
        return bits
    if kind == "octet-string":
        _check_size(len(raw), spec, False, where, "octets")
        return bytes(raw)
    if kind in ("visible-string", "mMSString"):
        _check_size(len(raw), spec, False, where, "characters")
        return raw
    if kind == "utc-time":
        return UtcTime.from_bytes(raw)
    if kind == "binary-time":
        value = BinaryTime.from_bytes(raw)
        if (value.days is not None) != bool(spec):
            raise MmsDataError(f"{where}: TimeOfDay date presence does not match the type")
        return value
    if kind == "bcd":
        return _check_int(raw, 0, 10**spec - 1, where)
    if kind == "objId":
        return raw
    if kind == "structure":
        components = structure_components(td)
        if len(raw) != len(components):
            raise MmsDataError(
                f"{where}: structure of {len(components)} components, got {len(raw)}"
            )
        return {
            name: _from_data(ctd, item, f"{where}.{name}", depth + 1)
            for (name, ctd), item in zip(components, raw, strict=True)
        }
    if kind == "array":
        count = spec["numberOfElements"]
        element = _inner(spec["elementType"], where)
        if len(raw) != count:
            raise MmsDataError(f"{where}: array of {count} elements, got {len(raw)}")
        return [_from_data(element, item, f"{where}[{i}]", depth + 1) for i, item in enumerate(raw)]
    raise MmsDataError(f"{where}: unsupported type {kind}")


def bits_from_int(value: int, size: int) -> tuple[bool, ...]:
    """Bits of ``value`` with bit 0 = least significant (61850 Quality/TrgOps numbering is by
    position, so ``bits_from_int(0b1, 13)[0]`` is the first bit on the wire)."""
    return tuple(bool(value >> i & 1) for i in range(size))


def bits_to_int(bits: Sequence[bool]) -> int:
    """Inverse of :func:`bits_from_int`."""
    return sum(1 << i for i, bit in enumerate(bits) if bit)
