"""End-to-end protection of IEC 61850-8-2 payloads over XMPP: the XMPP server sees ciphertext.

:class:`E2eProtector` is the :class:`~derlink.iec61850.xmpp.endpoint.PayloadProtector` of an
endpoint. It runs one IEC 62351-4-style session (:class:`~derlink.e2e.session.Session`) per peer
bare JID and seals every payload the endpoint carries (MMS requests and responses in ``<iq>``,
reports in ``<message>``) into a confidential data record; group traffic (a MUC room's bare JID)
is sealed with the room's group key (:mod:`derlink.iec61850.groupkeys`).

Wire format, in the namespace ``urn:derlink:e2e`` (:data:`E2E_NS`), base64 of the binary
message of :mod:`derlink.e2e` inside one element::

    <iq type="set"><e2e xmlns="urn:derlink:e2e" kind="handshake">HandshakeReq</e2e></iq>
    <iq type="result"><e2e xmlns="urn:derlink:e2e" kind="handshake">HandshakeAcc</e2e></iq>
    <iq type="set"><e2e xmlns="urn:derlink:e2e" kind="kdc">record(KdcMessage)</e2e></iq>
    <iq type="result"><e2e ... kind="kdc">record(KdcMessage)</e2e></iq>  (or empty)
    <iq type="error"> not-authorized, text "e2e.revoked: ..." (a refused handshake)

MMS payloads travel as the endpoint's ``<sealed xmlns="urn:derlink:e2e:sealed">`` element
holding a data record (or, to a room, a group message). The first request to a peer runs the
handshake (:meth:`E2eProtector.prepare`, awaited by ``Endpoint.request``); a handshake request
for a new association replaces a peer's session only once it verified. Rekey is on schedule
(:meth:`E2eProtector.tick`, run every ``tick_interval`` while connected) and on demand
(:meth:`E2eProtector.rekey`), initiated by either side.

Identity: the peer is whoever its end-to-end certificate names (derlink.pki, revocation
included), and that certificate's id-on-xmppAddr must equal the bare JID the XMPP server says
the stanza came from, so neither a rogue client nor the server can speak for another JID. The
verified certificate's IEC 62351-8 roles are available to the IED's ACSI ``authorize`` hook
through :func:`acsi_authorizer` (derlink.rbac decides).

Lifetime: a session ends when the peer's presence becomes unavailable or our own connection
drops (both sides then run a fresh handshake), when a rekey shows the peer's certificate revoked,
and when :meth:`E2eProtector.revalidate` (run after fresh CRLs arrive) finds it revoked. Every
refusal is typed (:class:`~derlink.e2e.errors.E2EError`), counted in
:attr:`E2eProtector.refused` and audited (``E2E:Refused.1``, the refusal code in the details).

After answering a rekey a peer keeps sealing under the old keys until the requester proves it
holds the new ones (``Session.switch_pending``), so a record that overtakes the iq result of a
rekey still opens.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import logging
import xml.etree.ElementTree as ET
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from slixmpp import JID
from slixmpp.xmlstream import StanzaBase

from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.e2e import records
from derlink.e2e.errors import E2EError, MalformedMessage, StateError, UntrustedCertificate
from derlink.e2e.group import GroupMember
from derlink.e2e.identity import Credentials, PeerIdentity, Verifier
from derlink.e2e.session import (
    Established,
    Event,
    HandshakeReplayCache,
    Send,
    Session,
    SessionConfig,
    State,
    association_of,
)
from derlink.e2e.tokens import MAX_TOKEN, decode_token
from derlink.errors import DerlinkError
from derlink.iec61850.xmpp.endpoint import Endpoint, StanzaError, XmppError, bare_jid
from derlink.pki import Role, certificate_der
from derlink.rbac import Decision, Policy, Subject, acsi_hook
from derlink.rbac.policy import DEFAULT_POLICY
from derlink.rbac.subject import subject_from_verified

log = logging.getLogger(__name__)

E2E_NS = "urn:derlink:e2e"
E2E_TAG = f"{{{E2E_NS}}}e2e"
KIND_HANDSHAKE = "handshake"
KIND_KDC = "kdc"
SOURCE = "derlink.iec61850.protection"
#: Largest base64 text accepted in an ``<e2e/>`` element (a handshake token is at most 32 KiB).
MAX_TEXT = (MAX_TOKEN + records.OVERHEAD) * 4 // 3 + 4

Clock = Callable[[], datetime]
AuditSink = Callable[[AuditEvent], Awaitable[Any] | None]
KdcHandler = Callable[[str, PeerIdentity, bytes, datetime], bytes | None]
"""(peer bare JID, authenticated peer, opened KdcMessage, now) -> KdcMessage to answer, or None."""
TickListener = Callable[[datetime], Awaitable[None] | None]


class HandshakeFailed(E2EError):
    """The handshake over XMPP did not complete: the peer refused it, or did not answer."""

    code = "e2e.handshake-failed"

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        """The peer's refusal code (``e2e.revoked``...) when it said one."""


