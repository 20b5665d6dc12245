"""Payload framing on the wire (no server needed): element form, sealed form, limits."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.errors import DerlinkError
from derlink.iec61850.xmpp.endpoint import (
    MAX_PAYLOAD,
    SEALED_TAG,
    IdentityProtector,
    PayloadError,
    parse_element,
    seal,
    unseal,
    unwrap_payload,
    wrap_payload,
)

NS = "urn:derlink:test:payload"


class Xor:
    """A stand-in for an end-to-end protector: changes every byte, refuses a marker."""

    def protect(self, peer_jid: str, payload: bytes) -> bytes:
        return bytes(b ^ 0xA5 for b in payload)

    def unprotect(self, peer_jid: str, payload: bytes) -> bytes:
        if payload.startswith(b"\x00bad"):
            raise DerlinkError("authentication failed")
        return bytes(b ^ 0xA5 for b in payload)


names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)


@st.composite
def elements(draw: st.DrawFn) -> bytes:
    root = ET.Element(f"{{{NS}}}{draw(names)}")
    for _ in range(draw(st.integers(0, 3))):
        child = ET.SubElement(root, f"{{{NS}}}{draw(names)}", {draw(names): draw(texts)})
        child.text = draw(texts)
    return ET.tostring(root)


@given(st.binary(max_size=4096))
def test_seal_round_trips_any_bytes(data: bytes) -> None:
    element = seal(data)
    assert element.tag == SEALED_TAG
    assert unseal(element) == data


@given(st.text(max_size=200))
def test_unseal_refuses_garbage_with_a_typed_error(text: str) -> None:
    element = seal(b"")
    element.text = text
    with contextlib.suppress(PayloadError):
        unseal(element)


@given(st.binary(max_size=512))
@settings(max_examples=300)
def test_parse_element_never_crashes(data: bytes) -> None:
    with contextlib.suppress(PayloadError):
        assert isinstance(parse_element(data), ET.Element)


@given(elements())
def test_unprotected_payloads_travel_as_elements(payload: bytes) -> None:
    identity = IdentityProtector()
    element = wrap_payload(identity, "ied@d", payload)
    assert element.tag != SEALED_TAG
    back = unwrap_payload(identity, "ied@d", element)
    assert ET.tostring(ET.fromstring(back)) == ET.tostring(ET.fromstring(payload))


@given(st.binary(max_size=2048))
def test_protected_payloads_travel_sealed_and_come_back_exactly(payload: bytes) -> None:
    element = wrap_payload(Xor(), "ied@d", payload)
    assert element.tag == SEALED_TAG
    assert payload == b"" or unseal(element) != payload
    assert unwrap_payload(Xor(), "ied@d", element) == payload


def test_limits_and_refusals() -> None:
    with pytest.raises(PayloadError):
        wrap_payload(IdentityProtector(), "p", b"<a>" + b"x" * MAX_PAYLOAD + b"</a>")
    with pytest.raises(PayloadError):
        wrap_payload(IdentityProtector(), "p", b"not xml")
    with pytest.raises(PayloadError):
        parse_element(b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>')
    with pytest.raises(PayloadError):
        unwrap_payload(Xor(), "p", seal(b"\x00bad token"))
