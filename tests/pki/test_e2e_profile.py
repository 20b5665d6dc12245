"""The end-to-end certificate profile: separate from TLS, bound to the transport identity."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from derlink.pki import (
    CertificateError,
    HardwareModuleName,
    Pki,
    PkiError,
    Profile,
    Role,
    decode_user_roles,
    oids,
)
from derlink.pki.checks import xmpp_addrs
from derlink.pki.profiles import key_usage, key_usage_names, policies

from .conftest import Forge, attime, openssl


def test_e2e_certificate_fields(pki: Pki, now: datetime) -> None:
    issued = pki.issue_e2e(
        "inv-7",
        xmpp_address="INV7@der.example",
        hardware_serial="INV-7",
        roles=[Role.OPERATOR, Role.VIEWER],
        now=now,
    )
    cert = issued.certificate
    assert issued.profile is Profile.E2E
    assert issued.chain == (pki.ca_certificate(Profile.DEVICE_CA), pki.root_certificate)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert key_usage_names(usage.value) == {"digital_signature", "key_agreement"}
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [oids.EKU_E2E]  # no serverAuth / clientAuth
    policy = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policy] == [oids.POLICY_E2E]
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    assert [u.value for u in units] == ["end-to-end"]
    assert xmpp_addrs(cert) == ("inv7@der.example",)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    hw = [
        o
        for o in san.value.get_values_for_type(x509.OtherName)
        if o.type_id == oids.HARDWARE_MODULE_NAME
    ]
    assert HardwareModuleName.from_der(hw[0].value).serial_text == "INV-7"
    roles_ext = cert.extensions.get_extension_for_oid(oids.IEC_USER_ROLES)
    assert not roles_ext.critical
    assert decode_user_roles(roles_ext.value.value)[0].roles == (Role.VIEWER, Role.OPERATOR)  # type: ignore[attr-defined]
    assert cert.not_valid_after_utc == now + timedelta(days=365)
    verified = pki.verify(cert, now, profiles={Profile.E2E})
    assert verified.profile is Profile.E2E and verified.roles == (Role.VIEWER, Role.OPERATOR)


def test_minimal_e2e_certificate(pki: Pki, now: datetime) -> None:
    issued = pki.issue_e2e("control-centre", now=now, validity_days=30)
    cert = issued.certificate
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(oids.IEC_USER_ROLES)
    assert pki.verify(cert, now).profile is Profile.E2E
    assert pki.profile_of(cert) is Profile.E2E


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "x" * 65},
        {"name": "ok", "xmpp_address": "not a jid"},
        {"name": "ok", "hardware_serial": ""},
        {"name": "ok", "roles": []},
        {"name": "ok", "validity_days": 0},
    ],
)
def test_bad_requests_are_refused(pki: Pki, now: datetime, kwargs: dict[str, object]) -> None:
    with pytest.raises(PkiError):
        pki.issue_e2e(now=now, **kwargs)  # type: ignore[arg-type]


def test_e2e_and_tls_certificates_are_not_interchangeable(pki: Pki, now: datetime) -> None:
    e2e = pki.issue_e2e("inv-7", now=now).certificate
    for tls_profile in (Profile.DEVICE, Profile.SERVER, Profile.XMPP_CLIENT, Profile.OPERATOR):
        with pytest.raises(CertificateError, match="expected"):
            pki.verify(e2e, now, profiles={tls_profile})
    device = pki.issue_device("INV-7", now=now).certificate
    with pytest.raises(CertificateError, match="expected e2e"):
        pki.verify(device, now, profiles={Profile.E2E})


def test_openssl_refuses_an_e2e_certificate_for_tls(
    pki: Pki, now: datetime, tmp_path: Path
) -> None:
    issued = pki.issue_e2e("inv-7", now=now)
    leaf, _ = issued.write(tmp_path / "e2e")
    base = ["verify", *attime(now), "-CAfile", str(pki.paths.root_cert)]
    base += ["-untrusted", str(pki.paths.cert(Profile.DEVICE_CA))]
    assert openssl(*base, "-x509_strict", str(leaf)).returncode == 0
    for purpose in ("sslclient", "sslserver"):
        result = openssl(*base, "-purpose", purpose, str(leaf))
        assert result.returncode != 0, purpose


def e2e_extensions(**override: object) -> list[tuple[x509.ExtensionType, bool]]:
    base: dict[str, tuple[x509.ExtensionType, bool]] = {
        "basic": (x509.BasicConstraints(ca=False, path_length=None), True),
        "usage": (key_usage(frozenset({"digital_signature", "key_agreement"})), True),
        "eku": (x509.ExtendedKeyUsage([oids.EKU_E2E]), False),
        "policy": (policies([oids.POLICY_E2E]), False),
    }
    for key, value in override.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value  # type: ignore[assignment]
    return list(base.values())


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        (
            {
                "eku": (
                    x509.ExtendedKeyUsage([oids.EKU_E2E, ExtendedKeyUsageOID.CLIENT_AUTH]),
                    False,
                )
            },
            "end-to-end purpose alone",
        ),
        ({"eku": None}, "extendedKeyUsage"),
        ({"usage": (key_usage(frozenset({"digital_signature"})), True)}, "keyUsage"),
        (
            {"san": (x509.SubjectAlternativeName([x509.DNSName("inv7.example")]), False)},
            "subjectAltName",
        ),
        (
            {
                "san": (
                    x509.SubjectAlternativeName(
                        [
                            x509.OtherName(oids.XMPP_ADDR, b"\x0c\x03a@b"),
                            x509.OtherName(oids.XMPP_ADDR, b"\x0c\x03c@d"),
                        ]
                    ),
                    False,
                )
            },
            "subjectAltName",
        ),
        (
            {"roles": (x509.UnrecognizedExtension(oids.IEC_USER_ROLES, b"\x30\x00"), True)},
            "critical",  # OpenSSL refuses the unknown critical extension first
        ),
    ],
)
def test_forged_e2e_certificates_are_refused(
    pki: Pki, now: datetime, forge: Forge, override: dict[str, object], reason: str
) -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "derlink"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "end-to-end"),
            x509.NameAttribute(NameOID.COMMON_NAME, "forged"),
        ]
    )
    ca = pki.ca_certificate(Profile.DEVICE_CA)
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    ski_ext = (x509.SubjectKeyIdentifier.from_public_key(key), False)
    extensions = e2e_extensions(**override)
    cert = forge(
        key=key,
        subject=subject,
        not_after=now + timedelta(days=10),
        extensions=[*extensions, aki, ski_ext],
    )
    with pytest.raises(CertificateError, match=reason):
        pki.verify(cert, now, profiles={Profile.E2E})


def test_a_pki_older_than_the_profile_says_so(
    pki: Pki, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device CA created before the e2e policy existed does not assert it: a clear error."""
    older = pki.ca_certificate(Profile.OPERATOR_CA)  # a CA without the end-to-end policy
    monkeypatch.setitem(pki._certs, Profile.DEVICE_CA, older)
    with pytest.raises(PkiError, match="created before end-to-end certificates"):
        pki.issue_e2e("inv-7", now=now)
