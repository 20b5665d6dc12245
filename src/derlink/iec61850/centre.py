"""The control centre: one XMPP endpoint, an ACSI association per IED (IEC 61850-8-2 client).

Each IED gets a sans-IO :class:`~derlink.iec61850.acsi.client.AcsiClient`; this module moves its
PDUs: every request PDU goes out in an ``<iq type="set">`` and the PDU in the answer is fed
back, reports and CommandTerminations arrive as ``<message>``. The async methods
(:meth:`ControlCentre.read`, :meth:`ControlCentre.write`, :meth:`ControlCentre.sbo_operate`...)
submit one service and wait for its result or its typed error.

Presence drives the association: when an IED goes unavailable its association is marked lost
(outstanding requests fail), and when it comes back the centre associates again and re-enables
the report control blocks it had enabled — a BRCB with the EntryID of the last report received
first, so the IED resends what was buffered meanwhile and nothing is lost or repeated.

Group commands go to a MUC room per DER group (the centre creates it and is its moderator);
tariffs are published on a PubSub node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from derlink.errors import DerlinkError
from derlink.iec61850.acsi.client import (
    AcsiClient,
    Associated,
    AssociationFailed,
    AssocState,
    ClientEvent,
    CommandTerminated,
    Completed,
    Failed,
    Released,
    ReportReceived,
)
from derlink.iec61850.acsi.errors import AssociationError
from derlink.iec61850.acsi.reporting import OptFlds, Reason
from derlink.iec61850.acsi.rpt import ReceivedReport
from derlink.iec61850.mms.codec import MMS_NS, decode_payload, encode_payload
from derlink.iec61850.model.refs import FC, ObjectReference
from derlink.iec61850.xmpp.disco import DiscoveredIed, discover_ieds
from derlink.iec61850.xmpp.endpoint import Endpoint, XmppError, bare_jid
from derlink.iec61850.xmpp.muc import MucRooms
from derlink.iec61850.xmpp.presence import PresenceTracker
from derlink.iec61850.xmpp.pubsub import PubSub

log = logging.getLogger(__name__)

Data = tuple[str, Any]
ReportListener = Callable[[str, ReceivedReport], None]
AssociationListener = Callable[[str, str], None]
"""(IED JID, new state: 'associated' | 'lost' | 'failed' | 'released')"""


DEFAULT_REPORT_HISTORY = 1000
"""Reports (and CommandTerminations) the centre keeps per IED: the latest ones, for a look back;
everything received goes to the ``on_report`` listeners, which is where reports are consumed."""


class CentreError(DerlinkError):
    """A control-centre operation cannot be carried out (unknown IED, no association...)."""


@dataclass
class _Rcb:
    ref: ObjectReference
    buffered: bool
    options: dict[str, Any]


@dataclass
class IedLink:
    """The centre's view of one IED: its association and the latest of what it received from
    it (bounded: a centre runs for months; listeners see everything)."""

    jid: str
    client: AcsiClient
    reports: deque[ReceivedReport] = field(
        default_factory=lambda: deque(maxlen=DEFAULT_REPORT_HISTORY)
    )
    terminations: deque[CommandTerminated] = field(
        default_factory=lambda: deque(maxlen=DEFAULT_REPORT_HISTORY)
    )
    rcbs: dict[str, _Rcb] = field(default_factory=dict)
    waiters: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    association: asyncio.Future[None] | None = None
    termination_waiters: list[tuple[str, asyncio.Future[CommandTerminated]]] = field(
        default_factory=list
    )
    reassociations: int = 0

    @property
    def state(self) -> AssocState:
        return self.client.state

    def settle_association(self, error: Exception | None = None) -> None:
        """End a pending :meth:`ControlCentre.associate`: associated, or failed with ``error``."""
        if self.association is None or self.association.done():
            return
        if error is None:
            self.association.set_result(None)
        else:
            self.association.set_exception(error)


class ControlCentre:
    """Associations to many IEDs over one endpoint (see the module docstring)."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        ieds: Iterable[str] = (),
        muc_service: str | None = None,
        pubsub_service: str | None = None,
        max_outstanding: int = 8,
        request_timeout: float | None = None,
        auto_reassociate: bool = True,
        report_history: int = DEFAULT_REPORT_HISTORY,
    ) -> None:
        if report_history < 0:
            raise CentreError(f"report_history {report_history} is negative")
        self.endpoint = endpoint
        endpoint.add_payload_namespace(MMS_NS)
        self.max_outstanding = max_outstanding
        self.report_history = report_history
        """The latest reports and CommandTerminations kept per IED (``IedLink.reports``)."""
        self.request_timeout = request_timeout
        self.auto_reassociate = auto_reassociate
        self.links: dict[str, IedLink] = {}
        self._report_listeners: list[ReportListener] = []
        self._association_listeners: list[AssociationListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.presence = PresenceTracker(endpoint, announce=list(ieds))
        self.presence.on_available(self._ied_available)
        self.presence.on_unavailable(self._ied_unavailable)
        self.muc = MucRooms(endpoint, "centre")
        self.muc_service = muc_service or f"conference.{endpoint.domain}"
        self.pubsub = PubSub(endpoint, pubsub_service)
        self.groups: dict[str, str] = {}
        self._builder = AcsiClient.group_sender(clock=time.time)
        endpoint.on_message(self._on_message)

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self, timeout: float | None = None) -> None:
        await self.endpoint.start(timeout)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.endpoint.stop()

    def watch(self, jids: Iterable[str]) -> None:
        """Announce ourselves to these IEDs (full JIDs) so they answer with their presence."""
        for jid in jids:
            self.presence.announce_to.add(jid)
            if self.endpoint.connected:
                self.presence.send_available(jid)

    def on_report(self, listener: ReportListener) -> None:
        self._report_listeners.append(listener)

    def on_association(self, listener: AssociationListener) -> None:
        self._association_listeners.append(listener)

    async def discover(self, jids: Iterable[str] | None = None) -> list[DiscoveredIed]:
        """The IEDs among ``jids`` (default: every available JID) by their disco feature."""
        candidates = list(jids) if jids is not None else self.presence.available()
        return await discover_ieds(self.endpoint, candidates, timeout=self.request_timeout)

    # -- associations ---------------------------------------------------------------------------

    def link(self, jid: str) -> IedLink:
        found = self.links.get(jid)
        if found is None:
            raise CentreError(f"no association with {jid}")
        return found

    async def associate(self, jid: str, *, timeout: float = 10.0) -> IedLink:
        """Associate with the IED at ``jid`` (a full JID)."""
        link = self.links.get(jid)
        if link is None:
            client = AcsiClient(max_outstanding=self.max_outstanding, clock=time.time)
            link = self.links[jid] = IedLink(
                jid,
                client,
                reports=deque(maxlen=self.report_history),
                terminations=deque(maxlen=self.report_history),
            )
        if link.state is AssocState.ASSOCIATED:
            return link
        if link.association is None or link.association.done():
            link.association = asyncio.get_running_loop().create_future()
            link.client.associate()
            self._pump(link)
        try:
            await asyncio.wait_for(asyncio.shield(link.association), timeout)
        except TimeoutError:
            raise CentreError(f"{jid} did not answer the association in time") from None
        return link

    async def associate_all(self, jids: Iterable[str], *, timeout: float = 10.0) -> None:
        await asyncio.gather(*(self.associate(j, timeout=timeout) for j in jids))

    async def release(self, jid: str) -> None:
        link = self.link(jid)
        link.client.release()
        self._pump(link)

    def _ied_unavailable(self, jid: str) -> None:
        link = self.links.get(jid)
        if link is None or link.state in (AssocState.IDLE, AssocState.LOST):
            return
        self._handle(link, link.client.connection_lost(), error=AssociationError(f"{jid} lost"))
        link.settle_association(CentreError(f"{jid} went away while associating"))
        self._notify(jid, "lost")

    def _ied_available(self, jid: str) -> None:
        link = self.links.get(jid)
        if link is None or link.state is not AssocState.LOST or not self.auto_reassociate:
            return
        self._spawn(self._reassociate(link))

    async def _reassociate(self, link: IedLink) -> None:
        try:
            await self.associate(link.jid)
            link.reassociations += 1
            await asyncio.gather(*(self._enable(link, rcb) for rcb in list(link.rcbs.values())))
        except DerlinkError as err:
            log.warning("re-association with %s failed: %s", link.jid, err)

    # -- ACSI services --------------------------------------------------------------------------

    async def _call(self, jid: str, submit: Callable[[AcsiClient], int]) -> Any:
        link = self.link(jid)
        request_id = submit(link.client)  # AcsiError at once when not associated
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        link.waiters[request_id] = future
        self._pump(link)
        try:
            return await future
        finally:
            link.waiters.pop(request_id, None)

    async def server_directory(self, jid: str) -> list[str]:
        """GetServerDirectory(LOGICAL-DEVICE)."""
        return list(await self._call(jid, lambda c: c.get_server_directory()))

    async def logical_device_directory(self, jid: str, ld: str) -> list[str]:
        return list(await self._call(jid, lambda c: c.get_logical_device_directory(ld)))

    async def logical_node_directory(self, jid: str, ln: ObjectReference | str) -> list[str]:
        ref = _ref(ln)
        return list(await self._call(jid, lambda c: c.get_logical_node_directory(ref)))

    async def data_directory(self, jid: str, ref: ObjectReference | str) -> list[str]:
        target = _ref(ref)
        return list(await self._call(jid, lambda c: c.get_data_directory(target)))

    async def data_definition(self, jid: str, ref: ObjectReference | str, fc: FC) -> Any:
        target = _ref(ref)
        return await self._call(jid, lambda c: c.get_data_definition(target, fc))

    async def read(self, jid: str, ref: ObjectReference | str, fc: FC) -> Any:
        """GetDataValues (typed by the data definition when one was fetched)."""
        target = _ref(ref)
        return await self._call(jid, lambda c: c.get_data_values(target, fc))

    async def write(self, jid: str, ref: ObjectReference | str, fc: FC, value: Any) -> None:
        """SetDataValues (a Python value needs the data definition fetched first)."""
        target = _ref(ref)
        await self._call(jid, lambda c: c.set_data_values(target, fc, value))

    async def data_set_values(self, jid: str, ds: ObjectReference | str) -> list[Any]:
        target = _ref(ds)
        return list(await self._call(jid, lambda c: c.get_data_set_values(target)))

    async def rcb_values(self, jid: str, rcb: ObjectReference | str, buffered: bool) -> Any:
        target = _ref(rcb)
        return await self._call(jid, lambda c: c.get_rcb_values(target, buffered))

    async def enable_reporting(
        self,
        jid: str,
        rcb: ObjectReference | str,
        *,
        buffered: bool,
        trg_ops: Reason | None = None,
        intg_pd_ms: int | None = None,
        buf_tm_ms: int | None = None,
        opt_flds: OptFlds | None = None,
        resv_tms: int | None = None,
        gi: bool = False,
    ) -> None:
        """Enable an RCB; it is enabled again (resynchronised) after every re-association."""
        link = self.link(jid)
        options: dict[str, Any] = {
            "trg_ops": trg_ops,
            "intg_pd_ms": intg_pd_ms,
            "buf_tm_ms": buf_tm_ms,
            "opt_flds": opt_flds,
            "resv_tms": resv_tms,
        }
        entry = _Rcb(_ref(rcb), buffered, options)
        # learn the RptID first: resynchronisation is keyed by it
        await self._call(jid, lambda c: c.get_rcb_values(entry.ref, buffered))
        link.rcbs[str(entry.ref)] = entry
        await self._enable(link, entry, gi=gi)

    async def _enable(self, link: IedLink, rcb: _Rcb, *, gi: bool = False) -> None:
        await self._call(
            link.jid,
            lambda c: c.enable_reporting(rcb.ref, rcb.buffered, gi=gi, **rcb.options),
        )

    async def disable_reporting(self, jid: str, rcb: ObjectReference | str, buffered: bool) -> None:
        link = self.link(jid)
        target = _ref(rcb)
        link.rcbs.pop(str(target), None)
        await self._call(jid, lambda c: c.disable_reporting(target, buffered))

    async def select_with_value(
        self, jid: str, ref: ObjectReference | str, ctl_val: Data, **options: Any
    ) -> None:
        target = _ref(ref)
        await self._call(jid, lambda c: c.select_with_value(target, ctl_val, **options))

    async def operate(
        self, jid: str, ref: ObjectReference | str, ctl_val: Data, **options: Any
    ) -> None:
        target = _ref(ref)
        await self._call(jid, lambda c: c.operate(target, ctl_val, **options))

    async def cancel(self, jid: str, ref: ObjectReference | str, ctl_val: Data) -> None:
        target = _ref(ref)
        await self._call(jid, lambda c: c.cancel(target, ctl_val))

    async def sbo_operate(
        self, jid: str, ref: ObjectReference | str, ctl_val: Data, *, timeout: float = 10.0
    ) -> CommandTerminated:
        """SelectWithValue, Operate, then wait for the CommandTermination (enhanced security)."""
        target = _ref(ref)
        link = self.link(jid)
        future: asyncio.Future[CommandTerminated] = asyncio.get_running_loop().create_future()
        link.termination_waiters.append((_do_key(target), future))
        try:
            await self.select_with_value(jid, target, ctl_val)
            await self.operate(jid, target, ctl_val)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise CentreError(f"no CommandTermination from {jid} for {target}") from None
        finally:
            with contextlib.suppress(ValueError):
                link.termination_waiters.remove((_do_key(target), future))

    # -- groups and tariffs ---------------------------------------------------------------------

    async def create_group(self, name: str, ied_jids: Iterable[str], *, wait: bool = True) -> str:
        """The MUC room of DER group ``name`` with ``ied_jids`` invited; returns the room JID."""
        room = f"{name}@{self.muc_service}"
        members = [bare_jid(j) for j in ied_jids]
        await self.muc.create_room(room, members)
        self.groups[name] = room
        if wait:
            await self.muc.wait_occupants(room, members, timeout=15)
        return room

    def _group_room(self, name: str) -> str:
        room = self.groups.get(name)
        if room is None:
            raise CentreError(f"no group {name!r}")
        return room

    def group_operate(self, name: str, ref: ObjectReference | str, ctl_val: Data) -> None:
        """Operate ``ref`` (direct control) on every IED of the group, as one groupchat."""
        room = self._group_room(name)
        self._builder.operate(_ref(ref), ctl_val, enhanced=False, new_ctl_num=True)
        self._send_group(room)

    def group_write(self, name: str, ref: ObjectReference | str, fc: FC, data: Data) -> None:
        """SetDataValues of ``ref[fc]`` (MMS ``Data``) on every IED of the group."""
        room = self._group_room(name)
        self._builder.set_data_values(_ref(ref), fc, data)
        self._send_group(room)

    def _send_group(self, room: str) -> None:
        for pdu in self._builder.take_unconfirmed():
            self.muc.send(room, encode_payload(pdu))

    async def create_tariff_node(self, node: str) -> bool:
        return await self.pubsub.create_node(node, timeout=self.request_timeout)

    async def publish_tariff(self, node: str, tariff: bytes, *, item_id: str | None = None) -> str:
        return await self.pubsub.publish(
            node, tariff, item_id=item_id, timeout=self.request_timeout
        )

    # -- PDU plumbing ---------------------------------------------------------------------------

    def _pump(self, link: IedLink) -> None:
        for pdu in link.client.take_outgoing():
            self._spawn(self._exchange(link, pdu))

    async def _exchange(self, link: IedLink, pdu: tuple[str, Any]) -> None:
        try:
            answer = await self.endpoint.request(
                link.jid, encode_payload(pdu), timeout=self.request_timeout
            )
            response = decode_payload(answer)
            events = link.client.receive(response)
        except (XmppError, DerlinkError) as err:
            if link.state in (AssocState.IDLE, AssocState.LOST):
                link.settle_association(err)
                return
            self._handle(link, link.client.connection_lost(), error=err)
            link.settle_association(err)
            self._notify(link.jid, "lost")
            return
        self._handle(link, events)
        self._pump(link)

    def _on_message(self, sender: str, payload: bytes, mtype: str) -> None:
        if mtype == "groupchat":
            return  # our own group commands, reflected by the room
        link = self.links.get(sender)
        if link is None:
            log.warning("message from %s, which is not an associated IED: dropped", sender)
            return
        try:
            events = link.client.receive(decode_payload(payload))
        except DerlinkError as err:
            log.warning("bad message from %s: %s", sender, err)
            return
        self._handle(link, events)
        self._pump(link)

    def _handle(
        self, link: IedLink, events: list[ClientEvent], *, error: Exception | None = None
    ) -> None:
        for event in events:
            if isinstance(event, Completed):
                self._settle(link, event.request_id, result=event.result)
            elif isinstance(event, Failed):
                self._settle(link, event.request_id, error=error or event.error)
            elif isinstance(event, ReportReceived):
                link.reports.append(event.report)
                for listener in list(self._report_listeners):
                    listener(link.jid, event.report)
            elif isinstance(event, CommandTerminated):
                link.terminations.append(event)
                for key, future in list(link.termination_waiters):
                    if key == event.ref and not future.done():
                        future.set_result(event)
            elif isinstance(event, Associated):
                link.settle_association()
                self._notify(link.jid, "associated")
            elif isinstance(event, AssociationFailed):
                link.settle_association(event.error)
                self._notify(link.jid, "failed")
            elif isinstance(event, Released):
                self._notify(link.jid, "released")

    def _settle(
        self, link: IedLink, request_id: int, *, result: Any = None, error: Exception | None = None
    ) -> None:
        future = link.waiters.get(request_id)
        if future is None or future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def _notify(self, jid: str, state: str) -> None:
        for listener in list(self._association_listeners):
            listener(jid, state)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _ref(ref: ObjectReference | str) -> ObjectReference:
    return ref if isinstance(ref, ObjectReference) else ObjectReference.parse(ref)


def _do_key(ref: ObjectReference) -> str:
    return str(ref)
