"""MMS PDUs in XML Encoding Rules (X.693 BASIC-XER), the wire form of IEC 61850-8-2.

The ASN.1 module ``mms.asn`` is compiled once with asn1tools (codec ``xer``); values crossing
this module are asn1tools values: a CHOICE is ``(alternative, value)``, a SEQUENCE a dict, a
SEQUENCE OF a list, BIT STRING ``(bytes, number_of_bits)``, OCTET STRING ``bytes``, NULL
``None``.

asn1tools' XER decoder trusts its input (it ignores unknown or misplaced elements and missing
mandatory components, and parses with the standard library). Every document is therefore
parsed here with a hardened lxml parser (no DTD, no entities, no network, size and depth
limits) and checked element by element against the compiled types before asn1tools builds
the value; values to encode are checked against the types first (asn1tools would write a
``str`` given for an INTEGER, drop unknown keys, ...), so ``encode`` never emits what
``decode`` would refuse.

asn1tools (0.169) XER limits and how they are handled:

* a SEQUENCE OF a *recursive* CHOICE (``SEQUENCE OF Data``) is written by asn1tools with each
  item wrapped in ``<Data>``; X.680 table 5 wants an XMLValueList
  (``<structure><boolean><true/></boolean></structure>``) -- fixed at compile time;
* empty elements come out as ``<true />`` -- rewritten to ``<true/>``; a CR in a string would be
  read back as LF by any XML parser -- written as ``&#13;``;
* no constraint is checked (sizes, ranges): the Identifier limits are enforced in ``names``,
  value ranges in ``data``; DEFAULT members are filled in on decoding, and written on
  encoding when present in the value;
* not supported by asn1tools, hence refused: INTEGER named numbers as empty elements
  (``<access><object-non-existent/></access>``), the control-character escapes of
  X.680 (``<nul/>``) inside strings, BOOLEAN as text; unknown extension additions are refused
  rather than skipped.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import asn1tools
from asn1tools.codecs import xer as _xer
from lxml import etree

from derlink import xmlsafe
from derlink.iec61850.mms.errors import MmsDecodeError, MmsEncodeError

MMS_NS = "urn:derlink:iec61850-8-2:mms"
"""Namespace of the XMPP payload element wrapping an XER-encoded MMS PDU."""

PAYLOAD_ELEMENT = "mms"
PDU_TYPE = "MMSpdu"
MAX_PDU_BYTES = 256 * 1024
"""Default upper bound on an encoded PDU (bytes) accepted by :func:`decode`."""
MAX_DEPTH = 96
"""Deepest element nesting accepted (a PDU needs ~10 levels plus the Data nesting)."""
MAX_ELEMENTS = 200_000
_MAX_INTEGER_DIGITS = 40
_MAX_BITS = 1 << 16

ASN_PATH = Path(__file__).with_name("mms.asn")

Pdu = tuple[str, Any]
"""An asn1tools ``MMSpdu`` value: ``(alternative, value)``."""

_INTEGER_RE = re.compile(r"-?[0-9]+")
_BITS_RE = re.compile(r"[01]*")
_HEX_RE = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_OID_RE = re.compile(r"[0-9]+(?:\.[0-9]+)+")
_WS_RE = re.compile(r"[ \t\r\n]+")
_VISIBLE_RE = re.compile(r"[\x20-\x7e]*")
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_VALUE_LIST_TYPES = (_xer.Choice, _xer.Boolean, _xer.Enumerated)
_STRING_TYPES = (_xer.StringType,)


@functools.cache
def specification() -> Any:
    """The compiled ASN.1 module (compiled on first use, then cached)."""
    spec = asn1tools.compile_files(str(ASN_PATH), "xer")
    seen: set[int] = set()
    for compiled in spec.types.values():
        _fix_recursive_value_lists(compiled.type, seen)
    return spec


def _fix_recursive_value_lists(t: Any, seen: set[int]) -> None:
    """Make ``SEQUENCE OF <recursive CHOICE>`` use the XMLValueList form (X.680 table 5)."""
    if id(t) in seen:
        return
    seen.add(id(t))
    if isinstance(t, _xer.Recursive):
        inner = t._inner
        if inner is not None:
            _fix_recursive_value_lists(inner, seen)
        return
    if isinstance(t, _xer.ArrayType):
        element = t.element_type
        if isinstance(element, _xer.Recursive) and isinstance(element._inner, _xer.Choice):
            element.encode_of = element._inner.encode_of
            element.decode_of = element._inner.decode_of
        _fix_recursive_value_lists(element, seen)
    for member in getattr(t, "members", ()):
        _fix_recursive_value_lists(member, seen)


def _compiled(type_name: str) -> Any:
    try:
        return specification().types[type_name].type
    except KeyError:
        raise MmsEncodeError(f"no ASN.1 type {type_name!r} in the MMS module") from None


# --- encoding ---------------------------------------------------------------------------------


def encode_value(type_name: str, value: Any) -> bytes:
    """XER of ``value`` as the ASN.1 type ``type_name`` (e.g. ``"Data"``), UTF-8, no prolog."""
    element = _encode_element(type_name, value)
    return _serialise(element)


def encode(pdu: Pdu) -> bytes:
    """XER document of an ``MMSpdu`` value."""
    return encode_value(PDU_TYPE, pdu)


def encode_payload(pdu: Pdu) -> bytes:
    """The XMPP payload: ``<mms xmlns="urn:derlink:iec61850-8-2:mms"><MMSpdu>...</MMSpdu></mms>``.

    The XER document is qualified in :data:`MMS_NS` through the wrapper's default namespace.
    """
    return (
        b"<"
        + PAYLOAD_ELEMENT.encode()
        + b' xmlns="'
        + MMS_NS.encode()
        + b'">'
        + encode(pdu)
        + b"</"
        + PAYLOAD_ELEMENT.encode()
        + b">"
    )


def payload_element(pdu: Pdu) -> ET.Element:
    """The XMPP payload as an ``xml.etree`` element (what slixmpp stanzas carry)."""
    element = _encode_element(PDU_TYPE, pdu)
    wrapper = ET.Element(f"{{{MMS_NS}}}{PAYLOAD_ELEMENT}")
    wrapper.append(_qualify(element))
    return wrapper


def _qualify(element: ET.Element) -> ET.Element:
    qualified = ET.Element(f"{{{MMS_NS}}}{element.tag}")
    qualified.text = element.text
    for child in element:
        qualified.append(_qualify(child))
    return qualified


def _encode_element(type_name: str, value: Any) -> ET.Element:
    t = _compiled(type_name)
    _check_value(t, value, type_name, 0)
    try:
        element: ET.Element = t.encode(value)
    except Exception as exc:  # defensive: _check_value should have caught it
        raise MmsEncodeError(f"cannot encode {type_name}: {exc}") from None
    return element


def _check_value(t: Any, value: Any, path: str, depth: int) -> None:
    """Refuse a value asn1tools would encode wrongly or leniently (asn1tools XER checks
    almost nothing: ``str`` for INTEGER, unknown dict keys and the like pass silently)."""
    if depth > MAX_DEPTH:
        raise MmsEncodeError(f"{path}: nested deeper than {MAX_DEPTH}")
    while isinstance(t, _xer.Recursive):
        t = t._inner
    if isinstance(t, _xer.MembersType):
        if not isinstance(value, dict):
            raise MmsEncodeError(f"{path}: expected a dict for a SEQUENCE")
        names = {member.name for member in t.members}
        unknown = [key for key in value if key not in names]
        if unknown:
            raise MmsEncodeError(f"{path}: unknown components {unknown}")
        for member in t.members:
            if member.name in value:
                _check_value(member, value[member.name], f"{path}.{member.name}", depth + 1)
            elif not (member.optional or member.has_default()):
                raise MmsEncodeError(f"{path}: missing component {member.name!r}")
    elif isinstance(t, _xer.Choice):
        if not (isinstance(value, tuple) and len(value) == 2):
            raise MmsEncodeError(f"{path}: expected (alternative, value) for a CHOICE")
        member = t.name_to_member.get(value[0])
        if member is None:
            raise MmsEncodeError(f"{path}: unknown alternative {value[0]!r}")
        _check_value(member, value[1], f"{path}.{value[0]}", depth + 1)
    elif isinstance(t, _xer.ArrayType):
        if not isinstance(value, (list, tuple)):
            raise MmsEncodeError(f"{path}: expected a list for a SEQUENCE OF")
        for index, item in enumerate(value):
            _check_value(t.element_type, item, f"{path}[{index}]", depth + 1)
    elif isinstance(t, _xer.Boolean):
        if not isinstance(value, bool):
            raise MmsEncodeError(f"{path}: expected a bool")
    elif isinstance(t, _xer.Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            raise MmsEncodeError(f"{path}: expected an int")
        if len(str(abs(value))) > _MAX_INTEGER_DIGITS:
            raise MmsEncodeError(f"{path}: integer too large")
    elif isinstance(t, _xer.Null):
        if value is not None:
            raise MmsEncodeError(f"{path}: expected None for NULL")
    elif isinstance(t, _xer.BitString):
        if not (
            isinstance(value, tuple)
            and len(value) == 2
            and isinstance(value[0], bytes)
            and isinstance(value[1], int)
            and not isinstance(value[1], bool)
            and 0 <= value[1] <= min(len(value[0]) * 8, _MAX_BITS)
        ):
            raise MmsEncodeError(f"{path}: expected (bytes, number_of_bits) for a BIT STRING")
    elif isinstance(t, _xer.OctetString):
        if not isinstance(value, bytes):
            raise MmsEncodeError(f"{path}: expected bytes for an OCTET STRING")
    elif isinstance(t, _xer.ObjectIdentifier):
        if not isinstance(value, str) or not _OID_RE.fullmatch(value):
            raise MmsEncodeError(f"{path}: expected a dotted OBJECT IDENTIFIER")
    elif isinstance(t, _STRING_TYPES):
        if not isinstance(value, str):
            raise MmsEncodeError(f"{path}: expected a str")
        if isinstance(t, _xer.VisibleString) and not _VISIBLE_RE.fullmatch(value):
            raise MmsEncodeError(f"{path}: VisibleString allows 0x20-0x7E only")
        if _XML_ILLEGAL_RE.search(value):
            raise MmsEncodeError(f"{path}: string holds characters XML 1.0 cannot carry")
    else:
        raise MmsEncodeError(f"{path}: unsupported ASN.1 type {t.type_name}")


def _serialise(element: ET.Element) -> bytes:
    # " />" and a raw CR can only occur in markup / character data respectively; a CR must be
    # a character reference or XML parsers turn it into LF.
    text = ET.tostring(element, encoding="unicode").replace(" />", "/>").replace("\r", "&#13;")
    return text.encode("utf-8")


# --- decoding ---------------------------------------------------------------------------------


def _parse(data: bytes | bytearray | memoryview, max_size: int) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MmsDecodeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_size:
        raise MmsDecodeError(f"document of {len(data)} bytes exceeds the limit of {max_size}")
    if xmlsafe.declares_dtd(data):
        raise MmsDecodeError("DOCTYPE and entity declarations are refused")
    try:
        root = etree.fromstring(bytes(data), xmlsafe.parser())
    except etree.XMLSyntaxError as exc:
        raise MmsDecodeError(f"not well-formed XML: {exc}") from None
    if xmlsafe.has_dtd(root):
        raise MmsDecodeError("DOCTYPE and entity declarations are refused")
    return root


def decode_value(type_name: str, data: bytes, *, max_size: int = MAX_PDU_BYTES) -> Any:
    """Parse an XER document of the ASN.1 type ``type_name``; raises :class:`MmsDecodeError`."""
    root = _parse(data, max_size)
    return _decode_element(root, type_name, None)


def decode(data: bytes, *, max_size: int = MAX_PDU_BYTES) -> Pdu:
    """Parse an XER ``MMSpdu`` document; raises :class:`MmsDecodeError` on anything else."""
    pdu: Pdu = decode_value(PDU_TYPE, data, max_size=max_size)
    return pdu


def decode_payload(data: bytes | ET.Element | Any, *, max_size: int = MAX_PDU_BYTES) -> Pdu:
    """Parse the XMPP payload form (bytes, or an already parsed ``xml.etree``/lxml element)."""
    root = _parse(data, max_size) if isinstance(data, (bytes, bytearray, memoryview)) else data
    tag = getattr(root, "tag", None)
    if tag != f"{{{MMS_NS}}}{PAYLOAD_ELEMENT}":
        raise MmsDecodeError(f"expected <{PAYLOAD_ELEMENT} xmlns={MMS_NS!r}>, got {tag!r}")
    if root.text is not None and root.text.strip():
        raise MmsDecodeError("unexpected text in the payload element")
    children = list(root)
    if len(children) != 1:
        raise MmsDecodeError(f"payload must hold exactly one {PDU_TYPE}, got {len(children)}")
    if children[0].tail is not None and children[0].tail.strip():
        raise MmsDecodeError("unexpected text in the payload element")
    pdu: Pdu = _decode_element(children[0], PDU_TYPE, MMS_NS)
    return pdu


def _decode_element(root: Any, type_name: str, ns: str | None) -> Any:
    t = _compiled(type_name)
    clean = _Checker(ns).check(root, t, t.name, 0)
    try:
        return t.decode(clean)
    except MmsDecodeError:
        raise
    except Exception as exc:  # defensive: the checker should have caught it
        raise MmsDecodeError(f"invalid {type_name}: {exc}") from None


class _Checker:
    """Walks a parsed document against an asn1tools XER type and returns a clean copy
    (namespace stripped, whitespace of hex/bit strings removed); refuses anything that is
    not exactly the XER of a value of that type."""

    def __init__(self, ns: str | None) -> None:
        self.prefix = f"{{{ns}}}" if ns else ""
        self.count = 0

    def fail(self, path: str, message: str) -> MmsDecodeError:
        return MmsDecodeError(f"{path}: {message}")

    def check(self, el: Any, t: Any, name: str, depth: int, path: str = "") -> ET.Element:
        tag = el.tag
        path = f"{path}/{name}"
        if tag != self.prefix + name:
            raise self.fail(path, f"expected element <{name}>, got {_show(tag, self.prefix)}")
        return self.content(el, t, name, depth, path)

    def alternative(self, child: Any, choice: Any, depth: int, path: str) -> ET.Element:
        """The content of the CHOICE alternative ``child`` names; unknown ones fail."""
        member = choice.name_to_member.get(self.local(child.tag))
        if member is None:
            shown = _show(child.tag, self.prefix)
            raise self.fail(path, f"unknown alternative {shown} of a CHOICE")
        return self.content(child, member, member.name, depth + 1, path + "/" + member.name)

    def content(self, el: Any, t: Any, name: str, depth: int, path: str) -> ET.Element:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise self.fail(path, f"more than {MAX_ELEMENTS} elements")
        if depth > MAX_DEPTH:
            raise self.fail(path, f"nested deeper than {MAX_DEPTH}")
        if el.attrib:
            raise self.fail(path, "attributes are not part of XER here")
        while isinstance(t, _xer.Recursive):
            t = t._inner
        out = ET.Element(name)
        if isinstance(t, _xer.MembersType):
            self.members(el, t, out, depth, path)
        elif isinstance(t, _xer.Choice):
            out.append(self.alternative(self.single_child(el, path), t, depth, path))
        elif isinstance(t, _xer.ArrayType):
            self.items(el, t, out, depth, path)
        elif isinstance(t, _xer.Boolean):
            child = self.single_child(el, path)
            value = self.local(child.tag)
            if value not in ("true", "false") or len(child) or _has_text(child.text):
                raise self.fail(path, "BOOLEAN must be <true/> or <false/>")
            ET.SubElement(out, value)
        elif isinstance(t, _xer.Null):
            self.empty(el, path)
        else:
            out.text = self.leaf(el, t, path)
        return out

    def local(self, tag: Any) -> str:
        if not isinstance(tag, str):
            return "?"
        if self.prefix:
            return tag[len(self.prefix) :] if tag.startswith(self.prefix) else "?" + tag
        return tag

    def members(self, el: Any, t: Any, out: ET.Element, depth: int, path: str) -> None:
        if _has_text(el.text):
            raise self.fail(path, "unexpected text in a SEQUENCE")
        members = t.members
        index = 0
        for child in el:
            if _has_text(child.tail):
                raise self.fail(path, "unexpected text in a SEQUENCE")
            name = self.local(child.tag)
            while index < len(members) and members[index].name != name:
                member = members[index]
                if not (member.optional or member.has_default()):
                    raise self.fail(path, f"missing component <{member.name}>")
                index += 1
            if index == len(members):
                raise self.fail(path, f"unexpected or misplaced element {_show(child.tag, '')}")
            member = members[index]
            out.append(self.content(child, member, member.name, depth + 1, path + "/" + name))
            index += 1
        for member in members[index:]:
            if not (member.optional or member.has_default()):
                raise self.fail(path, f"missing component <{member.name}>")

    def items(self, el: Any, t: Any, out: ET.Element, depth: int, path: str) -> None:
        if _has_text(el.text):
            raise self.fail(path, "unexpected text in a SEQUENCE OF")
        element_type = t.element_type
        resolved = element_type
        while isinstance(resolved, _xer.Recursive):
            resolved = resolved._inner
        value_list = isinstance(resolved, _VALUE_LIST_TYPES)
        for child in el:
            if _has_text(child.tail):
                raise self.fail(path, "unexpected text in a SEQUENCE OF")
            if not value_list:
                out.append(self.check(child, element_type, element_type.name, depth + 1, path))
            elif isinstance(resolved, _xer.Choice):
                out.append(self.alternative(child, resolved, depth, path))
            elif isinstance(resolved, _xer.Boolean):
                value = self.local(child.tag)
                if value not in ("true", "false") or len(child) or _has_text(child.text):
                    raise self.fail(path, "BOOLEAN items must be <true/> or <false/>")
                ET.SubElement(out, value)
            else:
                raise self.fail(path, "unsupported SEQUENCE OF element type")

    def single_child(self, el: Any, path: str) -> Any:
        if _has_text(el.text):
            raise self.fail(path, "unexpected text")
        children = list(el)
        if len(children) != 1:
            raise self.fail(path, f"expected exactly one element, got {len(children)}")
        if _has_text(children[0].tail):
            raise self.fail(path, "unexpected text")
        return children[0]

    def empty(self, el: Any, path: str) -> None:
        if len(el) or _has_text(el.text):
            raise self.fail(path, "element must be empty")

    def leaf(self, el: Any, t: Any, path: str) -> str | None:
        if len(el):
            raise self.fail(path, f"unexpected element inside {t.type_name}")
        text: str | None = el.text
        if isinstance(t, _xer.Integer):
            stripped = (text or "").strip()
            if not _INTEGER_RE.fullmatch(stripped) or len(stripped) > _MAX_INTEGER_DIGITS:
                raise self.fail(path, f"not an INTEGER: {_clip(text)}")
            return stripped
        if isinstance(t, _xer.OctetString):
            compact = _WS_RE.sub("", text or "")
            if not _HEX_RE.fullmatch(compact):
                raise self.fail(path, f"OCTET STRING must be pairs of hex digits: {_clip(text)}")
            return compact or None
        if isinstance(t, _xer.BitString):
            compact = _WS_RE.sub("", text or "")
            if not _BITS_RE.fullmatch(compact) or len(compact) > _MAX_BITS:
                raise self.fail(path, f"BIT STRING must be 0/1 characters: {_clip(text)}")
            return compact or None
        if isinstance(t, _xer.ObjectIdentifier):
            stripped = (text or "").strip()
            if not _OID_RE.fullmatch(stripped):
                raise self.fail(path, f"not an OBJECT IDENTIFIER: {_clip(text)}")
            return stripped
        if isinstance(t, _xer.VisibleString):
            if text is not None and not _VISIBLE_RE.fullmatch(text):
                raise self.fail(path, "VisibleString holds characters outside 0x20-0x7E")
            return text
        if isinstance(t, _STRING_TYPES):
            if text is not None and _XML_ILLEGAL_RE.search(text):
                raise self.fail(path, "string holds characters XML 1.0 cannot carry")
            return text
        raise self.fail(path, f"unsupported ASN.1 type {t.type_name}")


def _has_text(text: str | None) -> bool:
    return text is not None and not text.isspace() and text != ""


def _show(tag: Any, prefix: str) -> str:
    if not isinstance(tag, str):
        return "a non-element node"
    if prefix and tag.startswith(prefix):
        tag = tag[len(prefix) :]
    return f"<{tag}>"


def _clip(text: str | None) -> str:
    if text is None:
        return "''"
    return repr(text if len(text) <= 40 else text[:40] + "...")
