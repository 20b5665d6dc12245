"""The payload endpoint against a real XMPP server: requests, errors, limits, reconnects."""

from __future__ import annotations

import asyncio
import datetime
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from derlink.iec61850.xmpp.endpoint import (
    SEALED_NS,
    Endpoint,
    LoginRefusedError,
    NotConnectedError,
    PayloadError,
    RequestTimeoutError,
    StanzaError,
    parse_element,
)
from support.xmpp import XmppService, endpoint_config, endpoint_for

from .conftest import Factory, payload

pytestmark = pytest.mark.xmpp


def text_of(data: bytes) -> str:
    return parse_element(data).text or ""


async def pair(
    service: XmppService, endpoints: Factory, **options: object
) -> tuple[Endpoint, Endpoint]:
    client = endpoints(service, "client", **options)
    server = endpoints(service, "server", **options)
    await asyncio.gather(client.start(), server.start())
    return client, server


async def test_request_round_trip(xmpp_server: XmppService, endpoints: Factory) -> None:
    client, server = await pair(xmpp_server, endpoints)
    seen: list[str] = []

    def echo(sender: str, data: bytes) -> bytes:
        seen.append(sender)
        return payload(text_of(data).upper())

    server.on_request(echo)
    answer = await client.request(str(server.jid), payload("hello"))
    assert text_of(answer) == "HELLO"
    assert seen == [str(client.jid)]
    started = time.perf_counter()
    for _ in range(50):
        await client.request(str(server.jid), payload("x"))
    rtt_ms = (time.perf_counter() - started) / 50 * 1000
    print(f"{xmpp_server.kind}: iq RTT {rtt_ms:.2f} ms")
    assert client.outstanding == 0


async def test_async_handler_and_messages(xmpp_server: XmppService, endpoints: Factory) -> None:
    client, server = await pair(xmpp_server, endpoints)
    received: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()

    async def slow_echo(_sender: str, data: bytes) -> bytes:
        await asyncio.sleep(0.01)
        return data

    server.on_request(slow_echo)
    server.on_message(lambda s, d, t: received.put_nowait((s, text_of(d), t)))
    assert text_of(await client.request(str(server.jid), payload("a"))) == "a"
    client.send_message(str(server.jid), payload("report"))
    sender, text, mtype = await asyncio.wait_for(received.get(), 5)
    assert (sender, text, mtype) == (str(client.jid), "report", "normal")


async def test_errors_are_typed(xmpp_server: XmppService, endpoints: Factory) -> None:
    client, server = await pair(xmpp_server, endpoints)

    def refuse(_sender: str, data: bytes) -> bytes:
        if text_of(data) == "forbidden":
            raise StanzaError("forbidden", "not for you")
        raise RuntimeError("bug in a handler")

    server.on_request(refuse)
    with pytest.raises(StanzaError) as refused:
        await client.request(str(server.jid), payload("forbidden"))
    assert (refused.value.condition, refused.value.text) == ("forbidden", "not for you")
    with pytest.raises(StanzaError) as crashed:
        await client.request(str(server.jid), payload("boom"))
    assert crashed.value.condition == "internal-server-error"
    # nobody at that address: the server answers for the missing resource
    with pytest.raises(StanzaError) as missing:
        await client.request(f"{server.bare}/nobody", payload("x"))
    assert missing.value.condition in {"service-unavailable", "recipient-unavailable"}
    # a namespace nobody serves
    other = ET.Element("{urn:derlink:test:unknown}q")
    with pytest.raises(StanzaError) as unknown:
        await client.iq(str(server.jid), "get", other)
    assert unknown.value.condition in {"feature-not-implemented", "service-unavailable"}
    # and the connection is still good
    server.on_request(lambda _s, d: d)
    assert text_of(await client.request(str(server.jid), payload("still"))) == "still"


