"""Group keys for the DER group rooms (XEP-0045 MUC), handed out over end-to-end sessions.

The control centre runs the key distribution centre (:class:`GroupKeyDistributor` around a
sans-IO :class:`~derlink.e2e.group.GroupKeyServer`); every IED runs a
:class:`GroupKeyReceiver`. Key packages only ever travel sealed (confidential) inside the
member's pairwise session (``<iq><e2e kind="kdc"/></iq>``, see
:mod:`derlink.iec61850.protection`), so the XMPP server never sees a group key, and an IED
installs packages only from the session whose authenticated peer is the configured KDC.

- push: admitting a member, the scheduled change to the future key (``tick``), and every
  rollover send the package to each member (the member answers with an empty iq result);
- pull: a member that holds no future key asks for one (:class:`~derlink.e2e.group.PullDue`);
  when the KDC cannot be reached it keeps its keys and warns
  (:class:`~derlink.e2e.group.KdcUnreachable`);
- rollover on removal or revocation: both keys are dropped at once and fresh ones pushed to the
  remaining members, so a removed member can neither read nor forge later group commands; the
  removed member also loses its room membership (``kick``).

The group id is the room's bare JID, so the endpoint's protector seals what is sent to the
room with the room's key (AES-256-GCM by default: the server sees no command in clear), and an
IED opens group messages only under the group key and only from the KDC's member name; a
plaintext or foreign groupchat is refused and audited.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime, timedelta

from derlink.e2e import tokens
from derlink.e2e.errors import E2EError, MalformedMessage, NotAMember, UnexpectedPeer
from derlink.e2e.group import (
    GroupAlgorithm,
    GroupKeyServer,
    GroupMember,
    KdcUnreachable,
    PullDue,
    Push,
    refusal,
)
from derlink.e2e.identity import PeerIdentity
from derlink.iec61850.protection import E2eProtector, HandshakeFailed
from derlink.iec61850.xmpp.endpoint import XmppError, bare_jid

log = logging.getLogger(__name__)

MUC_ADMIN_NS = "http://jabber.org/protocol/muc#admin"


class GroupKeyDistributor:
    """The KDC of the control centre on its endpoint's protector (see the module docstring)."""

    def __init__(self, protector: E2eProtector, kdc: GroupKeyServer | None = None) -> None:
        self.protector = protector
        self.kdc = kdc or GroupKeyServer()
        self.delivered: dict[str, int] = {}
        """Pushes delivered per member name (for tests and metrics)."""
        self.undelivered: dict[str, int] = {}
        self._jids: dict[str, str] = {}  # member name -> bare JID
        self._names: dict[str, str] = {}  # bare JID -> member name
        protector.on_kdc(self._on_kdc)
        protector.on_tick(self.tick)

    def member_name(self, jid: str) -> str | None:
        """The end-to-end identity a member JID was admitted under."""
        return self._names.get(bare_jid(jid))

    async def create_group(
        self,
        room: str,
        members: Iterable[str] = (),
        *,
        algorithm: GroupAlgorithm = GroupAlgorithm.AES_256_GCM,
        lifetime: timedelta = timedelta(hours=1),
        overlap: timedelta = timedelta(seconds=30),
    ) -> None:
        """Keys for ``room`` (its bare JID is the group id); ``members`` (full JIDs) get them."""
        group_id = bare_jid(room)
        now = self.protector.clock()
        self.kdc.create_group(
            group_id, now, algorithm=algorithm, lifetime=lifetime, overlap=overlap
        )
        own = GroupMember(self.protector.name, group_id)
        self.protector.groups[group_id] = own
        self.protector.group_senders[group_id] = frozenset({self.protector.name})
        self._deliver_local(self.kdc.add_member(group_id, self.protector.name, now))
        await asyncio.gather(*(self.add_member(group_id, jid) for jid in members))

    async def add_member(self, room: str, jid: str) -> str:
        """Admit the IED at ``jid`` (full JID; the session is opened if needed) and push it the
        keys; its member name (the subject of its end-to-end certificate)."""
        peer = await self.protector.connect(jid)
        self._jids[peer.name] = bare_jid(jid)
        self._names[bare_jid(jid)] = peer.name
        pushes = self.kdc.add_member(bare_jid(room), peer.name, self.protector.clock())
        await self._deliver(pushes)
        return peer.name

    async def remove_member(self, room: str, jid: str, *, kick: bool = True) -> None:
        """Remove a member and roll the group over; ``kick`` also takes its room membership."""
        group_id = bare_jid(room)
        name = self._names.get(bare_jid(jid))
        if name is None:
            raise NotAMember(f"{jid} was never admitted to a group here")
        pushes = self.kdc.remove_member(group_id, name, self.protector.clock())
        await self._deliver(pushes)
        if kick:
            await self._kick(group_id, bare_jid(jid))

    async def revoke(self, jid: str, *, kick: bool = True) -> None:
        """The member's certificate was revoked: end its session, take it out of every group
        (rollover of each) and out of the rooms."""
        bare = bare_jid(jid)
        name = self._names.get(bare)
        self.protector.forget(bare)
        if name is None:
            return
        rooms = [g for g in self.kdc.groups() if name in self.kdc.members(g)]
        await self._deliver(self.kdc.revoke(name, self.protector.clock()))
        if kick:
            for room in rooms:
                await self._kick(room, bare)

    async def rollover(self, room: str) -> None:
        """New keys for ``room`` now (both dropped at once), pushed to every member."""
        await self._deliver(self.kdc.rollover(bare_jid(room), self.protector.clock()))

    async def tick(self, now: datetime) -> None:
        """The key schedule: the future key activates, a new one is made and pushed."""
        await self._deliver(self.kdc.tick(now))

    async def _deliver(self, pushes: list[Push]) -> None:
        remote = self._deliver_local(pushes)
        await asyncio.gather(*(self._push(p) for p in remote))

    def _deliver_local(self, pushes: list[Push]) -> list[Push]:
        remote = []
        for push in pushes:
            if push.member == self.protector.name:
                own = self.protector.groups.get(push.group_id)
                if own is not None:
                    own.install(push.message, self.protector.clock())
            else:
                remote.append(push)
        return remote

    async def _push(self, push: Push) -> None:
        bare = self._jids.get(push.member)
        to = self.protector.route(bare) if bare is not None else None
        if bare is None or to is None:
            self.undelivered[push.member] = self.undelivered.get(push.member, 0) + 1
            return
        try:
            await self.protector.connect(to)
            await self.protector.send_kdc(to, push.message)
        except (E2EError, XmppError) as err:
            # the member pulls when it comes back (it holds no future key then)
            log.warning("group key push to %s failed: %s", to, err)
            self.undelivered[push.member] = self.undelivered.get(push.member, 0) + 1
            return
        self.delivered[push.member] = self.delivered.get(push.member, 0) + 1

    async def _kick(self, room: str, bare: str) -> None:
        endpoint = self.protector.endpoint
        if endpoint is None:
            return
        query = ET.Element(f"{{{MUC_ADMIN_NS}}}query")
        ET.SubElement(query, f"{{{MUC_ADMIN_NS}}}item", {"affiliation": "none", "jid": bare})
        try:
            await endpoint.iq(room, "set", query)
        except XmppError as err:
            log.warning("cannot take %s out of %s: %s", bare, room, err)

    def _on_kdc(self, bare: str, peer: PeerIdentity, message: bytes, now: datetime) -> bytes:
        """A member's pull, opened from its session: the package, or a refusal (audited)."""
        try:
            return self.kdc.handle(peer, message, now)
        except NotAMember as err:
            self.protector.audit_refusal(bare, "group-pull", err)
            return refusal(_group_of(message), str(err))


