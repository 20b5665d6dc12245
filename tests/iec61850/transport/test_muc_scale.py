"""DER group rooms at scale on real Prosody and ejabberd: only the moderator's presence is
broadcast (joins cost O(N) stanzas, not O(N²)), memberships are granted in batches while the
room is not persistent and before any invitation, and ejabberd admits the configured number of
occupants per room without ever counting it overcrowded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from derlink.iec61850.xmpp import ejabberd
from derlink.iec61850.xmpp.muc import (
    DATA_NS,
    GRANT_BATCH,
    MUC_ADMIN_NS,
    MUC_USER_NS,
    PERSISTENT,
    MucError,
    MucRooms,
    form_values,
)
from derlink.iec61850.xmpp.server import DEFAULT_MAX_ROOM_OCCUPANTS
from support.xmpp import ADMIN, XmppService

from .conftest import Factory, payload

pytestmark = pytest.mark.xmpp


async def test_members_see_only_the_moderator_and_the_centre_still_sees_everyone(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    tag = uuid.uuid4().hex[:6]
    centre = endpoints(xmpp_server, ADMIN, resource="centre")
    members = [endpoints(xmpp_server, f"pb{i}", resource="ied") for i in range(4)]
    await asyncio.gather(*(e.start() for e in (centre, *members)))
    rooms = {m.bare: MucRooms(m, m.bare.partition("@")[0], trusted=[centre.bare]) for m in members}
    obeyed: dict[str, list[str]] = {}

    def obey(bare: str) -> Callable[[str, bytes, str], None]:
        def on_message(sender: str, data: bytes, mtype: str) -> None:
            if mtype == "groupchat" and rooms[bare].trusted_sender(sender):
                obeyed.setdefault(bare, []).append(data.decode())

        return on_message

    for member in members:
        member.on_message(obey(member.bare))
    owner = MucRooms(centre, "centre")
    room_jid = f"pb-{tag}@{xmpp_server.muc_service}"
    await owner.create_room(room_jid, [m.bare for m in members])
    # the server took the setting
    config = await owner.configuration(room_jid)
    assert config["muc#roomconfig_presencebroadcast"] == ("moderator",)
    # the centre learns who joined from the room's occupant list, not from presence
    await owner.wait_occupants(room_jid, [m.bare for m in members], timeout=15)
    assert not {m.bare for m in members} & {o.jid for o in owner.rooms[room_jid].occupants.values()}
    participants = await owner.occupant_list(room_jid, "participant")
    assert {o.jid for o in participants} == {m.bare for m in members}
    assert {o.role for o in participants} == {"participant"}
    moderators = await owner.occupant_list(room_jid, "moderator")
    assert [(o.nick, o.jid) for o in moderators] == [("centre", centre.bare)]
    await asyncio.sleep(0.3)  # any presence still on its way arrives
    for member in members:
        room = rooms[member.bare].rooms[room_jid]
        assert room.joined.is_set()
        # itself and the moderator: no other member's presence reached it
        assert {o.jid for o in room.occupants.values()} == {member.bare, centre.bare}
    # the group command still reaches every member, from the moderator it knows
    owner.send(room_jid, payload("limit 40%"))
    await _until(lambda: all(obeyed.get(m.bare) for m in members))
    assert all("limit 40%" in obeyed[m.bare][0] for m in members)


async def test_hundreds_of_memberships_are_granted_in_ordered_batches(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    tag = uuid.uuid4().hex[:6]
    centre = endpoints(xmpp_server, ADMIN, resource="granter", max_outstanding=512)
    await centre.start()
    owner = MucRooms(centre, "centre")
    room_jid = f"grant-{tag}@{xmpp_server.muc_service}"
    await owner.create_room(room_jid)
    bares = [f"member-{tag}-{i:04d}@{xmpp_server.domain}" for i in range(250)]
    in_flight, most, order = [0], [0], []
    real_iq = centre.iq

    async def counting_iq(to: str, itype: str, child: Any, **kwargs: Any) -> Any:
        item = None if child is None else child.find(f"{{{MUC_ADMIN_NS}}}item")
        if itype == "set" and item is not None:
            order.append(item.get("jid"))
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            try:
                return await real_iq(to, itype, child, **kwargs)
            finally:
                in_flight[0] -= 1
        return await real_iq(to, itype, child, **kwargs)

    centre.iq = counting_iq  # type: ignore[method-assign]
    await owner.add_members(room_jid, reversed(bares), invite=False, timeout=30)
    assert order == bares  # sorted, batch after batch
    assert most[0] == GRANT_BATCH
    assert await owner.affiliation_list(room_jid, "member") == bares
    # bad arguments are typed errors, and nothing is sent
    order.clear()
    with pytest.raises(MucError, match="batch size"):
        await owner.add_members(room_jid, ["x@" + xmpp_server.domain], batch=0)
    with pytest.raises(MucError, match="role"):
        await owner.occupant_list(room_jid, "owner")
    assert order == []


async def test_a_large_group_is_granted_while_its_room_is_not_persistent_then_invited(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    """300 members: every grant goes while the room is not persistent (Prosody stores a
    persistent room, all its affiliations, at every grant: O(N²)), the room is persistent
    afterwards, invitations follow the last grant; re-creating grants only the new members."""
    tag = uuid.uuid4().hex[:6]
    centre = endpoints(xmpp_server, ADMIN, resource="bulk", max_outstanding=512)
    await centre.start()
    owner = MucRooms(centre, "centre")
    room_jid = f"bulk-{tag}@{xmpp_server.muc_service}"
    bares = [f"ied-{tag}-{i:04d}@{xmpp_server.domain}" for i in range(300)]
    events: list[tuple[str, str]] = []
    real_iq, real_send = centre.iq, centre.send_stanza

    async def recording_iq(to: str, itype: str, child: Any, **kwargs: Any) -> Any:
        if itype == "set" and child is not None:
            item = child.find(f"{{{MUC_ADMIN_NS}}}item")
            form = child.find(f"{{{DATA_NS}}}x")
            if item is not None:
                events.append(("grant", item.get("jid", "")))
            elif form is not None:
                events.append(("persistent", form_values(form)[PERSISTENT][0]))
        return await real_iq(to, itype, child, **kwargs)

    def recording_send(stanza: Any) -> None:
        invite = stanza.xml.find(f"{{{MUC_USER_NS}}}x/{{{MUC_USER_NS}}}invite")
        if invite is not None:
            events.append(("invite", invite.get("to", "")))
        real_send(stanza)

    centre.iq = recording_iq  # type: ignore[method-assign]
    centre.send_stanza = recording_send  # type: ignore[method-assign]
    await owner.create_room(room_jid, reversed(bares), timeout=30)
    kinds = [kind for kind, _ in events]
    assert events[0] == ("persistent", "0")
    assert [jid for kind, jid in events if kind == "grant"] == bares
    last_grant = len(kinds) - 1 - kinds[::-1].index("grant")
    assert events[last_grant + 1] == ("persistent", "1")
    assert [jid for kind, jid in events[last_grant + 2 :]] == bares  # the invitations
    assert kinds.count("persistent") == 2
    config = await owner.configuration(room_jid)
    assert config[PERSISTENT] in (("1",), ("true",))
    assert await owner.affiliation_list(room_jid, "member") == bares
    # the room exists: only the members it lacks are granted, everybody is invited again
    events.clear()
    extra = [f"ied-{tag}-x{i}@{xmpp_server.domain}" for i in range(3)]
    await owner.create_room(room_jid, bares + extra, timeout=30)
    assert [jid for kind, jid in events if kind == "grant"] == extra
    assert sorted(jid for kind, jid in events if kind == "invite") == sorted(bares + extra)
    assert (await owner.configuration(room_jid))[PERSISTENT] in (("1",), ("true",))
    assert await owner.affiliation_list(room_jid, "member") == sorted(bares + extra)


async def test_ejabberd_rooms_admit_the_configured_number_of_occupants(
    ejabberd_server: XmppService, endpoints: Factory
) -> None:
    config = await _new_room_configuration(ejabberd_server, endpoints)
    assert config["muc#roomconfig_maxusers"] == (str(DEFAULT_MAX_ROOM_OCCUPANTS),)

    # a room counts as overcrowded above max_users_presence occupants, and then a joining IED
    # gets nobody's presence, not the moderator's: no room within its limit may reach it
    def option(name: str) -> int:
        files = ejabberd_server.server.files
        return int(ejabberd.rpc(files, "mod_muc_opt", name, f'[<<"{ejabberd_server.domain}">>]'))

    most = option("max_users") + option("max_users_admin_threshold")
    assert option("max_users") == DEFAULT_MAX_ROOM_OCCUPANTS
    assert option("max_users_presence") >= most


async def test_prosody_rooms_have_no_occupant_limit(
    prosody_server: XmppService, endpoints: Factory
) -> None:
    config = await _new_room_configuration(prosody_server, endpoints)
    assert "muc#roomconfig_maxusers" not in config
    assert config["muc#roomconfig_presencebroadcast"] == ("moderator",)


async def _new_room_configuration(
    service: XmppService, endpoints: Factory
) -> dict[str, tuple[str, ...]]:
    """The configuration the server holds for a room the centre has just created."""
    centre = endpoints(service, ADMIN, resource="size")
    await centre.start()
    owner = MucRooms(centre, "centre")
    room_jid = f"size-{uuid.uuid4().hex[:6]}@{service.muc_service}"
    await owner.create_room(room_jid)
    return await owner.configuration(room_jid)


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)
