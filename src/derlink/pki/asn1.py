"""The ASN.1 modules of the two certificate structures derlink writes itself, and a strict codec.

``HardwareModuleName`` is the otherName of RFC 4108 5 that IEEE 2030.5 device certificates carry
in subjectAltName. ``IECUserRoles`` is the access-token extension of IEC 62351-8 9.5 (ID
certificate profile), OID 1.2.840.10070.8.1.

Decoding untrusted bytes: the DER codec of asn1tools loops forever on a SEQUENCE OF element with
a wrong tag, its BER codec raises. So :func:`decode` parses with BER and then insists that the DER
re-encoding equals the input byte for byte, which both refuses non-canonical encodings (DER,
X.690 10) and never hangs.
"""

from __future__ import annotations

from typing import Any

import asn1tools

# RFC 4108 5 (id-on-hardwareModuleName); explicit tagging is irrelevant: no tags are used.
HARDWARE_MODULE = """
HardwareModuleNameModule DEFINITIONS ::= BEGIN
HardwareModuleName ::= SEQUENCE {
    hwType       OBJECT IDENTIFIER,
    hwSerialNum  OCTET STRING }
END
"""

# IEC 62351-8 9.5.1 (ID certificate), id-IECuserRoles ::= { 1 2 840 10070 8 1 }. The module uses
# no tags: the optional members are told apart by their universal tags, which are distinct in
# order (UTF8String, ENUMERATED, INTEGER).
IEC_62351_8 = """
IEC62351-8-Roles DEFINITIONS ::= BEGIN
IECUserRoles ::= SEQUENCE OF UserRoleInfo
UserRoleInfo ::= SEQUENCE {
    userRole                    SEQUENCE SIZE (1..MAX) OF RoleId,
    aor                         UTF8String (SIZE (1..64)),
    revision                    INTEGER (0..255),
    roleDefinition              UTF8String (SIZE (1..23)) OPTIONAL,
    -- optional fields used within IEEE 1815 and IEC 60870-5
    operation                   Operation OPTIONAL,
    statusChangeSequenceNumber  INTEGER (0..4294967295) OPTIONAL }
-- 0..32767 reserved for IEC 62351, -32768..-1 for private use (IEC 62351-8 9.4.4.1)
RoleId ::= INTEGER (-32768..32767)
Operation ::= ENUMERATED { add (1), delete (2), change (3) }
END
"""

_MODULES = [HARDWARE_MODULE, IEC_62351_8]
_DER = asn1tools.compile_string("\n".join(_MODULES), "der")
_BER = asn1tools.compile_string("\n".join(_MODULES), "ber")

#: Refuse inputs larger than this outright; certificates carry a few hundred bytes at most.
MAX_INPUT = 16 * 1024


class Asn1Error(ValueError):
    """The bytes are not a valid DER encoding of the type."""


def encode(type_name: str, value: Any) -> bytes:
    """DER encoding of ``value`` (constraints checked)."""
    try:
        return bytes(_DER.encode(type_name, value, check_constraints=True))
    except asn1tools.Error as err:
        raise Asn1Error(f"cannot encode {type_name}: {err}") from None


def decode(type_name: str, data: bytes) -> Any:
    """Decode DER ``data``; raise :class:`Asn1Error` unless it is exactly canonical DER."""
    if len(data) > MAX_INPUT:
        raise Asn1Error(f"{type_name} of {len(data)} bytes is too large")
    try:
        value = _BER.decode(type_name, data, check_constraints=True)
        canonical = bytes(_DER.encode(type_name, value, check_constraints=True))
    except (asn1tools.Error, ValueError, TypeError, IndexError) as err:
        raise Asn1Error(f"not a valid {type_name}: {err}") from None
    if canonical != data:
        raise Asn1Error(f"{type_name} is not in canonical DER or has trailing bytes")
    return value
