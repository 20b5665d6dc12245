"""Errors of the end-to-end layer: every refusal is a typed :class:`E2EError`.

Each class carries a short ``code`` (``e2e.replay``...) that the transport layer writes into the
audit log when it refuses a message: the sans-IO core cannot audit by itself. A refused message
never changes a session's or a group member's state.
"""

from __future__ import annotations

from derlink.errors import DerlinkError


class E2EError(DerlinkError):
    """An end-to-end handshake, record or group message was refused, or the API misused."""

    exit_code = 8
    code = "e2e.error"


class ConfigurationError(E2EError):
    """A session or group parameter is out of its allowed range (rekey interval, window...)."""

    code = "e2e.config"


class StateError(E2EError):
    """The call does not fit the session's state (sealing before the handshake completed...)."""

    code = "e2e.state"


class MalformedMessage(E2EError):
    """The bytes are not a message of this protocol (unknown type, bad DER, wrong sizes)."""

    code = "e2e.malformed"


class Truncated(MalformedMessage):
    """The record is shorter than its header and length field say: it was cut."""

    code = "e2e.truncated"


class BadSignature(E2EError):
    """A handshake token's signature does not verify with the certificate it carries."""

    code = "e2e.bad-signature"


class UntrustedCertificate(E2EError):
    """The peer's end-to-end certificate path does not verify (wrong CA, expired, profile)."""

    code = "e2e.untrusted"


class Revoked(UntrustedCertificate):
    """The peer's end-to-end certificate is revoked."""

    code = "e2e.revoked"


class UnexpectedPeer(E2EError):
    """The peer is authentic but not the one this session accepts (or changed at rekey)."""

    code = "e2e.unexpected-peer"


class Unsupported(E2EError):
    """No common algorithm, or a version this implementation does not speak."""

    code = "e2e.unsupported"


class WrongAssociation(E2EError):
    """The message belongs to another association (association id differs)."""

    code = "e2e.wrong-association"


class Stale(E2EError):
    """The message time is outside the ±10 min window around the receiver's clock."""

    code = "e2e.stale"


class Replay(E2EError):
    """The message (sequence number, or handshake association id) was already accepted."""

    code = "e2e.replay"


class Reordered(E2EError):
    """The sequence number is older than the anti-replay window can tell: refused."""

    code = "e2e.reordered"


class Tampered(E2EError):
    """The authentication tag does not verify: the message was altered or forged."""

    code = "e2e.tampered"


class UnknownKey(E2EError):
    """The message names a key (epoch or group key id) the receiver does not hold."""

    code = "e2e.unknown-key"


class KeyExpired(E2EError):
    """The key has outlived its lifetime: rekey (session) or pull a new group key."""

    code = "e2e.key-expired"


class NotAMember(E2EError):
    """The key server refuses: the authenticated peer is not a member of the group."""

    code = "e2e.not-a-member"
