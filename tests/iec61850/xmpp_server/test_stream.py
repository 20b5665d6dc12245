"""What the servers offer on the wire: STARTTLS required, strong TLS only, SASL EXTERNAL only,
stream management after login. Spoken as raw XMPP so nothing in a client library hides it."""

from __future__ import annotations

import re
import socket
import ssl
import uuid
from pathlib import Path

import pytest

from support.xmpp import XmppService

pytestmark = pytest.mark.xmpp

STREAM = (
    "<?xml version='1.0'?><stream:stream to='{domain}' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
)


def _read_until(sock: socket.socket | ssl.SSLSocket, marker: bytes) -> str:
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        assert chunk, f"stream closed before {marker!r}: {data!r}"
        data += chunk
    return data.decode()


def _mechanisms(features: str) -> set[str]:
    return set(re.findall(r"<mechanism>([^<]+)</mechanism>", features))


def _plain_features(service: XmppService) -> tuple[socket.socket, str]:
    sock = socket.create_connection((service.host, service.port), timeout=5)
    sock.sendall(STREAM.format(domain=service.domain).encode())
    return sock, _read_until(sock, b"</stream:features>")


def _starttls(service: XmppService, context: ssl.SSLContext) -> tuple[ssl.SSLSocket, str]:
    sock, features = _plain_features(service)
    assert "starttls" in features
    sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert "proceed" in _read_until(sock, b"/>")
    tls = context.wrap_socket(sock, server_hostname=service.domain)
    tls.sendall(STREAM.format(domain=service.domain).encode())
    return tls, _read_until(tls, b"</stream:features>")


def _context(
    service: XmppService, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(service.ca_file))
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def test_starttls_is_required_and_nothing_is_offered_before_it(xmpp_server: XmppService) -> None:
    sock, features = _plain_features(xmpp_server)
    with sock:
        assert re.search(r"<starttls[^>]*>\s*<required\s*/>", features), features
        assert not _mechanisms(features)
        assert "register" not in features


def test_only_sasl_external_is_offered_and_stream_management_follows(
    xmpp_server: XmppService,
) -> None:
    _, cert, key = xmpp_server.client(f"ied-{uuid.uuid4().hex[:8]}")
    tls, features = _starttls(xmpp_server, _context(xmpp_server, cert, key))
    with tls:
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
        assert _mechanisms(features) == {"EXTERNAL"}, features
        assert "register" not in features  # no in-band registration (XEP-0077)
        tls.sendall(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
        answer = _read_until(tls, b">")
        answer += "" if "/>" in answer or "</success>" in answer else _read_until(tls, b">")
        assert "success" in answer, answer
        tls.sendall(STREAM.format(domain=xmpp_server.domain).encode())
        after = _read_until(tls, b"</stream:features>")
        assert "urn:ietf:params:xml:ns:xmpp-bind" in after
        assert "urn:xmpp:sm:3" in after, after


def test_no_password_mechanism_without_a_client_certificate(xmpp_server: XmppService) -> None:
    try:
        tls, features = _starttls(xmpp_server, _context(xmpp_server))
    except (ssl.SSLError, ConnectionError, AssertionError):
        return  # refusing the TLS session outright is as good
    with tls:
        assert not _mechanisms(features) - {"EXTERNAL"}, features


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_below_1_2_is_refused(xmpp_server: XmppService) -> None:
    context = _context(xmpp_server)
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _starttls(xmpp_server, context)


def test_tls12_with_an_ecdhe_aead_suite_is_accepted(xmpp_server: XmppService) -> None:
    context = _context(xmpp_server)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    tls, _ = _starttls(xmpp_server, context)
    with tls:
        assert tls.version() == "TLSv1.2"


@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA"])
def test_tls12_suites_without_aead_are_refused(xmpp_server: XmppService, suite: str) -> None:
    context = _context(xmpp_server)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(suite)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _starttls(xmpp_server, context)


def test_the_server_certificate_names_the_domain_and_services(xmpp_server: XmppService) -> None:
    tls, _ = _starttls(xmpp_server, _context(xmpp_server))
    with tls:
        names = {
            value for kind, value in tls.getpeercert().get("subjectAltName", ()) if kind == "DNS"
        }
    assert {xmpp_server.domain, xmpp_server.muc_service, xmpp_server.pubsub_service} <= names
