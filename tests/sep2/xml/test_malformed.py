"""Hostile and malformed bodies: each raises the typed error, and nothing else ever escapes."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import time
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from derlink.sep2.xml import (
    DERControl,
    DERControlList,
    DERCurve,
    EndDevice,
    MirrorMeterReading,
    Notification,
    Sep2DecodeError,
    Sep2Object,
    Sep2TooLarge,
    decode,
    encode,
    gunzip_body,
    spec_of,
)
from sep2.xml.instances import full

SEP = b'xmlns="urn:ieee:std:2030.5:ns"'
EDEV_BODY = b"<sFDI>167261211391</sFDI><changedTime>1700000000</changedTime>"


def edev(inner: bytes = EDEV_BODY, attrs: bytes = b"") -> bytes:
    return b"<EndDevice " + SEP + attrs + b">" + inner + b"</EndDevice>"


def derc(base: bytes = b"<opModConnect>true</opModConnect>", head: bytes = b"") -> bytes:
    return (
        b"<DERControl " + SEP + b">" + head + b"<mRID>0A</mRID><creationTime>0</creationTime>"
        b"<EventStatus><currentStatus>0</currentStatus><dateTime>0</dateTime>"
        b"<potentiallySuperseded>false</potentiallySuperseded></EventStatus>"
        b"<interval><duration>1</duration><start>0</start></interval>"
        b"<DERControlBase>" + base + b"</DERControlBase></DERControl>"
    )


def curve(points: int) -> bytes:
    point = b"<CurveData><xvalue>1</xvalue><yvalue>2</yvalue></CurveData>"
    return (
        b"<DERCurve "
        + SEP
        + b"><mRID>0A</mRID><creationTime>0</creationTime>"
        + point * points
        + b"<curveType>11</curveType><xMultiplier>0</xMultiplier><yMultiplier>0</yMultiplier>"
        b"<yRefType>1</yRefType></DERCurve>"
    )


XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<EndDevice xmlns="urn:ieee:std:2030.5:ns"><sFDI>&e;</sFDI></EndDevice>"""
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">'
        % (i, b"".join(b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1)) for _ in range(10)))
        for i in range(1, 10)
    )
    + b"]><EndDevice "
    + SEP
    + b"><sFDI>&lol9;</sFDI></EndDevice>"
)
EXTERNAL_DTD = b'<!DOCTYPE EndDevice SYSTEM "http://127.0.0.1:9/evil.dtd">' + edev()
PARAMETER_ENTITY = b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>' + edev()

