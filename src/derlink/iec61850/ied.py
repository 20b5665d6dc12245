"""The IED runtime: an :class:`~derlink.iec61850.acsi.server.IedServer` on an XMPP endpoint.

The ACSI server is sans-IO; this module is the thin shell that feeds it (IEC 61850-8-2):

- ``<iq type="set">`` carrying an MMS PDU -> :meth:`IedServer.handle` -> the response in the
  ``<iq type="result">``; reports and CommandTerminations go out as ``<message>`` to their peer;
- a timer loop drives :meth:`IedServer.tick` (integrity periods, BufTm, SBO timeouts) and polls
  the :class:`DerDriver` for measurements, which enter the value store as process changes;
- presence: the IED tells its control centre(s) it is up, and a centre's ``unavailable`` ends
  that association (:meth:`IedServer.peer_lost`), which is what keeps a BRCB buffering for it;
- group commands arrive as MUC groupchat and go through the same :meth:`IedServer.handle`, as
  the centre that moderates the room — from anyone else they are refused and audited;
- tariffs arrive by PubSub and are kept (and handed to the driver when it wants them);
- every refusal (unknown JID, malformed payload, ACSI access denied, control refused) is an
  audit event.

Only JIDs listed as centres (every right) or viewers (view, read, reporting) get past the
transport; the finer rights are the ``authorize`` hook of the ACSI server.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.errors import DerlinkError
from derlink.iec61850.acsi.server import (
    AccessDenied,
    AssociationChanged,
    ControlApplied,
    ControlRefused,
    IedServer,
    Outgoing,
    OutKind,
    RequestRefused,
    ServerEvent,
    SettingApplied,
    allow_all,
)
from derlink.iec61850.mms.codec import MMS_NS, decode_payload, encode_payload
from derlink.iec61850.model.refs import FCDA, ObjectReference
from derlink.iec61850.model.store import Cause
from derlink.iec61850.xmpp.disco import IEC61850_FEATURE, DiscoItem, DiscoResponder, Identity
from derlink.iec61850.xmpp.endpoint import (
    Endpoint,
    NotConnectedError,
    StanzaError,
    XmppError,
    bare_jid,
)
from derlink.iec61850.xmpp.muc import MucRooms
from derlink.iec61850.xmpp.presence import PresenceTracker
from derlink.iec61850.xmpp.pubsub import Item, PubSub

log = logging.getLogger(__name__)

DEFAULT_CENTRE_RESOURCE = "centre"
READ_RIGHTS = frozenset({"view", "read", "reporting"})
SOURCE = "derlink.iec61850.ied"

INITIATE_FOR_GROUP: tuple[str, Any] = (
    "initiate-RequestPDU",
    {
        "localDetailCalling": 65000,
        "proposedMaxServOutstandingCalling": 1,
        "proposedMaxServOutstandingCalled": 1,
        "proposedDataStructureNestingLevel": 10,
        "initRequestDetail": {
            "proposedVersionNumber": 1,
            "proposedParameterCBB": (b"\xf1\x00", 11),
            "servicesSupportedCalling": (bytes(11), 85),
        },
    },
)
"""The association a room's moderator gets for its group commands (never sent on the wire)."""


# -- the device behind the IED ------------------------------------------------------------------


@runtime_checkable
class DerDriver(Protocol):
    """What a vendor puts between the IED runtime and a real inverter.

    ``apply`` receives accepted operates and setting writes, keyed by the reference written
    (a DO for controls, ``LD/LN.DO.DA`` for settings); ``measurements`` returns the process
    values that changed since the last call.
    """

    def apply(self, setpoints: Mapping[str, Any]) -> None: ...

    def measurements(self) -> Mapping[FCDA, Any]: ...


@dataclass
class SimulatedDriver:
    """A DER without hardware: records what it is told, reports what a test sets."""

    applied: list[dict[str, Any]] = field(default_factory=list)
    on_measure: Callable[[], None] | None = None
    """Called when a measurement is queued (the runtime polls at once)."""
    _pending: dict[FCDA, Any] = field(default_factory=dict)

    def apply(self, setpoints: Mapping[str, Any]) -> None:
        self.applied.append(dict(setpoints))

    def measurements(self) -> Mapping[FCDA, Any]:
        pending, self._pending = self._pending, {}
        return pending

    def measure(self, fcda: FCDA | str, value: Any) -> None:
        """Make ``value`` the next measurement of ``fcda`` (``"LD/LN.DO.DA[FC]"`` accepted)."""
        self._pending[FCDA.parse(fcda) if isinstance(fcda, str) else fcda] = value
        if self.on_measure is not None:
            self.on_measure()


