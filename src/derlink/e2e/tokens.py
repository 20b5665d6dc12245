"""The signed handshake tokens and the key-server messages, in DER (ASN.1 module below).

IEC 62351-4 defines its end-to-end tokens in ASN.1 and encodes them in BER/DER; derlink does
the same with a module of its own in that spirit (not the standard's, which is not public):
DER is canonical, so the bytes a signature covers are exactly the bytes on the wire, and a
decoder refuses every non-canonical or padded encoding. The module is compiled by asn1tools.
Untrusted bytes are decoded with the BER codec (the DER codec of asn1tools can loop on a
SEQUENCE OF element with a wrong tag), then re-encoded in DER and compared byte for byte.

Times are milliseconds since 1970-01-01 UTC; algorithms are named by their standard OIDs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asn1tools

from derlink.e2e.errors import MalformedMessage

MODULE = """
DerlinkE2E DEFINITIONS IMPLICIT TAGS ::= BEGIN

-- A HandshakeReq (kind request) or HandshakeAcc (kind accept), signed with the key of the
-- first certificate of certificatePath over the DER encoding of tbs.
HandshakeToken ::= SEQUENCE {
    tbs                 HandshakeTbs,
    signatureAlgorithm  OBJECT IDENTIFIER,
    signature           OCTET STRING (SIZE (8..160)) }

HandshakeTbs ::= SEQUENCE {
    version          INTEGER (1..255),
    kind             HandshakeKind,
    associationId    OCTET STRING (SIZE (16)),
    epoch            INTEGER (0..4294967295),
    time             Millis,
    certificatePath  SEQUENCE SIZE (1..4) OF OCTET STRING (SIZE (1..8192)),
    ecdhKey          OCTET STRING (SIZE (65)),
    hkdfHash         OBJECT IDENTIFIER,
    aead             SEQUENCE SIZE (1..4) OF OBJECT IDENTIFIER,
    requestHash      [0] OCTET STRING (SIZE (32)) OPTIONAL }

HandshakeKind ::= ENUMERATED { request (0), accept (1) }

Millis ::= INTEGER (0..18446744073709551615)

-- Key server messages, carried inside an end-to-end session (never in clear).
KdcMessage ::= CHOICE {
    pull     [0] GroupKeyPull,
    package  [1] GroupKeyPackage,
    refusal  [2] GroupKeyRefusal }

GroupKeyPull ::= SEQUENCE {
    version  INTEGER (1..255),
    groupId  UTF8String (SIZE (1..64)),
    time     Millis }

-- The whole set of keys a member may hold: the previous key while it overlaps the current
-- one (scheduled change only), the current key, then the future one. A member replaces its
-- keys with these, so a key absent here (dropped at rollover) is gone.
GroupKeyPackage ::= SEQUENCE {
    version    INTEGER (1..255),
    groupId    UTF8String (SIZE (1..64)),
    time       Millis,
    algorithm  OBJECT IDENTIFIER,
    keys       SEQUENCE SIZE (1..3) OF GroupKey }

GroupKey ::= SEQUENCE {
    keyId              INTEGER (0..4294967295),
    key                OCTET STRING (SIZE (16..32)),
    activationTime     Millis,
    remainingLifetime  INTEGER (0..4294967295) }  -- seconds from the package time

GroupKeyRefusal ::= SEQUENCE {
    groupId  UTF8String (SIZE (1..64)),
    reason   UTF8String (SIZE (1..200)) }

END
"""


@functools.cache
def _codec(codec: str) -> Any:
    """The compiled module (compiled on first use: it costs ~0.1 s, paid by importers of
    derlink.e2e that never speak these messages otherwise)."""
    return asn1tools.compile_string(MODULE, codec)


VERSION = 1
#: Refuse larger inputs outright: a token carries at most four certificates.
MAX_TOKEN = 32 * 1024

OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_AES128_GCM = "2.16.840.1.101.3.4.1.6"
OID_AES256_GCM = "2.16.840.1.101.3.4.1.46"
#: hmacWithSHA256 (RFC 4231); the group protocol truncates the tag to 128 bits.
OID_HMAC_SHA256 = "1.2.840.113549.2.9"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MILLIS = 253402300799999  # 9999-12-31T23:59:59.999Z


def to_millis(moment: datetime) -> int:
    """Milliseconds since 1970 UTC of an aware datetime (a naive one is a programming error)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("derlink.e2e needs aware datetimes (for example datetime.now(UTC))")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_millis(millis: int) -> datetime:
    """The datetime of a wire time; :class:`MalformedMessage` beyond year 9999."""
    if not 0 <= millis <= _MAX_MILLIS:
        raise MalformedMessage(f"time {millis} ms is out of range")
    return _EPOCH + timedelta(milliseconds=millis)