CASES: list[tuple[str, bytes, type[Sep2Object] | None, str]] = [
    ("not xml", b"hello", None, "not well-formed XML"),
    ("empty", b"", None, "not well-formed XML"),
    ("json", b'{"sFDI": 1}', None, "not well-formed XML"),
    ("truncated", edev()[:-7], EndDevice, "not well-formed XML"),
    ("two roots", edev() + edev(), EndDevice, "not well-formed XML"),
    ("undefined entity", edev(b"<sFDI>&e;</sFDI>"), EndDevice, "not well-formed XML"),
    ("xxe", XXE, EndDevice, "DOCTYPE is not allowed"),
    ("billion laughs", BILLION_LAUGHS, EndDevice, "DOCTYPE is not allowed"),
    ("external dtd", EXTERNAL_DTD, EndDevice, "DOCTYPE is not allowed"),
    ("parameter entity", PARAMETER_ENTITY, EndDevice, "DOCTYPE is not allowed"),
    ("utf-16", edev().decode().encode("utf-16"), EndDevice, "not UTF-8"),
    (
        "latin-1",
        b'<?xml version="1.0" encoding="ISO-8859-1"?>' + edev(),
        EndDevice,
        "encoding 'ISO-8859-1' is not accepted",
    ),
    (
        "bad utf-8",
        edev(b"<sFDI>1</sFDI><changedTime>0</changedTime>\xff"),
        EndDevice,
        "not well-formed XML",
    ),
    ("wrong root", edev(), DERControl, "expected <DERControl>, got <EndDevice>"),
    ("wrong root tuple", edev(), (DERControl, DERCurve), "expected <DERControl> or <DERCurve>"),
    ("unknown root", b"<Foo " + SEP + b"/>", None, "unknown root element"),
    ("long unknown root", b"<F" + b"o" * 5_000 + b"/>", None, "unknown root element 'Fooo"),
    ("wrong namespace", edev().replace(b"2030.5:ns", b"2030.5:nx"), None, "unknown root element"),
    ("no namespace", b"<EndDevice><sFDI>1</sFDI></EndDevice>", None, "unknown root element"),
    (
        "unqualified child",
        edev(b'<sFDI xmlns="">1</sFDI>'),
        EndDevice,
        "EndDevice: element <sFDI> has no namespace",
    ),
    (
        "out of range",
        edev(b"<sFDI>281474976710656</sFDI><changedTime>0</changedTime>"),
        EndDevice,
        "EndDevice/sFDI: 281474976710656 is out of range for SFDIType",
    ),
    (
        "negative unsigned",
        derc(b"<opModMaxLimW>-1</opModMaxLimW>"),
        DERControl,
        "DERControl/DERControlBase/opModMaxLimW: -1 is out of range for PerCent",
    ),
    ("huge integer", edev(b"<sFDI>" + b"9" * 5000 + b"</sFDI>"), EndDevice, "EndDevice/sFDI"),
    (
        "not an integer",
        edev(b"<sFDI>12a</sFDI><changedTime>0</changedTime>"),
        EndDevice,
        "EndDevice/sFDI: '12a' is not a valid SFDIType",
    ),
    (
        "bad boolean",
        derc(b"<opModConnect>yes</opModConnect>"),
        DERControl,
        "DERControl/DERControlBase/opModConnect: 'yes' is not a boolean",
    ),
    (
        "bad hex",
        edev(b"<lFDI>XYZW</lFDI>" + EDEV_BODY),
        EndDevice,
        "EndDevice/lFDI: 'XYZW' is not a valid HexBinary160",
    ),
    ("odd hex", edev(b"<lFDI>ABC</lFDI>" + EDEV_BODY), EndDevice, "EndDevice/lFDI"),
    (
        "long hex",
        edev(b"<lFDI>" + b"AB" * 21 + b"</lFDI>" + EDEV_BODY),
        EndDevice,
        "EndDevice/lFDI: 21 octets is longer than HexBinary160 allows (20)",
    ),
    (
        "long string",
        derc(head=b"").replace(
            b"<creationTime>", b"<description>" + b"x" * 33 + b"</description><creationTime>"
        ),
        DERControl,
        "DERControl/description: 33 characters is longer than String32 allows (32)",
    ),
    (
        "bad attribute",
        edev(attrs=b' subscribable="2x"'),
        EndDevice,
        "EndDevice/@subscribable: '2x' is not a valid SubscribableType",
    ),
    ("whitespace uri", edev(attrs=b' href="/a b"'), EndDevice, "EndDevice/@href"),
    (
        "missing element",
        edev(b"<sFDI>1</sFDI>"),
        EndDevice,
        "EndDevice/changedTime: required element is missing",
    ),
    (
        "missing nested",
        derc().replace(b"<duration>1</duration>", b""),
        DERControl,
        "DERControl/interval/duration: required element is missing",
    ),
    (
        "missing attribute",
        b"<DERControlList " + SEP + b' all="1"/>',
        DERControlList,
        "DERControlList/@results: required attribute is missing",
    ),
    (
        "repeated",
        edev(EDEV_BODY.replace(b"<changedTime>", b"<sFDI>2</sFDI><changedTime>")),
        EndDevice,
        "EndDevice: element <sFDI> appears more than once",
    ),
    (
        "out of order",
        edev(b"<changedTime>0</changedTime><sFDI>1</sFDI>"),
        EndDevice,
        "EndDevice: element <sFDI> is out of the XSD order",
    ),
    (
        "csipaus out of order",
        derc(
            b'<x:opModExpLimW xmlns:x="https://csipaus.org/ns"><multiplier>0</multiplier>'
            b"<value>1</value></x:opModExpLimW>"
            b'<x:opModImpLimW xmlns:x="https://csipaus.org/ns"><multiplier>0</multiplier>'
            b"<value>1</value></x:opModImpLimW>"
        ),
        DERControl,
        "DERControl/DERControlBase: element <opModImpLimW> is out of the XSD order",
    ),
    (
        "unknown sep element",
        edev(b"<bogus>1</bogus>" + EDEV_BODY),
        EndDevice,
        "EndDevice: unexpected element <bogus>",
    ),
    (
        "unknown 2013 element",
        edev(b'<bogus xmlns="http://ieee.org/2030.5"/>' + EDEV_BODY),
        EndDevice,
        "EndDevice: unexpected element <bogus>",
    ),
    ("text in complex", edev(b"hello" + EDEV_BODY), EndDevice, "EndDevice: text is not allowed"),
    ("tail text", edev(EDEV_BODY + b"tail"), EndDevice, "EndDevice: text is not allowed"),
    (
        "element in simple",
        edev(b"<sFDI><b/>1</sFDI><changedTime>0</changedTime>"),
        EndDevice,
        "EndDevice/sFDI: must hold text, not elements",
    ),
    ("no curve points", curve(0), DERCurve, "DERCurve/CurveData: 0 items, the XSD allows 1..10"),
    ("eleven curve points", curve(11), DERCurve, "DERCurve/CurveData: 11 items"),
    (
        "list item",
        b"<DERControlList "
        + SEP
        + b' all="2" results="2">'
        + derc()[:-13].replace(b"<DERControl " + SEP + b">", b"<DERControl>")
        + b"</DERControl>"
        + b"<DERControl><mRID>ZZ</mRID></DERControl></DERControlList>",
        DERControlList,
        "DERControlList/DERControl[1]/mRID: 'ZZ' is not a valid mRIDType",
    ),
    (
        "unknown xsi:type",
        b"<Notification " + SEP + b' xmlns:xsi="http://www.w3.org/2001/'
        b'XMLSchema-instance"><subscribedResource>/a</subscribedResource>'
        b'<Resource xsi:type="Nope"/><status>0</status>'
        b"<subscriptionURI>/s</subscriptionURI></Notification>",
        Notification,
        "Notification/Resource: unknown xsi:type 'Nope'",
    ),
    (
        "xsi:type not derived",
        b"<Notification " + SEP + b' xmlns:xsi="http://www.w3.org/2001/'
        b'XMLSchema-instance"><subscribedResource>/a</subscribedResource>'
        b'<Resource xsi:type="ActivePower"/><status>0</status><subscriptionURI>/s</subscriptionURI>'
        b"</Notification>",
        Notification,
        "does not derive from Resource",
    ),
    ("nul byte", edev(b"<sFDI>1\x00</sFDI>"), EndDevice, "NUL byte"),
]


