"""The XMPP client certificate profile: the JID in id-on-xmppAddr, clientAuth, optional roles."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given
from hypothesis import strategies as st

from derlink.pki import CertificateError, Pki, PkiError, Profile, Role, oids
from derlink.pki.checks import xmpp_addrs
from derlink.pki.profiles import xmpp_addr_der

from .conftest import Forge, attime, openssl


def test_xmpp_client_profile_field_by_field(pki: Pki, now: datetime) -> None:
    issued = pki.issue_xmpp_client("IED1@Derlink.Local", now=now)
    cert = issued.certificate
    assert issued.profile is Profile.XMPP_CLIENT
    assert cert.issuer == pki.ca_certificate(Profile.DEVICE_CA).subject
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["ied1@derlink.local"]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    [other] = san.get_values_for_type(x509.OtherName)
    assert other.type_id == oids.XMPP_ADDR
    assert other.value == b"\x0c\x12ied1@derlink.local"  # DER UTF8String
    assert xmpp_addrs(cert) == ("ied1@derlink.local",)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_agreement
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    verified = pki.verify(cert, now)
    assert verified.profile is Profile.XMPP_CLIENT
    assert verified.roles == ()


def test_control_centre_identity_carries_roles(pki: Pki, now: datetime) -> None:
    issued = pki.issue_xmpp_client(
        "centre@derlink.local", roles=[Role.OPERATOR, Role.ENGINEER], now=now
    )
    verified = pki.verify(issued.certificate, now, profiles={Profile.XMPP_CLIENT})
    assert verified.roles == (Role.OPERATOR, Role.ENGINEER)
    assert verified.area_of_responsibility == "derlink"


def test_openssl_accepts_it_for_tls_client_auth(pki: Pki, now: datetime, tmp_path: Path) -> None:
    cert_path, _ = pki.issue_xmpp_client("ied2@derlink.local", now=now).write(tmp_path / "c")
    done = openssl(
        "verify",
        "-purpose",
        "sslclient",
        "-x509_strict",
        *attime(now),
        "-CAfile",
        str(pki.paths.ca_bundle),
        "-untrusted",
        str(pki.paths.cert(Profile.DEVICE_CA)),
        str(cert_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = openssl("x509", "-in", str(cert_path), "-noout", "-ext", "subjectAltName").stdout
    assert "ied2@derlink.local" in text


def test_revoked_xmpp_certificate_fails_verification(pki: Pki, now: datetime) -> None:
    issued = pki.issue_xmpp_client("ied3@derlink.local", now=now)
    pki.revoke(issued.serial_number, now=now)
    with pytest.raises(CertificateError, match="revoked"):
        pki.verify(issued.certificate, now)


@pytest.mark.parametrize(
    "jid",
    [
        "",
        "ied",
        "@derlink.local",
        "ied@",
        "ied@derlink.local/resource",
        "i ed@derlink.local",
        "ied<1>@derlink.local",
        "ied@127.0.0.1",
        "ied@bad_domain",
        "x" * 60 + "@derlink.local",
    ],
)
def test_bad_jids_are_refused_and_nothing_is_issued(pki: Pki, now: datetime, jid: str) -> None:
    before = len(pki.issued())
    with pytest.raises(PkiError, match="bare JID"):
        pki.issue_xmpp_client(jid, now=now)
    assert len(pki.issued()) == before


def test_an_xmpp_profile_certificate_without_xmpp_addr_is_refused(
    pki: Pki, now: datetime, forge: Forge
) -> None:
    ca_ski = pki.ca_certificate(Profile.DEVICE_CA).extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    )
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value)
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    forged = forge(
        key=key,
        subject=x509.Name(
            [
                x509.NameAttribute(x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "xmpp"),
                x509.NameAttribute(x509.NameOID.COMMON_NAME, "ied@derlink.local"),
            ]
        ),
        not_after=datetime(2030, 1, 1, tzinfo=now.tzinfo),
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
            (
                x509.CertificatePolicies([x509.PolicyInformation(oids.POLICY_XMPP_CLIENT, None)]),
                False,
            ),
            (x509.SubjectAlternativeName([x509.DNSName("ied.derlink.local")]), False),
            (aki, False),
            (x509.SubjectKeyIdentifier.from_public_key(key), False),
        ],
    )
    with pytest.raises(CertificateError, match="id-on-xmppAddr"):
        pki.verify(forged, now)


@given(st.text(min_size=0, max_size=300))
def test_xmpp_addr_is_a_der_utf8string(text: str) -> None:
    encoded = xmpp_addr_der(text)
    data = text.encode("utf-8")
    assert encoded[0] == 0x0C
    assert encoded.endswith(data)
    length_octets = encoded[1 : len(encoded) - len(data)]
    if len(data) < 0x80:
        assert length_octets == bytes([len(data)])
    else:
        assert length_octets[0] == 0x80 | (len(length_octets) - 1)
        assert int.from_bytes(length_octets[1:], "big") == len(data)
        assert length_octets[1] != 0  # minimal length encoding (DER)