def encode(type_name: str, value: Any) -> bytes:
    """DER encoding of ``value``; constraints checked (a violation is a programming error)."""
    return bytes(_codec("der").encode(type_name, value, check_constraints=True))


def decode(type_name: str, data: bytes) -> Any:
    """Decode canonical DER ``data`` or raise :class:`MalformedMessage`."""
    if len(data) > MAX_TOKEN:
        raise MalformedMessage(f"{type_name} of {len(data)} bytes is too large")
    try:
        value = _codec("ber").decode(type_name, data, check_constraints=True)
        canonical = bytes(_codec("der").encode(type_name, value, check_constraints=True))
    except (asn1tools.Error, ValueError, TypeError, IndexError, KeyError) as err:
        raise MalformedMessage(f"not a valid {type_name}: {err}") from None
    if canonical != data:
        raise MalformedMessage(f"{type_name} is not canonical DER or has trailing bytes")
    return value


@dataclass(frozen=True, slots=True)
class HandshakeTbs:
    """The signed content of a HandshakeReq or HandshakeAcc."""

    kind: str  # "request" or "accept"
    association_id: bytes
    epoch: int
    time_ms: int
    certificate_path: tuple[bytes, ...]
    ecdh_key: bytes
    hkdf_hash: str
    aead: tuple[str, ...]
    request_hash: bytes | None = None
    version: int = VERSION

    def to_der(self) -> bytes:
        return encode("HandshakeTbs", self._value())

    def _value(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "version": self.version,
            "kind": self.kind,
            "associationId": self.association_id,
            "epoch": self.epoch,
            "time": self.time_ms,
            "certificatePath": list(self.certificate_path),
            "ecdhKey": self.ecdh_key,
            "hkdfHash": self.hkdf_hash,
            "aead": list(self.aead),
        }
        if self.request_hash is not None:
            value["requestHash"] = self.request_hash
        return value

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> HandshakeTbs:
        return cls(
            kind=value["kind"],
            association_id=bytes(value["associationId"]),
            epoch=value["epoch"],
            time_ms=value["time"],
            certificate_path=tuple(bytes(c) for c in value["certificatePath"]),
            ecdh_key=bytes(value["ecdhKey"]),
            hkdf_hash=value["hkdfHash"],
            aead=tuple(value["aead"]),
            request_hash=bytes(value["requestHash"]) if "requestHash" in value else None,
            version=value["version"],
        )


@dataclass(frozen=True, slots=True)
class HandshakeToken:
    """A decoded token: the content, the exact signed bytes and the signature."""

    tbs: HandshakeTbs
    tbs_der: bytes
    signature_algorithm: str
    signature: bytes


def encode_token(tbs: HandshakeTbs, signature: bytes) -> bytes:
    """The DER HandshakeToken of ``tbs`` signed with ``signature`` (ECDSA-SHA256, DER)."""
    value = {
        "tbs": tbs._value(),
        "signatureAlgorithm": OID_ECDSA_SHA256,
        "signature": signature,
    }
    return encode("HandshakeToken", value)


def decode_token(data: bytes) -> HandshakeToken:
    """Parse a HandshakeToken (:class:`MalformedMessage` when it is not one)."""
    value = decode("HandshakeToken", data)
    tbs = HandshakeTbs.from_value(value["tbs"])
    if tbs.version != VERSION:
        raise MalformedMessage(f"handshake version {tbs.version} is not {VERSION}")
    return HandshakeToken(tbs, tbs.to_der(), value["signatureAlgorithm"], bytes(value["signature"]))