@pytest.mark.parametrize(("data", "expected", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_malformed_body_is_a_400(
    data: bytes, expected: type[Sep2Object] | tuple[type[Sep2Object], ...] | None, message: str
) -> None:
    with pytest.raises(Sep2DecodeError) as info:
        decode(data, expected)
    err = info.value
    assert type(err) is Sep2DecodeError and err.status == 400
    assert message in str(err)
    assert "\n" not in str(err) and len(str(err)) < 400


def test_entities_are_never_expanded_or_fetched() -> None:
    start = time.perf_counter()
    for body in (XXE, BILLION_LAUGHS, EXTERNAL_DTD, PARAMETER_ENTITY):
        with pytest.raises(Sep2DecodeError):
            decode(body)
    assert time.perf_counter() - start < 0.5


def test_oversized_body_is_a_413_before_parsing() -> None:
    body = edev(b"<!--" + b"x" * 300_000 + b"-->" + EDEV_BODY)
    with pytest.raises(Sep2TooLarge) as info:
        decode(body, EndDevice)
    assert info.value.status == 413
    assert decode(body, EndDevice, max_bytes=len(body)).sFDI == 167261211391
    with pytest.raises(Sep2TooLarge):
        decode(edev(), EndDevice, max_bytes=len(edev()) - 1)


def test_gzip_body() -> None:
    body = encode(full(DERControlList))
    assert gunzip_body(gzip.compress(body), len(body)) == body
    assert gunzip_body(gzip.compress(body[:100]) + gzip.compress(body[100:])) == body
    with pytest.raises(Sep2TooLarge):
        gunzip_body(gzip.compress(body), len(body) - 1)


def test_gzip_bomb_is_a_413_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)
    assert len(bomb) < 300_000
    start = time.perf_counter()
    with pytest.raises(Sep2TooLarge) as info:
        gunzip_body(bomb, 256 * 1024)
    assert info.value.status == 413
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    "data",
    [
        b"not gzip at all",
        gzip.compress(b"<EndDevice/>")[:-9],
        gzip.compress(b"<EndDevice/>")[:5],
        zlib.compress(b"<EndDevice/>"),
        gzip.compress(b"x") + b"trailing garbage",
    ],
    ids=["not gzip", "truncated", "header only", "zlib not gzip", "trailing garbage"],
)
def test_bad_gzip_is_a_400(data: bytes) -> None:
    with pytest.raises(Sep2DecodeError) as info:
        gunzip_body(data, 1024)
    assert type(info.value) is Sep2DecodeError and info.value.status == 400


