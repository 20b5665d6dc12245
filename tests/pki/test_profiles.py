"""Every profile checked field by field on certificates issued by a real PKI on disk."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from derlink.pki import (
    NO_EXPIRY,
    HardwareModuleName,
    Issued,
    Pki,
    PkiError,
    Profile,
    Role,
    decode_user_roles,
    load_certificates,
    oids,
)
from derlink.pki.profiles import key_usage_names

NINES = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(kind)


def check_common(issued: Issued, pki: Pki, issuer: Profile) -> None:
    cert = issued.certificate
    ca = pki.ca_certificate(issuer)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert cert.version is x509.Version.v3
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    ski = ext(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value.digest == x509.SubjectKeyIdentifier.from_public_key(key).digest
    aki = ext(cert, x509.AuthorityKeyIdentifier)
    assert not aki.critical
    assert aki.value.key_identifier == ext(ca, x509.SubjectKeyIdentifier).value.digest
    basic = ext(cert, x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    assert issued.chain == (ca, pki.root_certificate)


def key_usage_of(cert: x509.Certificate) -> frozenset[str]:
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical
    return key_usage_names(usage.value)


def policies_of(cert: x509.Certificate) -> tuple[list[x509.ObjectIdentifier], bool]:
    found = ext(cert, x509.CertificatePolicies)
    return [p.policy_identifier for p in found.value], found.critical


def test_device_profile_field_by_field(pki: Pki, now: datetime) -> None:
    issued = pki.issue_device("INV-0001", now=now)
    cert = issued.certificate
    check_common(issued, pki, Profile.DEVICE_CA)
    assert issued.profile is Profile.DEVICE
    assert len(cert.subject) == 0 and cert.subject == x509.Name([])
    assert cert.not_valid_before_utc == now
    assert cert.not_valid_after_utc == NINES == NO_EXPIRY
    from cryptography.hazmat.primitives.serialization import Encoding

    assert b"\x18\x0f99991231235959Z" in cert.public_bytes(Encoding.DER)  # GeneralizedTime
    san = ext(cert, x509.SubjectAlternativeName)
    assert san.critical and len(san.value) == 1
    (other,) = san.value.get_values_for_type(x509.OtherName)
    assert other.type_id.dotted_string == "1.3.6.1.5.5.7.8.4"
    hw = HardwareModuleName.from_der(other.value)
    assert hw.hw_type == oids.DERLINK_HW_TYPE and hw.hw_serial == b"INV-0001"
    assert key_usage_of(cert) == {"digital_signature", "key_agreement"}
    assert policies_of(cert) == ([x509.ObjectIdentifier("1.3.6.1.4.1.40732.1.1")], True)
    with pytest.raises(x509.ExtensionNotFound):
        ext(cert, x509.ExtendedKeyUsage)


def test_device_with_chosen_hw_type_and_policies(pki: Pki, now: datetime) -> None:
    issued = pki.issue_device(
        "SN 42",
        hw_type="1.3.6.1.4.1.99999.1",
        policies=["mobile", "1.3.6.1.4.1.40732.2.1"],
        now=now,
    )
    cert = issued.certificate
    (other,) = ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(x509.OtherName)
    hw = HardwareModuleName.from_der(other.value)
    assert hw.hw_type.dotted_string == "1.3.6.1.4.1.99999.1" and hw.hw_serial == b"SN 42"
    assert policies_of(cert) == ([oids.SEP2_DEVICE_MOBILE, oids.SEP2_POLICY_TEST], True)


def test_server_profile(pki: Pki, now: datetime) -> None:
    issued = pki.issue_server(["head-end.example", "192.0.2.7", "::1"], now=now)
    cert = issued.certificate
    check_common(issued, pki, Profile.DEVICE_CA)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "head-end.example"
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["head-end.example"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("192.0.2.7"),
        ipaddress.ip_address("::1"),
    ]
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert key_usage_of(cert) == {"digital_signature", "key_agreement"}
    assert cert.not_valid_before_utc == now
    assert cert.not_valid_after_utc == now + timedelta(days=825)
    assert policies_of(cert) == ([oids.POLICY_SERVER], False)


@pytest.mark.parametrize(
    ("profile", "unit", "policy"),
    [
        (Profile.OPERATOR, "operators", oids.POLICY_OPERATOR),
        (Profile.AGGREGATOR, "aggregators", oids.POLICY_AGGREGATOR),
    ],
)
def test_operator_and_aggregator_profiles(
    pki: Pki, now: datetime, profile: Profile, unit: str, policy: x509.ObjectIdentifier
) -> None:
    issue = pki.issue_operator if profile is Profile.OPERATOR else pki.issue_aggregator
    issued = issue("alice", [Role.OPERATOR, Role.VIEWER, Role.OPERATOR], now=now)
    cert = issued.certificate
    check_common(issued, pki, Profile.OPERATOR_CA)
    assert issued.profile is profile
    assert cert.subject.rfc4514_string() == f"CN=alice,OU={unit},O=derlink"
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert key_usage_of(cert) == {"digital_signature", "key_agreement"}
    assert cert.not_valid_after_utc == now + timedelta(days=365)
    assert policies_of(cert) == ([policy], False)
    roles_ext = cert.extensions.get_extension_for_oid(oids.IEC_USER_ROLES)
    assert not roles_ext.critical
    (info,) = decode_user_roles(roles_ext.value.value)
    assert info.roles == (Role.VIEWER, Role.OPERATOR)
    assert info.aor == "derlink" and info.revision == 1 and info.role_definition == "IEC62351-8"


def test_area_of_responsibility_and_validity(pki: Pki, now: datetime) -> None:
    issued = pki.issue_operator(
        "bob", [Role.SECAUD], now=now, validity_days=30, area_of_responsibility="north-grid"
    )
    cert = issued.certificate
    roles_ext = cert.extensions.get_extension_for_oid(oids.IEC_USER_ROLES)
    (info,) = decode_user_roles(roles_ext.value.value)
    assert info.aor == "north-grid" and info.roles == (Role.SECAUD,)
    assert cert.not_valid_after_utc == now + timedelta(days=30)


def test_signer_profile(pki: Pki, now: datetime) -> None:
    issued = pki.issue_signer("audit-log", now=now)
    cert = issued.certificate
    check_common(issued, pki, Profile.OPERATOR_CA)
    assert cert.subject.rfc4514_string() == "CN=audit-log,OU=signers,O=derlink"
    assert key_usage_of(cert) == {"digital_signature"}
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [oids.EKU_TREE_HEAD_SIGNING]
    assert policies_of(cert) == ([oids.POLICY_SIGNER], False)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(oids.IEC_USER_ROLES)


def test_ca_profiles(pki: Pki, now: datetime) -> None:
    root = pki.root_certificate
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)
    for ca in (Profile.ROOT_CA, Profile.DEVICE_CA, Profile.OPERATOR_CA):
        cert = pki.ca_certificate(ca)
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        basic = ext(cert, x509.BasicConstraints)
        assert basic.critical and basic.value.ca
        assert basic.value.path_length == (None if ca is Profile.ROOT_CA else 0)
        assert key_usage_of(cert) == {"key_cert_sign", "crl_sign"}
        assert cert.not_valid_before_utc == now and cert.not_valid_after_utc == NINES
        assert policies_of(cert)[1] is True
        assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == (
            ext(root, x509.SubjectKeyIdentifier).value.digest
        )
        if ca is not Profile.ROOT_CA:
            cert.verify_directly_issued_by(root)
    assert policies_of(root)[0] == [oids.ANY_POLICY]
    device_ca_policies = policies_of(pki.ca_certificate(Profile.DEVICE_CA))[0]
    assert set(oids.SEP2_POLICY_OIDS) <= set(device_ca_policies)


def test_write_files_modes_and_contents(pki: Pki, now: datetime, tmp_path: Path) -> None:
    issued = pki.issue_device("INV-7", now=now)
    cert_path, key_path = issued.write(tmp_path / "inv7")
    assert stat.S_IMODE(cert_path.stat().st_mode) == 0o644
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert load_certificates(cert_path) == [issued.certificate, *issued.chain]
    assert b"BEGIN PRIVATE KEY" in key_path.read_bytes()
    with pytest.raises(PkiError, match="already exists"):
        issued.write(tmp_path / "inv7")
    other = pki.issue_device("INV-8", now=now)
    other.write(tmp_path / "inv7", overwrite=True)
    assert load_certificates(cert_path)[0] == other.certificate


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p, t: p.issue_device("", now=t), "device serial number"),
        (lambda p, t: p.issue_device("x" * 65, now=t), "device serial number"),
        (lambda p, t: p.issue_device("A", policies=[], now=t), "at least one"),
        (lambda p, t: p.issue_device("A", policies=["1.2.3"], now=t), "not an IEEE 2030.5"),
        (lambda p, t: p.issue_device("A", policies=["nonsense"], now=t), "not an object id"),
        (lambda p, t: p.issue_device("A", hw_type="x.y", now=t), "not an object identifier"),
        (lambda p, t: p.issue_server([], now=t), "at least one DNS name"),
        (lambda p, t: p.issue_server(["bad host"], now=t), "neither a DNS name"),
        (lambda p, t: p.issue_server(["a.example"], now=t, validity_days=0), "at least one day"),
        (lambda p, t: p.issue_operator("alice", [], now=t), "at least one role"),
        (lambda p, t: p.issue_operator("", [Role.VIEWER], now=t), "name must be"),
        (
            lambda p, t: p.issue_operator("a", [Role.VIEWER], now=t, area_of_responsibility=""),
            "area of responsibility",
        ),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    pki: Pki, now: datetime, call: object, message: str
) -> None:
    before = pki.paths.index.read_bytes()
    with pytest.raises(PkiError, match=message):
        call(pki, now)  # type: ignore[operator]
    assert pki.paths.index.read_bytes() == before
    assert list((pki.directory / "issued").iterdir()) == []
