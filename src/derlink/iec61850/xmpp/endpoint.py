"""One XMPP connection carrying opaque payloads: the transport under IEC 61850-8-2.

An :class:`Endpoint` logs in with its derlink certificate (TLS 1.2+, the server verified against
the derlink CA bundle, SASL EXTERNAL), keeps reconnecting with backoff, and moves payloads:

- :meth:`Endpoint.request` sends an ``<iq type="set">`` and returns the payload of the result
  (an ``<iq type="error">`` becomes a :class:`StanzaError`);
- :meth:`Endpoint.send_message` sends a ``<message>``;
- :meth:`Endpoint.on_request` / :meth:`Endpoint.on_message` receive them.

Why not slixmpp's own iq machinery: slixmpp matches every incoming stanza against every
registered handler, and ``iq.send()`` registers one handler per request, so throughput collapses
with thousands of requests in flight. Here one inbound filter per connection dispatches by
namespace through dicts, iq results are matched by id in a dict of futures, and the number of
requests in flight is capped by a semaphore. Stanzas that are ours never reach slixmpp's handler
list at all.

A payload is one XML element (the MMS XER document in ``MMS_NS``, for instance) and travels as
the only child of its stanza. A :class:`PayloadProtector` sits between the caller and the wire
(identity by default); when it returns something that is not an XML element (ciphertext), the
bytes travel base64-encoded in ``<sealed xmlns="urn:derlink:e2e:sealed"/>`` so the XMPP server
only ever sees ciphertext.

XEP-0198 stream management with resumption is available (``stream_management=True``; works with
Prosody and ejabberd) but off by default: a server holding a session for resumption does not
send ``unavailable``, which is what IEC 61850-8-2 association monitoring listens for.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import itertools
import logging
import random
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from slixmpp import JID, ClientXMPP
from slixmpp.jid import InvalidJID
from slixmpp.stanza import Iq, Message, Presence
from slixmpp.xmlstream import StanzaBase

from derlink.errors import DerlinkError

log = logging.getLogger(__name__)

SEALED_NS = "urn:derlink:e2e:sealed"
SEALED_TAG = f"{{{SEALED_NS}}}sealed"
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
MAX_PAYLOAD = 256 * 1024
"""Largest payload accepted either way (Prosody's default c2s stanza limit is 256 KiB)."""


# -- errors --------------------------------------------------------------------------------------


class XmppError(DerlinkError):
    """A transport-level failure on an XMPP endpoint."""


class NotConnectedError(XmppError):
    """The endpoint has no live session (not yet started, or the connection dropped)."""


class LoginRefusedError(NotConnectedError):
    """TLS or SASL EXTERNAL failed: a certificate was refused by one side or the other."""


class RequestTimeoutError(XmppError):
    """No response arrived in time (or no request slot became free in time)."""


class PayloadError(XmppError):
    """A payload is not one well-formed XML element, is too big, or cannot be unprotected."""


class StanzaError(XmppError):
    """An ``<iq type="error">`` (RFC 6120 §8.3): ``condition`` is the defined condition name."""

    def __init__(self, condition: str, text: str = "", etype: str = "cancel") -> None:
        self.condition = condition
        self.text = text
        self.etype = etype
        super().__init__(f"{condition}: {text}" if text else condition)


ERROR_TYPES = {
    "bad-request": "modify",
    "feature-not-implemented": "cancel",
    "forbidden": "auth",
    "item-not-found": "cancel",
    "not-acceptable": "modify",
    "not-allowed": "cancel",
    "not-authorized": "auth",
    "internal-server-error": "cancel",
    "recipient-unavailable": "wait",
    "resource-constraint": "wait",
    "service-unavailable": "cancel",
    "conflict": "cancel",
}


# -- payload protection -------------------------------------------------------------------------


class PayloadProtector(Protocol):
    """End-to-end protection of payloads between two application entities (IEC 62351-4 style).

    ``peer_jid`` is the bare JID of the other end (a MUC room's bare JID for group traffic).
    ``unprotect`` raises on anything it cannot authenticate.
    """

    def protect(self, peer_jid: str, payload: bytes) -> bytes: ...

    def unprotect(self, peer_jid: str, payload: bytes) -> bytes: ...


class IdentityProtector:
    """No end-to-end protection: payloads travel as they are (hop-to-hop TLS only)."""

    def protect(self, peer_jid: str, payload: bytes) -> bytes:
        return payload

    def unprotect(self, peer_jid: str, payload: bytes) -> bytes:
        return payload


def parse_element(data: bytes) -> ET.Element:
    """``data`` as one XML element, or :class:`PayloadError` (size-limited, no DTDs)."""
    if len(data) > MAX_PAYLOAD:
        raise PayloadError(f"payload of {len(data)} bytes exceeds {MAX_PAYLOAD}")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise PayloadError("payload must not carry a document type declaration")
    try:
        return ET.fromstring(data)
    except ET.ParseError as err:
        raise PayloadError(f"payload is not well-formed XML: {err}") from None


def element_namespace(element: ET.Element) -> str:
    """The namespace URI of ``element`` ('' when it has none)."""
    tag = element.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].partition("}")[0]
    return ""


