"""XER codec of MMS PDUs: pinned vectors, round trips for every PDU kind, hostile input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from derlink.errors import DerlinkError
from derlink.iec61850.mms import codec
from derlink.iec61850.mms.codec import MMS_NS
from derlink.iec61850.mms.errors import MmsDecodeError, MmsEncodeError
from iec61850.mms.mms_strategies import data_values, pdus

NAME = ("domain-specific", {"domainID": "IED1LD0", "itemID": "MMXU1$MX$TotW"})

# Hand-derived from X.680 clause 26 / table 5 and X.693 BASIC-XER: a SEQUENCE component is an
# element named by its identifier, a CHOICE is the element of the chosen alternative, BOOLEAN
# is <true/> / <false/>, BIT STRING is 0/1 characters, OCTET STRING hex digits, NULL an empty
# element; SEQUENCE OF a CHOICE or BOOLEAN lists the values (XMLValueList), SEQUENCE OF any
# other type wraps each item in its type name (<SEQUENCE>, <Identifier>, <OBJECT_IDENTIFIER>).
VECTORS: list[tuple[str, Any, bytes]] = [
    (
        "read request",
        (
            "confirmed-RequestPDU",
            {
                "invokeID": 7,
                "service": (
                    "read",
                    {
                        "specificationWithResult": False,
                        "variableAccessSpecification": (
                            "listOfVariable",
                            [{"variableSpecification": ("name", NAME)}],
                        ),
                    },
                ),
            },
        ),
        b"<MMSpdu><confirmed-RequestPDU><invokeID>7</invokeID><service><read>"
        b"<specificationWithResult><false/></specificationWithResult>"
        b"<variableAccessSpecification><listOfVariable><SEQUENCE><variableSpecification><name>"
        b"<domain-specific><domainID>IED1LD0</domainID><itemID>MMXU1$MX$TotW</itemID>"
        b"</domain-specific></name></variableSpecification></SEQUENCE></listOfVariable>"
        b"</variableAccessSpecification></read></service></confirmed-RequestPDU></MMSpdu>",
    ),
    (
        "read response",
        (
            "confirmed-ResponsePDU",
            {
                "invokeID": 7,
                "service": (
                    "read",
                    {
                        "listOfAccessResult": [
                            (
                                "success",
                                (
                                    "structure",
                                    [
                                        ("floating-point", b"\x08\x42\x28\x00\x00"),
                                        ("bit-string", (b"\x00\x10", 13)),
                                        ("boolean", True),
                                    ],
                                ),
                            ),
                            ("failure", 10),
                        ]
                    },
                ),
            },
        ),
        b"<MMSpdu><confirmed-ResponsePDU><invokeID>7</invokeID><service><read>"
        b"<listOfAccessResult><success><structure><floating-point>0842280000</floating-point>"
        b"<bit-string>0000000000010</bit-string><boolean><true/></boolean></structure>"
        b"</success><failure>10</failure></listOfAccessResult></read></service>"
        b"</confirmed-ResponsePDU></MMSpdu>",
    ),
    (
        "write response",
        (
            "confirmed-ResponsePDU",
            {"invokeID": 8, "service": ("write", [("success", None), ("failure", 3)])},
        ),
        b"<MMSpdu><confirmed-ResponsePDU><invokeID>8</invokeID><service><write><success/>"
        b"<failure>3</failure></write></service></confirmed-ResponsePDU></MMSpdu>",
    ),
    (
        "service error",
        (
            "confirmed-ErrorPDU",
            {
                "invokeID": 9,
                "serviceError": {
                    "errorClass": ("access", 2),
                    "additionalDescription": "no such object",
                },
            },
        ),
        b"<MMSpdu><confirmed-ErrorPDU><invokeID>9</invokeID><serviceError><errorClass>"
        b"<access>2</access></errorClass><additionalDescription>no such object"
        b"</additionalDescription></serviceError></confirmed-ErrorPDU></MMSpdu>",
    ),
    (
        "get name list",
        (
            "confirmed-RequestPDU",
            {
                "invokeID": 1,
                "service": (
                    "getNameList",
                    {"objectClass": ("basicObjectClass", 9), "objectScope": ("vmdSpecific", None)},
                ),
            },
        ),
        b"<MMSpdu><confirmed-RequestPDU><invokeID>1</invokeID><service><getNameList>"
        b"<objectClass><basicObjectClass>9</basicObjectClass></objectClass>"
        b"<objectScope><vmdSpecific/></objectScope></getNameList></service>"
        b"</confirmed-RequestPDU></MMSpdu>",
    ),
    (
        "name list",
        (
            "confirmed-ResponsePDU",
            {
                "invokeID": 1,
                "service": (
                    "getNameList",
                    {"listOfIdentifier": ["IED1LD0", "IED1DER"], "moreFollows": False},
                ),
            },
        ),
        b"<MMSpdu><confirmed-ResponsePDU><invokeID>1</invokeID><service><getNameList>"
        b"<listOfIdentifier><Identifier>IED1LD0</Identifier><Identifier>IED1DER</Identifier>"
        b"</listOfIdentifier><moreFollows><false/></moreFollows></getNameList></service>"
        b"</confirmed-ResponsePDU></MMSpdu>",
    ),
    (
        "identify response",
        (
            "confirmed-ResponsePDU",
            {
                "invokeID": 2,
                "service": (
                    "identify",
                    {
                        "vendorName": "derlink",
                        "modelName": "ied",
                        "revision": "1",
                        "listOfAbstractSyntaxes": ["1.0.9506.2.1"],
                    },
                ),
            },
        ),
        b"<MMSpdu><confirmed-ResponsePDU><invokeID>2</invokeID><service><identify>"
        b"<vendorName>derlink</vendorName><modelName>ied</modelName><revision>1</revision>"
        b"<listOfAbstractSyntaxes><OBJECT_IDENTIFIER>1.0.9506.2.1</OBJECT_IDENTIFIER>"
        b"</listOfAbstractSyntaxes></identify></service></confirmed-ResponsePDU></MMSpdu>",
    ),
    (
        "reject",
        ("rejectPDU", {"originalInvokeID": 3, "rejectReason": ("confirmed-requestPDU", 1)}),
        b"<MMSpdu><rejectPDU><originalInvokeID>3</originalInvokeID><rejectReason>"
        b"<confirmed-requestPDU>1</confirmed-requestPDU></rejectReason></rejectPDU></MMSpdu>",
    ),
    (
        "report",
        (
            "unconfirmed-PDU",
            {
                "service": (
                    "informationReport",
                    {
                        "variableAccessSpecification": (
                            "variableListName",
                            ("vmd-specific", "RPT"),
                        ),
                        "listOfAccessResult": [
                            ("success", ("visible-string", "rpt1")),
                            ("success", ("utc-time", bytes.fromhex("655F0E80800000 0A"))),
                            ("success", ("array", [("integer", -5), ("unsigned", 5)])),
                        ],
                    },
                )
            },
        ),
        b"<MMSpdu><unconfirmed-PDU><service><informationReport><variableAccessSpecification>"
        b"<variableListName><vmd-specific>RPT</vmd-specific></variableListName>"
        b"</variableAccessSpecification><listOfAccessResult><success><visible-string>rpt1"
        b"</visible-string></success><success><utc-time>655F0E808000000A</utc-time></success>"
        b"<success><array><integer>-5</integer><unsigned>5</unsigned></array></success>"
        b"</listOfAccessResult></informationReport></service></unconfirmed-PDU></MMSpdu>",
    ),
    ("conclude", ("conclude-RequestPDU", None), b"<MMSpdu><conclude-RequestPDU/></MMSpdu>"),
]


@pytest.mark.parametrize(("label", "pdu", "xer"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vectors_byte_for_byte(label: str, pdu: Any, xer: bytes) -> None:
    assert codec.encode(pdu) == xer
    assert codec.decode(xer) == pdu


def test_decode_accepts_layout_variants() -> None:
    pdu, xer = VECTORS[1][1], VECTORS[1][2]
    pretty = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + xer.replace(b"><", b">\n  <").replace(b"<true/>", b"<true />")
    ).replace(b"0842280000", b"08 42 28 00 00".lower())
    assert codec.decode(pretty) == pdu


def test_defaults_are_filled_in_on_decoding() -> None:
    xer = VECTORS[0][2].replace(b"<specificationWithResult><false/></specificationWithResult>", b"")
    assert codec.decode(xer) == VECTORS[0][1]


def test_payload_form() -> None:
    pdu = VECTORS[0][1]
    payload = codec.encode_payload(pdu)
    assert payload.startswith(b'<mms xmlns="urn:derlink:iec61850-8-2:mms"><MMSpdu>')
    assert codec.decode_payload(payload) == pdu
    root = ET.fromstring(payload)
    assert root.tag == f"{{{MMS_NS}}}mms"
    assert all(el.tag.startswith(f"{{{MMS_NS}}}") for el in root.iter())
    assert codec.decode_payload(root) == pdu
    element = codec.payload_element(pdu)
    assert codec.decode_payload(element) == pdu
    assert ET.tostring(element) == ET.tostring(root)
    # inside a stanza, as slixmpp would hand it over
    stanza = ET.fromstring(b'<iq xmlns="jabber:client" type="set" id="1">' + payload + b"</iq>")
    assert codec.decode_payload(stanza[0]) == pdu


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pdus)
def test_every_pdu_kind_round_trips(pdu: Any) -> None:
    xer = codec.encode(pdu)
    assert codec.decode(xer) == pdu
    assert codec.decode_payload(codec.encode_payload(pdu)) == pdu


@settings(max_examples=50, deadline=None)
@given(pdus)
def test_payload_element_round_trips(pdu: Any) -> None:
    assert codec.decode_payload(codec.payload_element(pdu)) == pdu


@settings(max_examples=300, deadline=None)
@given(data_values)
def test_data_round_trips(data: Any) -> None:
    assert codec.decode_value("Data", codec.encode_value("Data", data)) == data


BAD_DOCUMENTS = {
    "not xml": b"this is not XML",
    "truncated": VECTORS[0][2][:-5],
    "empty": b"",
    "doctype entity": b'<!DOCTYPE MMSpdu [<!ENTITY a "xx">]><MMSpdu>&a;</MMSpdu>',
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l0 "ha"><!ENTITY l1 "&l0;&l0;&l0;">]>'
        b"<MMSpdu><conclude-RequestPDU>&l1;</conclude-RequestPDU></MMSpdu>"
    ),
    "external entity": (
        b'<!DOCTYPE MMSpdu [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<MMSpdu><cancel-RequestPDU>&x;</cancel-RequestPDU></MMSpdu>"
    ),
    "undefined entity": b"<MMSpdu><cancel-RequestPDU>&x;</cancel-RequestPDU></MMSpdu>",
    "wrong root": b"<Foo><conclude-RequestPDU/></Foo>",
    "unknown pdu": b"<MMSpdu><status-RequestPDU/></MMSpdu>",
    "two alternatives": b"<MMSpdu><conclude-RequestPDU/><conclude-ResponsePDU/></MMSpdu>",
    "unknown service": (
        b"<MMSpdu><confirmed-RequestPDU><invokeID>1</invokeID><service><rename/></service>"
        b"</confirmed-RequestPDU></MMSpdu>"
    ),
    "unknown element": VECTORS[0][2].replace(
        b"<invokeID>7</invokeID>", b"<invokeID>7</invokeID><x/>"
    ),
    "missing invokeID": VECTORS[0][2].replace(b"<invokeID>7</invokeID>", b""),
    "misordered": VECTORS[0][2]
    .replace(b"<invokeID>7</invokeID>", b"")
    .replace(b"</service>", b"</service><invokeID>7</invokeID>"),
    "duplicate member": VECTORS[0][2].replace(
        b"<invokeID>7</invokeID>", b"<invokeID>7</invokeID><invokeID>8</invokeID>"
    ),
    "integer text": VECTORS[0][2].replace(b"<invokeID>7</invokeID>", b"<invokeID>seven</invokeID>"),
    "huge integer": VECTORS[0][2].replace(b"<invokeID>7", b"<invokeID>" + b"9" * 5000),
    "boolean text": VECTORS[1][2].replace(b"<true/>", b"true"),
    "boolean junk": VECTORS[1][2].replace(b"<true/>", b"<yes/>"),
    "odd hex": VECTORS[1][2].replace(b"0842280000", b"084228000"),
    "bad hex": VECTORS[1][2].replace(b"0842280000", b"08422800XY"),
    "bad bits": VECTORS[1][2].replace(b"0000000000010", b"00000002"),
    "unknown data": VECTORS[1][2].replace(b"<boolean><true/></boolean>", b"<real>1</real>"),
    "text in sequence": VECTORS[0][2].replace(b"<service>", b"junk<service>"),
    "attribute": VECTORS[0][2].replace(b"<invokeID>", b'<invokeID a="1">'),
    "namespaced": VECTORS[0][2].replace(b"<MMSpdu>", b'<MMSpdu xmlns="urn:x">'),
    "element in leaf": VECTORS[0][2].replace(b"<invokeID>7", b"<invokeID><b>7</b>"),
    "content in null": b"<MMSpdu><conclude-RequestPDU>x</conclude-RequestPDU></MMSpdu>",
    "visible control": VECTORS[3][2].replace(b"no such object", b"no\tsuch"),
    "bad oid": VECTORS[6][2].replace(b"1.0.9506.2.1", b"1..2"),
}


@pytest.mark.parametrize("name", sorted(BAD_DOCUMENTS))
def test_malformed_documents_are_refused(name: str) -> None:
    with pytest.raises(MmsDecodeError) as info:
        codec.decode(BAD_DOCUMENTS[name])
    assert isinstance(info.value, DerlinkError)
    assert str(info.value)


def test_oversized_document_is_refused() -> None:
    big = codec.encode(
        ("confirmed-ResponsePDU", {"invokeID": 1, "service": ("write", [("success", None)] * 5000)})
    )
    assert codec.decode(big, max_size=len(big)) is not None
    with pytest.raises(MmsDecodeError, match="exceeds"):
        codec.decode(big, max_size=len(big) - 1)
    with pytest.raises(MmsDecodeError, match="exceeds"):
        codec.decode(b" " * (codec.MAX_PDU_BYTES + 1))


def test_deep_nesting_is_refused() -> None:
    inner = b"<boolean><true/></boolean>"
    for _ in range(200):
        inner = b"<structure>" + inner + b"</structure>"
    with pytest.raises(MmsDecodeError):
        codec.decode_value("Data", b"<Data>" + inner + b"</Data>")


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(MmsDecodeError):
        codec.decode("<MMSpdu/>")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "payload",
    [
        b"<mms><MMSpdu><conclude-RequestPDU/></MMSpdu></mms>",
        b'<mms xmlns="urn:other"><MMSpdu><conclude-RequestPDU/></MMSpdu></mms>',
        b'<mms xmlns="urn:derlink:iec61850-8-2:mms"/>',
        b'<mms xmlns="urn:derlink:iec61850-8-2:mms"><MMSpdu><conclude-RequestPDU/></MMSpdu>'
        b"<MMSpdu><conclude-RequestPDU/></MMSpdu></mms>",
        b'<mms xmlns="urn:derlink:iec61850-8-2:mms"><MMSpdu>'
        b'<conclude-RequestPDU xmlns="urn:other"/></MMSpdu></mms>',
        b'<mms xmlns="urn:derlink:iec61850-8-2:mms">text<MMSpdu><conclude-RequestPDU/>'
        b"</MMSpdu></mms>",
    ],
)
def test_bad_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(MmsDecodeError):
        codec.decode_payload(payload)
    with pytest.raises(MmsDecodeError):
        codec.decode_payload(ET.fromstring(payload))


@pytest.mark.parametrize(
    "pdu",
    [
        ("no-such-pdu", None),
        ("confirmed-RequestPDU", {"service": ("identify", None)}),
        ("confirmed-RequestPDU", {"invokeID": "x", "service": ("identify", None)}),
        ("confirmed-RequestPDU", {"invokeID": True, "service": ("identify", None)}),
        ("confirmed-RequestPDU", {"invokeID": 1, "service": ("rename", None)}),
        ("confirmed-ResponsePDU", {"invokeID": 1, "service": ("write", [("success", None), 3])}),
        ("cancel-RequestPDU", 1.5),
        ("unconfirmed-PDU", {"service": ("informationReport", {"listOfAccessResult": []})}),
        ("confirmed-ErrorPDU", {"invokeID": 1, "serviceError": {"errorClass": ("nope", 1)}}),
        (
            "confirmed-ErrorPDU",
            {
                "invokeID": 1,
                "serviceError": {"errorClass": ("access", 1), "additionalDescription": "\x01"},
            },
        ),
        None,
        "conclude-RequestPDU",
    ],
)
def test_bad_values_are_refused_on_encoding(pdu: Any) -> None:
    with pytest.raises(MmsEncodeError):
        codec.encode(pdu)


def test_bad_data_values_are_refused_on_encoding() -> None:
    for value in [
        ("octet-string", "not bytes"),
        ("integer", "1"),
        ("bit-string", b"\x00"),
        ("objId", "not.an oid"),
        ("visible-string", "caf\u00e9"),
        ("structure", [("boolean", 1.5), ("nope", 1)]),
    ]:
        with pytest.raises(MmsEncodeError):
            codec.encode_value("Data", value)


def test_unknown_type_name() -> None:
    with pytest.raises(MmsEncodeError):
        codec.encode_value("NoSuchType", None)
