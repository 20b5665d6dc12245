"""The one certificate verification every derlink component uses.

Path validation is OpenSSL's (through pyOpenSSL), with X509_STRICT and, when CRLs are given,
CRL checking of the leaf. ``cryptography``'s own path validator is not used: it refuses the
critical certificatePolicies that IEEE 2030.5 device certificates must carry. derlink's checks
then add what OpenSSL does not know: which derlink profile the leaf matches, the full 2030.5
device profile, P-256 keys, IEC 62351-8 roles, and a revocation message naming date and reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from OpenSSL import crypto

from derlink.pki import checks
from derlink.pki.clock import as_utc, iso
from derlink.pki.errors import CertificateError, PkiError
from derlink.pki.files import certificate_der, parse_certificate
from derlink.pki.identity import lfdi, sfdi_from_lfdi
from derlink.pki.profiles import Profile
from derlink.pki.roles import Role


@dataclass(frozen=True, slots=True)
class VerifiedCertificate:
    """What a verified certificate says about its holder."""

    profile: Profile
    lfdi: str
    sfdi: int
    serial_number: int
    subject: str
    hardware_serial: str | None
    roles: tuple[Role, ...]
    not_after: datetime
    area_of_responsibility: str | None = None
    certificate: x509.Certificate | None = None


def verify_certificate(
    cert: x509.Certificate | bytes,
    *,
    intermediates: Sequence[x509.Certificate] = (),
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList] = (),
    now: datetime,
    profiles: set[Profile] | frozenset[Profile] | None = None,
) -> VerifiedCertificate:
    """Verify ``cert`` (object, PEM or DER) at ``now``; :class:`CertificateError` says why not.

    With ``crls`` empty no revocation is checked; otherwise the CRL of the leaf's issuer must be
    among them and current. ``profiles`` restricts which profiles are accepted.
    """
    leaf = cert if isinstance(cert, x509.Certificate) else _parse(cert)
    try:
        return _verify(leaf, intermediates, trust_roots, crls, as_utc(now), profiles)
    except CertificateError as err:
        raise CertificateError(f"certificate {leaf.serial_number:X} refused: {err}") from None


def _parse(data: bytes) -> x509.Certificate:
    try:
        return parse_certificate(data, "the certificate")
    except PkiError as err:
        raise CertificateError(str(err)) from None


def _verify(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    now: datetime,
    profiles: set[Profile] | frozenset[Profile] | None,
) -> VerifiedCertificate:
    checks.check_key(leaf)
    checks.check_validity(leaf, now)
    chain = _openssl_chain(leaf, intermediates, trust_roots, crls, now)
    profile = checks.classify(leaf)
    if profiles is not None and profile not in profiles:
        wanted = ", ".join(sorted(p.value for p in profiles))
        raise CertificateError(f"it is a {profile.value} certificate, expected {wanted}")
    checks.check_profile(profile, leaf, chain[1] if len(chain) > 1 else chain[0])
    return describe(profile, leaf)


def describe(profile: Profile, cert: x509.Certificate) -> VerifiedCertificate:
    """The summary of ``cert`` (already checked against ``profile``)."""
    device_id = lfdi(certificate_der(cert))
    hw_name = checks.hardware_module_name(cert) if profile is Profile.DEVICE else None
    infos = checks.user_roles(cert) or ()
    roles = tuple(sorted({r for info in infos for r in info.roles}))
    return VerifiedCertificate(
        profile=profile,
        lfdi=device_id,
        sfdi=sfdi_from_lfdi(device_id),
        serial_number=cert.serial_number,
        subject=cert.subject.rfc4514_string(),
        hardware_serial=hw_name.serial_text if hw_name else None,
        roles=roles,
        not_after=cert.not_valid_after_utc,
        area_of_responsibility=infos[0].aor if infos else None,
        certificate=cert,
    )


def _openssl_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    now: datetime,
) -> list[x509.Certificate]:
    """Path validation by OpenSSL; returns the chain leaf first, root last."""
    check_crl = bool(crls) and not checks.is_ca(leaf)  # CRLs cover end entities only
    store = _store(trust_roots, crls if check_crl else (), now)
    context = crypto.X509StoreContext(
        store,
        crypto.X509.from_cryptography(leaf),
        [crypto.X509.from_cryptography(c) for c in intermediates],
    )
    try:
        chain = context.get_verified_chain()
    except crypto.X509StoreContextError as err:
        raise CertificateError(_openssl_reason(err, leaf, crls)) from None
    return [c.to_cryptography() for c in chain]


def _store(
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    now: datetime,
) -> crypto.X509Store:
    store = crypto.X509Store()
    for root in trust_roots:
        store.add_cert(crypto.X509.from_cryptography(root))
    store.set_time(now)  # before the flags: it replaces the store's parameters
    flags = crypto.X509StoreFlags.X509_STRICT
    for crl in crls:
        store.add_crl(crl)
    if crls:
        flags |= crypto.X509StoreFlags.CRL_CHECK
    store.set_flags(flags)
    return store


# X509_V_ERR_* codes of OpenSSL's x509_vfy.h that a user can act on.
_NOT_TRUSTED = {2, 18, 19, 20, 21}
_OPENSSL_REASONS = {
    3: "no CRL of its issuer was given",
    7: "its signature does not verify",
    8: "the CRL signature does not verify",
    9: "it is not valid yet",
    10: "it has expired",
    11: "the CRL of its issuer is not valid yet",
    12: "the CRL of its issuer is out of date (past its nextUpdate)",
    24: "an issuing certificate is not a CA",
}


def _openssl_reason(
    err: crypto.X509StoreContextError,
    leaf: x509.Certificate,
    crls: Sequence[x509.CertificateRevocationList],
) -> str:
    code, depth, message = err.errors[0], err.errors[1], err.errors[2]
    if code == 23:  # X509_V_ERR_CERT_REVOKED
        return revocation_text(leaf, crls)
    if code in _NOT_TRUSTED:
        return f"it was not issued by a trusted CA ({message})"
    reason = _OPENSSL_REASONS.get(code, f"OpenSSL: {message}")
    return reason if depth == 0 else f"{reason} (certificate {depth} up the chain)"


def revocation_text(leaf: x509.Certificate, crls: Sequence[x509.CertificateRevocationList]) -> str:
    """``revoked on DATE (reason)`` from the CRL entry of ``leaf``."""
    for crl in crls:
        if crl.issuer != leaf.issuer:
            continue
        entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
        if entry is not None:
            return f"it is revoked (since {iso(entry.revocation_date_utc)}, {_reason(entry)})"
    return "it is revoked"


def _reason(entry: x509.RevokedCertificate) -> str:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        return x509.ReasonFlags.unspecified.value
