"""Certificate profiles: what each kind of derlink certificate holds, and the builders.

The hierarchy follows IEEE 2030.5-2018 6.11 (SERCA → MICA → device): a self-signed root (like a
SERCA), a device CA (like a MICA) issuing 2030.5 device and TLS server certificates, and an
operator CA issuing operator, aggregator and signer certificates. Every certificate is ECDSA
P-256 signed with ECDSA-SHA256 and carries subjectKeyIdentifier and authorityKeyIdentifier.

:data:`LEAF_SPECS` is the one table of what a leaf profile holds; the builders here write it and
:mod:`derlink.pki.checks` reads it back, so issuing and verifying cannot drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from derlink.pki import oids
from derlink.pki.clock import NO_EXPIRY
from derlink.pki.identity import HardwareModuleName
from derlink.pki.keys import PrivateKey


class Profile(enum.Enum):
    """The kinds of certificate the derlink PKI issues and recognises."""

    ROOT_CA = "root-ca"
    DEVICE_CA = "device-ca"
    OPERATOR_CA = "operator-ca"
    DEVICE = "device"
    SERVER = "server"
    OPERATOR = "operator"
    AGGREGATOR = "aggregator"
    SIGNER = "signer"
    XMPP_CLIENT = "xmpp-client"
    E2E = "e2e"

    @property
    def is_ca(self) -> bool:
        return self in CA_PROFILES


CA_PROFILES = frozenset({Profile.ROOT_CA, Profile.DEVICE_CA, Profile.OPERATOR_CA})


@dataclass(frozen=True, slots=True)
class LeafSpec:
    """What one end-entity profile holds.

    ``key_usage`` lists the x509.KeyUsage attributes set (critical, nothing else set);
    ``policy`` is the derlink policy OID naming the profile (None for 2030.5 devices, whose
    policies are the 2030.5 ones); ``unit`` is the subject OU.
    """

    issuer: Profile
    key_usage: frozenset[str]
    eku: tuple[x509.ObjectIdentifier, ...]
    policy: x509.ObjectIdentifier | None
    unit: str | None
    roles: bool = False


_SIGN_AGREE = frozenset({"digital_signature", "key_agreement"})

LEAF_SPECS: dict[Profile, LeafSpec] = {
    # IEEE 2030.5-2018 6.11: keyUsage digitalSignature + keyAgreement, critical; no EKU.
    Profile.DEVICE: LeafSpec(Profile.DEVICE_CA, _SIGN_AGREE, (), None, None),
    # clientAuth too: the head-end is the TLS client when it POSTs notifications.
    Profile.SERVER: LeafSpec(
        Profile.DEVICE_CA,
        _SIGN_AGREE,
        (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
        oids.POLICY_SERVER,
        None,
    ),
    Profile.OPERATOR: LeafSpec(
        Profile.OPERATOR_CA,
        _SIGN_AGREE,
        (ExtendedKeyUsageOID.CLIENT_AUTH,),
        oids.POLICY_OPERATOR,
        "operators",
        roles=True,
    ),
    Profile.AGGREGATOR: LeafSpec(
        Profile.OPERATOR_CA,
        _SIGN_AGREE,
        (ExtendedKeyUsageOID.CLIENT_AUTH,),
        oids.POLICY_AGGREGATOR,
        "aggregators",
        roles=True,
    ),
    # Signs audit tree heads only: digitalSignature, and an EKU no TLS stack accepts.
    Profile.SIGNER: LeafSpec(
        Profile.OPERATOR_CA,
        frozenset({"digital_signature"}),
        (oids.EKU_TREE_HEAD_SIGNING,),
        oids.POLICY_SIGNER,
        "signers",
    ),
    # An XMPP client (IED or control centre) logging in with SASL EXTERNAL: the JID is in
    # subjectAltName as id-on-xmppAddr; IEC 62351-8 roles are optional. Issued by the device CA.
    Profile.XMPP_CLIENT: LeafSpec(
        Profile.DEVICE_CA,
        frozenset({"digital_signature"}),
        (ExtendedKeyUsageOID.CLIENT_AUTH,),
        oids.POLICY_XMPP_CLIENT,
        "xmpp",
    ),
    # End-to-end sessions and group keys (IEC 62351-4 E2E, 62351-9): digitalSignature (signed
    # handshake tokens) + keyAgreement (ECDH), and derlink's own EKU so no TLS stack accepts it.
    # Optional SAN (id-on-xmppAddr, HardwareModuleName) and IEC 62351-8 roles. Device CA.
    Profile.E2E: LeafSpec(
        Profile.DEVICE_CA,
        _SIGN_AGREE,
        (oids.EKU_E2E,),
        oids.POLICY_E2E,
        "end-to-end",
    ),
}

#: The policies each issuing CA asserts (critical, as a 2030.5 MICA): a leaf's policies must be
#: among its issuer's, which is how verification knows the right CA issued it (RFC 5280 6.1).
CA_POLICIES: dict[Profile, tuple[x509.ObjectIdentifier, ...]] = {
    Profile.ROOT_CA: (oids.ANY_POLICY,),
    Profile.DEVICE_CA: (
        *oids.SEP2_POLICIES.values(),
        oids.POLICY_SERVER,
        oids.POLICY_XMPP_CLIENT,
        oids.POLICY_E2E,
    ),
    Profile.OPERATOR_CA: (oids.POLICY_OPERATOR, oids.POLICY_AGGREGATOR, oids.POLICY_SIGNER),
}

_KEY_USAGE_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def key_usage(names: frozenset[str]) -> x509.KeyUsage:
    """A KeyUsage with exactly the named bits set."""
    flags = {name: name in names for name in _KEY_USAGE_FIELDS}
    return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


def key_usage_names(usage: x509.KeyUsage) -> frozenset[str]:
    """The names of the bits set in ``usage``."""
    return frozenset(name for name in _KEY_USAGE_FIELDS if getattr(usage, name))


def policies(oid_list: Sequence[x509.ObjectIdentifier]) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(oid, None) for oid in oid_list])


def name(common_name: str, organisation: str, unit: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)]
    if unit is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


@dataclass(frozen=True, slots=True)
class Signing:
    """Who signs: the issuer's certificate (None for the self-signed root) and key."""

    key: PrivateKey
    cert: x509.Certificate | None = None

    @property
    def key_identifier(self) -> x509.SubjectKeyIdentifier:
        if self.cert is None:
            return x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        return self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def _builder(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    signer: Signing,
    serial: int,
    validity: tuple[datetime, datetime],
) -> x509.CertificateBuilder:
    issuer = subject if signer.cert is None else signer.cert.subject
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(signer.key_identifier)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(aki, critical=False)
    )


