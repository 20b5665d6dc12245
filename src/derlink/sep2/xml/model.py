"""Declared XML: each 2030.5 type is a frozen dataclass whose fields are the XSD's names.

In the spirit of slixmpp's stanza classes, a type declares its XML instead of building it::

    @sep2_type
    class DERControl(RandomizableEvent):
        DERControlBase: DERControlBase
        deviceCategory: DeviceCategoryType | None = None

The declaration is read once, when the class is created, into a :class:`TypeSpec`:

- the element name is the class name, in the 2030.5 namespace (``@csipaus_type`` puts
  csipaus-ext.xsd's ``ConnectionPoint``, of type ``ConnectionPointType``, in CSIP-AUS's);
- fields come in dataclass order, which is the XSD's: a subclass's fields follow its base's,
  as an ``xs:extension`` sequence follows its base sequence;
- a field annotated ``Annotated[..., ATTRIBUTE]`` is an XML attribute, every other field a child
  element; ``CSIPAUS`` puts the element in the CSIP-AUS namespace (``CSIPAUS_V13``: defined from
  CSIP-AUS v1.3 on);
- ``X | None = None`` is ``minOccurs="0"``; ``tuple[X, ...] = ()`` is a repeated element, bounded
  by ``Occurs(min, max)``; a field without default is required;
- a simple type comes from the annotation (:mod:`derlink.sep2.xml.simple`, or ``bool``), a
  complex type is another declared class. ``XSI_TYPE`` lets the element hold a subclass, written
  with ``xsi:type`` (Notification's ``Resource``, ResponseList's ``Response``).

Construction validates every field against the XSD constraint (type, range, length, occurrence)
and raises :class:`FieldError`; an object that exists is therefore always encodable.
"""

from __future__ import annotations

import dataclasses
import threading
import types
from collections.abc import Callable
from operator import attrgetter
from typing import (
    Annotated,
    Any,
    Final,
    TypeVar,
    Union,
    cast,
    dataclass_transform,
    get_args,
    get_origin,
)
from typing import get_type_hints as _get_type_hints

from derlink.sep2.xml.simple import BOOLEAN, AnySimpleType, SimpleType

S = TypeVar("S", bound="Sep2Object")


class Marker:
    """A tag placed in ``Annotated[...]`` to say how a field maps to XML."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ATTRIBUTE: Final = Marker("ATTRIBUTE")
CSIPAUS: Final = Marker("CSIPAUS")
CSIPAUS_V13: Final = Marker("CSIPAUS_V13")
XSI_TYPE: Final = Marker("XSI_TYPE")


@dataclasses.dataclass(frozen=True, slots=True)
class Occurs:
    """``minOccurs``/``maxOccurs`` of a repeated element (``None``: unbounded)."""

    min: int = 0
    max: int | None = None


class FieldError(ValueError):
    """A constructor argument the XSD does not allow; names the type and the field."""

    def __init__(self, type_name: str, field: str, reason: str) -> None:
        super().__init__(f"{type_name}.{field}: {reason}")
        self.type_name = type_name
        self.field = field
        self.reason = reason


class _Trust(threading.local):
    """Set by the decoder, which checks every value itself, while it builds objects."""

    on = False


TRUST: Final = _Trust()


class Sep2Object:
    """Base of every declared 2030.5 type."""

    __slots__ = ()

    def __post_init__(self) -> None:
        if TRUST.on:
            return
        validator = _VALIDATORS.get(type(self))
        if validator is None:
            raise TypeError(f"{type(self).__name__} is not declared with @sep2_type")
        validator(self)

    def __repr__(self) -> str:
        spec = _SPECS[type(self)]
        parts = []
        for f in spec.fields:
            value = getattr(self, f.name)
            if type(value) is bytes:
                parts.append(f"{f.name}=bytes.fromhex({value.hex().upper()!r})")
            elif value is not None and value != ():
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one dataclass field maps to an XML attribute or child element."""

    name: str
    attribute: bool
    csipaus: bool
    v13_only: bool
    simple: AnySimpleType | None
    cls: type[Sep2Object] | None
    required: bool
    repeated: bool
    occurs: Occurs
    polymorphic: bool


@dataclasses.dataclass(frozen=True, slots=True)
class TypeSpec:
    """The XML of one declared type: element name, attributes and children in XSD order."""

    cls: type[Sep2Object]
    name: str
    csipaus: bool
    xsd_type: str
    fields: tuple[FieldSpec, ...]

    @property
    def attributes(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.attribute)

    @property
    def elements(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if not f.attribute)


_SPECS: dict[type[Sep2Object], TypeSpec] = {}
_VALIDATORS: dict[type[Sep2Object], Callable[[Sep2Object], None]] = {}


def spec_of(cls: type[Sep2Object]) -> TypeSpec:
    """The declared XML of ``cls``."""
    spec = _SPECS.get(cls)
    if spec is None:
        raise TypeError(f"{getattr(cls, '__name__', cls)!r} is not a declared 2030.5 type")
    return spec


def declared_types() -> tuple[type[Sep2Object], ...]:
    """Every declared type, in declaration order."""
    return tuple(_SPECS)


def _strip(hint: Any) -> tuple[Any, list[Any]]:
    markers: list[Any] = []
    while get_origin(hint) is Annotated:
        markers.extend(hint.__metadata__)
        hint = hint.__origin__
    return hint, markers


