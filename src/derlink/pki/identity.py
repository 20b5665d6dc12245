"""Device identity: LFDI and SFDI (IEEE 2030.5-2018 6.3), HardwareModuleName.

The LFDI is the first 160 bits of the SHA-256 hash of the DER certificate, shown as 40
upper-case hex digits and compared case-insensitively. The SFDI is the first 36 bits of the
LFDI as a decimal number followed by a check digit that makes the sum of all digits a multiple
of 10.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import Certificate, ObjectIdentifier

from derlink.pki import asn1
from derlink.pki.errors import PkiError

LFDI_HEX_DIGITS = 40
_SFDI_BITS = 36
_LFDI_RE = re.compile(r"[0-9A-Fa-f]{40}")


def lfdi(cert_der: bytes) -> str:
    """The LFDI of a DER-encoded certificate: 40 upper-case hex digits."""
    return hashlib.sha256(cert_der).hexdigest()[:LFDI_HEX_DIGITS].upper()


def lfdi_of_certificate(cert: Certificate) -> str:
    """The LFDI of a parsed certificate (hash of its DER encoding)."""
    return lfdi(cert.public_bytes(Encoding.DER))


def sfdi_of_certificate(cert: Certificate) -> int:
    return sfdi_from_lfdi(lfdi_of_certificate(cert))


def normalise_lfdi(text: str) -> str:
    """``text`` as a canonical LFDI (upper case); :class:`PkiError` unless 40 hex digits."""
    candidate = text.strip()
    if not _LFDI_RE.fullmatch(candidate):
        raise PkiError(f"{text!r} is not an LFDI (40 hexadecimal digits)")
    return candidate.upper()


def sfdi_check_digit(number: int) -> int:
    """The digit that, appended to ``number``, makes its digit sum a multiple of 10."""
    return (10 - sum(int(d) for d in str(number)) % 10) % 10


def sfdi_from_lfdi(lfdi_text: str) -> int:
    """The SFDI of an LFDI: its first 36 bits in decimal followed by the check digit."""
    head = int(normalise_lfdi(lfdi_text)[: _SFDI_BITS // 4], 16)
    return head * 10 + sfdi_check_digit(head)


def sfdi(cert_der: bytes) -> int:
    """The SFDI of a DER-encoded certificate."""
    return sfdi_from_lfdi(lfdi(cert_der))


def is_valid_sfdi(value: int) -> bool:
    """True when ``value`` has at most 12 digits and a correct check digit."""
    return 0 <= value < 10**12 and sum(int(d) for d in str(value)) % 10 == 0


@dataclass(frozen=True, slots=True)
class HardwareModuleName:
    """RFC 4108 5: the hardware type (an OID) and the serial number of one device."""

    hw_type: ObjectIdentifier
    hw_serial: bytes

    def to_der(self) -> bytes:
        value = {"hwType": self.hw_type.dotted_string, "hwSerialNum": self.hw_serial}
        return asn1.encode("HardwareModuleName", value)

    @classmethod
    def from_der(cls, data: bytes) -> HardwareModuleName:
        """Decode; raises :class:`~derlink.pki.asn1.Asn1Error` on anything but exact DER."""
        value = asn1.decode("HardwareModuleName", data)
        return cls(ObjectIdentifier(value["hwType"]), bytes(value["hwSerialNum"]))

    @property
    def serial_text(self) -> str:
        """The serial as text (UTF-8 when it decodes, else hex)."""
        try:
            return self.hw_serial.decode("utf-8")
        except UnicodeDecodeError:
            return self.hw_serial.hex().upper()