def seal(payload: bytes) -> ET.Element:
    """Wrap opaque bytes for the wire."""
    element = ET.Element(SEALED_TAG)
    element.text = base64.b64encode(payload).decode("ascii")
    return element


def unseal(element: ET.Element) -> bytes:
    """The bytes carried by a ``<sealed/>`` element, or :class:`PayloadError`."""
    text = (element.text or "").strip()
    if len(text) > MAX_PAYLOAD * 4 // 3 + 4:
        raise PayloadError("sealed payload too large")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError("sealed payload is not base64") from None


def wrap_payload(protector: PayloadProtector, peer: str, payload: bytes) -> ET.Element:
    """The wire element for ``payload`` sent to ``peer``.

    Unprotected payloads (:class:`IdentityProtector`) travel as the XML element they are; what
    any other protector returns is opaque and travels sealed (base64), so its bytes come back
    exactly as they were.
    """
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    if isinstance(protector, IdentityProtector):
        return parse_element(payload)
    protected = protector.protect(peer, payload)
    if len(protected) > MAX_PAYLOAD:
        raise PayloadError(f"protected payload of {len(protected)} bytes exceeds {MAX_PAYLOAD}")
    return seal(protected)


def unwrap_payload(protector: PayloadProtector, peer: str, element: ET.Element) -> bytes:
    """The payload carried by a wire element from ``peer`` (PayloadError if refused)."""
    raw = unseal(element) if element.tag == SEALED_TAG else ET.tostring(element)
    if len(raw) > MAX_PAYLOAD:
        raise PayloadError("payload too large")
    try:
        return protector.unprotect(peer, raw)
    except DerlinkError as err:
        raise PayloadError(f"payload from {peer} refused: {err}") from None


# -- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointConfig:
    """Where and as whom an endpoint connects.

    ``payload_namespaces`` lists the namespaces of payload elements delivered to
    :meth:`Endpoint.on_request` and :meth:`Endpoint.on_message` handlers.
    """

    jid: str
    certfile: Path
    keyfile: Path
    cafile: Path
    host: str = "127.0.0.1"
    port: int = 5222
    resource: str = "derlink"
    payload_namespaces: tuple[str, ...] = ()
    max_outstanding: int = 64
    max_inbound: int = 256
    request_timeout: float = 10.0
    connect_timeout: float = 15.0
    reconnect: bool = True
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    server_name: str | None = None
    stream_management: bool = False
    """XEP-0198 with resumption: a dropped link resumes the same session (nothing sent is
    lost). Off by default for IEC 61850: while the server holds a session for resumption it
    does not send ``unavailable``, and 8-2 association monitoring rests on presence."""
    resume_grace: float = 60.0
    """How long a dropped session may wait for resumption before listeners hear it is down."""


