"""Who takes part in an end-to-end session: own credentials, the verified peer, and the
:class:`Verifier` that turns a certificate path into a peer (derlink.pki, revocation included).

A control centre that holds the CA verifies through :class:`PkiVerifier`; a device that holds
only the trust anchor and the CRLs it fetched verifies through :class:`AnchorVerifier`. Both
accept end-to-end certificates only (:attr:`~derlink.pki.Profile.E2E`): a TLS certificate can
never open an end-to-end session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.e2e.errors import ConfigurationError, Revoked, UntrustedCertificate
from derlink.pki import (
    CertificateError,
    Issued,
    Pki,
    PkiError,
    Profile,
    Role,
    VerifiedCertificate,
    certificate_der,
    verify_certificate,
)
from derlink.pki import checks as pki_checks

E2E_PROFILES = frozenset({Profile.E2E})


@dataclass(frozen=True, slots=True)
class Credentials:
    """An end-to-end certificate, its private key and the CA certificates above it (no root)."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_issued(cls, issued: Issued) -> Credentials:
        """From a freshly issued certificate: the chain without its self-signed root."""
        chain = tuple(c for c in issued.chain if c.subject != c.issuer)
        return cls(issued.certificate, issued.private_key, chain)

    def path_der(self) -> tuple[bytes, ...]:
        """The certificate path a token carries: the leaf first, then its issuers."""
        return tuple(certificate_der(c) for c in (self.certificate, *self.intermediates))


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """The authenticated peer of a session: what its verified certificate says."""

    certificate: x509.Certificate
    verified: VerifiedCertificate
    xmpp_addresses: tuple[str, ...] = ()
    hardware_serial: str | None = None
    roles: tuple[Role, ...] = field(default=())

    @property
    def name(self) -> str:
        """The member identity: the certificate subject (RFC 4514), stable across renewal."""
        return self.verified.subject

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        key = self.certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)  # verify() checked P-256
        return key


class Verifier(Protocol):
    """Verifies an end-to-end certificate path at ``now`` (revocation included)."""

    def verify(
        self,
        certificate: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        now: datetime,
    ) -> VerifiedCertificate:
        """The verified certificate, or :class:`UntrustedCertificate` / :class:`Revoked`."""
        ...


class PkiVerifier:
    """Verification against a derlink PKI on disk: its root, CAs and current CRLs."""

    def __init__(self, pki: Pki) -> None:
        self._pki = pki

    def verify(
        self,
        certificate: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        now: datetime,
    ) -> VerifiedCertificate:
        try:
            return self._pki.verify(certificate, now, profiles=set(E2E_PROFILES))
        except PkiError as err:
            raise _refusal(err, certificate, self._pki.crls()) from None


class AnchorVerifier:
    """Verification with only trust anchors and CRLs, as a device holds them.

    CRLs are required: an end-to-end peer is never accepted without a revocation check.
    Replace them with :meth:`update_crls` when fresh ones are fetched.
    """

    def __init__(
        self,
        trust_roots: Sequence[x509.Certificate],
        crls: Sequence[x509.CertificateRevocationList],
        intermediates: Sequence[x509.Certificate] = (),
    ) -> None:
        if not trust_roots:
            raise ConfigurationError("an end-to-end verifier needs at least one trust anchor")
        self._roots = tuple(trust_roots)
        self._intermediates = tuple(intermediates)
        self._crls: tuple[x509.CertificateRevocationList, ...] = ()
        self.update_crls(crls)

    def update_crls(self, crls: Sequence[x509.CertificateRevocationList]) -> None:
        if not crls:
            raise ConfigurationError("an end-to-end verifier needs the CRLs of its CAs")
        self._crls = tuple(crls)

    def verify(
        self,
        certificate: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        now: datetime,
    ) -> VerifiedCertificate:
        try:
            return verify_certificate(
                certificate,
                intermediates=[*intermediates, *self._intermediates],
                trust_roots=self._roots,
                crls=self._crls,
                now=now,
                profiles=E2E_PROFILES,
            )
        except PkiError as err:
            raise _refusal(err, certificate, self._crls) from None


def _refusal(
    err: PkiError,
    certificate: x509.Certificate,
    crls: Sequence[x509.CertificateRevocationList],
) -> UntrustedCertificate:
    """:class:`Revoked` when a CRL of the certificate's issuer lists it, else untrusted."""
    text = f"end-to-end certificate refused: {err}"
    for crl in crls:
        if crl.issuer != certificate.issuer:
            continue
        if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
            return Revoked(text)
    return UntrustedCertificate(text)


def peer_identity(certificate: x509.Certificate, verified: VerifiedCertificate) -> PeerIdentity:
    """The :class:`PeerIdentity` of a certificate the verifier accepted."""
    try:
        addresses = pki_checks.xmpp_addrs(certificate)
        hw_name = pki_checks.hardware_module_name(certificate)
    except CertificateError as err:
        raise UntrustedCertificate(f"end-to-end certificate refused: {err}") from None
    return PeerIdentity(
        certificate=certificate,
        verified=verified,
        xmpp_addresses=addresses,
        hardware_serial=hw_name.serial_text if hw_name is not None else None,
        roles=verified.roles,
    )
