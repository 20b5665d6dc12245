"""Interoperability: the openssl command line accepts our certificates and CRLs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from derlink.pki import Issued, Pki, Profile, Role

from .conftest import attime, openssl

ISSUERS: dict[str, Callable[[Pki, datetime], Issued]] = {
    "device": lambda p, t: p.issue_device("INV-1", now=t),
    "server": lambda p, t: p.issue_server(["localhost", "127.0.0.1"], now=t),
    "operator": lambda p, t: p.issue_operator("alice", [Role.OPERATOR], now=t),
    "aggregator": lambda p, t: p.issue_aggregator("acme", [Role.VIEWER], now=t),
    "signer": lambda p, t: p.issue_signer("audit", now=t),
}


def issue(pki: Pki, kind: str, now: datetime, tmp_path: Path) -> tuple[Issued, Path, Path]:
    issued = ISSUERS[kind](pki, now)
    leaf, _ = issued.write(tmp_path / kind)
    issuer = Profile.DEVICE_CA if kind in ("device", "server") else Profile.OPERATOR_CA
    return issued, leaf, pki.paths.cert(issuer)


@pytest.mark.parametrize("kind", sorted(ISSUERS))
def test_openssl_verifies_every_profile(pki: Pki, now: datetime, tmp_path: Path, kind: str) -> None:
    _, leaf, issuing = issue(pki, kind, now, tmp_path)
    root = str(pki.paths.root_cert)
    for strict in ([], ["-x509_strict"]):
        result = openssl(
            "verify", *strict, *attime(now), "-CAfile", root, "-untrusted", str(issuing), str(leaf)
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(": OK")


@pytest.mark.parametrize("kind", sorted(ISSUERS))
def test_openssl_crl_check_accepts_then_refuses_after_revocation(
    pki: Pki, now: datetime, tmp_path: Path, kind: str
) -> None:
    issued, leaf, issuing = issue(pki, kind, now, tmp_path)
    pki.crl(now=now)
    crl_file = pki.paths.crl(
        Profile.DEVICE_CA if issuing.name == "device-ca.pem" else Profile.OPERATOR_CA
    )
    args = ["-crl_check", "-CRLfile", str(crl_file), "-CAfile", str(pki.paths.root_cert)]
    args += ["-untrusted", str(issuing), str(leaf)]
    later = now + timedelta(hours=1)
    assert openssl("verify", *attime(later), *args).returncode == 0

    pki.revoke(issued.serial_number, reason=x509.ReasonFlags.key_compromise, now=later)
    result = openssl("verify", *attime(later + timedelta(minutes=1)), *args)
    assert result.returncode != 0
    assert "certificate revoked" in result.stdout + result.stderr


def test_openssl_reads_each_crl_and_shows_revoked_serials(
    pki: Pki, now: datetime, tmp_path: Path
) -> None:
    device = pki.issue_device("INV-9", now=now)
    operator = pki.issue_operator("eve", [Role.OPERATOR], now=now)
    pki.revoke(device.serial_number, now=now)
    pki.revoke(operator.serial_number, reason=x509.ReasonFlags.affiliation_changed, now=now)
    pki.crl(now=now)
    for ca, revoked in ((Profile.DEVICE_CA, device), (Profile.OPERATOR_CA, operator)):
        result = openssl("crl", "-text", "-noout", "-in", str(pki.paths.crl(ca)))
        assert result.returncode == 0, result.stderr
        hex_serial = f"{revoked.serial_number:X}"
        hex_serial = hex_serial.zfill(len(hex_serial) + len(hex_serial) % 2)  # as openssl prints
        assert f"Serial Number: {hex_serial}" in result.stdout
        assert "X509v3 CRL Number" in result.stdout
        assert "X509v3 Authority Key Identifier" in result.stdout
        assert f"CN = derlink {'Device' if ca is Profile.DEVICE_CA else 'Operator'} CA" in (
            result.stdout
        )
    operator_text = openssl(
        "crl", "-text", "-noout", "-in", str(pki.paths.crl(Profile.OPERATOR_CA))
    )
    assert "Affiliation Changed" in operator_text.stdout


def test_openssl_parses_the_device_certificate(pki: Pki, now: datetime, tmp_path: Path) -> None:
    _, leaf, _ = issue(pki, "device", now, tmp_path)
    text = openssl("x509", "-text", "-noout", "-in", str(leaf)).stdout
    assert "Subject Alternative Name: critical" in text
    assert "Certificate Policies: critical" in text
    assert "Policy: 1.3.6.1.4.1.40732.1.1" in text
    assert "Not After : Dec 31 23:59:59 9999 GMT" in text
    assert "ASN1 OID: prime256v1" in text