class GroupKeyReceiver:
    """An IED's side: installs key packages from the KDC's session, pulls when due.

    ``kdc_jid`` is the control centre's JID; packages from any other session are refused.
    """

    def __init__(self, protector: E2eProtector, kdc_jid: str) -> None:
        self.protector = protector
        self.kdc_jid = kdc_jid
        self.warnings: list[KdcUnreachable] = []
        protector.on_kdc(self._on_kdc)
        protector.on_tick(self.tick)

    @property
    def kdc_bare(self) -> str:
        return bare_jid(self.kdc_jid)

    def _on_kdc(self, bare: str, peer: PeerIdentity, message: bytes, now: datetime) -> None:
        if bare != self.kdc_bare:
            error = UnexpectedPeer(f"a key package from {bare}, which is not the key server")
            self.protector.audit_refusal(bare, "group-package", error)
            raise error
        group_id = _group_of(message)
        member = self.protector.groups.get(group_id)
        if member is None:
            member = GroupMember(self.protector.name, group_id, kdc=peer.name)
        try:
            member.install(message, now, source=peer)
        except E2EError as err:
            self.protector.audit_refusal(bare, "group-package", err)
            raise
        self.protector.groups[group_id] = member
        self.protector.group_senders[group_id] = frozenset({peer.name})

    async def tick(self, now: datetime) -> None:
        """Drop expired keys; pull for every group that holds no future key."""
        for group_id, member in list(self.protector.groups.items()):
            if any(isinstance(event, PullDue) for event in member.tick(now)):
                await self.pull(group_id)

    async def pull(self, group_id: str) -> bool:
        """Ask the KDC for the keys of ``group_id``; False (keys kept, warning) when it cannot
        be reached."""
        member = self.protector.groups[group_id]
        now = self.protector.clock()
        try:
            to = self.protector.route(self.kdc_bare) or self.kdc_jid
            answer = await self.protector.send_kdc(to, member.pull_request(now))
            if answer is None:
                raise HandshakeFailed("the key server answered the pull with nothing")
            assert self.protector.session(self.kdc_bare) is not None
            peer = self.protector.peer(self.kdc_bare)
            member.install(answer, self.protector.clock(), source=peer)
        except NotAMember as err:  # the KDC says we left the group: its keys go too
            log.warning("group %s: the key server refused our pull: %s", group_id, err)
            self.protector.groups.pop(group_id, None)
            self.protector.group_senders.pop(group_id, None)
            return False
        except (E2EError, XmppError) as err:
            warning = member.kdc_unreachable(self.protector.clock())
            self.warnings.append(warning)
            log.warning(
                "group %s: key server unreachable (%s): keys kept until %s",
                group_id,
                err,
                warning.valid_until,
            )
            return False
        return True


def _group_of(message: bytes) -> str:
    _kind, value = tokens.decode("KdcMessage", message)
    group_id = value.get("groupId")
    if not isinstance(group_id, str):
        raise MalformedMessage("a key-server message without a group id")
    return group_id