AuditSink = Callable[[AuditEvent], Awaitable[Any] | None]


# -- the runtime --------------------------------------------------------------------------------


class IedRuntime:
    """One IED on one XMPP endpoint (see the module docstring)."""

    def __init__(
        self,
        endpoint: Endpoint,
        server: IedServer,
        *,
        centres: Iterable[str],
        viewers: Iterable[str] = (),
        driver: DerDriver | None = None,
        pubsub_service: str | None = None,
        tariff_node: str | None = None,
        audit: AuditSink | None = None,
        measurement_interval: float = 1.0,
        max_tick_interval: float = 1.0,
        audit_history: int = 256,
    ) -> None:
        self.endpoint = endpoint
        self.server = server
        self.driver = driver or SimulatedDriver()
        self.centres = {bare_jid(j) for j in centres}
        self.viewers = {bare_jid(j) for j in viewers}
        if not self.centres:
            raise DerlinkError("an IED needs at least one control-centre JID")
        self._audit_sink = audit
        self.audit_events: deque[AuditEvent] = deque(maxlen=audit_history)
        self.tariffs: list[Item] = []
        self.tariff_node = tariff_node
        self.measurement_interval = measurement_interval
        self.max_tick_interval = max_tick_interval
        self._wake = asyncio.Event()
        self._next_poll = 0.0
        if isinstance(self.driver, SimulatedDriver) and self.driver.on_measure is None:
            self.driver.on_measure = self.poll_soon
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._audit_tasks: set[asyncio.Task[Any]] = set()
        if server.authorize is allow_all:  # a deployment's RBAC hook, if given, stays
            server.authorize = self.authorize
        self._group_peers: set[str] = set()
        endpoint.add_payload_namespace(MMS_NS)
        announce = [_full_centre(j) for j in centres]
        self.presence = PresenceTracker(endpoint, announce=announce, answer=self.centres)
        self.presence.on_unavailable(self._peer_unavailable)
        self.muc = MucRooms(endpoint, endpoint.bare.partition("@")[0], trusted=self.centres)
        self.pubsub = PubSub(endpoint, pubsub_service) if tariff_node else None
        if self.pubsub is not None:
            self.pubsub.on_item(self._on_tariff)
        self.disco = DiscoResponder(
            endpoint,
            identity=Identity("client", "bot", server.model.ied_name),
            features=[IEC61850_FEATURE],
            items=self._disco_items,
        )
        endpoint.on_request(self._on_request)
        endpoint.on_message(self._on_message)
        endpoint.on_connection(self._on_connection)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, timeout: float | None = None) -> None:
        """Log in and start the timer loop."""
        self._loop_task = asyncio.ensure_future(self._timer_loop())
        try:
            await self.endpoint.start(timeout)
        except BaseException:
            self._loop_task.cancel()
            raise

    async def stop(self) -> None:
        """Stop the loop and close the connection."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._tasks):
            task.cancel()
        await self.endpoint.stop()
        if self._audit_tasks:  # let the audit log take what it was given
            await asyncio.wait(list(self._audit_tasks), timeout=5.0)

    async def run(self) -> None:
        """Run until cancelled (``derlink ied run``)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # -- authorisation ------------------------------------------------------------------------

    def authorize(self, peer: str, right: str, ref: ObjectReference | None) -> bool:
        """Centres may do everything, viewers may look (the ACSI ``authorize`` hook)."""
        who = bare_jid(peer)
        if who in self.centres:
            return True
        return who in self.viewers and right in READ_RIGHTS

    def _admitted(self, peer: str) -> bool:
        return bare_jid(peer) in self.centres or bare_jid(peer) in self.viewers

    # -- requests -----------------------------------------------------------------------------

    def _on_request(self, sender: str, payload: bytes) -> bytes:
        if not self._admitted(sender):
            self._audit_refusal(sender, "associate", "transport", "JID not authorised")
            raise StanzaError("forbidden", "not authorised for this IED")
        try:
            pdu = decode_payload(payload)
        except DerlinkError as err:
            self._audit_refusal(sender, "decode", "transport", str(err))
            raise StanzaError("bad-request", "not an MMS PDU") from None
        outgoing = self.server.handle(sender, pdu)
        self._after_server()
        response: Outgoing | None = None
        later: list[Outgoing] = []
        for out in outgoing:
            if response is None and out.kind is OutKind.RESPONSE and out.peer == sender:
                response = out
            elif response is None:
                self._send(out)  # before the response (LastApplError precedes it)
            else:
                later.append(out)  # after it (CommandTermination follows it)
        if later:
            asyncio.get_running_loop().call_soon(self._send_all, later)
        if response is None:
            raise StanzaError("bad-request", "no response to this PDU")
        return encode_payload(response.pdu)

    def _on_message(self, sender: str, payload: bytes, mtype: str) -> None:
        if mtype != "groupchat":
            # 8-2 has no unconfirmed service a client sends to a server
            self._audit_refusal(sender, "message", "transport", "unexpected message")
            return
        identity = self._group_identity(sender)
        if identity is None:
            if self.muc.is_room(sender) and sender.partition("/")[2] == self.muc.nick:
                return  # our own voice reflected
            self._audit_refusal(sender, "group-command", "muc", "not from the room's moderator")
            return
        try:
            pdu = decode_payload(payload)
        except DerlinkError as err:
            self._audit_refusal(sender, "group-command", "muc", str(err))
            return
        peer = f"{identity}/{bare_jid(sender)}"  # the centre, as moderator of this room
        self._group_peers.add(peer)
        if peer not in self.server.associations:
            self.server.handle(peer, INITIATE_FOR_GROUP)
        for out in self.server.handle(peer, pdu):
            if out.kind is OutKind.RESPONSE and out.pdu[0] != "confirmed-ResponsePDU":
                log.warning("%s: group command refused: %s", self.endpoint.bare, out.pdu[0])
        self._after_server()

    def _group_identity(self, sender: str) -> str | None:
        room_jid, _, nick = sender.partition("/")
        if not self.muc.trusted_sender(sender):
            return None
        occupant = self.muc.rooms[room_jid].occupants[nick]
        return occupant.jid

    # -- presence -----------------------------------------------------------------------------

    def _peer_unavailable(self, jid: str) -> None:
        self._send_all(self.server.peer_lost(jid))
        self._after_server()

    def _on_connection(self, up: bool) -> None:
        if not up:
            for peer in list(self.server.associations):
                self.server.peer_lost(peer)
            self._after_server()
            return
        if self.pubsub is not None and self.tariff_node:
            self._spawn(self._subscribe_tariffs(self.pubsub, self.tariff_node))

    async def _subscribe_tariffs(self, pubsub: PubSub, node: str) -> None:
        try:
            await pubsub.subscribe(node)
            await pubsub.fetch_latest(node)
        except (XmppError, StanzaError) as err:
            log.warning("%s: cannot subscribe to %s: %s", self.endpoint.bare, node, err)

    def _on_tariff(self, item: Item) -> None:
        self.tariffs.append(item)
        del self.tariffs[:-16]
        tariff = getattr(self.driver, "tariff", None)
        if callable(tariff):
            tariff(item)

    def _disco_items(self, node: str | None) -> list[DiscoItem]:
        if node is not None:
            return []
        me = str(self.endpoint.jid)
        return [DiscoItem(me, ld) for ld in self.server.model.logical_devices()]

    # -- time ---------------------------------------------------------------------------------

    def poll_soon(self) -> None:
        """Ask the driver for measurements now rather than at the next interval."""
        self._next_poll = 0.0
        self._wake.set()

    async def _timer_loop(self) -> None:
        while True:
            now = self.server.clock()
            if now >= self._next_poll:
                self._poll_driver(now)
                self._next_poll = now + self.measurement_interval
            self._send_all(self.server.tick(now))
            self._send_all(self.server.take_pending())
            self._handle_events()
            deadline = self.server.next_deadline()
            wait = min(self.max_tick_interval, self._next_poll - now)
            if deadline is not None:
                wait = min(wait, deadline - now)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.005))

    def _poll_driver(self, now: float) -> None:
        try:
            values = dict(self.driver.measurements())
        except Exception:
            log.exception("%s: the DER driver failed to give measurements", self.endpoint.bare)
            return
        for fcda, value in values.items():
            try:
                self.server.store.set(fcda, value, reason=Cause.PROCESS, now=now)
            except DerlinkError as err:
                log.warning("%s: measurement %s refused: %s", self.endpoint.bare, fcda, err)

    def process_changed(self) -> None:
        """Values were written straight into the value store (``server.store.set``, by a
        simulator or a test) instead of coming from the driver: send the reports they already
        triggered now, and wake the timer loop so that buffered ones (BufTm) go out on time
        rather than at the next measurement interval."""
        self._after_server()

    def _after_server(self) -> None:
        self._send_all(self.server.take_pending())
        self._handle_events()
        self._wake.set()

    # -- output -------------------------------------------------------------------------------

    def _send_all(self, outgoing: Iterable[Outgoing]) -> None:
        for out in outgoing:
            self._send(out)

    def _send(self, out: Outgoing) -> None:
        if out.peer in self._group_peers:
            return  # a group command: nobody to answer in the room
        # when the link is down, buffered reports are resent after resynchronisation
        try:
            self.endpoint.send_message(out.peer, encode_payload(out.pdu))
        except NotConnectedError:
            pass
        except DerlinkError as err:  # the end-to-end protector refused: no session with the peer
            log.warning("%s: cannot send to %s: %s", self.endpoint.bare, out.peer, err)

    # -- events and audit ---------------------------------------------------------------------

    def _handle_events(self) -> None:
        setpoints: dict[str, Any] = {}
        for event in self.server.take_events():
            if isinstance(event, ControlApplied):
                setpoints[str(event.ref)] = event.value
                self._audit(_applied(event))
            elif isinstance(event, SettingApplied):
                setpoints[str(event.fcda.ref)] = event.value
            else:
                audit = _refused(event)
                if audit is not None:
                    self._audit(audit)
        if setpoints:
            try:
                self.driver.apply(setpoints)
            except Exception:
                log.exception(
                    "%s: the DER driver failed to apply %s", self.endpoint.bare, setpoints
                )

    def _audit_refusal(self, peer: str, action: str, target: str, reason: str) -> None:
        self._audit(
            AuditEvent(
                action=f"iec61850.{action}",
                target=f"{self.endpoint.bare}:{target}",
                actor=peer,
                outcome=Outcome.DENIED,
                severity=Severity.WARNING,
                event_id="IEC61850:Transport.1",
                source=SOURCE,
                details={"reason": reason[:200]},
            )
        )

    def _audit(self, event: AuditEvent) -> None:
        self.audit_events.append(event)
        if event.outcome is not Outcome.SUCCESS:
            log.warning(
                "%s: %s %s by %s refused",
                self.endpoint.bare,
                event.action,
                event.target,
                event.actor,
            )
        sink = self._audit_sink
        if sink is not None:
            result = sink(event)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._audit_tasks.add(task)
                task.add_done_callback(self._audit_done)

    def _audit_done(self, task: asyncio.Task[Any]) -> None:
        self._audit_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: audit record lost: %s", self.endpoint.bare, task.exception())

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _applied(event: ControlApplied) -> AuditEvent:
    return AuditEvent(
        action="iec61850.operate",
        target=str(event.ref),
        actor=event.peer,
        outcome=Outcome.SUCCESS,
        severity=Severity.NOTICE,
        event_id="IEC61850:Control.1",
        source=SOURCE,
        details={"value": repr(event.value)[:200]},
    )