def _field_spec(owner: str, field: dataclasses.Field[Any], hint: Any) -> FieldSpec:
    where = f"{owner}.{field.name}"
    tp, markers = _strip(hint)
    optional = False
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) != 1 or len(get_args(tp)) != 2:
            raise TypeError(f"{where}: only 'X | None' unions map to XML")
        optional = True
        tp, more = _strip(members[0])
        markers += more
    repeated = get_origin(tp) is tuple
    if repeated:
        args = get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{where}: repeated elements are tuple[X, ...]")
        tp, more = _strip(args[0])
        markers += more
    simple = next((m for m in markers if isinstance(m, SimpleType)), None)
    if simple is None and tp is bool:
        simple = BOOLEAN
    cls = tp if isinstance(tp, type) and issubclass(tp, Sep2Object) else None
    if (simple is None) == (cls is None):
        raise TypeError(f"{where}: {hint!r} is neither a simple type nor a declared class")
    has_default = field.default is not dataclasses.MISSING
    if repeated and (optional or field.default != ()):
        raise TypeError(f"{where}: a repeated element defaults to ()")
    if optional and (not has_default or field.default is not None):
        raise TypeError(f"{where}: an optional field defaults to None")
    if not optional and not repeated and has_default:
        raise TypeError(f"{where}: a required field has no default")
    attribute = ATTRIBUTE in markers
    if attribute and (repeated or cls is not None):
        raise TypeError(f"{where}: an attribute holds one simple value")
    occurs = next((m for m in markers if isinstance(m, Occurs)), Occurs())
    return FieldSpec(
        name=field.name,
        attribute=attribute,
        csipaus=CSIPAUS in markers or CSIPAUS_V13 in markers,
        v13_only=CSIPAUS_V13 in markers,
        simple=simple,
        cls=cls,
        required=not optional and not repeated,
        repeated=repeated,
        occurs=occurs,
        polymorphic=XSI_TYPE in markers,
    )


def _value_check(f: FieldSpec) -> Callable[[object], None]:
    if f.simple is not None:
        return f.simple.check
    cls = f.cls
    assert cls is not None
    if f.polymorphic:

        def check_instance(value: object) -> None:
            if not isinstance(value, cls):
                raise TypeError(f"must be a {cls.__name__}, not {type(value).__name__}")

        return check_instance

    def check_exact(value: object) -> None:
        if type(value) is not cls:
            raise TypeError(f"must be a {cls.__name__}, not {type(value).__name__}")

    return check_exact


def _field_check(f: FieldSpec) -> Callable[[object], None]:
    one = _value_check(f)
    if not f.repeated:
        return one
    lo, hi = f.occurs.min, f.occurs.max

    def check_tuple(value: object) -> None:
        if type(value) is not tuple:
            raise TypeError(f"a repeated element must be a tuple, not {type(value).__name__}")
        if len(value) < lo or (hi is not None and len(value) > hi):
            bound = f"{lo}..{'unbounded' if hi is None else hi}"
            raise ValueError(f"{len(value)} items, the XSD allows {bound}")
        for item in value:
            one(item)

    return check_tuple


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) == 1:
        get_one = attrgetter(names[0])
        return lambda obj: (get_one(obj),)
    return attrgetter(*names)


def _make_validator(spec: TypeSpec) -> Callable[[Sep2Object], None]:
    fields = spec.fields
    checks = [(f.name, f.required, _field_check(f)) for f in fields]
    values_of = _getter([f.name for f in fields])
    type_name = spec.name

    def validate(obj: Sep2Object) -> None:
        for (name, required, check), value in zip(checks, values_of(obj), strict=True):
            if value is None:
                if required:
                    raise FieldError(type_name, name, "is required")
                continue
            try:
                check(value)
            except (TypeError, ValueError) as err:
                raise FieldError(type_name, name, str(err)) from None

    return validate


def _declare(cls: type[S], csipaus: bool, xsd_type: str | None) -> type[S]:
    if not issubclass(cls, Sep2Object):
        raise TypeError(f"{cls.__name__} must derive from Sep2Object")
    new = dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)(cls)
    hints = _get_type_hints(new, include_extras=True)
    fields = tuple(
        _field_spec(new.__name__, f, hints[f.name]) for f in dataclasses.fields(cast(Any, new))
    )
    spec = TypeSpec(
        cls=new,
        name=new.__name__,
        csipaus=csipaus,
        xsd_type=xsd_type or new.__name__,
        fields=fields,
    )
    _SPECS[new] = spec
    _VALIDATORS[new] = _make_validator(spec)
    return new


@dataclass_transform(frozen_default=True, kw_only_default=True)
def sep2_type(cls: type[S]) -> type[S]:
    """Declare a sep.xsd type: frozen, slotted, keyword-only, validated on construction."""
    return _declare(cls, csipaus=False, xsd_type=None)


@dataclass_transform(frozen_default=True, kw_only_default=True)
def csipaus_type(xsd_type: str) -> Callable[[type[S]], type[S]]:
    """Declare a type of csipaus-ext.xsd, whose element lives in the CSIP-AUS namespace."""

    def declare(cls: type[S]) -> type[S]:
        return _declare(cls, csipaus=True, xsd_type=xsd_type)

    return declare
