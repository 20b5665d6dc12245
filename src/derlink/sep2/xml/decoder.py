"""Decode 2030.5 XML bytes into declared objects, refusing anything hostile or invalid.

Hardening (ARCHITECTURE principle 4): the body's size is checked before parsing; a document
with a DOCTYPE is refused outright, so no entity is ever declared, expanded or fetched (XXE,
billion laughs, external DTDs all get a 400); lxml runs with ``resolve_entities=False``,
``no_network=True``, ``load_dtd=False``, ``huge_tree=False``; only UTF-8 (or its US-ASCII
subset) is read, as 2030.5 requires; gzip bodies are decompressed with a cap.

Leniency, decided here once:

- namespaces: the 2018 ``urn:ieee:std:2030.5:ns`` and 2013 ``http://ieee.org/2030.5`` for
  2030.5 elements, CSIP-AUS ``https://csipaus.org/ns`` (v1.2) and ``.../ns/v1.3``; any prefixes;
- lexical forms as XSD allows them: surrounding whitespace on numbers, booleans, hex and URIs;
  ``1``/``0`` booleans; lower-case hex;
- elements in a namespace derlink does not know (vendor extensions) are skipped, and so are
  unknown elements in a CSIP-AUS namespace: CSIP-AUS keeps growing, and deployed head-ends
  emit csipaus elements no published XSD has (envoy's ``CombinedTimeTariffIntervalListLink``);
- attributes the XSD does not define are skipped (envoy-schema writes ``pollRate`` on
  TimeTariffIntervalList, where sep.xsd has none);
- a List or SubscribableList without both ``all`` and ``results`` gets both set to the number
  of items it carries: clients POST MirrorMeterReadingList without them (envoy-schema's
  request model has neither);
- everything else is strict: element order is the XSD sequence (no deployed client is known to
  reorder elements, and order carries meaning for repeated elements), an unknown 2030.5 element,
  an unqualified element, text where the XSD has none, a repeated single element, a missing
  required element, and any out-of-range value are errors naming the element path.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Final, TypeVar, overload

from lxml import etree

from derlink import xmlsafe
from derlink.sep2.xml.errors import Sep2DecodeError, Sep2TooLarge
from derlink.sep2.xml.model import TRUST, Sep2Object, declared_types, spec_of
from derlink.sep2.xml.namespaces import CSIPAUS_NAMESPACES, SEP_NAMESPACES, XSI
from derlink.sep2.xml.simple import AnySimpleType

T = TypeVar("T", bound=Sep2Object)

DEFAULT_MAX_BYTES: Final = 256 * 1024
_WS: Final = " \t\r\n"
_XSI_TYPE: Final = f"{{{XSI}}}type"
_ENCODING: Final = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]*)["']""")
_ALLOWED_ENCODINGS: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


class _Invalid(Exception):
    """A decoding failure on its way up; ``path`` grows as it leaves each element."""

    def __init__(self, message: str, *path: str) -> None:
        super().__init__(message)
        self.message = message
        self.path = list(path)


def _tags(name: str, csipaus: bool) -> tuple[str, ...]:
    namespaces = CSIPAUS_NAMESPACES if csipaus else SEP_NAMESPACES
    return tuple(f"{{{ns}}}{name}" for ns in namespaces)


# One child element of a plan: (position in the XSD sequence, field name, simple type or None,
# declared class or None, repeated, polymorphic).
_Child = tuple[int, str, "AnySimpleType | None", "type[Sep2Object] | None", bool, bool]


class _Plan:
    """How to read one declared class."""

    __slots__ = (
        "attributes",
        "bounded",
        "children",
        "cls",
        "list_items",
        "name",
        "required",
        "required_names",
    )

    def __init__(self, cls: type[Sep2Object]) -> None:
        spec = spec_of(cls)
        self.cls = cls
        self.name = spec.name
        self.attributes: dict[str, tuple[str, AnySimpleType]] = {
            f.name: (f.name, f.simple) for f in spec.attributes if f.simple is not None
        }
        self.children: dict[str, _Child] = {}
        for i, f in enumerate(spec.elements):
            child: _Child = (i, f.name, f.simple, f.cls, f.repeated, f.polymorphic)
            for tag in _tags(f.name, f.csipaus):
                self.children[tag] = child
        self.required = tuple(f for f in spec.fields if f.required)
        self.required_names = frozenset(f.name for f in self.required)
        # List and SubscribableList: "all" and "results" may be left out of a POSTed list.
        items = [f.name for f in spec.elements if f.repeated]
        names = {f.name for f in spec.attributes}
        self.list_items = items[0] if {"all", "results"} <= names and len(items) == 1 else None
        self.bounded = tuple(
            (f.name, f.occurs.min, f.occurs.max)
            for f in spec.elements
            if f.repeated and (f.occurs.min or f.occurs.max is not None)
        )