def _sign(builder: x509.CertificateBuilder, signer: Signing) -> x509.Certificate:
    return builder.sign(signer.key, hashes.SHA256())


def build_ca(
    profile: Profile,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    signer: Signing,
    serial: int,
    now: datetime,
) -> x509.Certificate:
    """A CA certificate: root (``signer.cert`` None) or issuing CA (path length 0).

    notAfter is 99991231235959Z as for 2030.5 SERCA and MICA certificates (IEEE 2030.5-2018 6.11).
    """
    path_length = None if profile is Profile.ROOT_CA else 0
    builder = (
        _builder(subject, public_key, signer, serial, (now, NO_EXPIRY))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(key_usage(frozenset({"key_cert_sign", "crl_sign"})), critical=True)
        .add_extension(policies(CA_POLICIES[profile]), critical=True)
    )
    return _sign(builder, signer)


def _leaf(
    spec: LeafSpec,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    signer: Signing,
    serial: int,
    validity: tuple[datetime, datetime],
) -> x509.CertificateBuilder:
    builder = (
        _builder(subject, public_key, signer, serial, validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(spec.key_usage), critical=True)
    )
    if spec.eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.eku)), critical=False)
    if spec.policy is not None:
        builder = builder.add_extension(policies([spec.policy]), critical=False)
    return builder


