"""Reading certificates and CRLs from files and bytes, with one clear error for each mistake."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from derlink.pki.errors import PkiError

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_CRL = b"-----BEGIN X509 CRL-----"


def read_file(path: Path, what: str) -> bytes:
    """The bytes of ``path``; :class:`PkiError` when missing, a directory or unreadable."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise PkiError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise PkiError(f"{what} {path} is a directory, not a file") from None
    except OSError as err:
        raise PkiError(f"cannot read {what} {path}: {err.strerror}") from None


def parse_certificates(data: bytes, source: str = "the data") -> list[x509.Certificate]:
    """Every certificate in PEM ``data`` (in order), or the one DER certificate."""
    try:
        if _PEM_CERT in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise PkiError(f"{source} is not a PEM or DER X.509 certificate") from None


def parse_certificate(data: bytes, source: str = "the data") -> x509.Certificate:
    """The first (leaf) certificate of PEM ``data``, or the DER certificate."""
    return parse_certificates(data, source)[0]


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM or DER file."""
    return parse_certificate(read_file(path, "certificate file"), str(path))


def load_certificates(path: Path) -> list[x509.Certificate]:
    """All certificates of a PEM file (leaf first), or the one of a DER file."""
    return parse_certificates(read_file(path, "certificate file"), str(path))


def parse_crl(data: bytes, source: str = "the data") -> x509.CertificateRevocationList:
    try:
        if _PEM_CRL in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise PkiError(f"{source} is not a PEM or DER X.509 CRL") from None


def load_crl(path: Path) -> x509.CertificateRevocationList:
    return parse_crl(read_file(path, "CRL file"), str(path))


def certificate_pem(certs: Iterable[x509.Certificate]) -> bytes:
    """PEM of ``certs`` concatenated, in the given order."""
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def certificate_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)