def _refused(event: ServerEvent) -> AuditEvent | None:
    if isinstance(event, AccessDenied):
        return AuditEvent(
            action=f"iec61850.{event.service}",
            target=event.ref or "server",
            actor=event.peer,
            outcome=Outcome.DENIED,
            severity=Severity.WARNING,
            event_id="IEC61850:Access.1",
            source=SOURCE,
            details={"right": event.right},
        )
    if isinstance(event, ControlRefused):
        return AuditEvent(
            action=f"iec61850.{event.service}",
            target=str(event.ref),
            actor=event.peer,
            outcome=Outcome.FAILURE,
            severity=Severity.NOTICE,
            event_id="IEC61850:Control.2",
            source=SOURCE,
            details={"addCause": event.add_cause.name},
        )
    if isinstance(event, RequestRefused):
        return AuditEvent(
            action=f"iec61850.{event.service}",
            target="server",
            actor=event.peer,
            outcome=Outcome.FAILURE,
            severity=Severity.NOTICE,
            event_id="IEC61850:Request.1",
            source=SOURCE,
            details={"reason": event.reason[:200]},
        )
    if isinstance(event, AssociationChanged):
        return AuditEvent(
            action=f"iec61850.association.{event.state}",
            target="server",
            actor=event.peer,
            outcome=Outcome.FAILURE if event.state == "refused" else Outcome.SUCCESS,
            severity=Severity.INFO,
            event_id="IEC61850:Association.1",
            source=SOURCE,
            details={"detail": event.detail[:200]},
        )
    return None


def _full_centre(jid: str) -> str:
    return jid if "/" in jid else f"{jid}/{DEFAULT_CENTRE_RESOURCE}"
