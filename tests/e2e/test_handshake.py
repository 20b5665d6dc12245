"""The signed ECDH handshake with real derlink certificates: what completes, what is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.e2e import (
    BadSignature,
    ConfigurationError,
    Credentials,
    Established,
    HandshakeReplayCache,
    MalformedMessage,
    PeerIdentity,
    PkiVerifier,
    Replay,
    Revoked,
    Send,
    Session,
    SessionConfig,
    Stale,
    State,
    StateError,
    Tampered,
    UnexpectedPeer,
    Unsupported,
    UntrustedCertificate,
    tokens,
)
from derlink.pki import Pki, Role

from .conftest import NOW, Pair, anchor_verifier, handshake


def test_handshake_authenticates_both_sides(
    pki: Pki, centre: Credentials, device: Credentials
) -> None:
    client = Session.initiator(centre, PkiVerifier(pki))
    server = Session.responder(device, anchor_verifier(pki))
    request = client.start(NOW)
    assert request[0] == 0x16 and client.state is State.AWAITING_ACCEPT
    send, established = server.receive(request, NOW)
    assert isinstance(send, Send) and isinstance(established, Established)
    assert established.peer.name == "CN=control-centre,OU=end-to-end,O=derlink"
    assert established.peer.roles == (Role.OPERATOR,)
    (done,) = client.receive(send.message, NOW)
    assert isinstance(done, Established)
    assert done.peer.xmpp_addresses == ("inv7@der.example",)
    assert done.peer.hardware_serial == "INV-7"
    assert done.association_id == established.association_id == client.association_id
    assert done.aead == established.aead == "aes-256-gcm"
    assert client.epoch == server.epoch == 0
    record = client.seal(b"operate", NOW)
    assert server.open(record, NOW) == b"operate"
    assert client.open(server.seal(b"ack", NOW), NOW) == b"ack"


def test_tokens_carry_the_62351_4_fields(pki: Pki, centre: Credentials) -> None:
    client = Session.initiator(centre, PkiVerifier(pki))
    token = tokens.decode_token(client.start(NOW)[1:])
    tbs = token.tbs
    assert tbs.kind == "request" and tbs.epoch == 0 and len(tbs.association_id) == 16
    assert tbs.time_ms == tokens.to_millis(NOW)
    assert tbs.certificate_path[0] == centre.path_der()[0] and len(tbs.certificate_path) == 2
    assert len(tbs.ecdh_key) == 65 and tbs.ecdh_key[0] == 4
    assert tbs.hkdf_hash == tokens.OID_SHA256
    assert tbs.aead == (tokens.OID_AES256_GCM, tokens.OID_AES128_GCM)
    assert token.signature_algorithm == tokens.OID_ECDSA_SHA256
    centre.certificate.public_key().verify(  # type: ignore[call-arg, union-attr]
        token.signature, token.tbs_der, ec.ECDSA(hashes.SHA256())
    )


def test_aead_negotiation(pki: Pki, centre: Credentials, device: Credentials) -> None:
    only128 = SessionConfig(aead=("aes-128-gcm",))
    client = Session.initiator(centre, PkiVerifier(pki))
    server = Session.responder(device, anchor_verifier(pki), only128)
    send, established = server.receive(client.start(NOW), NOW)
    assert isinstance(established, Established) and established.aead == "aes-128-gcm"
    client.receive(send.message, NOW)  # type: ignore[union-attr]
    assert client.aead == "aes-128-gcm"
    assert server.open(client.seal(b"x", NOW), NOW) == b"x"
    picky = Session.initiator(centre, PkiVerifier(pki), SessionConfig(aead=("aes-256-gcm",)))
    responder = Session.responder(device, anchor_verifier(pki), only128)
    with pytest.raises(Unsupported):
        responder.receive(picky.start(NOW), NOW)
    assert responder.state is State.IDLE


@pytest.mark.parametrize("side", ["initiator", "responder"])
def test_a_revoked_certificate_cannot_complete_a_handshake(
    pki: Pki, centre: Credentials, device: Credentials, side: str
) -> None:
    issued = pki.issue_e2e(f"revoked-{side}", now=NOW)
    pki.revoke(issued.serial_number, now=NOW)
    revoked = Credentials.from_issued(issued)
    if side == "initiator":
        client = Session.initiator(revoked, PkiVerifier(pki))
        server = Session.responder(device, anchor_verifier(pki))  # fetched the new CRL
        with pytest.raises(Revoked, match="revoked"):
            server.receive(client.start(NOW), NOW)
        assert server.state is State.IDLE
    else:
        client = Session.initiator(centre, PkiVerifier(pki))
        server = Session.responder(revoked, anchor_verifier(pki))
        send = server.receive(client.start(NOW), NOW)[0]
        assert isinstance(send, Send)
        with pytest.raises(Revoked):
            client.receive(send.message, NOW)
        assert client.state is State.AWAITING_ACCEPT
        with pytest.raises(StateError):
            client.seal(b"x", NOW)


def test_a_certificate_of_another_ca_is_untrusted(
    pki: Pki, other_pki: Pki, device: Credentials
) -> None:
    stranger = Credentials.from_issued(other_pki.issue_e2e("stranger", now=NOW))
    client = Session.initiator(stranger, PkiVerifier(other_pki))
    server = Session.responder(device, anchor_verifier(pki))
    with pytest.raises(UntrustedCertificate, match="not issued by a trusted CA") as caught:
        server.receive(client.start(NOW), NOW)
    assert not isinstance(caught.value, Revoked)


def test_tls_certificates_cannot_open_a_session(pki: Pki, device: Credentials) -> None:
    for issued in (
        pki.issue_device("INV-9", now=NOW),
        pki.issue_server(["head-end.example"], now=NOW),
        pki.issue_operator("alice", [Role.OPERATOR], now=NOW),
    ):
        client = Session.initiator(Credentials.from_issued(issued), PkiVerifier(pki))
        server = Session.responder(device, anchor_verifier(pki))
        with pytest.raises(UntrustedCertificate, match="expected e2e"):
            server.receive(client.start(NOW), NOW)


def _resign(message: bytes, key: ec.EllipticCurvePrivateKey, **changes: object) -> bytes:
    token = tokens.decode_token(message[1:])
    tbs = replace(token.tbs, **changes)  # type: ignore[arg-type]
    signature = key.sign(tbs.to_der(), ec.ECDSA(hashes.SHA256()))
    return b"\x16" + tokens.encode_token(tbs, signature)


def _keep_signature(message: bytes, **changes: object) -> bytes:
    token = tokens.decode_token(message[1:])
    tbs = replace(token.tbs, **changes)  # type: ignore[arg-type]
    return b"\x16" + tokens.encode_token(tbs, token.signature)


def test_tampered_tokens_are_refused(pki: Pki, centre: Credentials, device: Credentials) -> None:
    client = Session.initiator(centre, PkiVerifier(pki))
    server = Session.responder(device, anchor_verifier(pki))
    request = client.start(NOW)
    attacker = ec.generate_private_key(ec.SECP256R1())
    forged_key = _keep_signature(
        request,
        ecdh_key=attacker.public_key().public_bytes(
            *tokens_point_format(),
        ),
    )
    with pytest.raises(BadSignature):
        server.receive(forged_key, NOW)
    with pytest.raises(BadSignature):
        server.receive(_keep_signature(request, time_ms=tokens.to_millis(NOW) + 1), NOW)
    with pytest.raises(BadSignature):  # signed with a key that is not the certificate's
        server.receive(_resign(request, attacker), NOW)
    flipped = bytearray(request)
    flipped[-3] ^= 0x01  # inside the signature
    with pytest.raises((BadSignature, MalformedMessage)):
        server.receive(bytes(flipped), NOW)
    with pytest.raises(MalformedMessage):
        server.receive(request[:-1], NOW)
    assert server.state is State.IDLE
    # the genuine request still completes after all that
    send = server.receive(request, NOW)[0]
    assert isinstance(send, Send)
    # an accept altered on the way back
    with pytest.raises(BadSignature):
        client.receive(_keep_signature(send.message, aead=(tokens.OID_AES128_GCM,)), NOW)
    (done,) = client.receive(send.message, NOW)
    assert isinstance(done, Established)


def tokens_point_format() -> tuple[object, object]:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint


def test_an_accept_must_answer_our_own_request(
    pki: Pki, centre: Credentials, device: Credentials
) -> None:
    """A genuine accept for another request (same responder) does not complete ours."""
    client = Session.initiator(centre, PkiVerifier(pki))
    other_client = Session.initiator(centre, PkiVerifier(pki))
    server = Session.responder(device, anchor_verifier(pki))
    client.start(NOW)
    other_send = server.receive(other_client.start(NOW), NOW)[0]
    assert isinstance(other_send, Send)
    # splice our association id into the other accept: refused (request hash, signature)
    with pytest.raises((BadSignature, Tampered)):
        client.receive(
            _keep_signature(other_send.message, association_id=client.association_id), NOW
        )
    # a responder that re-signs with its own valid key still cannot answer another request
    forged = _resign(other_send.message, device.private_key, association_id=client.association_id)
    with pytest.raises(Tampered, match="does not answer"):
        client.receive(forged, NOW)


@pytest.mark.parametrize("skew", [timedelta(minutes=11), -timedelta(minutes=11)])
def test_stale_handshakes_are_refused(
    pki: Pki, centre: Credentials, device: Credentials, skew: timedelta
) -> None:
    start = NOW + timedelta(hours=1)  # certificates are valid from NOW
    client = Session.initiator(centre, PkiVerifier(pki))
    server = Session.responder(device, anchor_verifier(pki))
    request = client.start(start)
    with pytest.raises(Stale):
        server.receive(request, start + skew)
    answered = start + timedelta(minutes=9)
    send = server.receive(request, answered)[0]
    assert isinstance(send, Send)
    with pytest.raises(Stale):
        client.receive(send.message, answered + skew)
    client.receive(send.message, start)


def test_a_replayed_request_is_refused_by_the_endpoint(
    pki: Pki, centre: Credentials, device: Credentials
) -> None:
    cache = HandshakeReplayCache()
    client = Session.initiator(centre, PkiVerifier(pki))
    request = client.start(NOW)
    first = Session.responder(device, anchor_verifier(pki), replay_cache=cache)
    first.receive(request, NOW)
    second = Session.responder(device, anchor_verifier(pki), replay_cache=cache)
    with pytest.raises(Replay):
        second.receive(request, NOW + timedelta(minutes=1))
    assert second.state is State.IDLE
    with pytest.raises(Replay):  # the same session again
        first.receive(request, NOW)


def test_accept_peer_decides_who_may_connect(
    pki: Pki, centre: Credentials, device: Credentials
) -> None:
    def only_inv7(peer: PeerIdentity) -> bool:
        return "inv7@der.example" in peer.xmpp_addresses

    client = Session.initiator(centre, PkiVerifier(pki), accept_peer=only_inv7)
    server = Session.responder(device, anchor_verifier(pki))
    send = server.receive(client.start(NOW), NOW)[0]
    assert isinstance(send, Send)
    client.receive(send.message, NOW)
    wrong = Session.responder(
        device, anchor_verifier(pki), accept_peer=lambda peer: peer.name.startswith("CN=inv")
    )
    with pytest.raises(UnexpectedPeer):
        wrong.receive(Session.initiator(centre, PkiVerifier(pki)).start(NOW), NOW)


def test_misuse_is_a_state_error(pki: Pki, centre: Credentials, device: Credentials) -> None:
    client = Session.initiator(centre, PkiVerifier(pki))
    with pytest.raises(StateError):
        client.seal(b"x", NOW)
    with pytest.raises(StateError):
        client.rekey(NOW)
    client.start(NOW)
    with pytest.raises(StateError):
        client.start(NOW)
    server = Session.responder(device, anchor_verifier(pki))
    with pytest.raises(StateError):
        server.start(NOW)
    with pytest.raises(MalformedMessage):
        server.receive(b"", NOW)
    with pytest.raises(MalformedMessage):
        server.receive(b"\x42hello", NOW)
    assert server.tick(NOW) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rekey_interval": timedelta(minutes=14, seconds=59)},
        {"rekey_interval": timedelta(hours=24, seconds=1)},
        {"window": 0},
        {"window": 100_000},
        {"aead": ()},
        {"aead": ("chacha20-poly1305",)},
        {"time_window": timedelta(minutes=11)},
        {"rekey_slack": timedelta(0)},
        {"grace": timedelta(minutes=6)},
    ],
)
def test_configuration_bounds(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SessionConfig(**kwargs)  # type: ignore[arg-type]


def test_rekey_interval_bounds_are_inclusive() -> None:
    assert SessionConfig(rekey_interval=timedelta(minutes=15)).rekey_interval.seconds == 900
    assert SessionConfig(rekey_interval=timedelta(hours=24)).rekey_interval.days == 1


def test_fixture_pair_is_established(pair: Pair) -> None:
    assert pair.initiator.state is pair.responder.state is State.ESTABLISHED
    assert pair.initiator.peer is not None and pair.responder.peer is not None


def test_handshake_later_and_with_an_out_of_date_crl(
    pki: Pki, centre: Credentials, device: Credentials
) -> None:
    later = NOW + timedelta(days=1)
    established = handshake(pki, centre, device, now=later)
    assert established.responder.open(established.initiator.seal(b"x", later), later) == b"x"
    # CRLs are valid for 7 days: a device that did not fetch a fresh one refuses every peer
    month = NOW + timedelta(days=30)
    with pytest.raises(UntrustedCertificate, match="out of date"):
        handshake(pki, centre, device, now=month)
