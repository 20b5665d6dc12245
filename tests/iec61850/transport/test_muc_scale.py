"""DER group rooms at scale on real Prosody and ejabberd: only the moderator's presence is
broadcast (joins cost O(N) stanzas, not O(N²)), memberships are granted in batches, and
ejabberd admits the configured number of occupants per room."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from derlink.iec61850.xmpp.endpoint import Endpoint
from derlink.iec61850.xmpp.muc import GRANT_BATCH, MUC_ADMIN_NS, MucError, MucRooms
from derlink.iec61850.xmpp.server import DEFAULT_MAX_ROOM_OCCUPANTS
from support.xmpp import ADMIN, XmppService

pytestmark = pytest.mark.xmpp

TEST_NS = "urn:derlink:test:payload"
Factory = Callable[..., Endpoint]


def payload(text: str) -> bytes:
    return f'<p xmlns="{TEST_NS}">{text}</p>'.encode()


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


async def test_ejabberd_rooms_admit_the_configured_number_of_occupants(
    ejabberd_server: XmppService, endpoints: Factory
) -> None:
    centre = endpoints(ejabberd_server, ADMIN, resource="size")
    await centre.start()
    owner = MucRooms(centre, "centre")
    room_jid = f"size-{uuid.uuid4().hex[:6]}@{ejabberd_server.muc_service}"
    await owner.create_room(room_jid)
    config = await owner.configuration(room_jid)
    assert config["muc#roomconfig_maxusers"] == (str(DEFAULT_MAX_ROOM_OCCUPANTS),)


async def test_prosody_rooms_have_no_occupant_limit(
    prosody_server: XmppService, endpoints: Factory
) -> None:
    centre = endpoints(prosody_server, ADMIN, resource="size")
    await centre.start()
    owner = MucRooms(centre, "centre")
    room_jid = f"size-{uuid.uuid4().hex[:6]}@{prosody_server.muc_service}"
    await owner.create_room(room_jid)
    config = await owner.configuration(room_jid)
    assert "muc#roomconfig_maxusers" not in config
    assert config["muc#roomconfig_presencebroadcast"] == ("moderator",)


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)