class NoSession(StateError):
    """No established end-to-end session with this peer (run the handshake first)."""

    code = "e2e.no-session"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def element(kind: str, message: bytes) -> ET.Element:
    """``<e2e xmlns="urn:derlink:e2e" kind="...">base64</e2e>``."""
    node = ET.Element(E2E_TAG, {"kind": kind})
    node.text = base64.b64encode(message).decode("ascii")
    return node


def parse_element(node: ET.Element | None, kind: str) -> bytes:
    """The bytes of an ``<e2e/>`` element of ``kind``, or :class:`MalformedMessage`."""
    if node is None or node.tag != E2E_TAG:
        raise MalformedMessage("no end-to-end element")
    if node.get("kind") != kind:
        raise MalformedMessage(f"an end-to-end element of kind {node.get('kind')!r}, not {kind}")
    text = (node.text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise MalformedMessage("the end-to-end element is empty or too large")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedMessage("the end-to-end element is not base64") from None


class E2eProtector:
    """Pairwise sessions (by peer bare JID) and group members (by room bare JID) of one
    endpoint; see the module docstring.

    The methods taking ``now`` are the sans-IO core (handshake steps, sealing, opening);
    :meth:`attach` binds the protector to an endpoint and does the I/O.
    """

    def __init__(
        self,
        credentials: Credentials,
        verifier: Verifier,
        *,
        config: SessionConfig | None = None,
        clock: Clock = _utcnow,
        audit: AuditSink | None = None,
        handshake_timeout: float = 10.0,
        tick_interval: float = 30.0,
        audit_history: int = 256,
    ) -> None:
        self.credentials = credentials
        self.verifier = verifier
        self.config = config or SessionConfig()
        self.clock = clock
        self.handshake_timeout = handshake_timeout
        self.tick_interval = tick_interval
        self.endpoint: Endpoint | None = None
        self.groups: dict[str, GroupMember] = {}
        """Group members by room bare JID: payloads to and from these JIDs use group keys."""
        self.group_senders: dict[str, frozenset[str]] = {}
        """Per room, the member names whose group messages are obeyed (empty: any member)."""
        self.refused: Counter[str] = Counter()
        self.audit_events: deque[AuditEvent] = deque(maxlen=audit_history)
        self._audit_sink = audit
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, Session] = {}
        self._routes: dict[str, str] = {}
        self._chains: dict[str, tuple[x509.Certificate, ...]] = {}
        self._connecting: dict[str, asyncio.Future[PeerIdentity]] = {}
        self._replay_cache = HandshakeReplayCache()
        self._kdc_handler: KdcHandler | None = None
        self._tick_listeners: list[TickListener] = []
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- who ------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """Our identity as peers see it: the subject of our end-to-end certificate."""
        return self.credentials.certificate.subject.rfc4514_string()

    def session(self, jid: str) -> Session | None:
        """The established session with ``jid``'s bare JID, if any."""
        session = self._sessions.get(bare_jid(jid))
        return session if session is not None and session.state is State.ESTABLISHED else None

    def peer(self, jid: str) -> PeerIdentity | None:
        """The authenticated peer behind ``jid`` (full or bare), if a session is established."""
        session = self.session(jid)
        return session.peer if session is not None else None

    def peers(self) -> list[str]:
        """The bare JIDs with an established session."""
        return sorted(b for b in self._sessions if self.session(b) is not None)

    def roles(self, jid: str) -> tuple[Role, ...]:
        """The IEC 62351-8 roles of ``jid``'s verified end-to-end certificate (none: no session)."""
        peer = self.peer(jid)
        return peer.roles if peer is not None else ()

    def subject(self, jid: str) -> Subject | None:
        """The RBAC subject of ``jid`` from its verified end-to-end certificate."""
        peer = self.peer(jid)
        return subject_from_verified(peer.verified) if peer is not None else None

    def route(self, jid: str) -> str | None:
        """The full JID a peer last spoke from (for rekeys and key pushes)."""
        return self._routes.get(bare_jid(jid))

    def forget(self, jid: str) -> None:
        """End the session with ``jid`` (its presence went away, or it was revoked)."""
        bare = bare_jid(jid)
        self._sessions.pop(bare, None)
        self._pending.pop(bare, None)
        self._chains.pop(bare, None)

    def revalidate(self, now: datetime | None = None) -> list[str]:
        """Verify every peer's certificate again (after fresh CRLs reached the verifier) and
        end the sessions of peers revoked or no longer trusted since their handshake; the bare
        JIDs whose session ended (each refusal audited)."""
        moment = now or self.clock()
        ended = []
        for bare, session in list(self._sessions.items()):
            if session.peer is None:
                continue
            try:
                self.verifier.verify(session.peer.certificate, self._chains.get(bare, ()), moment)
            except E2EError as err:
                self.audit_refusal(bare, "revalidate", err)
                self.forget(bare)
                ended.append(bare)
        return ended

    # -- sans-IO handshake ----------------------------------------------------------------------

    def _accepts(self, bare: str) -> Callable[[PeerIdentity], bool]:
        return lambda peer: bare in peer.xmpp_addresses

    def begin(self, to: str, now: datetime) -> bytes:
        """A HandshakeReq opening a new association with ``to`` (its answer goes to
        :meth:`complete`)."""
        bare = bare_jid(to)
        session = Session.initiator(
            self.credentials, self.verifier, self.config, accept_peer=self._accepts(bare)
        )
        request = session.start(now)
        self._pending[bare] = session
        self._routes[bare] = to
        return request

    def complete(self, to: str, message: bytes, now: datetime) -> PeerIdentity:
        """Install the peer's HandshakeAcc (or rekey accept); the peer's identity."""
        bare = bare_jid(to)
        session = self._pending.get(bare) or self._sessions.get(bare)
        if session is None:
            raise NoSession(f"no handshake under way with {bare}")
        try:
            _check_handshake(message)
            events = _receive(session, message, now)
        except E2EError as err:
            self.audit_refusal(to, "handshake", err)
            if self._pending.get(bare) is session:
                del self._pending[bare]  # a refused peer gets no second try at this request
            raise
        for event in events:
            if isinstance(event, Established):
                self._pending.pop(bare, None)
                self._sessions[bare] = session
                self._chains[bare] = _intermediates(message)
                self._audit_established(to, event)
        assert session.peer is not None
        return session.peer

    def answer(self, sender: str, message: bytes, now: datetime) -> bytes:
        """Answer a HandshakeReq from ``sender`` (a full JID as the server stamped it): a new
        association (replacing the old one once verified) or a rekey of the current one."""
        bare = bare_jid(sender)
        try:
            _check_handshake(message)
            current = self._sessions.get(bare)
            if current is not None and current.association_id == association_of(message):
                events = _receive(current, message, now)
                session = current
            else:
                session = Session.responder(
                    self.credentials,
                    self.verifier,
                    self.config,
                    accept_peer=self._accepts(bare),
                    replay_cache=self._replay_cache,
                )
                events = _receive(session, message, now)
        except E2EError as err:
            self.audit_refusal(sender, "handshake", err)
            current = self._sessions.get(bare)
            if isinstance(err, UntrustedCertificate) and _signed_by(message, current):
                self.forget(bare)  # the peer's own certificate is no longer valid: end it now
            raise
        reply: bytes | None = None
        for event in events:
            if isinstance(event, Send):
                reply = event.message
            elif isinstance(event, Established):
                self._sessions[bare] = session
                self._pending.pop(bare, None)
                self._chains[bare] = _intermediates(message)
                self._audit_established(sender, event)
        self._routes[bare] = sender
        if reply is None:  # both sides rekeyed at once: ours wins, nothing to answer
            raise StateError("a crossing rekey request: the initiator's wins")
        return reply

    def rekey_request(self, jid: str, now: datetime) -> bytes:
        """A HandshakeReq for the next epoch of the session with ``jid``."""
        session = self._established(jid)
        return session.rekey(now)

    def tick(self, now: datetime) -> list[tuple[str, bytes]]:
        """Scheduled rekeys due at ``now``: (peer bare JID, HandshakeReq) to send."""
        due: list[tuple[str, bytes]] = []
        for bare, session in list(self._sessions.items()):
            request = session.tick(now)
            if request is not None:
                due.append((bare, request))
        return due

    def _established(self, jid: str) -> Session:
        session = self.session(jid)
        if session is None:
            raise NoSession(f"no end-to-end session with {bare_jid(jid)}")
        return session

    # -- sans-IO records ------------------------------------------------------------------------

    def seal(self, jid: str, payload: bytes, now: datetime) -> bytes:
        """``payload`` for ``jid``: a confidential record of its session, or a group message
        when ``jid`` is a room."""
        bare = bare_jid(jid)
        member = self.groups.get(bare)
        if member is not None:
            return member.seal(payload, now)
        return self._established(bare).seal(payload, now, confidential=True)

    def open(self, jid: str, message: bytes, now: datetime) -> bytes:
        """The payload of a record (or group message) from ``jid``, or the typed refusal,
        audited. Anything but a confidential record of the session is refused: plaintext, a
        handshake token, an integrity-only record."""
        bare = bare_jid(jid)
        try:
            member = self.groups.get(bare)
            if member is not None:
                return self._open_group(bare, member, message, now)
            session = self._established(bare)
            header = records.parse(message)[0]
            if not header.confidential:
                raise MalformedMessage("an integrity-only record where confidentiality is due")
            return session.open(message, now)
        except E2EError as err:
            self.audit_refusal(jid, "record", err)
            raise

    def _open_group(self, room: str, member: GroupMember, message: bytes, now: datetime) -> bytes:
        if message[:1] != bytes([records.CONTENT_GROUP]):
            raise MalformedMessage("not a group message (plaintext refused)")
        allowed = self.group_senders.get(room, frozenset())
        opened = member.open(message, now)
        if allowed and opened.sender not in allowed:
            raise StateError(f"a group message from {opened.sender}, who may not command")
        return opened.payload

    # -- PayloadProtector ---------------------------------------------------------------------

    def protect(self, peer_jid: str, payload: bytes) -> bytes:
        return self.seal(peer_jid, payload, self.clock())

    def unprotect(self, peer_jid: str, payload: bytes) -> bytes:
        return self.open(peer_jid, payload, self.clock())

    async def prepare(self, to: str) -> None:
        """Before a request to ``to``: make sure a session is established (handshake once)."""
        if bare_jid(to) in self.groups or self.session(to) is not None:
            return
        await self.connect(to)

    # -- I/O ----------------------------------------------------------------------------------

    def attach(self, endpoint: Endpoint) -> None:
        """Become ``endpoint``'s protector: serve ``urn:derlink:e2e`` iqs, follow presence and
        the connection, and run :meth:`tick` while connected."""
        self.endpoint = endpoint
        endpoint.protector = self
        endpoint.register_iq(E2E_NS, self._on_iq)
        endpoint.listen_presence(self._on_presence)
        endpoint.on_connection(self._on_connection)
        if endpoint.connected:
            self._on_connection(True)

    def on_kdc(self, handler: KdcHandler) -> None:
        """Receive the key-server messages that arrive inside sessions (see groupxmpp)."""
        self._kdc_handler = handler

    def on_tick(self, listener: TickListener) -> None:
        """Call ``listener(now)`` at every tick (group key schedules)."""
        self._tick_listeners.append(listener)

    def _link(self) -> Endpoint:
        if self.endpoint is None:
            raise StateError("the protector is not attached to an endpoint")
        return self.endpoint

    async def connect(self, to: str) -> PeerIdentity:
        """The authenticated peer at ``to`` (full JID), running the handshake if needed.

        Raises :class:`HandshakeFailed` when the peer refuses or does not answer, or the
        refusal of its accept (revoked, untrusted, wrong JID...)."""
        bare = bare_jid(to)
        session = self.session(bare)
        if session is not None and session.peer is not None:
            return session.peer
        running = self._connecting.get(bare)
        if running is None:
            running = asyncio.ensure_future(self._handshake(to))
            self._connecting[bare] = running
            running.add_done_callback(lambda _f: self._connecting.pop(bare, None))
        return await asyncio.shield(running)

    async def _handshake(self, to: str) -> PeerIdentity:
        request = self.begin(to, self.clock())
        answer = await self._exchange(to, KIND_HANDSHAKE, request)
        if answer is None:
            raise HandshakeFailed(f"{to} answered the handshake with nothing")
        return self.complete(to, answer, self.clock())

    async def rekey(self, jid: str) -> int:
        """Rekey the session with ``jid`` now; the new epoch."""
        bare = bare_jid(jid)
        to = self._routes.get(bare, jid)
        request = self.rekey_request(bare, self.clock())
        answer = await self._exchange(to, KIND_HANDSHAKE, request)
        if answer is None:
            raise HandshakeFailed(f"{to} answered the rekey with nothing")
        self.complete(to, answer, self.clock())
        return self._established(bare).epoch

    async def send_kdc(self, to: str, message: bytes) -> bytes | None:
        """Send a key-server message (sealed in ``to``'s session) and return the opened answer."""
        bare = bare_jid(to)
        record = self._established(bare).seal(message, self.clock(), confidential=True)
        answer = await self._exchange(self._routes.get(bare, to), KIND_KDC, record)
        if answer is None:
            return None
        return self.open(bare, answer, self.clock())

    async def _exchange(self, to: str, kind: str, message: bytes) -> bytes | None:
        endpoint = self._link()
        try:
            result = await endpoint.iq(
                to, "set", element(kind, message), timeout=self.handshake_timeout
            )
        except StanzaError as err:
            reason = err.text.partition(":")[0] if err.text.startswith("e2e.") else err.condition
            raise HandshakeFailed(f"{to} refused: {err}", reason) from None
        except XmppError as err:
            raise HandshakeFailed(f"no end-to-end answer from {to}: {err}") from None
        child = result.xml.find(E2E_TAG)
        return None if child is None else parse_element(child, kind)

    async def _on_iq(self, sender: JID, itype: str, child: ET.Element) -> ET.Element | None:
        full = str(sender)
        if itype != "set":
            raise StanzaError("bad-request", "end-to-end messages are iq set")
        kind = child.get("kind", "")
        try:
            try:
                if kind not in (KIND_HANDSHAKE, KIND_KDC):
                    raise MalformedMessage(f"unknown end-to-end element kind {kind!r}")
                message = parse_element(child, kind)
            except E2EError as err:
                self.audit_refusal(full, kind or "iq", err)
                raise
            # answer() and open() audit their own refusals
            if kind == KIND_HANDSHAKE:
                return element(kind, self.answer(full, message, self.clock()))
            return self._on_kdc(full, message)
        except E2EError as err:
            raise StanzaError("not-authorized", f"{err.code}: {err}") from None

    def _on_kdc(self, sender: str, record: bytes) -> ET.Element | None:
        now = self.clock()
        message = self.open(sender, record, now)
        handler = self._kdc_handler
        if handler is None:
            raise StateError("no key-server messages are handled here")
        session = self._established(sender)
        assert session.peer is not None
        self._routes[bare_jid(sender)] = sender
        reply = handler(bare_jid(sender), session.peer, message, now)
        if reply is None:
            return None
        return element(KIND_KDC, session.seal(reply, now, confidential=True))

    def _on_presence(self, stanza: StanzaBase) -> None:
        if str(stanza["type"]) not in ("unavailable", "error"):
            return
        sender = str(JID(stanza["from"]))
        bare = bare_jid(sender)
        if bare in self._sessions and self._routes.get(bare) in (sender, None):
            log.info("%s went away: its end-to-end session ends", sender)
            self.forget(bare)

    def _on_connection(self, up: bool) -> None:
        if not up:
            self._sessions.clear()  # the peers drop theirs when our presence goes
            self._pending.clear()
            self._chains.clear()
            return
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.ensure_future(self._tick_loop())
            self._tasks.add(self._ticker)
            self._ticker.add_done_callback(self._tasks.discard)

    async def _tick_loop(self) -> None:
        endpoint = self._link()
        while endpoint.connected:
            await asyncio.sleep(self.tick_interval)
            await self.run_tick()

    async def run_tick(self) -> None:
        """One round of timers: scheduled rekeys, then the tick listeners (group keys)."""
        now = self.clock()
        for bare, request in self.tick(now):
            self._spawn(self._scheduled_rekey(bare, request))
        for listener in list(self._tick_listeners):
            try:
                result = listener(now)
                if inspect.isawaitable(result):
                    await result
            except DerlinkError as err:
                log.warning("end-to-end timer failed: %s", err)

    async def _scheduled_rekey(self, bare: str, request: bytes) -> None:
        to = self._routes.get(bare, bare)
        try:
            answer = await self._exchange(to, KIND_HANDSHAKE, request)
            if answer is not None:
                self.complete(to, answer, self.clock())
        except E2EError as err:
            log.warning("scheduled rekey with %s failed: %s", to, err)

    async def close(self) -> None:
        """Stop the timers (the sessions end with the connection)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- audit --------------------------------------------------------------------------------

    def _own(self) -> str:
        return self.endpoint.bare if self.endpoint is not None else self.name

    def audit_refusal(self, peer: str, what: str, err: E2EError) -> None:
        """Count and audit a refused end-to-end message from ``peer``."""
        self.refused[err.code] += 1
        self._audit(
            AuditEvent(
                action=f"e2e.{what}",
                target=self._own(),
                actor=peer,
                outcome=Outcome.DENIED,
                severity=Severity.WARNING,
                event_id="E2E:Refused.1",
                source=SOURCE,
                details={"code": err.code, "reason": str(err)[:200]},
            )
        )

    def _audit_established(self, peer: str, event: Established) -> None:
        self._audit(
            AuditEvent(
                action="e2e.established",
                target=self._own(),
                actor=peer,
                outcome=Outcome.SUCCESS,
                severity=Severity.INFO,
                event_id="E2E:Session.1",
                source=SOURCE,
                details={"peer": event.peer.name[:200], "aead": event.aead},
            )
        )

    def _audit(self, event: AuditEvent) -> None:
        self.audit_events.append(event)
        if event.outcome is not Outcome.SUCCESS:
            log.warning(
                "%s: %s from %s refused: %s",
                event.target,
                event.action,
                event.actor,
                event.details.get("code"),
            )
        sink = self._audit_sink
        if sink is not None:
            result = sink(event)
            if inspect.isawaitable(result):
                self._spawn(result)


def _certificates(message: bytes) -> tuple[bytes, ...]:
    try:
        return decode_token(message[1:]).tbs.certificate_path
    except E2EError:
        return ()


def _intermediates(message: bytes) -> tuple[x509.Certificate, ...]:
    """The CA certificates a handshake token carried (kept to verify the peer again)."""
    out = []
    for der in _certificates(message)[1:]:
        try:
            out.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    return tuple(out)


def _signed_by(message: bytes, session: Session | None) -> bool:
    """Whether the token carries the certificate of ``session``'s authenticated peer."""
    if session is None or session.peer is None:
        return False
    path = _certificates(message)
    return bool(path) and path[0] == certificate_der(session.peer.certificate)


