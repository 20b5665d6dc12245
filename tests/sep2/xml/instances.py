"""Instances of every declared 2030.5 type, derived from the declarations themselves.

``full(cls)`` sets every optional field, fills repeated elements with several items and puts
integers at the ends of their XSD ranges; ``minimal(cls)`` sets only what the XSD requires;
``strategy(cls)`` is a Hypothesis strategy over valid instances. All three read the
:class:`~derlink.sep2.xml.model.TypeSpec` of the class, so a new type is covered by declaring it.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from hypothesis import strategies as st

from derlink.sep2.xml import (
    DER,
    DERControl,
    DERControlResponse,
    DERStatus,
    DrResponse,
    EndDevice,
    Link,
    PriceResponse,
    Resource,
    Response,
    Sep2Object,
    TextResponse,
    spec_of,
)
from derlink.sep2.xml.edev import ConnectionPoint
from derlink.sep2.xml.model import FieldSpec
from derlink.sep2.xml.simple import (
    AnySimpleType,
    AnyURIType,
    BooleanType,
    HexBinaryType,
    IntegerType,
    StringType,
)

# What a polymorphic (xsi:type) element holds in generated instances: a few derived types,
# none of which can contain the element again.
DERIVED: dict[type[Sep2Object], tuple[type[Sep2Object], ...]] = {
    Resource: (Resource, DERControl, EndDevice, DER, DERStatus, ConnectionPoint),
    Response: (Response, DERControlResponse, DrResponse, PriceResponse, TextResponse),
}
REPEAT = 3
TEXT = "A&B <c> \"d\" 'e' ]]> é\u00a0\U0001f50c\r\n\tz"


def _simple_full(simple: AnySimpleType, n: int, name: str) -> Any:
    if isinstance(simple, IntegerType):
        return simple.hi if n % 2 == 0 else simple.lo
    if isinstance(simple, BooleanType):
        return n % 2 == 0
    if isinstance(simple, HexBinaryType):
        return bytes((0xA0 + i + n) % 256 for i in range(simple.max_octets))
    if isinstance(simple, AnyURIType):
        return f"/{name}/{n}?a=1&b=%22x%22"
    assert isinstance(simple, StringType)
    return (TEXT * 20)[: simple.max_length or 300]


def _simple_min(simple: AnySimpleType, name: str) -> Any:
    if isinstance(simple, IntegerType):
        return max(simple.lo, 0)
    if isinstance(simple, BooleanType):
        return False
    if isinstance(simple, HexBinaryType):
        return b"\x01"
    if isinstance(simple, AnyURIType):
        return f"/{name}"
    return ""


def full(cls: type[Sep2Object], *, v13: bool = True, n: int = 0) -> Sep2Object:
    """``cls`` with every field set (CSIP-AUS v1.3-only fields only when ``v13``)."""
    kwargs: dict[str, Any] = {}
    counter = itertools.count(n)
    for f in spec_of(cls).fields:
        if f.v13_only and not v13:
            continue
        if f.repeated:
            count = min(REPEAT, f.occurs.max or REPEAT)
            kwargs[f.name] = tuple(_full_value(f, next(counter), v13) for _ in range(count))
        else:
            kwargs[f.name] = _full_value(f, next(counter), v13)
    return cls(**kwargs)


def _full_value(f: FieldSpec, n: int, v13: bool) -> Any:
    if f.simple is not None:
        return _simple_full(f.simple, n, f.name)
    assert f.cls is not None
    cls = f.cls
    if f.polymorphic:
        choices = DERIVED[cls]
        cls = choices[n % len(choices)]
    return full(cls, v13=v13, n=n)


def minimal(cls: type[Sep2Object]) -> Sep2Object:
    """``cls`` with only its required fields (and the fewest repeated items) set."""
    kwargs: dict[str, Any] = {}
    for f in spec_of(cls).fields:
        if f.repeated and f.occurs.min:
            kwargs[f.name] = tuple(_min_value(f) for _ in range(f.occurs.min))
        elif f.required:
            kwargs[f.name] = _min_value(f)
    return cls(**kwargs)


def _min_value(f: FieldSpec) -> Any:
    if f.simple is not None:
        return _simple_min(f.simple, f.name)
    assert f.cls is not None
    return minimal(f.cls)


def strip_v13(obj: Sep2Object) -> Sep2Object:
    """``obj`` without the fields CSIP-AUS v1.2 does not define, at any depth."""
    changes: dict[str, Any] = {}
    for f in spec_of(type(obj)).fields:
        value = getattr(obj, f.name)
        if f.v13_only and value is not None:
            changes[f.name] = None
        elif f.cls is not None and f.repeated:
            changes[f.name] = tuple(strip_v13(item) for item in value)
        elif f.cls is not None and value is not None:
            changes[f.name] = strip_v13(value)
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


# --- Hypothesis ---------------------------------------------------------------------------

XML_CHARS = st.characters(exclude_categories=("Cs", "Cc", "Cn")) | st.sampled_from("\t\n\r")
URIS = st.from_regex(
    r"\A(https://[a-z0-9]{1,8}(\.[a-z]{2,3})?)?(/[A-Za-z0-9_.~!$&'()*+,;=:@-]{1,8}){0,4}/?"
    r"(\?[A-Za-z0-9=&]{0,12})?\Z"
)


def _simple_strategy(simple: AnySimpleType) -> st.SearchStrategy[Any]:
    if isinstance(simple, IntegerType):
        return st.integers(simple.lo, simple.hi)
    if isinstance(simple, BooleanType):
        return st.booleans()
    if isinstance(simple, HexBinaryType):
        return st.binary(max_size=simple.max_octets)
    if isinstance(simple, AnyURIType):
        return URIS
    assert isinstance(simple, StringType)
    return st.text(XML_CHARS, max_size=simple.max_length or 64)


def _value_strategy(f: FieldSpec, v13: bool) -> st.SearchStrategy[Any]:
    if f.simple is not None:
        return _simple_strategy(f.simple)
    assert f.cls is not None
    if f.polymorphic:
        return st.one_of([strategy(c, v13=v13) for c in DERIVED[f.cls]])
    return strategy(f.cls, v13=v13)


def strategy(cls: type[Sep2Object], *, v13: bool = True) -> st.SearchStrategy[Any]:
    """Valid instances of ``cls``: optional fields present or not, 0..3 repeated items."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for f in spec_of(cls).fields:
        if f.v13_only and not v13:
            continue
        value = st.deferred(lambda f=f: _value_strategy(f, v13))  # type: ignore[misc]
        if f.repeated:
            hi = min(f.occurs.max or 3, 3)
            fields[f.name] = st.lists(value, min_size=f.occurs.min, max_size=hi).map(tuple)
        elif f.required:
            fields[f.name] = value
        else:
            fields[f.name] = st.none() | value
    return st.builds(cls, **fields)


__all__ = ["DERIVED", "Link", "full", "minimal", "strategy", "strip_v13"]
