"""derlink.e2e: end-to-end security across intermediaries (the XMPP server sees ciphertext).

Sans-IO throughout: every function takes bytes and ``now`` (an aware datetime) and returns
bytes or events; the transport carries the bytes. Messages are opaque binary; the XMPP
transport (:mod:`derlink.iec61850.xmpp.endpoint`) carries each base64-encoded in
``<sealed xmlns="urn:derlink:e2e:sealed">``, so the XMPP server sees only ciphertext. The first
byte says what a message is: ``0x16`` handshake token, ``0x17`` session data record, ``0x18``
group message.

Pairwise sessions (:mod:`derlink.e2e.session`, modelled on IEC 62351-4 E2E security)::

    creds = Credentials.from_issued(pki.issue_e2e("centre", now=now))   # or certificate + key
    verifier = PkiVerifier(pki)            # or AnchorVerifier([root], crls) on a device
    client = Session.initiator(creds, verifier)
    server = Session.responder(dev_creds, dev_verifier, replay_cache=shared_cache)
    req = client.start(now)                                  # HandshakeReq      → peer
    send, established = server.receive(req, now)             # HandshakeAcc      ← send.message
    (established,) = client.receive(send.message, now)       # Established(peer, id, aead)
    record = client.seal(b"<mms/>", now, confidential=True)  # data record       → peer
    payload = server.open(record, now)                       # or receive() → (Data,)
    maybe_req = client.tick(now)       # scheduled rekey (15 min..24 h) → a HandshakeReq to send
    req = client.rekey(now)            # rekey on demand; the peer answers through receive()
    last = client.close(now)           # authenticated close record → peer gets (Closed,)
    association_of(message)            # route an incoming message to its Session (16 bytes)

Handshake tokens are DER (``HandshakeToken`` in :mod:`derlink.e2e.tokens`): signed with
ECDSA-SHA256 by the end-to-end certificate (:meth:`derlink.pki.Pki.issue_e2e`: keyUsage
digitalSignature + keyAgreement, derlink's e2e EKU, never a TLS certificate), carrying the
certificate path, association id (16 bytes), epoch, time, ephemeral P-256 ECDH key, HKDF hash
(SHA-256) and AEAD (AES-128/256-GCM). Peers verify each other with derlink.pki, revocation
included. Keys: HKDF-SHA256 over the ECDH secret, salted with the chained transcript hash.

Data record (:mod:`derlink.e2e.records`, 71 bytes overhead)::

    0x17 | version 1 | flags (bit 0: confidential, bit 1: close) | association id (16) | epoch (4)
    | time ms (8) | sequence (8) | nonce (12) | payload length n (4) | payload (n) | tag (16)

The first 55 bytes are AES-GCM associated data. Refusals are typed (:mod:`derlink.e2e.errors`,
each a :class:`~derlink.errors.DerlinkError` with an audit ``code``): Truncated, Tampered,
Replay, Reordered (older than the window), Stale (±10 min), WrongAssociation, UnknownKey
(retired epoch), KeyExpired (overdue rekey), BadSignature, UntrustedCertificate, Revoked,
UnexpectedPeer, Unsupported. A refused message leaves the session unchanged.

Group keys (:mod:`derlink.e2e.group`, modelled on IEC 62351-9 / GDOI): the KDC
(:class:`GroupKeyServer`) answers pulls that arrive inside a member's session
(``kdc.handle(session.peer, session.open(record, now), now)``) and returns :class:`Push`
packages for the members on schedule (``tick``) and on rollover (``remove_member``,
``revoke``); the caller seals each confidential in that member's session. A
:class:`GroupMember` installs packages (``install(package, now, source=kdc_session.peer)``:
only from the KDC's authenticated session) and seals/opens group messages (MUC) with
HMAC-SHA256-128 or AES-GCM, anti-replay per sender; ``tick`` says when to pull and
``kdc_unreachable`` returns the :class:`KdcUnreachable` warning while the keys are kept.
"""

from derlink.e2e.errors import (
    BadSignature,
    ConfigurationError,
    E2EError,
    KeyExpired,
    MalformedMessage,
    NotAMember,
    Reordered,
    Replay,
    Revoked,
    Stale,
    StateError,
    Tampered,
    Truncated,
    UnexpectedPeer,
    UnknownKey,
    Unsupported,
    UntrustedCertificate,
    WrongAssociation,
)
from derlink.e2e.group import (
    GroupAlgorithm,
    GroupEvent,
    GroupKey,
    GroupKeyServer,
    GroupMember,
    GroupMessage,
    KdcUnreachable,
    KeysInstalled,
    NoValidKey,
    PullDue,
    Push,
)
from derlink.e2e.identity import (
    AnchorVerifier,
    Credentials,
    PeerIdentity,
    PkiVerifier,
    Verifier,
)
from derlink.e2e.records import CONTENT_GROUP, CONTENT_HANDSHAKE, CONTENT_RECORD
from derlink.e2e.session import (
    Closed,
    Data,
    Established,
    Event,
    HandshakeReplayCache,
    Rekeyed,
    Role,
    Send,
    Session,
    SessionConfig,
    State,
    association_of,
)
from derlink.e2e.window import ReplayWindow

__all__ = [
    "CONTENT_GROUP",
    "CONTENT_HANDSHAKE",
    "CONTENT_RECORD",
    "AnchorVerifier",
    "BadSignature",
    "Closed",
    "ConfigurationError",
    "Credentials",
    "Data",
    "E2EError",
    "Established",
    "Event",
    "GroupAlgorithm",
    "GroupEvent",
    "GroupKey",
    "GroupKeyServer",
    "GroupMember",
    "GroupMessage",
    "HandshakeReplayCache",
    "KdcUnreachable",
    "KeyExpired",
    "KeysInstalled",
    "MalformedMessage",
    "NoValidKey",
    "NotAMember",
    "PeerIdentity",
    "PkiVerifier",
    "PullDue",
    "Push",
    "Rekeyed",
    "Reordered",
    "Replay",
    "ReplayWindow",
    "Revoked",
    "Role",
    "Send",
    "Session",
    "SessionConfig",
    "Stale",
    "State",
    "StateError",
    "Tampered",
    "Truncated",
    "UnexpectedPeer",
    "UnknownKey",
    "Unsupported",
    "UntrustedCertificate",
    "Verifier",
    "WrongAssociation",
    "association_of",
]