def make_ssl_context(certfile: Path, keyfile: Path, cafile: Path) -> ssl.SSLContext:
    """TLS 1.2+ client context: our certificate, the server checked against the CA bundle only.

    Built once per endpoint without the system trust store (which costs memory per context and
    is not what a derlink deployment trusts).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(cafile=str(cafile))
        context.load_cert_chain(str(certfile), str(keyfile))
    except (OSError, ssl.SSLError) as err:
        raise XmppError(f"cannot load TLS credentials: {err}") from None
    return context


# -- handlers -----------------------------------------------------------------------------------

IqHandler = Callable[[JID, str, ET.Element], Awaitable[ET.Element | None]]
"""(from, 'get'|'set', child element) -> result child (or None); raise StanzaError to refuse."""
StanzaListener = Callable[[StanzaBase], None]
RequestHandler = Callable[[str, bytes], Awaitable[bytes] | bytes]
MessageHandler = Callable[[str, bytes, str], Awaitable[None] | None]
"""(from full JID, payload, message type)"""
ConnectionListener = Callable[[bool], None]


class _Client(ClientXMPP):
    """slixmpp's client with only the stream features we need."""

    def __init__(self, jid: str, context: ssl.SSLContext, *, stream_management: bool) -> None:
        super().__init__(
            jid,
            "",
            plugin_config={"feature_mechanisms": {"use_mech": "EXTERNAL"}},
            sasl_mech="EXTERNAL",
            # our context up front: slixmpp's default one loads the system trust store, which
            # costs ~30 ms and memory per client and is not what a derlink deployment trusts
            ssl_context=context,
        )
        self.enable_direct_tls = False
        self.enable_plaintext = False
        self.enable_starttls = True
        self.use_aiodns = False
        self.credentials["authzid"] = ""
        self.whitespace_keepalive_interval = 60
        if stream_management:
            # registered before the endpoint's inbound filter, so it counts every stanza
            self.register_plugin("xep_0198", {"allow_resume": True})


@dataclass
class _Pending:
    future: asyncio.Future[Iq]
    to: str


@dataclass
class Stats:
    """Counters of one endpoint (for tests and metrics)."""

    requests_sent: int = 0
    requests_received: int = 0
    errors_sent: int = 0
    connects: int = 0
    resumes: int = 0
    disconnects: int = 0
    dropped: int = 0
    refused: dict[str, int] = field(default_factory=dict)


