"""verify_certificate: what it accepts, what it refuses and what it says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from derlink.pki import (
    CertificateError,
    HardwareModuleName,
    Pki,
    PkiError,
    Profile,
    Role,
    oids,
    sfdi_from_lfdi,
    verify_certificate,
)
from derlink.pki.profiles import LEAF_SPECS, key_usage, policies

from .conftest import Forge


def anchors(pki: Pki) -> dict[str, object]:
    return {
        "intermediates": [
            pki.ca_certificate(Profile.DEVICE_CA),
            pki.ca_certificate(Profile.OPERATOR_CA),
        ],
        "trust_roots": [pki.root_certificate],
        "crls": pki.crls(),
    }


def device_extensions(
    *, policies_critical: bool = True, san_critical: bool = True, skip: str = ""
) -> list[tuple[x509.ExtensionType, bool]]:
    hw = HardwareModuleName(oids.DERLINK_HW_TYPE, b"FORGED-1")
    san = x509.SubjectAlternativeName([x509.OtherName(oids.HARDWARE_MODULE_NAME, hw.to_der())])
    found: dict[str, tuple[x509.ExtensionType, bool]] = {
        "basic": (x509.BasicConstraints(ca=False, path_length=None), True),
        "usage": (key_usage(LEAF_SPECS[Profile.DEVICE].key_usage), True),
        "san": (san, san_critical),
        "policies": (policies([oids.SEP2_DEVICE_GENERIC]), policies_critical),
    }
    return [v for k, v in found.items() if k != skip]


def with_key_ids(
    forge: Forge, pki: Pki, ca: Profile = Profile.DEVICE_CA, **kw: object
) -> x509.Certificate:
    key = kw.pop("key", None) or ec.generate_private_key(ec.SECP256R1()).public_key()
    ca_ski = pki.ca_certificate(ca).extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    ids = [
        (x509.SubjectKeyIdentifier.from_public_key(key), False),  # type: ignore[arg-type]
        (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value), False),
    ]
    extensions = list(kw.pop("extensions", device_extensions()))  # type: ignore[call-overload]
    return forge(ca=ca, key=key, extensions=ids + extensions, **kw)


def test_each_profile_verifies_and_is_described(pki: Pki, now: datetime) -> None:
    device = pki.issue_device("INV-0001", now=now)
    result = verify_certificate(device.certificate, now=now, **anchors(pki))  # type: ignore[arg-type]
    assert result.profile is Profile.DEVICE
    assert result.lfdi == device.lfdi and len(result.lfdi) == 40 and result.lfdi.isupper()
    assert result.sfdi == sfdi_from_lfdi(result.lfdi)
    assert result.hardware_serial == "INV-0001"
    assert result.subject == "" and result.roles == ()
    assert result.serial_number == device.serial_number
    assert result.not_after.year == 9999

    operator = pki.issue_operator("alice", [Role.OPERATOR, Role.SECAUD], now=now)
    result = pki.verify(operator.certificate, now)
    assert result.profile is Profile.OPERATOR
    assert result.roles == (Role.OPERATOR, Role.SECAUD)
    assert result.area_of_responsibility == "derlink"
    assert result.subject == "CN=alice,OU=operators,O=derlink"
    assert result.hardware_serial is None

    assert (
        pki.verify(pki.issue_aggregator("acme", [Role.VIEWER], now=now).certificate, now).profile
        is Profile.AGGREGATOR
    )
    assert (
        pki.verify(pki.issue_server(["h.example"], now=now).certificate, now).profile
        is Profile.SERVER
    )
    assert pki.verify(pki.issue_signer("s", now=now).certificate, now).profile is Profile.SIGNER


def test_ca_certificates_verify_as_their_profiles(pki: Pki, now: datetime) -> None:
    for ca in (Profile.ROOT_CA, Profile.DEVICE_CA, Profile.OPERATOR_CA):
        assert pki.verify(pki.ca_certificate(ca), now).profile is ca
        assert pki.profile_of(pki.ca_certificate(ca)) is ca


def test_pem_and_der_bytes_are_accepted_and_junk_refused(pki: Pki, now: datetime) -> None:
    cert = pki.issue_device("INV-2", now=now).certificate
    for encoding in (Encoding.PEM, Encoding.DER):
        assert pki.verify(cert.public_bytes(encoding), now).profile is Profile.DEVICE
    with pytest.raises(CertificateError, match=r"not a PEM or DER X\.509 certificate"):
        pki.verify(b"hello", now)


def test_refuses_a_certificate_of_another_pki(pki: Pki, other_pki: Pki, now: datetime) -> None:
    foreign = other_pki.issue_device("INV-1", now=now).certificate
    with pytest.raises(CertificateError, match="not issued by a trusted CA") as err:
        pki.verify(foreign, now)
    assert str(err.value).startswith(f"certificate {foreign.serial_number:X} refused: ")
    with pytest.raises(CertificateError, match="not issued by this PKI"):
        pki.profile_of(foreign)


def test_refuses_an_expired_operator_certificate(pki: Pki, now: datetime) -> None:
    cert = pki.issue_operator("alice", [Role.OPERATOR], now=now, validity_days=30).certificate
    pki.crl(now=now + timedelta(days=29))  # CRLs last a week: keep them current
    assert pki.verify(cert, now + timedelta(days=29)).profile is Profile.OPERATOR
    with pytest.raises(CertificateError, match="expired on 2025-07-01T12:00:00Z"):
        pki.verify(cert, now + timedelta(days=31))


def test_refuses_a_certificate_not_yet_valid(pki: Pki, now: datetime) -> None:
    cert = pki.issue_operator("alice", [Role.OPERATOR], now=now).certificate
    with pytest.raises(CertificateError, match="not valid before"):
        pki.verify(cert, now - timedelta(seconds=1))


def test_refuses_a_revoked_certificate(pki: Pki, now: datetime) -> None:
    cert = pki.issue_device("INV-3", now=now).certificate
    pki.revoke(cert.serial_number, reason=x509.ReasonFlags.key_compromise, now=now)
    with pytest.raises(
        CertificateError, match=r"revoked \(since 2025-06-01T12:00:00Z, keyCompromise\)"
    ):
        pki.verify(cert, now + timedelta(minutes=1))
    others = pki.issue_device("INV-4", now=now).certificate
    assert pki.verify(others, now).profile is Profile.DEVICE


def test_revocation_needs_the_crl_of_the_issuer_when_crls_are_given(
    pki: Pki, now: datetime
) -> None:
    cert = pki.issue_device("INV-5", now=now).certificate
    operator_crl = [c for c in pki.crls() if "Operator" in c.issuer.rfc4514_string()]
    kwargs = anchors(pki) | {"crls": operator_crl}
    with pytest.raises(CertificateError, match="no CRL of its issuer was given"):
        verify_certificate(cert, now=now, **kwargs)  # type: ignore[arg-type]
    kwargs["crls"] = []
    assert verify_certificate(cert, now=now, **kwargs).profile is Profile.DEVICE  # type: ignore[arg-type]


def test_refuses_when_the_crl_is_out_of_date(pki: Pki, now: datetime) -> None:
    cert = pki.issue_device("INV-6", now=now).certificate
    with pytest.raises(CertificateError, match="CRL of its issuer is out of date"):
        pki.verify(cert, now + timedelta(days=8))
    pki.crl(now=now + timedelta(days=8))
    assert pki.verify(cert, now + timedelta(days=8)).profile is Profile.DEVICE


def test_profiles_restriction(pki: Pki, now: datetime) -> None:
    cert = pki.issue_operator("alice", [Role.OPERATOR], now=now).certificate
    with pytest.raises(
        CertificateError, match="is a operator certificate, expected aggregator, device"
    ):
        pki.verify(cert, now, profiles={Profile.DEVICE, Profile.AGGREGATOR})


def test_a_well_forged_device_passes(pki: Pki, forge: Forge, now: datetime) -> None:
    """The forger itself makes valid devices: the refusals below are due to one change each."""
    assert pki.verify(with_key_ids(forge, pki), now).hardware_serial == "FORGED-1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"extensions": device_extensions(policies_critical=False)},
            "certificatePolicies is not critical",
        ),
        ({"extensions": device_extensions(san_critical=False)}, "subjectAltName is not critical"),
        (
            {"extensions": device_extensions(skip="policies")},
            "matches no derlink certificate profile",
        ),
        ({"extensions": device_extensions(skip="san")}, "Subject name empty"),
        (
            {"subject": x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "dev")])},
            "empty subject",
        ),
        ({"not_after": datetime(2040, 1, 1, tzinfo=UTC)}, "notAfter 99991231235959Z"),
    ],
)
def test_refuses_devices_that_break_the_2030_5_profile(
    pki: Pki, forge: Forge, now: datetime, kwargs: dict[str, object], message: str
) -> None:
    cert = with_key_ids(forge, pki, **kwargs)
    with pytest.raises(CertificateError, match=message):
        pki.verify(cert, now)


def test_refuses_a_certificate_without_authority_key_identifier(
    pki: Pki, forge: Forge, now: datetime
) -> None:
    cert = forge(extensions=device_extensions())
    with pytest.raises(CertificateError, match="Missing Authority Key Identifier"):
        pki.verify(cert, now)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            ec.generate_private_key(ec.SECP384R1()).public_key(),
            "not ECDSA P-256 \\(curve secp384r1\\)",
        ),
        (rsa.generate_private_key(65537, 2048).public_key(), "not ECDSA P-256"),
    ],
)
def test_refuses_keys_other_than_p256(
    pki: Pki, forge: Forge, now: datetime, key: object, message: str
) -> None:
    cert = with_key_ids(forge, pki, key=key)
    with pytest.raises(CertificateError, match=message):
        pki.verify(cert, now)


def test_refuses_a_device_profile_issued_by_the_operator_ca(
    pki: Pki, forge: Forge, now: datetime
) -> None:
    cert = with_key_ids(forge, pki, ca=Profile.OPERATOR_CA)
    with pytest.raises(CertificateError, match="not issued by a device-ca"):
        pki.verify(cert, now)


def test_refuses_malformed_roles(pki: Pki, forge: Forge, now: datetime) -> None:
    spec = LEAF_SPECS[Profile.OPERATOR]
    extensions = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (key_usage(spec.key_usage), True),
        (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (policies([oids.POLICY_OPERATOR]), False),
        (x509.UnrecognizedExtension(oids.IEC_USER_ROLES, bytes.fromhex("3003020101")), False),
    ]
    subject = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "operators"),
            x509.NameAttribute(x509.NameOID.COMMON_NAME, "mallory"),
        ]
    )
    cert = with_key_ids(
        forge,
        pki,
        ca=Profile.OPERATOR_CA,
        extensions=extensions,
        subject=subject,
        not_after=now + timedelta(days=10),
    )
    with pytest.raises(CertificateError, match="malformed IECUserRoles"):
        pki.verify(cert, now)


def test_certificate_error_is_a_pki_error() -> None:
    assert issubclass(CertificateError, PkiError)
    assert CertificateError.exit_code == PkiError.exit_code != 0
