"""Who is calling: the handshake's certificate, or only when configured a proxy's header."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from derlink.pki import Pki, Profile
from derlink.sep2.http import HttpError, Request
from derlink.sep2.identity import IdentityResolver

NOW = datetime.now(UTC)


def _request(der: bytes | None, headers: dict[str, str] | None = None) -> Request:
    return Request("GET", "/dcap", {}, headers or {}, b"", der, scope={})


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.create(tmp_path / "pki", passphrase=None, now=NOW)


def test_the_handshake_certificate_is_the_identity(pki: Pki) -> None:
    device = pki.issue_device("SN-1", now=NOW)
    resolver = IdentityResolver(pki.directory)
    der = device.certificate.public_bytes(Encoding.DER)
    identity = resolver.resolve(_request(der))
    assert identity.lfdi == device.lfdi and identity.profile is Profile.DEVICE
    # a header is ignored unless the deployment names it
    with pytest.raises(HttpError) as refused:
        resolver.resolve(_request(None, {"x-client-cert": quote(pki_pem(device))}))
    assert refused.value.status == 403


def test_a_named_proxy_header_is_trusted_and_nothing_else(pki: Pki) -> None:
    device = pki.issue_device("SN-2", now=NOW)
    resolver = IdentityResolver(pki.directory, trusted_header="X-Client-Cert")
    identity = resolver.resolve(_request(None, {"x-client-cert": quote(pki_pem(device))}))
    assert identity.lfdi == device.lfdi
    for headers in ({}, {"x-client-cert": "not a certificate"}):
        with pytest.raises(HttpError) as refused:
            resolver.resolve(_request(device.certificate.public_bytes(Encoding.DER), headers))
        assert refused.value.status == 403


def test_a_revoked_certificate_stops_working_at_once(pki: Pki) -> None:
    device = pki.issue_device("SN-3", now=NOW)
    resolver = IdentityResolver(pki.directory, clock=lambda: NOW.timestamp())
    der = device.certificate.public_bytes(Encoding.DER)
    assert resolver.resolve(_request(der)).lfdi == device.lfdi
    pki.revoke(device.certificate.serial_number, now=NOW)
    later = IdentityResolver(pki.directory, clock=lambda: NOW.timestamp() + 5)
    with pytest.raises(HttpError, match="revoked"):
        later.resolve(_request(der))


def pki_pem(issued: object) -> str:
    from derlink.pki import Issued

    assert isinstance(issued, Issued)
    return issued.certificate.public_bytes(Encoding.PEM).decode()
