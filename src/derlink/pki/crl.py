"""Certificate revocation lists (RFC 5280 5): one per issuing CA, signed by that CA."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from derlink.pki.index import IssuedRecord
from derlink.pki.keys import PrivateKey

DEFAULT_NEXT_UPDATE = timedelta(days=7)


def build_crl(
    issuer: x509.Certificate,
    key: PrivateKey,
    revoked: Iterable[IssuedRecord],
    number: int,
    now: datetime,
    next_update: timedelta = DEFAULT_NEXT_UPDATE,
) -> x509.CertificateRevocationList:
    """A v2 CRL with cRLNumber and authorityKeyIdentifier (RFC 5280 5.2.1, 5.2.3).

    A reasonCode entry extension is written unless the reason is unspecified, which RFC 5280
    5.3.1 says SHOULD be absent rather than written.
    """
    if next_update <= timedelta(0):
        raise ValueError("next_update must be positive")
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now)
        .next_update(now + next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    for record in sorted(revoked, key=lambda r: r.serial_number):
        builder = builder.add_revoked_certificate(_entry(record))
    return builder.sign(key, hashes.SHA256())


def _entry(record: IssuedRecord) -> x509.RevokedCertificate:
    assert record.revoked_at is not None
    builder = (
        x509.RevokedCertificateBuilder()
        .serial_number(record.serial_number)
        .revocation_date(record.revoked_at)
    )
    reason = x509.ReasonFlags(record.revocation_reason or "unspecified")
    if reason is not x509.ReasonFlags.unspecified:
        builder = builder.add_extension(x509.CRLReason(reason), critical=False)
    return builder.build()


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(Encoding.PEM)