def _check_handshake(message: bytes) -> None:
    if message[:1] != bytes([records.CONTENT_HANDSHAKE]):
        raise MalformedMessage("not a handshake token where one is due")


def _receive(session: Session, message: bytes, now: datetime) -> tuple[Event, ...]:
    """``session.receive`` with every refusal typed: a parser below may refuse untrusted bytes
    in its own way (``cryptography.x509.InvalidVersion`` for a certificate with a bad version)."""
    try:
        return session.receive(message, now)
    except E2EError:
        raise
    except Exception as err:  # untrusted input must never escape as an untyped crash
        raise MalformedMessage(f"unreadable handshake ({type(err).__name__}: {err})") from None


def acsi_authorizer(
    protector: E2eProtector,
    *,
    policy: Policy = DEFAULT_POLICY,
    on_denied: Callable[[Decision], None] | None = None,
) -> Callable[[str, str, object | None], bool]:
    """An ``authorize(peer, right, ref)`` hook for the IED's ACSI server: the roles of the
    peer's verified end-to-end certificate decide (derlink.rbac); no session, no access."""
    return acsi_hook(protector.subject, policy=policy, on_denied=on_denied)


__all__ = [
    "E2E_NS",
    "E2eProtector",
    "HandshakeFailed",
    "NoSession",
    "acsi_authorizer",
    "element",
    "parse_element",
]
