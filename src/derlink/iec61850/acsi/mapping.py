"""The IEC 61850-8-1 mapping of model values and types onto MMS ``Data``/``TypeDescription``.

A small, self-contained adapter between :mod:`derlink.iec61850.model` (Python values per
``model.types``) and the asn1tools values of the MMS module: basic types (8-1 table of basic
types), structures in model order, arrays, and 8-1 variable names (``LN$FC$DO$DA`` in the
domain named by the LD). Kept in the ACSI package so the server and the client share one
reading of the mapping.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any

from derlink.iec61850.acsi.errors import ServiceError, ServiceErrorClass
from derlink.iec61850.acsi.reporting import pack_bits, unpack_bits
from derlink.iec61850.model.nodes import DataAttribute, DataObject
from derlink.iec61850.model.refs import FC, ObjectReference
from derlink.iec61850.model.types import (
    BIT_LENGTHS,
    INT_RANGES,
    STRING_LENGTHS,
    BasicType,
    Quality,
    TimeQuality,
    Timestamp,
)

Data = tuple[str, Any]
"""An asn1tools ``Data`` value."""

_SIGNED = {
    BasicType.INT8: 8,
    BasicType.INT16: 16,
    BasicType.INT24: 24,
    BasicType.INT32: 32,
    BasicType.INT64: 64,
    BasicType.INT128: 128,
    BasicType.Enum: 8,
}
_UNSIGNED = {
    BasicType.INT8U: 8,
    BasicType.INT16U: 16,
    BasicType.INT24U: 24,
    BasicType.INT32U: 32,
}
_OCTETS = {BasicType.Octet6: 6, BasicType.Octet16: 16, BasicType.Octet64: 64, BasicType.EntryID: 8}

EPOCH_1984 = datetime(1984, 1, 1, tzinfo=UTC).timestamp()
"""The MMS BinaryTime (EntryTime) epoch as a Unix time."""


def _conflict(message: str) -> ServiceError:
    return ServiceError(ServiceErrorClass.TYPE_CONFLICT, message)


# --- names --------------------------------------------------------------------------------


def object_name(ref: ObjectReference, fc: FC | None) -> tuple[str, dict[str, str]]:
    """The MMS ObjectName of ``ref`` under ``fc``: domain = LD name, item = ``LN$FC$DO$DA``."""
    parts = [ref.ln]
    if fc is not None:
        parts.append(fc.value)
    parts.extend(ref.path)
    return ("domain-specific", {"domainID": ref.ld, "itemID": "$".join(parts)})


def parse_object_name(name: Any) -> tuple[ObjectReference, FC | None]:
    """Inverse of :func:`object_name`; ``ServiceError`` instance-not-available if malformed."""
    try:
        kind, value = name
        if kind != "domain-specific":
            raise ValueError(kind)
        domain, item = value["domainID"], value["itemID"]
        parts = item.split("$")
        ln = parts[0]
        fc: FC | None = None
        rest = parts[1:]
        if rest:
            fc = FC(rest[0])
            rest = rest[1:]
        return ObjectReference(domain, ln, tuple(rest)), fc
    except Exception as exc:  # any malformed name is the same error to the peer
        raise ServiceError(
            ServiceErrorClass.INSTANCE_NOT_AVAILABLE, f"bad variable name {name!r}"
        ) from exc


# --- type descriptions ----------------------------------------------------------------------


def _basic_type_description(btype: BasicType) -> tuple[str, Any]:
    if btype is BasicType.BOOLEAN:
        return ("boolean", None)
    if btype in _SIGNED:
        return ("integer", _SIGNED[btype])
    if btype in _UNSIGNED:
        return ("unsigned", _UNSIGNED[btype])
    if btype is BasicType.FLOAT32:
        return ("floating-point", {"format-width": 32, "exponent-width": 8})
    if btype is BasicType.FLOAT64:
        return ("floating-point", {"format-width": 64, "exponent-width": 11})
    if btype in (BasicType.Dbpos, BasicType.Tcmd):
        return ("bit-string", 2)
    if btype in BIT_LENGTHS:
        return ("bit-string", BIT_LENGTHS[btype])
    if btype is BasicType.Unicode255:
        return ("mMSString", -255)
    if btype in STRING_LENGTHS:
        return ("visible-string", -STRING_LENGTHS[btype])
    if btype in _OCTETS:
        size = _OCTETS[btype]
        return ("octet-string", size if btype is BasicType.EntryID else -size)
    if btype is BasicType.Timestamp:
        return ("utc-time", None)
    if btype is BasicType.EntryTime:
        return ("binary-time", True)
    if btype is BasicType.PhyComAddr:
        return ("octet-string", -6)
    raise _conflict(f"no MMS type for {btype.value}")


def type_description(node: DataObject | DataAttribute) -> tuple[str, Any]:
    """The 8-1 TypeDescription of a (FC-restricted) DO or DA."""
    if isinstance(node, DataAttribute):
        if node.is_array:
            element = type_description(
                DataAttribute(node.name, node.btype, node.fc, node.children, node.enum_type)
            )
            return (
                "array",
                {"numberOfElements": node.count, "elementType": ("typeDescription", element)},
            )
        if not node.is_struct:
            return _basic_type_description(node.btype)
        children: list[DataObject | DataAttribute] = list(node.children.values())
    else:
        children = list(node.children.values())
    return (
        "structure",
        {
            "components": [
                {
                    "componentName": child.name,
                    "componentType": ("typeDescription", type_description(child)),
                }
                for child in children
            ]
        },
    )


# --- values -------------------------------------------------------------------------------


def encode_float(value: float, double: bool) -> bytes:
    """8-1 FloatingPoint: exponent width octet, then IEEE 754 big-endian."""
    if double:
        return b"\x0b" + struct.pack(">d", value)
    return b"\x08" + struct.pack(">f", value)


def decode_float(octets: bytes) -> float:
    """Inverse of :func:`encode_float`."""
    if len(octets) == 5 and octets[0] == 8:
        return float(struct.unpack(">f", octets[1:])[0])
    if len(octets) == 9 and octets[0] == 11:
        return float(struct.unpack(">d", octets[1:])[0])
    raise _conflict("floating-point value is neither single nor double precision")


def encode_utc_time(ts: Timestamp) -> bytes:
    """8-1 UtcTime: 4 octets seconds, 3 octets fraction, 1 octet TimeQuality."""
    return (
        ts.seconds.to_bytes(4, "big")
        + ts.fraction.to_bytes(3, "big")
        + bytes([ts.quality.to_byte()])
    )


def decode_utc_time(octets: bytes) -> Timestamp:
    """Inverse of :func:`encode_utc_time`."""
    if len(octets) != 8:
        raise _conflict("UtcTime needs 8 octets")
    return Timestamp(
        int.from_bytes(octets[:4], "big"),
        int.from_bytes(octets[4:7], "big"),
        TimeQuality.from_byte(octets[7]),
    )


def encode_entry_time(unix: float) -> bytes:
    """MMS BinaryTime (6 octets): milliseconds of the day, days since 1984-01-01."""
    ms = max(0, round((unix - EPOCH_1984) * 1000))
    days, in_day = divmod(ms, 86_400_000)
    return in_day.to_bytes(4, "big") + min(days, 0xFFFF).to_bytes(2, "big")


def decode_entry_time(octets: bytes) -> float:
    """Inverse of :func:`encode_entry_time` (Unix seconds)."""
    if len(octets) == 6:
        in_day = int.from_bytes(octets[:4], "big")
        days = int.from_bytes(octets[4:], "big")
        return EPOCH_1984 + days * 86_400 + in_day / 1000.0
    if len(octets) == 4:
        return int.from_bytes(octets, "big") / 1000.0
    raise _conflict("BinaryTime needs 4 or 6 octets")


def _bits_value(bits: tuple[bool, ...] | list[bool]) -> Data:
    return ("bit-string", pack_bits(list(bits)))


def basic_to_data(btype: BasicType, value: Any) -> Data:
    """MMS Data of one basic value (model Python representation)."""
    if btype is BasicType.BOOLEAN:
        return ("boolean", bool(value))
    if btype in _SIGNED:
        return ("integer", int(value))
    if btype in _UNSIGNED:
        return ("unsigned", int(value))
    if btype in (BasicType.FLOAT32, BasicType.FLOAT64):
        return ("floating-point", encode_float(float(value), btype is BasicType.FLOAT64))
    if btype in (BasicType.Dbpos, BasicType.Tcmd):
        v = int(value)
        return _bits_value([bool(v & 2), bool(v & 1)])
    if btype is BasicType.Quality:
        return _bits_value(value.to_bits())
    if btype in BIT_LENGTHS:
        return _bits_value(tuple(value))
    if btype is BasicType.Unicode255:
        return ("mMSString", str(value))
    if btype in STRING_LENGTHS:
        return ("visible-string", str(value))
    if btype in _OCTETS:
        return ("octet-string", bytes(value))
    if btype is BasicType.Timestamp:
        return ("utc-time", encode_utc_time(value))
    if btype is BasicType.EntryTime:
        return ("binary-time", encode_entry_time(EPOCH_1984 + int(value) / 1000.0))
    if btype is BasicType.PhyComAddr:
        return ("octet-string", bytes(value["addr"]))
    raise _conflict(f"no MMS value for {btype.value}")


def data_to_basic(btype: BasicType, data: Any) -> Any:
    """Model value of MMS Data for one basic type; ``ServiceError`` type-conflict otherwise."""
    try:
        kind, raw = data
    except (TypeError, ValueError):
        raise _conflict(f"malformed Data {data!r}") from None
    want = _basic_type_description(btype)[0]
    if kind != want:
        raise _conflict(f"{btype.value} is sent as {want}, not {kind}")
    if kind == "boolean":
        return bool(raw)
    if kind in ("integer", "unsigned"):
        value = int(raw)
        low, high = INT_RANGES.get(btype, (-128, 127))
        if not low <= value <= high:
            raise _conflict(f"{value} outside {btype.value}")
        return value
    if kind == "floating-point":
        number = decode_float(bytes(raw))
        if btype is BasicType.FLOAT32 and math.isnan(number):
            return number
        return number
    if kind == "bit-string":
        bits = unpack_bits(raw)
        if btype in (BasicType.Dbpos, BasicType.Tcmd):
            if len(bits) != 2:
                raise _conflict(f"{btype.value} needs 2 bits")
            return (2 if bits[0] else 0) | (1 if bits[1] else 0)
        size = BIT_LENGTHS[btype]
        if len(bits) != size:
            raise _conflict(f"{btype.value} needs {size} bits, got {len(bits)}")
        if btype is BasicType.Quality:
            return Quality.from_bits(bits)
        return tuple(bits)
    if kind in ("visible-string", "mMSString"):
        text = str(raw)
        limit = STRING_LENGTHS[btype]
        if len(text) > limit:
            raise _conflict(f"{btype.value} holds at most {limit} characters")
        return text
    if kind == "octet-string":
        octets = bytes(raw)
        size = _OCTETS.get(btype, 6)
        if len(octets) > size or (btype is BasicType.EntryID and len(octets) != 8):
            raise _conflict(f"{btype.value} holds at most {size} octets")
        if btype is BasicType.PhyComAddr:
            return {"addr": octets.ljust(6, b"\0"), "priority": 0, "vid": 0, "appid": 0}
        return octets
    if kind == "utc-time":
        return decode_utc_time(bytes(raw))
    if kind == "binary-time":
        return round((decode_entry_time(bytes(raw)) - EPOCH_1984) * 1000)
    raise _conflict(f"unsupported Data {kind}")


def value_to_data(node: DataObject | DataAttribute, value: Any) -> Data:
    """MMS Data of a (FC-restricted) node; structures take ``dict[name, value]``."""
    if isinstance(node, DataAttribute):
        if node.is_array:
            element = DataAttribute(node.name, node.btype, node.fc, node.children, node.enum_type)
            return ("array", [value_to_data(element, v) for v in value])
        if not node.is_struct:
            return basic_to_data(node.btype, value)
    return (
        "structure",
        [value_to_data(child, value[name]) for name, child in node.children.items()],
    )


def data_to_value(node: DataObject | DataAttribute, data: Any) -> Any:
    """Inverse of :func:`value_to_data`, checking the shape against ``node``."""
    if isinstance(node, DataAttribute):
        if node.is_array:
            kind, items = data if isinstance(data, tuple) and len(data) == 2 else ("", None)
            if kind != "array" or not isinstance(items, list) or len(items) != node.count:
                raise _conflict(f"{node.name} is an array of {node.count}")
            element = DataAttribute(node.name, node.btype, node.fc, node.children, node.enum_type)
            return tuple(data_to_value(element, item) for item in items)
        if not node.is_struct:
            return data_to_basic(node.btype, data)
    kind, items = data if isinstance(data, tuple) and len(data) == 2 else ("", None)
    children = list(node.children.items())
    if kind != "structure" or not isinstance(items, list) or len(items) != len(children):
        raise _conflict(f"{node.name} is a structure of {len(children)} members")
    return {
        name: data_to_value(child, item)
        for (name, child), item in zip(children, items, strict=True)
    }


# --- untyped decoding (what a client does without the type) ------------------------------


def data_to_python(data: Any) -> Any:
    """A best-effort Python value of MMS Data without its type (used for reports)."""
    kind, raw = data
    if kind in ("structure", "array"):
        return [data_to_python(item) for item in raw]
    if kind == "floating-point":
        return decode_float(bytes(raw))
    if kind == "bit-string":
        return tuple(unpack_bits(raw))
    if kind == "utc-time":
        return decode_utc_time(bytes(raw))
    if kind == "binary-time":
        return decode_entry_time(bytes(raw))
    return raw
