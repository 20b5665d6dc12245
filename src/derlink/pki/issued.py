"""A freshly issued certificate with its private key, and writing both to files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from derlink.home import write_private, write_public
from derlink.pki.errors import PkiError
from derlink.pki.files import certificate_der, certificate_pem
from derlink.pki.identity import lfdi, sfdi_from_lfdi
from derlink.pki.keys import PrivateKey, key_pem
from derlink.pki.profiles import Profile


def output_paths(prefix: Path) -> tuple[Path, Path]:
    """``prefix.pem`` (certificate and chain) and ``prefix.key`` (private key)."""
    return Path(f"{prefix}.pem"), Path(f"{prefix}.key")


def check_output(prefix: Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """The two output paths, or :class:`PkiError` when they cannot or must not be written."""
    paths = output_paths(prefix)
    parent = paths[0].parent
    if not parent.is_dir():
        raise PkiError(f"cannot write {paths[0]}: directory {parent} does not exist")
    for path in paths:
        if path.is_dir():
            raise PkiError(f"cannot write {path}: it is a directory")
        if path.exists() and not overwrite:
            raise PkiError(f"{path} already exists (pass --overwrite to replace it)")
    return paths


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate just issued, its private key and the CA chain up to the root."""

    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    profile: Profile

    @property
    def serial_number(self) -> int:
        return self.certificate.serial_number

    @property
    def lfdi(self) -> str:
        return lfdi(certificate_der(self.certificate))

    @property
    def sfdi(self) -> int:
        return sfdi_from_lfdi(self.lfdi)

    def certificate_pem(self) -> bytes:
        """The leaf followed by the chain (issuing CA, then root)."""
        return certificate_pem([self.certificate, *self.chain])

    def key_pem(self, passphrase: bytes | None = None) -> bytes:
        return key_pem(self.private_key, passphrase)

    def write(
        self, prefix: Path, *, overwrite: bool = False, passphrase: bytes | None = None
    ) -> tuple[Path, Path]:
        """Write ``prefix.pem`` (0644) and ``prefix.key`` (0600); refuse to overwrite."""
        cert_path, key_path = check_output(prefix, overwrite=overwrite)
        key_bytes = self.key_pem(passphrase)
        try:
            write_private(key_path, key_bytes)
            write_public(cert_path, self.certificate_pem())
        except OSError as err:
            raise PkiError(f"cannot write {prefix}.pem/.key: {err.strerror}") from None
        return cert_path, key_path