def build_device(
    hw_name: HardwareModuleName,
    policy_oids: Sequence[x509.ObjectIdentifier],
    public_key: ec.EllipticCurvePublicKey,
    signer: Signing,
    serial: int,
    now: datetime,
) -> x509.Certificate:
    """The IEEE 2030.5 device certificate (IEEE 2030.5-2018 6.11).

    Empty subject; notBefore ``now``; notAfter 99991231235959Z; critical subjectAltName with one
    otherName HardwareModuleName (RFC 4108; RFC 5280 4.2.1.6 requires a critical SAN when the
    subject is empty); critical keyUsage digitalSignature + keyAgreement; critical
    basicConstraints CA=false; critical certificatePolicies with the 2030.5 policy OIDs.
    """
    san = x509.SubjectAlternativeName([x509.OtherName(oids.HARDWARE_MODULE_NAME, hw_name.to_der())])
    spec = LEAF_SPECS[Profile.DEVICE]
    builder = (
        _leaf(spec, x509.Name([]), public_key, signer, serial, (now, NO_EXPIRY))
        .add_extension(san, critical=True)
        .add_extension(policies(policy_oids), critical=True)
    )
    return _sign(builder, signer)


def build_server(
    subject: x509.Name,
    alt_names: Sequence[x509.GeneralName],
    public_key: ec.EllipticCurvePublicKey,
    signer: Signing,
    serial: int,
    validity: tuple[datetime, datetime],
) -> x509.Certificate:
    """A TLS server certificate (EKU serverAuth, SAN with the DNS names and IP addresses)."""
    builder = _leaf(LEAF_SPECS[Profile.SERVER], subject, public_key, signer, serial, validity)
    builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return _sign(builder, signer)


def build_person(
    profile: Profile,
    subject: x509.Name,
    roles_der: bytes | None,
    public_key: ec.EllipticCurvePublicKey,
    signer: Signing,
    serial: int,
    validity: tuple[datetime, datetime],
) -> x509.Certificate:
    """An operator, aggregator or signer certificate; roles in IECUserRoles (IEC 62351-8 9.5.1).

    The IECUserRoles extension is non-critical, as IEC 62351-8 9.5.1 defines it.
    """
    builder = _leaf(LEAF_SPECS[profile], subject, public_key, signer, serial, validity)
    if roles_der is not None:
        roles_ext = x509.UnrecognizedExtension(oids.IEC_USER_ROLES, roles_der)
        builder = builder.add_extension(roles_ext, critical=False)
    return _sign(builder, signer)


def xmpp_addr_der(jid: str) -> bytes:
    """The DER UTF8String of an id-on-xmppAddr otherName value (RFC 6120 13.7.1.4)."""
    data = jid.encode("utf-8")
    if len(data) < 0x80:
        return bytes([0x0C, len(data)]) + data
    size = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(size)]) + size + data


def build_xmpp_client(
    subject: x509.Name,
    jid: str,
    roles_der: bytes | None,
    public_key: ec.EllipticCurvePublicKey,
    signer: Signing,
    serial: int,
    validity: tuple[datetime, datetime],
) -> x509.Certificate:
    """An XMPP client certificate: SAN otherName id-on-xmppAddr with the bare JID, which both
    Prosody (mod_auth_ccert) and ejabberd read for SASL EXTERNAL; IECUserRoles when given."""
    spec = LEAF_SPECS[Profile.XMPP_CLIENT]
    san = x509.SubjectAlternativeName([x509.OtherName(oids.XMPP_ADDR, xmpp_addr_der(jid))])
    builder = _leaf(spec, subject, public_key, signer, serial, validity)
    builder = builder.add_extension(san, critical=False)
    if roles_der is not None:
        roles_ext = x509.UnrecognizedExtension(oids.IEC_USER_ROLES, roles_der)
        builder = builder.add_extension(roles_ext, critical=False)
    return _sign(builder, signer)


def build_e2e(
    subject: x509.Name,
    alt_names: Sequence[x509.GeneralName],
    roles_der: bytes | None,
    public_key: ec.EllipticCurvePublicKey,
    signer: Signing,
    serial: int,
    validity: tuple[datetime, datetime],
) -> x509.Certificate:
    """An end-to-end certificate; ``alt_names`` (id-on-xmppAddr, HardwareModuleName) bind it to
    the holder's transport identity, ``roles_der`` carries IECUserRoles when given."""
    builder = _leaf(LEAF_SPECS[Profile.E2E], subject, public_key, signer, serial, validity)
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if roles_der is not None:
        roles_ext = x509.UnrecognizedExtension(oids.IEC_USER_ROLES, roles_der)
        builder = builder.add_extension(roles_ext, critical=False)
    return _sign(builder, signer)
