"""The IEC 61850-8-1 mapping of model values and types onto MMS ``Data``/``TypeDescription``.

An adapter between :mod:`derlink.iec61850.model` (Python values per ``model.types``) and the
asn1tools values of the MMS module: basic types (8-1 table of basic types), structures in
model order, arrays, and 8-1 variable names (``LN$FC$DO$DA`` in the domain named by the LD).
The wire primitives (FloatingPoint octets, UtcTime, BinaryTime, BIT STRING packing, item
names) are those of :mod:`derlink.iec61850.mms`; what is here is the model side of them,
shared by the server and the client. Failures are ``ServiceError`` type-conflict.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from derlink.iec61850.acsi.errors import ServiceError, ServiceErrorClass
from derlink.iec61850.acsi.reporting import pack_bits, unpack_bits
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.mms.data import BinaryTime, UtcTime
from derlink.iec61850.mms.errors import MmsDataError, MmsNameError
from derlink.iec61850.mms.names import mms_name, parse_mms_name
from derlink.iec61850.model.errors import BadReference
from derlink.iec61850.model.nodes import DataAttribute, DataObject
from derlink.iec61850.model.refs import FC, ObjectReference, split_element
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

NAME_CACHE = 4096
"""How many references / variable names the name mapping keeps converted (both ways are
pure functions of immutable values; failures are not kept)."""
EPOCH_1984 = datetime(1984, 1, 1, tzinfo=UTC).timestamp()
"""The MMS BinaryTime (EntryTime) epoch as a Unix time."""


def _conflict(message: str) -> ServiceError:
    return ServiceError(ServiceErrorClass.TYPE_CONFLICT, message)


# --- names --------------------------------------------------------------------------------


def _item_parts(path: tuple[str, ...]) -> list[str]:
    """8-1 item parts of a 7-2 data path: an array element ``crvPts(3)`` is ``crvPts$3``."""
    if not any("(" in element for element in path):
        return list(path)
    parts: list[str] = []
    for element in path:
        name, index = split_element(element)
        parts.append(name)
        if index is not None:
            parts.append(str(index))
    return parts


def _ref_path(parts: tuple[str, ...]) -> tuple[str, ...]:
    """Inverse of :func:`_item_parts`."""
    path: list[str] = []
    for part in parts:
        if part.isdigit() and path:
            path[-1] = f"{path[-1]}({part})"
        else:
            path.append(part)
    return tuple(path)


@functools.lru_cache(maxsize=NAME_CACHE)
def _names_of(ref: ObjectReference, fc: FC | None) -> tuple[str, str]:
    name = mms_name(ref.ld, ref.ln, fc.value if fc is not None else None, _item_parts(ref.path))
    return name[1]["domainID"], name[1]["itemID"]


@functools.lru_cache(maxsize=NAME_CACHE)
def _reference_of(domain: str, item: str) -> tuple[ObjectReference, FC | None]:
    domain, parsed = parse_mms_name(("domain-specific", {"domainID": domain, "itemID": item}))
    fc = FC(parsed.fc) if parsed.fc is not None else None
    return ObjectReference(domain, parsed.ln, _ref_path(parsed.path)), fc


def object_name(ref: ObjectReference, fc: FC | None) -> tuple[str, dict[str, str]]:
    """The MMS ObjectName of ``ref`` under ``fc``: domain = LD name, item = ``LN$FC$DO$DA``
    (:func:`derlink.iec61850.mms.names.mms_name`); ``ServiceError``
    instance-not-available when 8-1 cannot name it (e.g. longer than 64 characters)."""
    try:
        domain, item = _names_of(ref, fc)
    except (MmsNameError, BadReference) as exc:
        raise ServiceError(ServiceErrorClass.INSTANCE_NOT_AVAILABLE, str(exc)) from exc
    return ("domain-specific", {"domainID": domain, "itemID": item})


def parse_object_name(name: Any) -> tuple[ObjectReference, FC | None]:
    """Inverse of :func:`object_name`; ``ServiceError`` instance-not-available if malformed."""
    try:
        kind, value = name
        if kind != "domain-specific":
            raise ValueError(kind)
        return _reference_of(value["domainID"], value["itemID"])
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
    try:
        return mms_data.encode_float(value, double)
    except MmsDataError as exc:
        raise _conflict(str(exc)) from None


def decode_float(octets: bytes) -> float:
    """Inverse of :func:`encode_float`."""
    try:
        return mms_data.decode_float(octets)
    except MmsDataError:
        raise _conflict("floating-point value is neither single nor double precision") from None


def encode_utc_time(ts: Timestamp) -> bytes:
    """8-1 UtcTime: 4 octets seconds, 3 octets fraction, 1 octet TimeQuality."""
    try:
        return UtcTime(ts.seconds, ts.fraction, ts.quality.to_byte()).to_bytes()
    except MmsDataError as exc:
        raise _conflict(str(exc)) from None


def decode_utc_time(octets: bytes) -> Timestamp:
    """Inverse of :func:`encode_utc_time`."""
    try:
        utc = UtcTime.from_bytes(octets)
    except MmsDataError:
        raise _conflict("UtcTime needs 8 octets") from None
    return Timestamp(utc.seconds, utc.fraction, TimeQuality.from_byte(utc.quality))


def encode_entry_time(unix: float) -> bytes:
    """MMS BinaryTime (6 octets): milliseconds of the day, days since 1984-01-01."""
    ms = max(0, round((unix - EPOCH_1984) * 1000))
    days, in_day = divmod(ms, 86_400_000)
    return BinaryTime(in_day, min(days, 0xFFFF)).to_bytes()


def decode_entry_time(octets: bytes) -> float:
    """Inverse of :func:`encode_entry_time` (Unix seconds); the 4-octet form (no date)
    gives the seconds of the day."""
    try:
        time = BinaryTime.from_bytes(octets)
    except MmsDataError as exc:
        raise _conflict(str(exc)) from None
    if time.days is None:
        return time.ms_of_day / 1000.0
    return EPOCH_1984 + time.days * 86_400 + time.ms_of_day / 1000.0


def _bits_value(bits: tuple[bool, ...] | list[bool]) -> Data:
    return ("bit-string", pack_bits(list(bits)))


@functools.cache
def _basic_kind(btype: BasicType) -> str:
    """The MMS ``Data`` alternative of ``btype`` (the kind of its TypeDescription)."""
    return _basic_type_description(btype)[0]


def basic_to_data(btype: BasicType, value: Any) -> Data:
    """MMS Data of one basic value (model Python representation), of the MMS type
    :func:`type_description` gives ``btype``."""
    kind = _basic_kind(btype)
    if kind == "boolean":
        return (kind, bool(value))
    if kind in ("integer", "unsigned"):
        return (kind, int(value))
    if kind == "floating-point":
        return (kind, encode_float(float(value), btype is BasicType.FLOAT64))
    if kind == "bit-string":
        if btype in (BasicType.Dbpos, BasicType.Tcmd):
            v = int(value)
            return _bits_value([bool(v & 2), bool(v & 1)])
        if btype is BasicType.Quality:
            return _bits_value(value.to_bits())
        return _bits_value(tuple(value))
    if kind in ("visible-string", "mMSString"):
        return (kind, str(value))
    if kind == "octet-string":
        if btype is BasicType.PhyComAddr:
            return (kind, bytes(value["addr"]))
        return (kind, bytes(value))
    if kind == "utc-time":
        return (kind, encode_utc_time(value))
    # binary-time: EntryTime, milliseconds since 1984-01-01
    return (kind, encode_entry_time(EPOCH_1984 + int(value) / 1000.0))


def data_to_basic(btype: BasicType, data: Any) -> Any:
    """Model value of MMS Data for one basic type; ``ServiceError`` type-conflict otherwise."""
    try:
        kind, raw = data
    except (TypeError, ValueError):
        raise _conflict(f"malformed Data {data!r}") from None
    want = _basic_kind(btype)
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
        return decode_float(bytes(raw))
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
