"""Who is asking: a :class:`Subject` with its roles, from a certificate, a token or locally.

IEC 62351-8 carries roles in the identity certificate (IECUserRoles, :mod:`derlink.pki.roles`)
or in a separate access token. derlink accepts both: operator and aggregator certificates
(verified against the deployment's PKI, revocation included) and signed tokens for operators
behind a web front end (:mod:`derlink.rbac.tokens`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from derlink.pki import Pki, Profile, VerifiedCertificate
from derlink.rbac.policy import DEFAULT_AREA

PERSON_PROFILES = frozenset({Profile.OPERATOR, Profile.AGGREGATOR})


class Source(enum.Enum):
    """Where a subject's roles come from."""

    CERTIFICATE = "certificate"
    TOKEN = "token"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Subject:
    """An authenticated subject: ``identity`` names it in audit records."""

    identity: str
    roles: frozenset[int]
    source: Source
    aor: str | None = DEFAULT_AREA
    profile: Profile | None = None

    def __str__(self) -> str:
        return self.identity


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode(errors="replace")


def subject_from_verified(
    verified: VerifiedCertificate, source: Source = Source.CERTIFICATE
) -> Subject:
    """The subject of an already verified operator or aggregator certificate."""
    cn = common_name(verified.certificate) if verified.certificate is not None else ""
    kind = verified.profile.value
    return Subject(
        identity=f"{kind}:{verified.serial_number:X}:{cn}",
        roles=frozenset(int(r) for r in verified.roles),
        source=source,
        aor=verified.area_of_responsibility,
        profile=verified.profile,
    )


def subject_from_certificate(
    cert: x509.Certificate | bytes,
    pki: Pki,
    *,
    now: datetime,
    source: Source = Source.CERTIFICATE,
) -> Subject:
    """Verify ``cert`` against ``pki`` (chain, validity, CRL) and return its subject.

    Only operator and aggregator certificates carry roles; any other profile is refused with
    :class:`~derlink.pki.CertificateError`.
    """
    verified = pki.verify(cert, now, profiles=set(PERSON_PROFILES))
    return subject_from_verified(verified, source)