# --- fuzz: whatever the bytes, only the typed errors escape ------------------------------------

SEEDS = [
    encode(full(DERControlList)),
    encode(full(EndDevice)),
    encode(full(MirrorMeterReading)),
    encode(full(Notification)),
    derc(),
]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def revalidate(obj: Sep2Object) -> None:
    """Rebuild ``obj`` and its children through the validating constructors.

    decode() builds objects with validation off, having checked every value itself; this proves
    it let nothing through that a constructor would refuse.
    """
    for f in spec_of(type(obj)).fields:
        value = getattr(obj, f.name)
        for item in value if f.repeated else (value,):
            if isinstance(item, Sep2Object):
                revalidate(item)
    dataclasses.replace(obj)  # type: ignore[type-var]


def decode_or_typed_error(data: bytes) -> None:
    try:
        result = decode(data)
    except Sep2DecodeError as err:
        assert err.status in (400, 413)
        assert "\n" not in str(err) and len(str(err)) < 500
        return
    assert isinstance(result, Sep2Object)
    revalidate(result)


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    decode_or_typed_error(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        if action == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.sampled_from([
                b"<", b">", b"&", b"&amp;", b"<!DOCTYPE x>", b"<x/>", b"</DERControl>", b"9" * 30,
                b"-", b"\xff", b'"', b" a='1'", b"<![CDATA[x]]>", b"<?pi x?>", b"<!-- c -->",
            ]))  # fmt: skip
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
    return bytes(data)


@FUZZ
@given(mutated())
def test_fuzz_mutated_documents(data: bytes) -> None:
    decode_or_typed_error(data)


VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.text("0123456789abcdefABCDEF", max_size=44),
    st.text(" \t-+_.x01truefalse", max_size=8),
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn")), max_size=40),
)


@st.composite
def mutated_values(draw: st.DrawFn) -> bytes:
    """A well-formed document whose leaf values and attributes are replaced at random."""
    root = etree.fromstring(draw(st.sampled_from(SEEDS)))
    leaves = [e for e in root.iter() if len(e) == 0]
    for _ in range(draw(st.integers(1, 4))):
        leaf = draw(st.sampled_from(leaves))
        if leaf.attrib and draw(st.booleans()):
            leaf.set(draw(st.sampled_from(sorted(leaf.attrib))), draw(VALUES))
        else:
            leaf.text = draw(VALUES)
    return bytes(etree.tostring(root))


@FUZZ
@given(mutated_values())
def test_fuzz_mutated_values(data: bytes) -> None:
    decode_or_typed_error(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512) | st.builds(gzip.compress, st.binary(max_size=512)))
def test_fuzz_gzip(data: bytes) -> None:
    with contextlib.suppress(Sep2DecodeError):
        gunzip_body(data, 256)