class Endpoint:
    """One authenticated XMPP session that carries payloads; see the module docstring."""

    def __init__(self, config: EndpointConfig, *, protector: PayloadProtector | None = None):
        self.config = config
        self.protector: PayloadProtector = protector or IdentityProtector()
        try:
            requested = JID(config.jid)
        except InvalidJID as err:
            raise XmppError(f"bad JID {config.jid!r}: {err}") from None
        if not requested.user:
            raise XmppError(f"JID {config.jid!r} has no local part")
        self._requested = JID(requested.bare)
        self._requested.resource = requested.resource or config.resource
        self._context = make_ssl_context(config.certfile, config.keyfile, config.cafile)
        self._client: _Client | None = None
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._id_prefix = f"d{random.getrandbits(32):08x}-"
        self._slots = asyncio.Semaphore(config.max_outstanding)
        self._inbound = 0
        self._iq_handlers: dict[str, IqHandler] = {}
        self._message_listeners: dict[str, list[StanzaListener]] = {}
        self._presence_listeners: list[StanzaListener] = []
        self._connection_listeners: list[ConnectionListener] = []
        self._request_handler: RequestHandler | None = None
        self._message_handler: MessageHandler | None = None
        self._session = asyncio.Event()
        self._failed = asyncio.Event()
        self._failure = ""
        self._stopping = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._held_down: asyncio.TimerHandle | None = None
        self._backoff = config.backoff_initial
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stats = Stats()
        self._payload_namespaces: set[str] = set()
        for namespace in (*config.payload_namespaces, SEALED_NS):
            self.add_payload_namespace(namespace)

    # -- identity and state -----------------------------------------------------------------

    @property
    def jid(self) -> JID:
        """Our full JID (the bound one once a session is up)."""
        if self._client is not None and self._client.boundjid.resource:
            return JID(self._client.boundjid.full)
        return JID(self._requested.full)

    @property
    def bare(self) -> str:
        return str(self._requested.bare)

    @property
    def domain(self) -> str:
        return str(self._requested.domain)

    @property
    def connected(self) -> bool:
        return self._session.is_set()

    @property
    def outstanding(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._pending)

    # -- life cycle -------------------------------------------------------------------------

    async def start(self, timeout: float | None = None) -> None:
        """Connect and wait for the session (bound resource); raise on failure or timeout."""
        self._stopping = False
        self._failure = ""
        self._failed.clear()
        self._connect()
        session = asyncio.ensure_future(self._session.wait())
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            await asyncio.wait(
                (session, failed),
                timeout=timeout or self.config.connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            session.cancel()
            failed.cancel()
        if self._session.is_set():
            return
        await self.stop()
        if self._failure:
            raise LoginRefusedError(f"{self._requested}: {self._failure}")
        raise NotConnectedError(
            f"{self._requested} could not log in to {self.config.host}:{self.config.port}"
        )

    async def wait_connected(self, timeout: float) -> None:
        """Wait until a session is up again (after a reconnect)."""
        try:
            await asyncio.wait_for(self._session.wait(), timeout)
        except TimeoutError:
            raise NotConnectedError(f"{self._requested} did not reconnect in time") from None

    async def stop(self) -> None:
        """Close the stream cleanly and stay disconnected."""
        self._stopping = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        if self._held_down is not None:
            self._held_down.cancel()
            self._held_down = None
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(wait=1.0), 3.0)
            client.abort()
        self._fail_pending(NotConnectedError("endpoint stopped"))
        for task in list(self._tasks):
            task.cancel()

    def kill(self, *, reconnect: bool = True) -> None:
        """Drop the TCP connection without closing the stream (as a network failure would)."""
        if not reconnect:
            self._stopping = True
        if self._client is not None:
            self._client.abort()

    def _connect(self) -> None:
        client = self._client
        if client is None:
            client = _Client(
                self._requested.full,
                self._context,
                stream_management=self.config.stream_management,
            )
            if self.config.server_name:
                client.default_domain = self.config.server_name
            client.add_filter("in", self._inbound_filter)
            client.add_event_handler("session_start", self._on_session_start)
            client.add_event_handler("disconnected", self._on_disconnected)
            client.add_event_handler("failed_auth", self._on_failed_auth)
            client.add_event_handler("ssl_invalid_chain", self._on_invalid_chain)
            client.add_event_handler("connection_failed", self._on_connection_failed)
            client.add_event_handler("session_resumed", self._on_session_resumed)
            client.add_event_handler("session_end", self._on_session_end)
            self._client = client
        client.connect(self.config.host, self.config.port)

    def _on_session_start(self, _event: Any) -> None:
        self.stats.connects += 1
        self._backoff = self.config.backoff_initial
        if self._held_down is not None:  # resumption failed: the old session is gone
            self._report_down()
        self._session.set()
        if self._client is not None:
            # available, so the server routes what is sent to our bare JID (MUC invitations,
            # PubSub notifications) to this session
            self._client.send(self._client.Presence())
        for listener in list(self._connection_listeners):
            _call_safely(listener, True)

    def _on_failed_auth(self, _event: Any) -> None:
        self._fail_login("the server refused our certificate (SASL EXTERNAL)")

    def _on_invalid_chain(self, _event: Any) -> None:
        self._fail_login("the server's certificate is not trusted by our CA bundle")
        if self._client is not None:
            self._client.abort()

    def _fail_login(self, reason: str) -> None:
        log.warning("%s: %s", self._requested, reason)
        self._failure = reason
        self._failed.set()

    def _on_session_resumed(self, _event: Any) -> None:
        """XEP-0198: the server kept our session; to the listeners nothing happened."""
        self.stats.resumes += 1
        self._backoff = self.config.backoff_initial
        if self._held_down is not None:
            self._held_down.cancel()
            self._held_down = None
        self._session.set()

    def _on_session_end(self, _event: Any) -> None:
        if self._held_down is not None and not self._session.is_set():
            self._report_down()

    def _resumable(self) -> bool:
        if self._client is None or not self.config.stream_management or self._stopping:
            return False
        sm = self._client.plugin.get("xep_0198", None)
        return bool(sm is not None and sm.sm_id)

    def _report_down(self) -> None:
        if self._held_down is not None:
            self._held_down.cancel()
            self._held_down = None
        for listener in list(self._connection_listeners):
            _call_safely(listener, False)

    def _on_disconnected(self, _reason: Any) -> None:
        was_up = self._session.is_set()
        self._session.clear()
        self._fail_pending(NotConnectedError(f"{self._requested}: connection lost"))
        if was_up:
            self.stats.disconnects += 1
            if self._resumable():
                # hold the news: the session may resume within the grace time
                loop = asyncio.get_running_loop()
                self._held_down = loop.call_later(self.config.resume_grace, self._report_down)
            else:
                self._report_down()
        idle = self._reconnect_task is None or self._reconnect_task.done()
        if not self._stopping and self.config.reconnect and idle:
            self._reconnect_task = asyncio.ensure_future(self._reconnect_later())

    def _on_connection_failed(self, _error: Any) -> None:
        # slixmpp would retry on its own with waits growing to 5 minutes: use our backoff
        if self._client is not None:
            self._client.cancel_connection_attempt()
        idle = self._reconnect_task is None or self._reconnect_task.done()
        if not self._stopping and idle:
            self._reconnect_task = asyncio.ensure_future(self._reconnect_later())

    async def _reconnect_later(self) -> None:
        delay = self._backoff * (0.5 + random.random())
        self._backoff = min(self._backoff * 2, self.config.backoff_max)
        await asyncio.sleep(delay)
        if not self._stopping and not self._session.is_set():
            self._connect()

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.future.done():
                entry.future.set_exception(error)

    # -- listeners --------------------------------------------------------------------------

    def on_connection(self, listener: ConnectionListener) -> None:
        """Call ``listener(True)`` on each session start and ``listener(False)`` on each loss."""
        self._connection_listeners.append(listener)

    def on_request(self, handler: RequestHandler) -> None:
        """Serve payload requests: ``handler(from_jid, payload) -> response payload``.

        Raise :class:`StanzaError` to answer with an iq error instead.
        """
        self._request_handler = handler

    def on_message(self, handler: MessageHandler) -> None:
        """Receive payload messages: ``handler(from_jid, payload, message_type)``."""
        self._message_handler = handler

    def add_payload_namespace(self, namespace: str) -> None:
        """Deliver payload elements in ``namespace`` to the request and message handlers."""
        if namespace in self._payload_namespaces:
            return
        self._payload_namespaces.add(namespace)
        self._iq_handlers[namespace] = self._handle_payload_iq
        self._message_listeners.setdefault(namespace, []).append(self._handle_payload_message)

    def register_iq(self, namespace: str, handler: IqHandler) -> None:
        """Serve iq get/set whose child element is in ``namespace`` (disco, for instance)."""
        self._iq_handlers[namespace] = handler

    def listen_messages(self, namespace: str, listener: StanzaListener) -> None:
        """Receive every ``<message>`` with a child in ``namespace`` (MUC invites, PubSub)."""
        self._message_listeners.setdefault(namespace, []).append(listener)

    def listen_presence(self, listener: StanzaListener) -> None:
        """Receive every ``<presence>`` stanza."""
        self._presence_listeners.append(listener)

    # -- sending ----------------------------------------------------------------------------

    def _live_client(self) -> _Client:
        if self._client is None or not self._session.is_set():
            raise NotConnectedError(f"{self._requested} is not connected")
        return self._client

    async def iq(
        self, to: str, itype: str, child: ET.Element | None, *, timeout: float | None = None
    ) -> Iq:
        """Send an iq get/set and return the result stanza; an error raises StanzaError."""
        limit = self.config.request_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        try:
            await asyncio.wait_for(self._slots.acquire(), limit)
        except TimeoutError:
            raise RequestTimeoutError(f"no request slot free within {limit} s") from None
        try:
            client = self._live_client()
            stanza_id = f"{self._id_prefix}{next(self._ids)}"
            iq = client.Iq()
            iq["to"] = to
            iq["type"] = itype
            iq["id"] = stanza_id
            if child is not None:
                iq.append(child)
            future: asyncio.Future[Iq] = loop.create_future()
            self._pending[stanza_id] = _Pending(future, str(iq["to"]))
            try:
                client.send(iq)
                self.stats.requests_sent += 1
                result = await asyncio.wait_for(future, max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise RequestTimeoutError(f"no answer from {to} within {limit} s") from None
            finally:
                self._pending.pop(stanza_id, None)
        finally:
            self._slots.release()
        if result["type"] == "error":
            error = result["error"]
            raise StanzaError(
                str(error["condition"] or "undefined-condition"),
                str(error["text"] or ""),
                str(error["type"] or "cancel"),
            )
        return result

    async def request(self, to: str, payload: bytes, *, timeout: float | None = None) -> bytes:
        """Send ``payload`` in an iq set to ``to`` (a full JID) and return the answer's payload."""
        peer = bare_jid(to)
        prepare = getattr(self.protector, "prepare", None)
        if prepare is not None:  # an end-to-end protector may first run its handshake with `to`
            await prepare(to)
        result = await self.iq(to, "set", self._wrap(peer, payload), timeout=timeout)
        child = _first_child(result.xml)
        if child is None:
            raise PayloadError(f"empty result from {to}")
        return self._unwrap(peer, child)

    def send_message(self, to: str, payload: bytes, *, mtype: str = "normal") -> None:
        """Send ``payload`` in a message (``mtype`` 'groupchat' for a MUC room)."""
        client = self._live_client()
        message = client.Message()
        message["to"] = to
        message["type"] = mtype
        message.append(self._wrap(bare_jid(to), payload))
        client.send(message)

    def send_stanza(self, stanza: StanzaBase) -> None:
        """Send a stanza built by a caller (presence, MUC and PubSub helpers)."""
        self._live_client().send(stanza)

    def make_presence(self, to: str | None = None, ptype: str | None = None) -> Presence:
        client = self._live_client()
        presence = client.Presence()
        if to:
            presence["to"] = to
        if ptype:
            presence["type"] = ptype
        return presence

    def make_message(self, to: str, mtype: str = "normal") -> Message:
        client = self._live_client()
        message = client.Message()
        message["to"] = to
        message["type"] = mtype
        return message

    def _wrap(self, peer: str, payload: bytes) -> ET.Element:
        return wrap_payload(self.protector, peer, payload)

    def _unwrap(self, peer: str, child: ET.Element) -> bytes:
        return unwrap_payload(self.protector, peer, child)

    # -- receiving --------------------------------------------------------------------------

    def _inbound_filter(self, stanza: StanzaBase) -> StanzaBase | None:
        """The one dispatcher: consume our stanzas, pass everything else to slixmpp."""
        name = stanza.name
        try:
            if name == "iq":
                return self._dispatch_iq(stanza)
            if name == "message":
                return self._dispatch_message(stanza)
            if name == "presence":
                for listener in list(self._presence_listeners):
                    _call_safely(listener, stanza)
                return None
        except Exception:  # a broken stanza must never take the connection down
            log.exception("%s: dropping a stanza that could not be dispatched", self._requested)
            self.stats.dropped += 1
            return None
        return stanza

    def _dispatch_iq(self, stanza: StanzaBase) -> StanzaBase | None:
        itype = stanza["type"]
        if itype in ("result", "error"):
            entry = self._pending.get(stanza["id"])
            if entry is None:
                return stanza
            sender = str(stanza["from"])
            if sender != entry.to and not (sender == "" and entry.to in (self.domain, self.bare)):
                # an answer must come from whom we asked (the server stamps 'from')
                self.stats.dropped += 1
                return None
            if not entry.future.done():
                entry.future.set_result(cast(Iq, stanza))
            return None
        if itype not in ("get", "set"):
            self.stats.dropped += 1
            return None
        child = _first_child(stanza.xml)
        handler = self._iq_handlers.get(element_namespace(child)) if child is not None else None
        if handler is None or child is None:
            return stanza  # slixmpp answers feature-not-implemented or serves its own
        if self._inbound >= self.config.max_inbound:
            self._reply_error(stanza, StanzaError("resource-constraint", "too many requests"))
            return None
        self._inbound += 1
        self._spawn(self._serve_iq(stanza, handler, child))
        return None

    async def _serve_iq(self, stanza: StanzaBase, handler: IqHandler, child: ET.Element) -> None:
        try:
            result = await handler(JID(stanza["from"]), str(stanza["type"]), child)
        except StanzaError as err:
            self._reply_error(stanza, err)
        except Exception:
            log.exception("%s: iq handler failed", self._requested)
            self._reply_error(stanza, StanzaError("internal-server-error"))
        else:
            if self._session.is_set():
                reply = stanza.reply(clear=True)
                if result is not None:
                    reply.append(result)
                reply.send()
        finally:
            self._inbound -= 1

    def _reply_error(self, stanza: StanzaBase, err: StanzaError) -> None:
        self.stats.errors_sent += 1
        self.stats.refused[err.condition] = self.stats.refused.get(err.condition, 0) + 1
        if not self._session.is_set():
            return
        reply = stanza.reply(clear=True)
        reply["type"] = "error"
        reply["error"]["condition"] = err.condition
        reply["error"]["type"] = ERROR_TYPES.get(err.condition, err.etype)
        if err.text:
            reply["error"]["text"] = err.text
        reply.send()

    async def _handle_payload_iq(
        self, sender: JID, itype: str, child: ET.Element
    ) -> ET.Element | None:
        self.stats.requests_received += 1
        if itype != "set":
            raise StanzaError("bad-request", "payload requests are iq set")
        handler = self._request_handler
        if handler is None:
            raise StanzaError("service-unavailable")
        peer = str(sender.bare)
        try:
            payload = self._unwrap(peer, child)
        except PayloadError as err:
            raise StanzaError("bad-request", str(err)) from None
        answer = handler(str(sender), payload)
        if inspect.isawaitable(answer):
            answer = await answer
        assert isinstance(answer, bytes)
        try:
            return self._wrap(peer, answer)
        except PayloadError as err:
            log.error("%s: handler produced a bad payload: %s", self._requested, err)
            raise StanzaError("internal-server-error") from None

    def _dispatch_message(self, stanza: StanzaBase) -> StanzaBase | None:
        if stanza["type"] == "error":
            return None
        consumed = False
        for child in stanza.xml:
            listeners = self._message_listeners.get(element_namespace(child))
            if listeners:
                consumed = True
                for listener in list(listeners):
                    _call_safely(listener, stanza)
                break
        return None if consumed else stanza

    def _handle_payload_message(self, stanza: StanzaBase) -> None:
        handler = self._message_handler
        if handler is None:
            return
        sender = JID(stanza["from"])
        mtype = str(stanza["type"] or "normal")
        peer = str(sender.bare)
        child = next(
            (c for c in stanza.xml if element_namespace(c) in self._payload_namespaces), None
        )
        if child is None:
            return
        try:
            payload = self._unwrap(peer, child)
        except PayloadError as err:
            log.warning("%s: message from %s refused: %s", self._requested, sender, err)
            self.stats.dropped += 1
            return
        result = handler(str(sender), payload, mtype)
        if inspect.isawaitable(result):
            self._spawn(_await(result))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _await(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("message handler failed")


_BACKGROUND: set[asyncio.Task[None]] = set()


def _call_safely(listener: Callable[[Any], Any], arg: Any) -> None:
    try:
        result = listener(arg)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(_await(result))
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)
    except Exception:
        log.exception("listener %r failed", listener)


def _first_child(element: ET.Element) -> ET.Element | None:
    for child in element:
        if child.tag != f"{{{STANZAS_NS}}}error" and not child.tag.endswith("}error"):
            return child
    return None


def bare_jid(jid: str) -> str:
    """``jid`` without its resource."""
    return jid.partition("/")[0]
