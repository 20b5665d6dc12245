"""Key pairs: ECDSA P-256 (IEEE 2030.5-2018 6.11: secp256r1 for all certificates), PEM files."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.pki.errors import PassphraseError, PkiError

PrivateKey = ec.EllipticCurvePrivateKey
CURVE_NAME = "secp256r1"


def generate_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS #8 PEM, encrypted with the best available scheme when a passphrase is given."""
    if passphrase is not None and not passphrase:
        raise PkiError("the passphrase is empty")
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key(path: Path, passphrase: bytes | None) -> PrivateKey:
    """Load a P-256 private key; :class:`PassphraseError` names a missing or wrong passphrase."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PkiError(f"cannot read the key {path}: {err.strerror}") from None
    key = _parse_key(data, passphrase, path)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != CURVE_NAME:
        raise PkiError(f"{path} is not an ECDSA P-256 private key")
    return key


def _parse_key(data: bytes, passphrase: bytes | None, path: Path) -> object:
    try:
        return serialization.load_pem_private_key(data, passphrase)
    except TypeError:
        if passphrase is None:
            raise PassphraseError(
                f"the CA key {path.name} is encrypted and no passphrase was given"
            ) from None
        return _parse_key(data, None, path)  # a passphrase for a clear key does no harm
    except ValueError:
        if passphrase is not None and b"ENCRYPTED" in data:
            raise PassphraseError(f"wrong passphrase for the CA key {path.name}") from None
        raise PkiError(f"{path} is not a PEM private key") from None
