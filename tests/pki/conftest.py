"""Fixtures for the PKI tests: a fixed time, PKIs on disk, a forger of bad certificates, the
``derlink`` command on an initialised data directory."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.home import Home
from derlink.pki import Pki, Profile, load_private_key
from support.cli import Cli, initialised_cli

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def cli(
    home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """``derlink`` on an initialised data directory, run from ``tmp_path``."""
    return initialised_cli(home, capsys, monkeypatch, tmp_path)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A PKI with clear (unencrypted) keys."""
    return Pki.create(tmp_path / "pki", passphrase=None, name="derlink", now=NOW)


@pytest.fixture
def encrypted_pki(tmp_path: Path) -> Pki:
    return Pki.create(tmp_path / "enc-pki", passphrase=b"correct horse", now=NOW)


@pytest.fixture
def other_pki(tmp_path: Path) -> Pki:
    return Pki.create(tmp_path / "other-pki", passphrase=None, name="elsewhere", now=NOW)


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def attime(moment: datetime) -> list[str]:
    return ["-attime", str(int(moment.timestamp()))]


Forge = Callable[..., x509.Certificate]


@pytest.fixture
def forge(pki: Pki) -> Forge:
    """Build a certificate by hand, signed by one of ``pki``'s CAs, to test refusals.

    Keyword arguments: ``ca`` (Profile), ``key`` (public key), ``subject``, ``not_after``,
    ``extensions`` (list of (ExtensionType, critical)).
    """

    def build(**kw: Any) -> x509.Certificate:
        ca: Profile = kw.get("ca", Profile.DEVICE_CA)
        ca_cert = pki.ca_certificate(ca)
        ca_key = load_private_key(pki.paths.key(ca), None)
        public_key = kw.get("key") or ec.generate_private_key(ec.SECP256R1()).public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(kw.get("subject", x509.Name([])))
            .issuer_name(ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW)
            .not_valid_after(kw.get("not_after", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)))
        )
        for ext, critical in kw.get("extensions", []):
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(ca_key, hashes.SHA256())

    return build
