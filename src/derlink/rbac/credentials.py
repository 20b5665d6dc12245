"""Credentials on disk: identity files, the local administrator, the token signer.

``derlink init`` issues the local administrator (``pki/admin.pem`` and ``pki/admin.key``, 0600):
an operator certificate with SECADM, OPERATOR and ENGINEER roles that the CLI uses when no other
identity is given, so whoever may read the data directory's keys acts as its administrator.
The token signer (``pki/token-signer.pem``/``.key``) is issued on first use.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from derlink.pki import CertificateError, Issued, Pki, PkiError, Profile, Role
from derlink.rbac.policy import DEFAULT_POLICY, Policy
from derlink.rbac.subject import Source, Subject, subject_from_certificate
from derlink.rbac.tokens import TokenError, token_kid, verify_token

ADMIN_NAME = "admin"
ADMIN_ROLES = (Role.OPERATOR, Role.ENGINEER, Role.SECADM)
TOKEN_SIGNER_NAME = "token-signer"


def admin_prefix(pki_dir: Path) -> Path:
    return pki_dir / ADMIN_NAME


def token_signer_prefix(pki_dir: Path) -> Path:
    return pki_dir / TOKEN_SIGNER_NAME


def issue_local_admin(pki: Pki, *, name: str, now: datetime) -> Issued:
    """Issue and write the data directory's administrator certificate and key."""
    issued = pki.issue_operator(
        f"{name} administrator", list(ADMIN_ROLES), now=now, validity_days=3650
    )
    issued.write(admin_prefix(pki.directory))
    return issued


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise PkiError(f"cannot read the {what} {path}: {err.strerror}") from None


def load_identity(
    path: Path, pki: Pki, *, now: datetime, passphrase: bytes | None = None
) -> tuple[Subject, ec.EllipticCurvePrivateKey]:
    """The subject of an identity file: a PEM certificate with its private key in the same
    file or beside it (``NAME.key``). The key must match: holding a certificate alone, which
    is public, proves nothing."""
    data = _read(path, "identity")
    try:
        cert = x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        raise PkiError(f"{path} holds no PEM certificate") from None
    key = matching_key(path, cert, passphrase, data=data)
    return subject_from_certificate(cert, pki, now=now), key


def matching_key(
    path: Path,
    cert: x509.Certificate,
    passphrase: bytes | None = None,
    *,
    data: bytes | None = None,
) -> ec.EllipticCurvePrivateKey:
    """The private key of ``cert``: in the PEM file ``path`` (``data``, when already read) or
    beside it (``NAME.key``); :class:`CertificateError` when it is not the key of ``cert``."""
    if data is None:
        data = _read(path, "key")
    if b"PRIVATE KEY-----" not in data:
        data = _read(path.with_suffix(".key"), "key")
    try:
        key = load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError) as err:
        raise PkiError(f"cannot load the private key of {path}: {err}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise CertificateError(f"the private key of {path} does not match its certificate")
    return key


def ensure_token_signer(pki: Pki, *, now: datetime) -> tuple[x509.Certificate, Path]:
    """The current token signer, issued (and written, key 0600) when there is none."""
    prefix = token_signer_prefix(pki.directory)
    pem = prefix.with_suffix(".pem")
    if not pem.exists():
        pki.issue_signer(f"{pki.name} token signer", now=now).write(prefix)
    return x509.load_pem_x509_certificates(pem.read_bytes())[0], prefix.with_suffix(".key")


def signer_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = load_pem_private_key(_read(path, "token signer key"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{path} is not an EC key")
    return key


def subject_from_token(
    token: str, pki: Pki, *, now: datetime, policy: Policy = DEFAULT_POLICY
) -> Subject:
    """Verify a token: its signer must be the current token signer, valid and not revoked."""
    prefix = token_signer_prefix(pki.directory)
    pem = prefix.with_suffix(".pem")
    if not pem.exists():
        raise TokenError("this deployment has no token signer: tokens are not accepted")
    cert = x509.load_pem_x509_certificates(pem.read_bytes())[0]
    kid = f"{cert.serial_number:X}"
    if token_kid(token) != kid:
        raise TokenError("the token was not signed by this deployment's token signer")
    try:
        pki.verify(cert, now, profiles={Profile.SIGNER})
    except CertificateError as err:
        raise TokenError(f"the token signer is not trusted: {err}") from None
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    claims = verify_token(token, public, kid, now=int(now.timestamp()), policy=policy)
    return Subject(
        identity=f"token:{claims.sub}",
        roles=claims.roles,
        source=Source.TOKEN,
        aor=claims.aor,
    )
