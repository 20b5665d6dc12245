"""Reading a certificate back: its extensions, which profile it matches, and whether it holds
exactly what that profile prescribes (:data:`~derlink.pki.profiles.LEAF_SPECS`).

Every check raises :class:`CertificateError` with the reason only; the caller says which
certificate.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.pki import oids
from derlink.pki.asn1 import Asn1Error
from derlink.pki.clock import NO_EXPIRY, iso
from derlink.pki.errors import CertificateError
from derlink.pki.identity import HardwareModuleName
from derlink.pki.keys import CURVE_NAME
from derlink.pki.profiles import LEAF_SPECS, LeafSpec, Profile, key_usage_names
from derlink.pki.roles import UserRoleInfo, decode_user_roles

E = TypeVar("E", bound=x509.ExtensionType)


def extension(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E] | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None
    except ValueError as err:  # a malformed or duplicated extension
        raise CertificateError(f"unreadable extensions: {err}") from None


def _raw_extension(
    cert: x509.Certificate, oid: x509.ObjectIdentifier
) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    except ValueError as err:
        raise CertificateError(f"unreadable extensions: {err}") from None


def policy_oids(cert: x509.Certificate) -> frozenset[x509.ObjectIdentifier]:
    ext = extension(cert, x509.CertificatePolicies)
    if ext is None:
        return frozenset()
    return frozenset(p.policy_identifier for p in ext.value)


def is_ca(cert: x509.Certificate) -> bool:
    ext = extension(cert, x509.BasicConstraints)
    return ext is not None and ext.value.ca


def hardware_module_name(cert: x509.Certificate) -> HardwareModuleName | None:
    """The HardwareModuleName otherName of the SAN, or None; refuses a malformed one."""
    ext = extension(cert, x509.SubjectAlternativeName)
    if ext is None:
        return None
    for other in ext.value.get_values_for_type(x509.OtherName):
        if other.type_id == oids.HARDWARE_MODULE_NAME:
            try:
                return HardwareModuleName.from_der(other.value)
            except Asn1Error as err:
                raise CertificateError(f"malformed HardwareModuleName: {err}") from None
    return None


def user_roles(cert: x509.Certificate) -> tuple[UserRoleInfo, ...] | None:
    """The decoded IECUserRoles extension (IEC 62351-8 9.5.1), or None when absent."""
    ext = _raw_extension(cert, oids.IEC_USER_ROLES)
    if ext is None:
        return None
    assert isinstance(ext.value, x509.UnrecognizedExtension)
    try:
        return decode_user_roles(ext.value.value)
    except Asn1Error as err:
        raise CertificateError(f"malformed IECUserRoles extension: {err}") from None


def classify(cert: x509.Certificate) -> Profile:
    """The profile ``cert`` claims, by its basic constraints and certificate policies."""
    found = policy_oids(cert)
    if is_ca(cert):
        return _classify_ca(cert, found)
    for profile, spec in LEAF_SPECS.items():
        if spec.policy is not None and spec.policy in found:
            return profile
    if found & oids.SEP2_POLICY_OIDS:
        return Profile.DEVICE
    raise CertificateError("it matches no derlink certificate profile (no known policy)")


def _classify_ca(cert: x509.Certificate, found: frozenset[x509.ObjectIdentifier]) -> Profile:
    if cert.subject == cert.issuer:
        return Profile.ROOT_CA
    if oids.SEP2_DEVICE_GENERIC in found:
        return Profile.DEVICE_CA
    if oids.POLICY_OPERATOR in found:
        return Profile.OPERATOR_CA
    raise CertificateError("it is a CA certificate of no derlink profile")


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateError(f"not valid before {iso(cert.not_valid_before_utc)}")
    if now > cert.not_valid_after_utc:
        raise CertificateError(f"expired on {iso(cert.not_valid_after_utc)}")


def check_key(cert: x509.Certificate) -> None:
    """ECDSA P-256 key and ECDSA-with-SHA256 signature (IEEE 2030.5-2018 6.11)."""
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != CURVE_NAME:
        raise CertificateError(f"its key is not ECDSA P-256 ({_key_text(key)})")
    hash_algorithm = cert.signature_hash_algorithm
    if not isinstance(hash_algorithm, hashes.SHA256):
        raise CertificateError("it is not signed with ECDSA-SHA256")


def _key_text(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"curve {key.curve.name}"
    return type(key).__name__.lstrip("_")


def check_profile(profile: Profile, cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """Raise unless ``cert`` holds exactly what ``profile`` prescribes, issued by ``issuer``."""
    check_key(cert)
    _check_key_identifiers(cert, issuer)
    if cert.version is not x509.Version.v3:
        raise CertificateError("it is not an X.509 v3 certificate")
    if profile.is_ca:
        _check_ca(cert)
        return
    spec = LEAF_SPECS[profile]
    _check_leaf(spec, cert)
    _check_issuer(spec, cert, issuer)
    if profile is Profile.DEVICE:
        check_device(cert)
    if profile is Profile.XMPP_CLIENT:
        check_xmpp_client(cert)
    if profile is Profile.E2E:
        check_e2e(cert)
    if spec.roles:
        _check_roles(cert)


def _check_key_identifiers(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    ski = extension(cert, x509.SubjectKeyIdentifier)
    aki = extension(cert, x509.AuthorityKeyIdentifier)
    issuer_ski = extension(issuer, x509.SubjectKeyIdentifier)
    if ski is None or aki is None or issuer_ski is None:
        raise CertificateError("subjectKeyIdentifier or authorityKeyIdentifier missing")
    if aki.value.key_identifier != issuer_ski.value.digest:
        raise CertificateError("authorityKeyIdentifier does not match the issuer's key")


def _check_ca(cert: x509.Certificate) -> None:
    basic = _critical(cert, x509.BasicConstraints, "basicConstraints")
    usage = _critical(cert, x509.KeyUsage, "keyUsage")
    if not basic.ca or not {"key_cert_sign", "crl_sign"} <= key_usage_names(usage):
        raise CertificateError("it is not a CA certificate (basicConstraints / keyUsage)")


def _critical(cert: x509.Certificate, kind: type[E], label: str) -> E:
    ext = extension(cert, kind)
    if ext is None:
        raise CertificateError(f"{label} is missing")
    if not ext.critical:
        raise CertificateError(f"{label} is not critical")
    return ext.value


def _check_leaf(spec: LeafSpec, cert: x509.Certificate) -> None:
    if _critical(cert, x509.BasicConstraints, "basicConstraints").ca:
        raise CertificateError("basicConstraints says CA but this is an end-entity profile")
    usage = key_usage_names(_critical(cert, x509.KeyUsage, "keyUsage"))
    if usage != spec.key_usage:
        want = ", ".join(sorted(spec.key_usage))
        raise CertificateError(f"keyUsage is {', '.join(sorted(usage))}, expected {want}")
    if spec.eku:
        eku = extension(cert, x509.ExtendedKeyUsage)
        for purpose in spec.eku:
            if eku is None or purpose not in eku.value:
                raise CertificateError(f"extendedKeyUsage lacks {purpose.dotted_string}")
    if spec.unit is not None:
        _check_unit(cert, spec.unit)


def _check_unit(cert: x509.Certificate, unit: str) -> None:
    units = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
    if [a.value for a in units] != [unit]:
        raise CertificateError(f"subject organizational unit is not {unit!r}")


def _check_issuer(spec: LeafSpec, cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """The leaf's policies must be among its issuer's (RFC 5280 6.1.3), and the issuer the
    right kind of CA for the profile."""
    if not is_ca(issuer) or classify(issuer) is not spec.issuer:
        raise CertificateError(f"it was not issued by a {spec.issuer.value}")
    allowed = policy_oids(issuer)
    if oids.ANY_POLICY not in allowed and not policy_oids(cert) <= allowed:
        raise CertificateError("its certificate policies are not among its issuer's")


def check_device(cert: x509.Certificate) -> None:
    """The IEEE 2030.5 device certificate profile (IEEE 2030.5-2018 6.11), field by field."""
    if len(cert.subject) != 0:
        raise CertificateError("a 2030.5 device certificate must have an empty subject")
    if cert.not_valid_after_utc != NO_EXPIRY:
        raise CertificateError("a 2030.5 device certificate must have notAfter 99991231235959Z")
    san = _critical(cert, x509.SubjectAlternativeName, "subjectAltName")
    if len(san) != 1 or hardware_module_name(cert) is None:
        raise CertificateError("subjectAltName must hold exactly one HardwareModuleName")
    policies = _critical(cert, x509.CertificatePolicies, "certificatePolicies")
    found = {p.policy_identifier for p in policies}
    if not found or not found <= oids.SEP2_POLICY_OIDS:
        raise CertificateError("certificatePolicies must hold only IEEE 2030.5 policy OIDs")


def xmpp_addrs(cert: x509.Certificate) -> tuple[str, ...]:
    """The JIDs in the id-on-xmppAddr otherNames of the SAN (RFC 6120 13.7.1.4)."""
    ext = extension(cert, x509.SubjectAlternativeName)
    if ext is None:
        return ()
    found = []
    for other in ext.value.get_values_for_type(x509.OtherName):
        if other.type_id == oids.XMPP_ADDR:
            value = other.value
            if len(value) < 2 or value[0] != 0x0C or value[1] != len(value) - 2:
                raise CertificateError("malformed id-on-xmppAddr (not a short UTF8String)")
            try:
                found.append(value[2:].decode("utf-8"))
            except UnicodeDecodeError:
                raise CertificateError("malformed id-on-xmppAddr (not UTF-8)") from None
    return tuple(found)


def check_xmpp_client(cert: x509.Certificate) -> None:
    """An XMPP client certificate names exactly one JID (id-on-xmppAddr) and nothing else."""
    san = extension(cert, x509.SubjectAlternativeName)
    if san is None or len(san.value) != 1 or len(xmpp_addrs(cert)) != 1:
        raise CertificateError("subjectAltName must hold exactly one id-on-xmppAddr")
    _check_roles(cert, required=False)


def check_e2e(cert: x509.Certificate) -> None:
    """An end-to-end certificate: derlink's e2e EKU and no other (never a TLS certificate); a
    SAN, when present, holds at most one id-on-xmppAddr and one HardwareModuleName."""
    eku = extension(cert, x509.ExtendedKeyUsage)
    if eku is None or list(eku.value) != [oids.EKU_E2E]:
        raise CertificateError("extendedKeyUsage must be the end-to-end purpose alone")
    san = extension(cert, x509.SubjectAlternativeName)
    if san is not None:
        others = san.value.get_values_for_type(x509.OtherName)
        kinds = [o.type_id for o in others]
        allowed = {oids.XMPP_ADDR, oids.HARDWARE_MODULE_NAME}
        duplicated = len(set(kinds)) != len(kinds)
        if len(others) != len(san.value) or duplicated or not set(kinds) <= allowed:
            raise CertificateError("subjectAltName may hold one xmppAddr and one hardware name")
        xmpp_addrs(cert)
        hardware_module_name(cert)
    _check_roles(cert, required=False)


def _check_roles(cert: x509.Certificate, *, required: bool = True) -> None:
    """A non-critical, well-formed IECUserRoles extension (absent allowed unless required)."""
    ext = _raw_extension(cert, oids.IEC_USER_ROLES)
    if ext is None:
        if not required:
            return
        raise CertificateError("the IECUserRoles extension (IEC 62351-8) is missing")
    if ext.critical:
        raise CertificateError("the IECUserRoles extension must not be critical")
    user_roles(cert)
