"""Signed access tokens for operators behind a web front end (IEC 62351-8 access token).

A token is a compact JWS (RFC 7515) signed with ES256 (RFC 7518 3.4: P-256, SHA-256, the
signature as r||s, 32 bytes each) by the deployment's token signer, a derlink ``signer``
certificate issued from the PKI and kept in ``pki/token-signer.pem``/``.key``. The header names
the signer by its serial number (``kid``); the claims are ``sub`` (who), ``roles`` (62351-8 role
names or ids, private ones included), ``aor`` (area of responsibility), ``iat``/``exp`` (Unix
seconds), ``jti`` (a random id for audit) and ``iss`` (the PKI's name).

Verification (:func:`verify_token`, sans-IO: the signer certificate and ``now`` are passed in)
checks the form, the signature, the time window, and that the signer's certificate is the
current token signer; the caller checks the signer certificate itself against the PKI (chain,
revocation), so revoking the signer ends every token it signed.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from derlink.errors import DerlinkError
from derlink.rbac.policy import DEFAULT_POLICY, Policy

MAX_TOKEN = 8192
MAX_LIFETIME = 7 * 24 * 3600
CLOCK_SKEW = 60
MAX_ROLES = 32


class TokenError(DerlinkError):
    """A token is malformed, badly signed, expired, or its signer is not trusted."""

    exit_code = 8


@dataclass(frozen=True, slots=True)
class TokenClaims:
    sub: str
    roles: frozenset[int]
    aor: str
    iat: int
    exp: int
    jti: str
    iss: str
    kid: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    if not text or any(c not in _B64_CHARS for c in text) or len(text) % 4 == 1:
        raise TokenError(f"the token's {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError(f"the token's {what} is not base64url") from None


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise TokenError(f"the token's {what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenError(f"the token's {what} is not a JSON object")
    return value


def issue_token(
    key: ec.EllipticCurvePrivateKey,
    kid: str,
    *,
    sub: str,
    roles: list[int],
    aor: str,
    now: int,
    lifetime: int,
    iss: str,
    jti: str | None = None,
) -> str:
    """A compact JWS token signed by ``key`` (the token signer's, serial ``kid``)."""
    if not 1 <= lifetime <= MAX_LIFETIME:
        raise TokenError(f"a token lives 1 s to {MAX_LIFETIME} s")
    if not sub or len(sub) > 128:
        raise TokenError("the token subject must be 1 to 128 characters")
    if not roles or len(roles) > MAX_ROLES:
        raise TokenError(f"a token carries 1 to {MAX_ROLES} roles")
    header = {"alg": "ES256", "typ": "JWT", "kid": kid}
    claims = {
        "sub": sub,
        "roles": sorted(set(roles)),
        "aor": aor,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or secrets.token_hex(16),
        "iss": iss,
    }
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":"), sort_keys=True).encode())
        for part in (header, claims)
    )
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def token_kid(token: str) -> str:
    """The ``kid`` of a token's header, unverified (to find the signer certificate)."""
    kid: str = _split(token)[0]["kid"]
    return kid


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    token = token.strip()
    if len(token) > MAX_TOKEN:
        raise TokenError(f"the token is over {MAX_TOKEN} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("a token has three dot-separated parts")
    header = _json(_unb64(parts[0], "header"), "header")
    claims = _json(_unb64(parts[1], "claims"), "claims")
    signature = _unb64(parts[2], "signature")
    if header.get("alg") != "ES256":
        raise TokenError(f"token algorithm {header.get('alg')!r} is not ES256")
    if not isinstance(header.get("kid"), str):
        raise TokenError("the token header names no signer (kid)")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def verify_token(
    token: str,
    signer: ec.EllipticCurvePublicKey,
    signer_kid: str,
    *,
    now: int,
    policy: Policy = DEFAULT_POLICY,
) -> TokenClaims:
    """Check ``token`` against the token signer's public key at ``now``; the claims or
    :class:`TokenError` saying why not."""
    header, claims, signing_input, signature = _split(token)
    if header["kid"] != signer_kid:
        raise TokenError(f"the token was signed by {header['kid']}, not the token signer")
    if len(signature) != 64:
        raise TokenError("the token signature is not 64 bytes (ES256)")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        signer.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TokenError("the token signature does not verify") from None
    parsed = _claims(claims, header["kid"], policy)
    if parsed.iat > now + CLOCK_SKEW:
        raise TokenError("the token is not valid yet")
    if parsed.exp <= now:
        raise TokenError("the token has expired")
    return parsed


def _claims(claims: dict[str, Any], kid: str, policy: Policy) -> TokenClaims:
    def text(name: str) -> str:
        value = claims.get(name)
        if not isinstance(value, str) or not value or len(value) > 128:
            raise TokenError(f"the token claim {name!r} is missing or not a short string")
        return value

    def number(name: str) -> int:
        value = claims.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise TokenError(f"the token claim {name!r} is missing or not a time")
        return value

    roles = claims.get("roles")
    if not isinstance(roles, list) or not roles or len(roles) > MAX_ROLES:
        raise TokenError("the token claim 'roles' is missing or not a list of roles")
    ids: set[int] = set()
    for role in roles:
        if isinstance(role, bool) or not isinstance(role, int | str):
            raise TokenError("the token claim 'roles' holds a value that is not a role")
        try:
            ids.add(policy.role_id(role))
        except ValueError as err:
            raise TokenError(f"the token names {err}") from None
    return TokenClaims(
        sub=text("sub"),
        roles=frozenset(ids),
        aor=text("aor"),
        iat=number("iat"),
        exp=number("exp"),
        jti=text("jti"),
        iss=text("iss"),
        kid=kid,
    )