_PLANS: dict[type[Sep2Object], _Plan] = {}
_ROOTS: dict[str, type[Sep2Object]] = {}
_XSD_TYPES: dict[tuple[bool, str], type[Sep2Object]] = {}


def _plan(cls: type[Sep2Object]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
    return plan


def _index_roots() -> None:
    for cls in declared_types():
        spec = spec_of(cls)
        for tag in _tags(spec.name, spec.csipaus):
            _ROOTS[tag] = cls
        _XSD_TYPES[spec.csipaus, spec.xsd_type] = cls


def _local(tag: str) -> str:
    return _short(tag.rpartition("}")[2])


def _short(text: str, limit: int = 60) -> str:
    """``text`` cut for an error message, which must stay one short line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_ours(tag: str) -> bool:
    ns = tag[1:].partition("}")[0] if tag[:1] == "{" else ""
    return ns in SEP_NAMESPACES


def _derived(elem: Any, declared: type[Sep2Object]) -> type[Sep2Object]:
    """The class ``xsi:type`` names on ``elem``, which must derive from ``declared``."""
    value = elem.get(_XSI_TYPE)
    if value is None:
        return declared
    prefix, _, name = value.strip(_WS).rpartition(":")
    ns = elem.nsmap.get(prefix or None)
    if ns not in SEP_NAMESPACES + CSIPAUS_NAMESPACES:
        raise _Invalid(f"unknown xsi:type {_short(value)!r}")
    key = (ns in CSIPAUS_NAMESPACES, name)
    if key not in _XSD_TYPES and len(_XSD_TYPES) < len(declared_types()):
        _index_roots()
    cls = _XSD_TYPES.get(key)
    if cls is None:
        raise _Invalid(f"unknown xsi:type {_short(value)!r}")
    if not issubclass(cls, declared):
        raise _Invalid(f"xsi:type {_short(value)!r} does not derive from {declared.__name__}")
    return cls


def _read(elem: Any, cls: type[Sep2Object]) -> Sep2Object:
    plan = _PLANS.get(cls) or _plan(cls)
    kwargs: dict[str, Any] = {}
    attributes = plan.attributes
    for key, raw in elem.items():
        known = attributes.get(key)
        if known is None:
            continue
        name, kind = known
        try:
            kwargs[name] = kind.from_text(raw)
        except ValueError as err:
            raise _Invalid(str(err), "@" + name) from None
    text = elem.text
    if text and text.strip(_WS):
        raise _Invalid("text is not allowed here")
    children = plan.children
    lists: dict[str, list[Any]] = {}
    last = -1
    for child in elem:
        tag = child.tag
        if type(tag) is not str:  # comment or processing instruction
            continue
        entry = children.get(tag)
        if entry is None:
            if tag[:1] != "{":
                raise _Invalid(
                    f"element <{_short(tag)}> has no namespace; 2030.5 elements are qualified"
                )
            if _is_ours(tag):
                raise _Invalid(f"unexpected element <{_local(tag)}>")
        else:
            index, name, simple, target, repeated, polymorphic = entry
            if index <= last:
                if index < last:
                    raise _Invalid(f"element <{name}> is out of the XSD order")
                if not repeated:
                    raise _Invalid(f"element <{name}> appears more than once")
            last = index
            try:
                if simple is not None:
                    if len(child):
                        raise _Invalid("must hold text, not elements")
                    text = child.text
                    try:
                        value = simple.from_text("" if text is None else text)
                    except ValueError as err:
                        raise _Invalid(str(err)) from None
                else:
                    assert target is not None
                    if polymorphic:
                        target = _derived(child, target)
                    value = _read(child, target)
            except _Invalid as err:
                err.path.append(f"{name}[{len(lists.get(name, ()))}]" if repeated else name)
                raise
            if repeated:
                seq = lists.get(name)
                if seq is None:
                    lists[name] = [value]
                else:
                    seq.append(value)
            else:
                kwargs[name] = value
        tail = child.tail
        if tail and tail.strip(_WS):
            raise _Invalid("text is not allowed here")
    if plan.list_items is not None and "all" not in kwargs and "results" not in kwargs:
        kwargs["all"] = kwargs["results"] = len(lists.get(plan.list_items, ()))
    if not plan.required_names <= kwargs.keys():
        f = next(f for f in plan.required if f.name not in kwargs)
        what = "attribute" if f.attribute else "element"
        raise _Invalid(f"required {what} is missing", ("@" if f.attribute else "") + f.name)
    for name, lo, hi in plan.bounded:
        count = len(lists.get(name, ()))
        if count < lo or (hi is not None and count > hi):
            bound = f"{lo}..{'unbounded' if hi is None else hi}"
            raise _Invalid(f"{count} items, the XSD allows {bound}", name)
    for name, seq in lists.items():
        kwargs[name] = tuple(seq)
    # Every value was checked above and by SimpleType.from_text; the constructor runs trusted.
    return cls(**kwargs)


def _check_prolog(data: bytes) -> None:
    if b"\x00" in data:
        raise Sep2DecodeError("body is not UTF-8 XML (NUL byte)")
    head = data[3:] if data[:3] == b"\xef\xbb\xbf" else data
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise Sep2DecodeError("body is not UTF-8 XML (UTF-16 byte order mark)")
    match = _ENCODING.match(head)
    if match is not None and match.group(1).decode().lower() not in _ALLOWED_ENCODINGS:
        raise Sep2DecodeError(
            f"XML encoding {match.group(1).decode()!r} is not accepted; 2030.5 bodies are UTF-8"
        )
    # A DOCTYPE is where entities are declared; 2030.5 documents never have one.
    if xmlsafe.declares_dtd(data):
        raise Sep2DecodeError("DOCTYPE is not allowed in a 2030.5 document")


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """The root element of ``data``, parsed with the hardened parser (size, DTD, encoding)."""
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise Sep2TooLarge(f"body of {len(data)} bytes is larger than {max_bytes}")
    _check_prolog(data)
    try:
        root = etree.fromstring(data, xmlsafe.parser())
    except (etree.LxmlError, ValueError) as err:
        raise Sep2DecodeError(f"not well-formed XML: {_short(str(err), 200)}") from None
    if xmlsafe.has_dtd(root):
        raise Sep2DecodeError("DOCTYPE is not allowed in a 2030.5 document")
    return root


@overload
def decode(data: bytes, expected: type[T], *, max_bytes: int = DEFAULT_MAX_BYTES) -> T: ...
@overload
def decode(
    data: bytes, expected: tuple[type[T], ...], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> T: ...
@overload
def decode(
    data: bytes, expected: None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Sep2Object: ...
def decode(
    data: bytes,
    expected: type[Sep2Object] | tuple[type[Sep2Object], ...] | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Sep2Object:
    """The object ``data`` holds; its root must be ``expected`` (a class, a tuple, any if None).

    A subclass counts as expected: ``decode(body, Response)`` takes a ``<DERControlResponse>``.
    Raises :class:`Sep2TooLarge` (413) when ``data`` is over ``max_bytes``, and
    :class:`Sep2DecodeError` (400) for anything not well-formed, not valid or not expected.
    """
    root = parse(data, max_bytes=max_bytes)
    tag = root.tag
    cls = _ROOTS.get(tag)
    if cls is None and len(_XSD_TYPES) < len(declared_types()):
        _index_roots()  # a type declared after this module was imported
        cls = _ROOTS.get(tag)
    if cls is None:
        raise Sep2DecodeError(f"unknown root element {_short(tag, 120)!r}")
    if expected is not None and not issubclass(cls, expected):
        names = expected if isinstance(expected, tuple) else (expected,)
        wanted = " or ".join(f"<{c.__name__}>" for c in names)
        raise Sep2DecodeError(f"expected {wanted}, got <{cls.__name__}>")
    TRUST.on = True
    try:
        return _read(root, cls)
    except _Invalid as err:
        path = "/".join([spec_of(cls).name, *reversed(err.path)])
        raise Sep2DecodeError(f"{path}: {err.message}") from None
    except RecursionError:  # pragma: no cover - libxml2 caps depth far below Python's limit
        raise Sep2DecodeError("document nests too deeply") from None
    finally:
        TRUST.on = False


def gunzip_body(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Decompress a ``Content-Encoding: gzip`` body, refusing more than ``max_bytes`` of output.

    Decompression streams with a cap, so a bomb costs at most ``max_bytes`` of memory before
    :class:`Sep2TooLarge`; a corrupt or truncated stream is a :class:`Sep2DecodeError`.
    Concatenated gzip members (RFC 1952 §2.2) are decompressed in turn.
    """
    out = bytearray()
    rest = data
    while True:
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += stream.decompress(rest, max_bytes + 1 - len(out))
        except zlib.error as err:
            raise Sep2DecodeError(f"bad gzip body: {err}") from None
        if len(out) > max_bytes:
            raise Sep2TooLarge(f"gzip body inflates to more than {max_bytes} bytes")
        if not stream.eof:
            if stream.unconsumed_tail:
                raise Sep2TooLarge(f"gzip body inflates to more than {max_bytes} bytes")
            raise Sep2DecodeError("truncated gzip body")
        rest = stream.unused_data
        if not rest:
            return bytes(out)
