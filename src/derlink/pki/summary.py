"""What a certificate says, read without trusting it (for ``derlink pki show``).

Unlike :class:`~derlink.pki.verify.VerifiedCertificate` nothing here is verified: a field that
cannot be read is None, and the profile is only the one the certificate claims.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cryptography import x509

from derlink.pki import checks
from derlink.pki.errors import CertificateError
from derlink.pki.identity import lfdi_of_certificate, sfdi_from_lfdi
from derlink.pki.profiles import Profile
from derlink.pki.roles import Role

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    serial_number: int
    subject: str
    issuer: str
    lfdi: str
    sfdi: int
    not_before: datetime
    not_after: datetime
    claimed_profile: Profile | None
    hardware_serial: str | None
    roles: tuple[Role, ...]
    area_of_responsibility: str | None


def summarise(cert: x509.Certificate) -> CertificateSummary:
    device_id = lfdi_of_certificate(cert)
    hardware = _quietly(lambda: checks.hardware_module_name(cert))
    infos = _quietly(lambda: checks.user_roles(cert)) or ()
    return CertificateSummary(
        serial_number=cert.serial_number,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        lfdi=device_id,
        sfdi=sfdi_from_lfdi(device_id),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        claimed_profile=_quietly(lambda: checks.classify(cert)),
        hardware_serial=hardware.serial_text if hardware else None,
        roles=tuple(sorted({r for info in infos for r in info.roles})),
        area_of_responsibility=infos[0].aor if infos else None,
    )


def _quietly(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except CertificateError:
        return None
