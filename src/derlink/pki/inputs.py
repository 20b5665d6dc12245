"""Validation of what callers ask the CA to put into certificates; mistakes raise PkiError."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from cryptography import x509

from derlink.pki import oids
from derlink.pki.errors import PkiError
from derlink.pki.roles import Role

MAX_NAME = 64  # ub-common-name (RFC 5280 appendix A)
MAX_HW_SERIAL = 64
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_JID_LOCAL_FORBIDDEN = frozenset("\"&'/:<>@ ")


def text(value: str, what: str, limit: int = MAX_NAME) -> str:
    """``value`` stripped; 1..limit printable characters."""
    stripped = value.strip()
    if not 1 <= len(stripped) <= limit or not stripped.isprintable():
        raise PkiError(f"the {what} must be 1 to {limit} printable characters, got {value!r}")
    return stripped


def oid(value: x509.ObjectIdentifier | str, what: str) -> x509.ObjectIdentifier:
    if isinstance(value, x509.ObjectIdentifier):
        return value
    candidate = value.strip()
    if not _OID.fullmatch(candidate):
        raise PkiError(f"the {what} {value!r} is not an object identifier (like 1.2.3.4)")
    return x509.ObjectIdentifier(candidate)


def sep2_policy(value: x509.ObjectIdentifier | str) -> x509.ObjectIdentifier:
    """A 2030.5 policy by OID or short name (``generic``, ``test``...)."""
    if isinstance(value, str) and value.strip().lower() in oids.SEP2_POLICIES:
        return oids.SEP2_POLICIES[value.strip().lower()]
    policy = oid(value, "policy")
    if policy not in oids.SEP2_POLICY_OIDS:
        names = ", ".join(oids.SEP2_POLICIES)
        raise PkiError(f"{policy.dotted_string} is not an IEEE 2030.5 policy ({names})")
    return policy


def sep2_policies(
    values: Iterable[x509.ObjectIdentifier | str],
) -> tuple[x509.ObjectIdentifier, ...]:
    policies = tuple(dict.fromkeys(sep2_policy(v) for v in values))
    if not policies:
        raise PkiError("a device certificate needs at least one IEEE 2030.5 policy")
    return policies


def host(value: str) -> x509.GeneralName:
    """A DNS name or an IP address as a subjectAltName entry."""
    candidate = value.strip()
    try:
        return x509.IPAddress(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    labels = candidate.rstrip(".").split(".")
    if len(candidate) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise PkiError(f"{value!r} is neither a DNS name nor an IP address")
    return x509.DNSName(candidate.rstrip(".").lower())


def hosts(values: Sequence[str]) -> list[x509.GeneralName]:
    if not values:
        raise PkiError("a server certificate needs at least one DNS name or IP address")
    return list(dict.fromkeys(host(v) for v in values))


def jid(value: str) -> str:
    """A bare JID ``local@domain`` (RFC 7622) of at most 64 characters, lower-cased.

    The local part may not hold the characters RFC 7622 3.3.1 forbids nor spaces; the domain
    must be a DNS name. The limit keeps the JID usable as the subject common name too.
    """
    candidate = value.strip().lower()
    local, _, domain = candidate.partition("@")
    problem = len(candidate) > MAX_NAME or not local or not domain
    problem = problem or any(c in _JID_LOCAL_FORBIDDEN or not c.isprintable() for c in local)
    try:
        problem = problem or not isinstance(host(domain), x509.DNSName)
    except PkiError:
        problem = True
    if problem:
        raise PkiError(f"{value!r} is not a bare JID (local@domain, at most {MAX_NAME} characters)")
    return f"{local}@{domain.rstrip('.')}"


def roles(values: Iterable[Role | int]) -> tuple[Role, ...]:
    try:
        found = tuple(sorted({Role(v) for v in values}))
    except ValueError as err:
        raise PkiError(f"unknown role: {err}") from None
    if not found:
        raise PkiError("an operator or aggregator certificate needs at least one role")
    return found


def days(value: int) -> int:
    if value < 1:
        raise PkiError(f"the validity must be at least one day, got {value}")
    return value
