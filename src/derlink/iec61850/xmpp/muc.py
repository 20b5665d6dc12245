"""Group rooms (XEP-0045) for commands to a group of DER at once.

The control centre creates one room per DER group on ``conference.<domain>``: joining a new
room creates it locked (status 201) until the owner submits the configuration form, which we
do at once with members-only, moderated, non-anonymous (``whois`` anyone, so occupants see real
JIDs) and persistent set. The group's IEDs get the member affiliation and a mediated invitation
(§7.8.1); an IED joins when the invitation comes from a JID it trusts, asking for no history so
an old command is never replayed. The centre, as moderator, sends group commands as groupchat
messages; an IED obeys a groupchat message only from an occupant whose real bare JID it trusts
and whose role is moderator (:meth:`MucRooms.trusted_sender`), so a member that speaks in the
room commands nobody.

Scale: a room broadcasts the presence of moderators only (``muc#roomconfig_presencebroadcast``
of the room configuration form; Prosody and ejabberd both honour it). An IED needs to see
nobody but the centre, and with every presence broadcast each of N joins reaches every
occupant: O(N²) stanzas, 10⁶ for a group of 1,000. The centre therefore learns who is in the
room by asking the room for its occupant lists (:meth:`MucRooms.occupant_list`, a moderator's
right) rather than from presence.

Memberships: a server stores a persistent room at every affiliation change, the whole
affiliation list each time (Prosody writes it to a file), so N grants to a persistent room cost
O(N²) and a thousand of them outlast any request timeout. A new group's room is therefore
configured non-persistent while its members are granted, and made persistent once, with all of
them, afterwards; an existing room is granted only the members it lacks. A grant to someone not
in the room is announced to every occupant (XEP-0045 §9.3), so all grants go before any
invitation: granted while invited members join, N grants would cost O(N²) messages. Grants go in
ordered batches of :data:`GRANT_BATCH` requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import xml.etree.ElementTree as ET
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slixmpp import JID
from slixmpp.xmlstream import StanzaBase

from derlink.iec61850.xmpp.endpoint import (
    Endpoint,
    NotConnectedError,
    StanzaError,
    XmppError,
    bare_jid,
)

log = logging.getLogger(__name__)

MUC_NS = "http://jabber.org/protocol/muc"
MUC_USER_NS = "http://jabber.org/protocol/muc#user"
MUC_ADMIN_NS = "http://jabber.org/protocol/muc#admin"
MUC_OWNER_NS = "http://jabber.org/protocol/muc#owner"
DATA_NS = "jabber:x:data"
ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"

STATUS_SELF = "110"
STATUS_CREATED = "201"

ROOM_CONFIG: dict[str, str | tuple[str, ...]] = {
    "muc#roomconfig_membersonly": "1",
    "muc#roomconfig_moderatedroom": "1",
    "muc#roomconfig_whois": "anyone",
    "muc#roomconfig_persistentroom": "1",
    "muc#roomconfig_publicroom": "0",
    "muc#roomconfig_allowinvites": "0",
    "muc#roomconfig_presencebroadcast": ("moderator",),
}
"""What a DER group room is: members only, moderated, real JIDs visible, kept when empty, the
presence of the moderator (the centre) the only one broadcast."""
PERSISTENT = "muc#roomconfig_persistentroom"
"""The field of ROOM_CONFIG that :meth:`MucRooms.create_room` turns off while it grants."""

ROLES = ("moderator", "participant", "visitor")
"""The roles of occupants (XEP-0045 §5.1; 'none' is nobody in the room)."""
GRANT_BATCH = 100
"""Membership grants in flight at once; the batches go one after the other, in order."""


class MucError(XmppError):
    """A room could not be joined, created or configured."""


@dataclass(frozen=True)
class Occupant:
    nick: str
    jid: str
    """Real bare JID ('' when the room hides it)."""
    role: str
    affiliation: str


@dataclass
class Room:
    jid: str
    nick: str
    occupants: dict[str, Occupant] = field(default_factory=dict)
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    codes: set[str] = field(default_factory=set)
    error: str = ""


def data_form(
    form_type: str, fields: Mapping[str, str | Sequence[str]], ftype: str = "submit"
) -> ET.Element:
    """A XEP-0004 form of type ``ftype`` with a FORM_TYPE; a field's value is a string, or a
    sequence of strings for a multi-valued (list-multi) field."""
    form = ET.Element(f"{{{DATA_NS}}}x", {"type": ftype})
    hidden = ET.SubElement(form, f"{{{DATA_NS}}}field", {"var": "FORM_TYPE", "type": "hidden"})
    ET.SubElement(hidden, f"{{{DATA_NS}}}value").text = form_type
    for var, value in fields.items():
        element = ET.SubElement(form, f"{{{DATA_NS}}}field", {"var": var})
        for one in (value,) if isinstance(value, str) else value:
            ET.SubElement(element, f"{{{DATA_NS}}}value").text = one
    return form


def form_values(form: ET.Element) -> dict[str, tuple[str, ...]]:
    """The values of every field of a XEP-0004 form (FORM_TYPE included)."""
    return {
        field.get("var", ""): tuple(v.text or "" for v in field.findall(f"{{{DATA_NS}}}value"))
        for field in form.findall(f"{{{DATA_NS}}}field")
    }


class MucRooms:
    """Our rooms on one endpoint, as owner (centre) or as invited member (IED).

    ``trusted`` holds the bare JIDs whose invitations we accept and whose groupchat, sent as
    moderator, we obey.
    """

    def __init__(self, endpoint: Endpoint, nick: str, *, trusted: Iterable[str] = ()) -> None:
        self.endpoint = endpoint
        self.nick = nick
        self.trusted: set[str] = {bare_jid(j) for j in trusted}
        self.rooms: dict[str, Room] = {}
        self.refused_invites = 0
        self._tasks: set[asyncio.Task[None]] = set()
        endpoint.listen_presence(self._on_presence)
        endpoint.listen_messages(MUC_USER_NS, self._on_muc_message)
        endpoint.on_connection(self._on_connection)

    # -- joining ------------------------------------------------------------------------------

    async def join(self, room_jid: str, *, timeout: float = 10.0) -> Room:
        """Enter ``room_jid`` as ``self.nick`` (no history) and wait for our own presence."""
        room = self.rooms.get(room_jid)
        if room is None:
            room = self.rooms[room_jid] = Room(room_jid, self.nick)
        room.joined.clear()
        room.error = ""
        room.codes.clear()
        presence = self.endpoint.make_presence(f"{room_jid}/{self.nick}")
        x = ET.SubElement(presence.xml, f"{{{MUC_NS}}}x")
        ET.SubElement(x, f"{{{MUC_NS}}}history", {"maxstanzas": "0"})
        self.endpoint.send_stanza(presence)
        try:
            await asyncio.wait_for(room.joined.wait(), timeout)
        except TimeoutError:
            raise MucError(f"no answer joining {room_jid}") from None
        if room.error:
            self.rooms.pop(room_jid, None)
            raise MucError(f"cannot join {room_jid}: {room.error}")
        return room

    def leave(self, room_jid: str) -> None:
        room = self.rooms.pop(room_jid, None)
        if room is not None:
            with contextlib.suppress(NotConnectedError):
                self.endpoint.send_stanza(
                    self.endpoint.make_presence(f"{room_jid}/{room.nick}", "unavailable")
                )

    # -- owning -------------------------------------------------------------------------------

    async def create_room(
        self, room_jid: str, members: Iterable[str] = (), *, timeout: float = 10.0
    ) -> Room:
        """Create (or re-enter) ``room_jid``, configure it, make ``members`` members, invite them.

        Joining a room that does not exist creates it locked; submitting the configuration form
        unlocks it (XEP-0045 §10.1). As owner, the room stays non-persistent while the members
        it lacks are granted (one store of the room instead of one per grant) and is made
        persistent afterwards; every member is invited once all are granted.
        """
        room = await self.join(room_jid, timeout=timeout)
        bares = sorted({bare_jid(m) for m in members})
        created = STATUS_CREATED in room.codes
        if not created and room.occupants.get(room.nick, _NOBODY).affiliation != "owner":
            await self.add_members(room_jid, bares, timeout=timeout)
            return room
        new = bares
        if not created and bares:
            held = set(await self.affiliation_list(room_jid, "member", timeout=timeout))
            new = [b for b in bares if b not in held]
        if new:
            await self.configure(room_jid, {**ROOM_CONFIG, PERSISTENT: "0"}, timeout=timeout)
            await self.add_members(room_jid, new, invite=False, timeout=timeout)
        await self.configure(room_jid, ROOM_CONFIG, timeout=timeout)
        for bare in bares:
            self.invite(room_jid, bare)
        return room

    async def configure(
        self, room_jid: str, fields: Mapping[str, str | Sequence[str]], *, timeout: float = 10.0
    ) -> None:
        """Submit the owner configuration form with ``fields`` (the others keep their value)."""
        query = ET.Element(f"{{{MUC_OWNER_NS}}}query")
        query.append(data_form(ROOMCONFIG, fields))
        await self.endpoint.iq(room_jid, "set", query, timeout=timeout)

    async def configuration(
        self, room_jid: str, *, timeout: float = 10.0
    ) -> dict[str, tuple[str, ...]]:
        """The room's current configuration form as the room reports it (owners only)."""
        query = ET.Element(f"{{{MUC_OWNER_NS}}}query")
        answer = await self.endpoint.iq(room_jid, "get", query, timeout=timeout)
        form = answer.xml.find(f"{{{MUC_OWNER_NS}}}query/{{{DATA_NS}}}x")
        if form is None:
            raise MucError(f"{room_jid} sent no configuration form")
        return form_values(form)

    async def add_members(
        self,
        room_jid: str,
        members: Iterable[str],
        *,
        invite: bool = True,
        timeout: float = 10.0,
        batch: int = GRANT_BATCH,
    ) -> None:
        """Grant the member affiliation to ``members`` (bare JIDs) and invite them.

        Grants go in batches of ``batch`` requests (one item each: Prosody reads only the first
        item of a request), a batch only once the one before it was answered, so no grant waits
        behind hundreds of others; the members are invited once all are granted (a grant is
        announced to every occupant, so grants while invited members join cost O(N²)). On a
        persistent room every grant stores the room: for many members, use :meth:`create_room`,
        which grants them while the room is not persistent."""
        if batch < 1:
            raise MucError(f"the batch size must be at least 1, not {batch}")
        bares = sorted({bare_jid(m) for m in members})

        async def grant(bare: str) -> None:
            query = ET.Element(f"{{{MUC_ADMIN_NS}}}query")
            ET.SubElement(query, f"{{{MUC_ADMIN_NS}}}item", {"affiliation": "member", "jid": bare})
            await self.endpoint.iq(room_jid, "set", query, timeout=timeout)

        for start in range(0, len(bares), batch):
            await asyncio.gather(*(grant(b) for b in bares[start : start + batch]))
        if invite:
            for bare in bares:
                self.invite(room_jid, bare)

    async def affiliation_list(
        self, room_jid: str, affiliation: str = "member", *, timeout: float = 10.0
    ) -> list[str]:
        """The bare JIDs holding ``affiliation`` in the room (XEP-0045 §9.5, admins/owners)."""
        query = ET.Element(f"{{{MUC_ADMIN_NS}}}query")
        ET.SubElement(query, f"{{{MUC_ADMIN_NS}}}item", {"affiliation": affiliation})
        answer = await self.endpoint.iq(room_jid, "get", query, timeout=timeout)
        items = answer.xml.findall(f"{{{MUC_ADMIN_NS}}}query/{{{MUC_ADMIN_NS}}}item")
        return sorted({bare_jid(item.get("jid", "")) for item in items} - {""})

    async def occupant_list(
        self, room_jid: str, role: str = "participant", *, timeout: float = 10.0
    ) -> list[Occupant]:
        """The occupants holding ``role`` as the room reports them (the voice and moderator
        lists of XEP-0045 §8.5 and §9.8, a moderator's right), whatever presence the room
        broadcasts."""
        if role not in ROLES:
            raise MucError(f"unknown occupant role {role!r}")
        query = ET.Element(f"{{{MUC_ADMIN_NS}}}query")
        ET.SubElement(query, f"{{{MUC_ADMIN_NS}}}item", {"role": role})
        answer = await self.endpoint.iq(room_jid, "get", query, timeout=timeout)
        return [
            Occupant(
                item.get("nick", ""),
                bare_jid(item.get("jid", "")),
                item.get("role", role),
                item.get("affiliation", "none"),
            )
            for item in answer.xml.findall(f"{{{MUC_ADMIN_NS}}}query/{{{MUC_ADMIN_NS}}}item")
        ]

    def invite(self, room_jid: str, jid: str, reason: str = "DER group") -> None:
        """A mediated invitation: sent to the room, which forwards it (§7.8.1)."""
        message = self.endpoint.make_message(room_jid)
        x = ET.SubElement(message.xml, f"{{{MUC_USER_NS}}}x")
        invite = ET.SubElement(x, f"{{{MUC_USER_NS}}}invite", {"to": jid})
        ET.SubElement(invite, f"{{{MUC_USER_NS}}}reason").text = reason
        self.endpoint.send_stanza(message)

    def send(self, room_jid: str, payload: bytes) -> None:
        """Send a payload to everyone in the room (we must be in it, with voice)."""
        if room_jid not in self.rooms:
            raise MucError(f"not in room {room_jid}")
        self.endpoint.send_message(room_jid, payload, mtype="groupchat")

    async def wait_occupants(
        self, room_jid: str, jids: Iterable[str], *, timeout: float = 10.0
    ) -> None:
        """Wait until every bare JID in ``jids`` is in the room (needs real JIDs visible).

        Occupants whose presence the room does not broadcast are found by asking the room for
        its occupant lists (a moderator may; others learn from broadcast presence only), at
        intervals growing from 0.05 s to 1 s."""
        wanted = {bare_jid(j) for j in jids}
        loop = asyncio.get_running_loop()

        def present() -> set[str]:
            room = self.rooms.get(room_jid)
            return {o.jid for o in room.occupants.values()} if room else set()

        async def listed() -> set[str] | None:
            try:
                lists = await asyncio.gather(*(self.occupant_list(room_jid, r) for r in ROLES))
            except StanzaError as err:
                if err.condition not in ("forbidden", "not-allowed", "bad-request"):
                    raise
                return None  # not a moderator here
            return {o.jid for found in lists for o in found}

        async def poll() -> None:
            ask, interval, next_ask = True, 0.05, loop.time()
            while not wanted <= present():
                if ask and loop.time() >= next_ask:
                    found = await listed()
                    if found is None:
                        ask = False
                    elif wanted <= found | present():
                        return
                    next_ask, interval = loop.time() + interval, min(1.0, interval * 2)
                await asyncio.sleep(0.02)

        try:
            await asyncio.wait_for(poll(), timeout)
        except TimeoutError:
            raise MucError(f"not everybody joined {room_jid} in time") from None

    # -- authorisation ------------------------------------------------------------------------

    def trusted_sender(self, sender: str) -> bool:
        """Whether groupchat from ``sender`` (room@service/nick) comes from a trusted moderator."""
        room_jid, _, nick = sender.partition("/")
        room = self.rooms.get(room_jid)
        if room is None or not nick or nick == room.nick:
            return False
        occupant = room.occupants.get(nick)
        return (
            occupant is not None and occupant.role == "moderator" and occupant.jid in self.trusted
        )

    def is_room(self, jid: str) -> bool:
        return bare_jid(jid) in self.rooms

    # -- receiving ----------------------------------------------------------------------------

    def _on_presence(self, stanza: StanzaBase) -> None:
        sender = JID(stanza["from"])
        room = self.rooms.get(str(sender.bare))
        if room is None:
            return
        nick = str(sender.resource)
        if stanza["type"] == "error":
            if nick == room.nick:
                error = stanza["error"]
                room.error = str(error["condition"] or "error")
                room.joined.set()
            return
        x = stanza.xml.find(f"{{{MUC_USER_NS}}}x")
        if x is None:
            return
        codes = {s.get("code", "") for s in x.findall(f"{{{MUC_USER_NS}}}status")}
        item = x.find(f"{{{MUC_USER_NS}}}item")
        if stanza["type"] == "unavailable":
            room.occupants.pop(nick, None)
            if STATUS_SELF in codes or nick == room.nick:
                room.joined.clear()
            return
        real = item.get("jid", "") if item is not None else ""
        room.occupants[nick] = Occupant(
            nick,
            bare_jid(real),
            item.get("role", "none") if item is not None else "none",
            item.get("affiliation", "none") if item is not None else "none",
        )
        if STATUS_SELF in codes or nick == room.nick:
            room.codes |= codes
            room.joined.set()

    def _on_muc_message(self, stanza: StanzaBase) -> None:
        x = stanza.xml.find(f"{{{MUC_USER_NS}}}x")
        invite = x.find(f"{{{MUC_USER_NS}}}invite") if x is not None else None
        if invite is None:
            return
        room_jid = str(JID(stanza["from"]).bare)
        inviter = bare_jid(invite.get("from", ""))
        if inviter not in self.trusted:
            self.refused_invites += 1
            log.warning(
                "%s: invitation to %s from untrusted %r refused", self.nick, room_jid, inviter
            )
            return
        if room_jid in self.rooms and self.rooms[room_jid].joined.is_set():
            return
        self._spawn(self._join_quietly(room_jid))

    async def _join_quietly(self, room_jid: str) -> None:
        try:
            await self.join(room_jid)
        except (MucError, StanzaError, NotConnectedError) as err:
            log.warning("%s: could not join %s: %s", self.nick, room_jid, err)

    def _on_connection(self, up: bool) -> None:
        for room in self.rooms.values():
            room.joined.clear()
            room.occupants.clear()
        if up:
            for room_jid in list(self.rooms):
                self._spawn(self._join_quietly(room_jid))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


_NOBODY = Occupant("", "", "none", "none")
