"""Encode declared 2030.5 objects to XML bytes.

The encoder writes strings, not a tree: each declared class gets a plan once (a getter for all
its fields and, per field, the ready-made tag strings and a formatter), and encoding walks the
plans. Objects are valid by construction (:mod:`derlink.sep2.xml.model`), so nothing is checked
here except the CSIP-AUS namespace choice.

Output: no XML declaration (UTF-8 is the XML default); the root declares the 2018 namespace as
the default and ``xmlns:csipaus`` only when a CSIP-AUS element occurs; an element whose value is
a subclass of its declared type says so with ``xsi:type`` (IEEE 2030.5-2018 Notification).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

from derlink.sep2.xml.model import FieldSpec, Sep2Object, TypeSpec, spec_of
from derlink.sep2.xml.namespaces import CSIPAUS_NAMESPACES, CSIPAUS_V13, NS, XSI
from derlink.sep2.xml.simple import (
    AnySimpleType,
    BooleanType,
    HexBinaryType,
    IntegerType,
    StringType,
)

_TEXT_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
# In attribute values a parser normalises tab, newline and CR to spaces, so they are escaped too.
_ATTR_ESCAPES: Final = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\r": "&#13;",
        "\n": "&#10;",
        "\t": "&#9;",
    }
)
_ATTR_SPECIAL: Final = re.compile('[&<>"\r\n\t]')
_PREFIX: Final = "csipaus:"

_SIMPLE, _COMPLEX, _SIMPLE_LIST, _COMPLEX_LIST = range(4)


def _escape_text(value: str) -> str:
    if "&" in value or "<" in value or ">" in value or "\r" in value:
        return value.translate(_TEXT_ESCAPES)
    return value


def _escape_attr(value: str) -> str:
    if _ATTR_SPECIAL.search(value) is not None:
        return value.translate(_ATTR_ESCAPES)
    return value


def _hex_text(value: bytes) -> str:
    return value.hex().upper()


_BOOL_TEXT: Final = {True: "true", False: "false"}


def _formatter(simple: AnySimpleType, attribute: bool) -> Callable[[Any], str]:
    if isinstance(simple, IntegerType):
        return int.__repr__
    if isinstance(simple, BooleanType):
        return _BOOL_TEXT.__getitem__
    if isinstance(simple, HexBinaryType):
        return _hex_text
    assert isinstance(simple, StringType)
    return _escape_attr if attribute else _escape_text


def _qname(name: str, csipaus: bool) -> str:
    return _PREFIX + name if csipaus else name


class _Plan:
    """How to write one declared class."""

    __slots__ = ("attributes", "elements", "values_of")

    def __init__(self, spec: TypeSpec) -> None:
        names = [f.name for f in spec.fields]
        if len(names) == 1:
            one = attrgetter(names[0])
            self.values_of: Callable[[Any], tuple[Any, ...]] = lambda obj: (one(obj),)
        else:
            self.values_of = attrgetter(*names)
        self.attributes: tuple[tuple[int, str, Callable[[Any], str]], ...] = tuple(
            (i, f' {f.name}="', _formatter(f.simple, attribute=True))
            for i, f in enumerate(spec.fields)
            if f.attribute and f.simple is not None
        )
        self.elements: tuple[tuple[int, int, str, Any], ...] = tuple(
            self._element(i, f) for i, f in enumerate(spec.fields) if not f.attribute
        )

    @staticmethod
    def _element(i: int, f: FieldSpec) -> tuple[int, int, str, Any]:
        qname = _qname(f.name, f.csipaus)
        if f.simple is not None:
            kind = _SIMPLE_LIST if f.repeated else _SIMPLE
            return i, kind, qname, _formatter(f.simple, attribute=False)
        return i, _COMPLEX_LIST if f.repeated else _COMPLEX, qname, f.cls


_PLANS: dict[type[Sep2Object], _Plan] = {}


def _plan(cls: type[Sep2Object]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(spec_of(cls))
    return plan


def _xsi_type(value: Sep2Object) -> str:
    spec = spec_of(type(value))
    return f' xmlns:xsi="{XSI}" xsi:type="{_qname(spec.xsd_type, spec.csipaus)}"'


def _write(obj: Sep2Object, qname: str, out: list[str], extra: str = "") -> None:
    plan = _PLANS.get(type(obj)) or _plan(type(obj))
    values = plan.values_of(obj)
    head = "<" + qname + extra
    for i, prefix, fmt in plan.attributes:
        value = values[i]
        if value is not None:
            head += prefix + fmt(value) + '"'
    start = len(out)
    out.append(head)
    append = out.append
    for i, kind, name, how in plan.elements:
        value = values[i]
        if kind == _SIMPLE:
            if value is not None:
                append(f"<{name}>{how(value)}</{name}>")
        elif kind == _COMPLEX:
            if value is not None:
                if type(value) is how:
                    _write(value, name, out)
                else:
                    _write(value, name, out, _xsi_type(value))
        elif kind == _COMPLEX_LIST:
            for item in value:
                if type(item) is how:
                    _write(item, name, out)
                else:
                    _write(item, name, out, _xsi_type(item))
        else:
            for item in value:
                append(f"<{name}>{how(item)}</{name}>")
    if len(out) == start + 1:
        out[start] = head + "/>"
    else:
        out[start] = head + ">"
        append(f"</{qname}>")


def encode(obj: Sep2Object, *, csipaus_ns: str = CSIPAUS_V13) -> bytes:
    """The XML document of ``obj``: UTF-8, no XML declaration, 2018 namespace as default.

    ``csipaus_ns`` is the URI bound to the ``csipaus`` prefix, declared on the root only if a
    CSIP-AUS element is written: ``CSIPAUS_V13`` (default) or ``CSIPAUS_V12``. Fields defined
    only from CSIP-AUS v1.3 (``opModStorageTargetW``, ``vppModes*``, ``setMinWh``) are written
    as set, whichever URI is chosen; leave them ``None`` for v1.2 peers.
    """
    if csipaus_ns not in CSIPAUS_NAMESPACES:
        raise ValueError(f"csipaus_ns must be one of {CSIPAUS_NAMESPACES}, not {csipaus_ns!r}")
    spec = spec_of(type(obj))
    qname = _qname(spec.name, spec.csipaus)
    out: list[str] = []
    _write(obj, qname, out)
    body = "".join(out)
    # Text and attribute values are escaped, so "<csipaus:" can only be a tag.
    declarations = f' xmlns="{NS}"'
    if "<" + _PREFIX in body:
        declarations += f' xmlns:csipaus="{csipaus_ns}"'
    cut = len(qname) + 1
    return (body[:cut] + declarations + body[cut:]).encode()
