"""The protector's sans-IO layer under tampering: every byte of every message it is handed is
flipped in turn, and each altered copy is refused with a typed error that changes nothing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derlink.e2e import (
    AnchorVerifier,
    Credentials,
    E2EError,
    GroupAlgorithm,
    GroupKeyServer,
    GroupMember,
    PkiVerifier,
    UnexpectedPeer,
)
from derlink.iec61850.protection import E2eProtector, NoSession, element, parse_element
from derlink.pki import Pki, Role

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CENTRE = "centre@derlink.local"
IED = "ied7@derlink.local"
ROOM = "group@conference.derlink.local"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory: Path = tmp_path_factory.mktemp("sansio") / "pki"
    return Pki.create(directory, passphrase=None, now=NOW)


def protector(
    pki: Pki, name: str, jid: str, *, device: bool, roles: list[Role] | None = None
) -> E2eProtector:
    issued = pki.issue_e2e(name, xmpp_address=jid, roles=roles, now=NOW)
    verifier = AnchorVerifier([pki.root_certificate], pki.crls()) if device else PkiVerifier(pki)
    return E2eProtector(Credentials.from_issued(issued), verifier, clock=lambda: NOW)


@pytest.fixture(scope="module")
def pair(pki: Pki) -> tuple[E2eProtector, E2eProtector]:
    centre = protector(pki, "centre", CENTRE, device=False, roles=[Role.OPERATOR])
    ied = protector(pki, "ied7", IED, device=True)
    request = centre.begin(f"{IED}/ied", NOW)
    accept = ied.answer(f"{CENTRE}/c", request, NOW)
    assert centre.complete(f"{IED}/ied", accept, NOW).name == ied.name
    return centre, ied


def flips(message: bytes) -> list[bytes]:
    return [
        message[:i] + bytes([message[i] ^ 0x5A]) + message[i + 1 :] for i in range(len(message))
    ]


def test_every_altered_byte_of_a_record_is_refused(pair: tuple[E2eProtector, E2eProtector]) -> None:
    centre, ied = pair
    payload = b"<mms xmlns='urn:derlink:iec61850-8-2:mms'>write WExpLim 5000</mms>"
    record = centre.seal(IED, payload, NOW)
    assert payload not in record  # confidential
    before = sum(ied.refused.values())
    for altered in flips(record):
        with pytest.raises(E2EError):
            ied.open(CENTRE, altered, NOW)
    for cut in range(len(record)):
        with pytest.raises(E2EError):
            ied.open(CENTRE, record[:cut], NOW)
    assert sum(ied.refused.values()) == before + 2 * len(record)
    # nothing changed: the genuine record still opens, once
    assert ied.open(CENTRE, record, NOW) == payload
    with pytest.raises(E2EError):
        ied.open(CENTRE, record, NOW)
    # and the other direction works too
    assert centre.open(IED, ied.seal(CENTRE, b"<report/>", NOW), NOW) == b"<report/>"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_mutations_are_refused(
    pair: tuple[E2eProtector, E2eProtector], data: st.DataObject
) -> None:
    centre, ied = pair
    record = centre.seal(IED, b"<mms>operate</mms>", NOW)
    mutated = data.draw(
        st.one_of(
            st.binary(max_size=300),
            st.lists(
                st.tuples(st.integers(0, len(record) - 1), st.integers(1, 255)), min_size=1
            ).map(lambda edits: _apply(record, edits)),
        )
    )
    if mutated == record:
        return
    with pytest.raises(E2EError):
        ied.open(CENTRE, mutated, NOW)
    assert ied.open(CENTRE, record, NOW) == b"<mms>operate</mms>"


def _apply(record: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(record)
    for index, mask in edits:
        out[index] ^= mask
    return bytes(out)


def test_every_altered_byte_of_a_handshake_is_refused(pki: Pki) -> None:
    centre = protector(pki, "centre-h", CENTRE, device=False)
    ied = protector(pki, "ied-h", IED, device=True)
    request = centre.begin(f"{IED}/ied", NOW)
    # a sample of positions across the whole token (every byte would take minutes: each try
    # verifies a certificate path), always including the first 64 and the last 64
    positions = sorted(
        {*range(64), *range(len(request) - 64, len(request)), *range(64, len(request), 97)}
    )
    for index in positions:
        altered = request[:index] + bytes([request[index] ^ 0x01]) + request[index + 1 :]
        with pytest.raises(E2EError):
            ied.answer(f"{CENTRE}/c", altered, NOW)
        assert ied.session(CENTRE) is None  # no session from an altered request
    accept = ied.answer(f"{CENTRE}/c", request, NOW)
    for index in (0, 5, len(accept) // 2, len(accept) - 1):
        with pytest.raises(E2EError):
            centre.complete(f"{IED}/ied", accept[:index] + b"\xff" + accept[index + 1 :], NOW)
    assert centre.session(IED) is None


def test_the_certificate_must_name_the_sending_jid(pki: Pki) -> None:
    centre = protector(pki, "centre-j", CENTRE, device=False)
    ied = protector(pki, "ied-j", IED, device=True)
    request = centre.begin(f"{IED}/ied", NOW)
    with pytest.raises(UnexpectedPeer):  # the same signed request arriving from another JID
        ied.answer("mallory@derlink.local/x", request, NOW)
    assert ied.refused["e2e.unexpected-peer"] == 1
    # and an IED whose certificate names another JID is refused by the centre
    other = protector(pki, "ied-o", "other@derlink.local", device=True)
    request = centre.begin(f"{IED}/ied", NOW)
    with pytest.raises(UnexpectedPeer):
        centre.complete(f"{IED}/ied", other.answer(f"{CENTRE}/c", request, NOW), NOW)


def test_no_session_no_payload(pki: Pki) -> None:
    lone = protector(pki, "lone", IED, device=True)
    with pytest.raises(NoSession):
        lone.protect(CENTRE, b"<x/>")
    with pytest.raises(NoSession):
        lone.unprotect(CENTRE, b"\x17" + bytes(80))


def test_group_messages_under_tampering_and_from_the_wrong_sender(
    pair: tuple[E2eProtector, E2eProtector],
) -> None:
    centre, ied = pair
    kdc = GroupKeyServer()
    kdc.create_group(ROOM, NOW, algorithm=GroupAlgorithm.AES_256_GCM)
    own = GroupMember(centre.name, ROOM)
    own.install(_package_for(kdc, centre.name), NOW)
    member = GroupMember(ied.name, ROOM, kdc=centre.name)
    member.install(_package_for(kdc, ied.name), NOW, source=ied.peer(CENTRE))
    centre.groups[ROOM] = own
    ied.groups[ROOM] = member
    ied.group_senders[ROOM] = frozenset({centre.name})
    message = centre.protect(ROOM, b"<mms>group write</mms>")
    assert b"group write" not in message
    for altered in flips(message):
        with pytest.raises(E2EError):
            ied.open(ROOM, altered, NOW)
    assert ied.open(ROOM, message, NOW) == b"<mms>group write</mms>"
    with pytest.raises(E2EError):  # replayed
        ied.open(ROOM, message, NOW)
    with pytest.raises(E2EError):  # plaintext
        ied.open(ROOM, b"<mms>group write</mms>", NOW)
    # a member holding the key is not a commander: only the KDC's name is obeyed
    with pytest.raises(E2EError):
        ied.open(ROOM, member.seal(b"<mms>rogue</mms>", NOW), NOW)


def _package_for(kdc: GroupKeyServer, name: str) -> bytes:
    pushes = kdc.add_member(ROOM, name, NOW)
    return pushes[0].message


def test_wire_elements_round_trip_and_refuse_junk() -> None:
    node = element("handshake", b"\x16token")
    assert parse_element(node, "handshake") == b"\x16token"
    for junk in (element("kdc", b"x"), None):
        with pytest.raises(E2EError):
            parse_element(junk, "handshake")
    bad = element("handshake", b"x")
    bad.text = "not base64!"
    with pytest.raises(E2EError):
        parse_element(bad, "handshake")


@given(message=st.binary(max_size=4096), kind=st.sampled_from(["handshake", "kdc"]))
def test_wire_element_round_trip(message: bytes, kind: str) -> None:
    if not message:
        with pytest.raises(E2EError):
            parse_element(element(kind, message), kind)
        return
    assert parse_element(element(kind, message), kind) == message


@given(text=st.text(max_size=200))
def test_wire_element_text_gives_its_bytes_or_a_typed_error(text: str) -> None:
    node = element("kdc", b"x")
    node.text = text
    try:
        out = parse_element(node, "kdc")
    except E2EError:
        return
    assert out == base64.b64decode(text.strip(), validate=True) and out