async def test_malformed_payload_gets_bad_request(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    client, server = await pair(xmpp_server, endpoints)
    server.on_request(lambda _s, d: d)
    bad = ET.Element(f"{{{SEALED_NS}}}sealed")
    bad.text = "%%% not base64 %%%"
    with pytest.raises(StanzaError) as err:
        await client.iq(str(server.jid), "set", bad)
    assert err.value.condition == "bad-request"
    with pytest.raises(StanzaError) as get:
        await client.iq(str(server.jid), "get", parse_element(payload("get")))
    assert get.value.condition == "bad-request"
    with pytest.raises(PayloadError):
        await client.request(str(server.jid), b"<unclosed")
    with pytest.raises(PayloadError):
        await client.request(str(server.jid), b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    assert server.stats.refused.get("bad-request") == 2
    assert text_of(await client.request(str(server.jid), payload("ok"))) == "ok"


async def test_timeout_and_outstanding_cap(prosody_server: XmppService, endpoints: Factory) -> None:
    client, server = await pair(prosody_server, endpoints, max_outstanding=4)
    in_handler = 0
    peak = 0

    async def slow(_sender: str, data: bytes) -> bytes:
        nonlocal in_handler, peak
        in_handler += 1
        peak = max(peak, in_handler)
        await asyncio.sleep(0.02 if text_of(data) != "stall" else 2)
        in_handler -= 1
        return data

    server.on_request(slow)
    answers = await asyncio.gather(
        *(client.request(str(server.jid), payload(str(i))) for i in range(40))
    )
    assert [text_of(a) for a in answers] == [str(i) for i in range(40)]
    assert peak <= 4
    with pytest.raises(RequestTimeoutError):
        await client.request(str(server.jid), payload("stall"), timeout=0.3)
    assert client.outstanding == 0


async def test_many_in_flight(prosody_server: XmppService, endpoints: Factory) -> None:
    client, server = await pair(prosody_server, endpoints, max_outstanding=256)
    server.on_request(lambda _s, d: d)
    started = time.perf_counter()
    count = 2000
    await asyncio.gather(*(client.request(str(server.jid), payload("n")) for _ in range(count)))
    rate = count / (time.perf_counter() - started)
    print(f"{count} requests, 256 in flight: {rate:.0f} iq/s")
    assert rate > 250  # per-request handlers (iq.send) manage ~150 iq/s at this depth


async def test_kill_fails_pending_and_reconnects(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    client, server = await pair(xmpp_server, endpoints, backoff_initial=0.1)
    gate = asyncio.Event()

    async def held(_sender: str, data: bytes) -> bytes:
        await gate.wait()
        return data

    server.on_request(held)
    ups: list[bool] = []
    client.on_connection(ups.append)
    pending = asyncio.ensure_future(client.request(str(server.jid), payload("p")))
    await asyncio.sleep(0.2)
    client.kill()
    with pytest.raises(NotConnectedError):
        await pending
    with pytest.raises(NotConnectedError):
        await client.request(str(server.jid), payload("while down"))
    await client.wait_connected(10)
    gate.set()
    assert text_of(await client.request(str(server.jid), payload("again"))) == "again"
    assert ups == [False, True]
    assert client.stats.connects == 2


async def test_protector_keeps_payloads_off_the_wire(
    prosody_server: XmppService, endpoints: Factory
) -> None:
    class Xor:
        def protect(self, peer_jid: str, data: bytes) -> bytes:
            return bytes(b ^ 0x5A for b in data)

        def unprotect(self, peer_jid: str, data: bytes) -> bytes:
            return bytes(b ^ 0x5A for b in data)

    client = endpoints(prosody_server, "sealer")
    client.protector = Xor()
    plain = endpoints(prosody_server, "plain")
    sealed = endpoints(prosody_server, "sealed")
    sealed.protector = Xor()
    await asyncio.gather(client.start(), plain.start(), sealed.start())
    wire: list[bytes] = []

    def record(_sender: str, data: bytes) -> bytes:
        wire.append(data)
        return payload("plain")

    plain.on_request(record)
    sealed.on_request(lambda _s, d: payload(text_of(d) + "!"))
    # an endpoint without the key sees ciphertext only
    await client.request(str(plain.jid), payload("secret"))
    assert wire == [Xor().protect("", payload("secret"))]
    assert text_of(await client.request(str(sealed.jid), payload("secret"))) == "secret!"


async def test_untrusted_certificate_is_refused(
    prosody_server: XmppService, endpoints: Factory, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file, key_file = tmp_path / "c.pem", tmp_path / "k.pem"
    intruder = Endpoint(
        endpoint_config(
            prosody_server, f"intruder@{prosody_server.domain}/x", cert_file, key_file,
            connect_timeout=5,
        )
    )  # fmt: skip
    with pytest.raises(NotConnectedError):
        await intruder.start()
    # and a client that does not trust the server's CA refuses the server
    mistrust = Endpoint(
        endpoint_config(
            prosody_server, f"wary@{prosody_server.domain}/x", cert_file, key_file,
            cafile=cert_file, connect_timeout=5,
        )
    )  # fmt: skip
    with pytest.raises(LoginRefusedError):
        await mistrust.start()


async def test_unreachable_server_fails_start_in_time(prosody_server: XmppService) -> None:
    from support.xmpp import free_port

    endpoint = endpoint_for(prosody_server, "lonely", "x", port=free_port(), backoff_initial=0.05)
    started = time.perf_counter()
    with pytest.raises(NotConnectedError):
        await endpoint.start(timeout=1.0)
    assert time.perf_counter() - started < 3
    assert not endpoint.connected


async def test_stream_management_resumes_the_session(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    client, server = await pair(
        xmpp_server, endpoints, stream_management=True, backoff_initial=0.05
    )
    server.on_request(lambda _s, d: d)
    inbox: asyncio.Queue[str] = asyncio.Queue()
    client.on_message(lambda _s, d, _t: inbox.put_nowait(text_of(d)))
    ups: list[bool] = []
    client.on_connection(ups.append)
    assert text_of(await client.request(str(server.jid), payload("before"))) == "before"
    client.kill()
    server.send_message(str(client.jid), payload("while away"))
    while client.connected:
        await asyncio.sleep(0.01)
    await client.wait_connected(10)
    assert client.stats.resumes == 1
    assert ups == []  # to its users the session never ended
    assert await asyncio.wait_for(inbox.get(), 10) == "while away"
    assert text_of(await client.request(str(server.jid), payload("after"))) == "after"
