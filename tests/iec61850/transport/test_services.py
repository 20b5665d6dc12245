"""Presence, service discovery, MUC group rooms and PubSub against a real XMPP server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from derlink.iec61850.xmpp.disco import (
    IEC61850_FEATURE,
    DiscoItem,
    DiscoResponder,
    Identity,
    disco_info,
    discover_ieds,
)
from derlink.iec61850.xmpp.endpoint import StanzaError
from derlink.iec61850.xmpp.muc import MucError, MucRooms
from derlink.iec61850.xmpp.presence import PresenceTracker
from derlink.iec61850.xmpp.pubsub import Item, PubSub
from support.xmpp import ADMIN, XmppService

from .conftest import Factory, payload

pytestmark = pytest.mark.xmpp


async def test_presence_tracks_loss_and_return(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    centre = endpoints(xmpp_server, "centre", resource="centre", backoff_initial=0.1)
    ied = endpoints(xmpp_server, "ied", resource="ied", backoff_initial=0.1)
    late = endpoints(xmpp_server, "late", resource="ied")
    await centre.start()
    tracker = PresenceTracker(centre, announce=[str(late.jid)])
    PresenceTracker(ied, announce=[str(centre.jid)], answer=[centre.bare])
    PresenceTracker(late, answer=[centre.bare])
    lost: list[str] = []
    tracker.on_unavailable(lost.append)
    await asyncio.gather(ied.start(), late.start())
    await tracker.wait(str(ied.jid))
    assert not tracker.is_available(str(late.jid))  # it never told us
    # a centre (re)starting announces itself: the IED answers with its presence
    tracker.send_available(str(late.jid))
    await tracker.wait(str(late.jid))
    ied.kill()
    await tracker.wait(str(ied.jid), available=False)
    assert lost == [str(ied.jid)]
    await tracker.wait(str(ied.jid), timeout=10)
    await late.stop()
    await tracker.wait(str(late.jid), available=False)
    assert tracker.available() == [str(ied.jid)]


async def test_disco_finds_ieds_and_their_devices(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    centre = endpoints(xmpp_server, "centre")
    ied = endpoints(xmpp_server, "ied")
    other = endpoints(xmpp_server, "other")
    DiscoResponder(
        ied,
        identity=Identity("client", "bot", "DER IED"),
        features=[IEC61850_FEATURE],
        items=lambda node: (
            [DiscoItem(str(ied.jid), "LD0"), DiscoItem(str(ied.jid), "DER1")]
            if node is None
            else []
        ),
    )
    DiscoResponder(other, identity=Identity("client", "bot"), features=[])
    await asyncio.gather(centre.start(), ied.start(), other.start())
    found = await discover_ieds(centre, [str(ied.jid), str(other.jid), f"{ied.bare}/gone"])
    assert [(f.jid, f.name, f.logical_devices) for f in found] == [
        (str(ied.jid), "DER IED", ("LD0", "DER1"))
    ]
    info = await disco_info(centre, str(ied.jid), "LD0")
    assert IEC61850_FEATURE in info.features
    with pytest.raises(StanzaError) as err:
        await disco_info(centre, str(ied.jid), "NOPE")
    assert err.value.condition == "item-not-found"


async def test_group_room_commands_reach_members_only_from_the_centre(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    tag = uuid.uuid4().hex[:6]
    centre = endpoints(xmpp_server, ADMIN, resource="centre")
    members = [
        endpoints(xmpp_server, f"m{i}", resource="ied", backoff_initial=0.1) for i in range(3)
    ]
    outsider = endpoints(xmpp_server, "outsider", resource="ied")
    await asyncio.gather(*(e.start() for e in (centre, *members, outsider)))
    got: dict[str, list[tuple[str, bool]]] = {}
    rooms: dict[str, MucRooms] = {}
    for endpoint in (*members, outsider):
        muc = MucRooms(endpoint, endpoint.bare.partition("@")[0], trusted=[centre.bare])
        rooms[endpoint.bare] = muc
        endpoint.on_message(
            lambda s, d, t, b=endpoint.bare, m=muc: got.setdefault(b, []).append(
                (d.decode(), t == "groupchat" and m.trusted_sender(s))
            )
        )
    owner = MucRooms(centre, "centre")
    room_jid = f"group-{tag}@{xmpp_server.muc_service}"
    await owner.create_room(room_jid, [m.bare for m in members])
    await owner.wait_occupants(room_jid, [m.bare for m in members], timeout=10)
    # the outsider is not a member: the room refuses it
    with pytest.raises(MucError):
        await rooms[outsider.bare].join(room_jid)
    # a member speaking in the room commands nobody
    members[0].send_message(room_jid, payload("rogue"), mtype="groupchat")
    owner.send(room_jid, payload("limit 50%"))
    await _until(lambda: all(len(got.get(m.bare, [])) >= 2 for m in members[1:]))
    for member in members[1:]:
        obeyed = [d for d, trusted in got[member.bare] if trusted]
        assert len(obeyed) == 1 and "limit 50%" in obeyed[0]
        assert any("rogue" in d and not trusted for d, trusted in got[member.bare])
    assert outsider.bare not in got
    # a member that drops comes back into the room by itself
    members[1].kill()
    await asyncio.sleep(0.3)
    await owner.wait_occupants(room_jid, [members[1].bare], timeout=10)
    owner.send(room_jid, payload("again"))
    await _until(lambda: any("again" in d for d, _ in got[members[1].bare]))


async def test_pubsub_tariff_reaches_subscribers(
    xmpp_server: XmppService, endpoints: Factory
) -> None:
    node = f"tariff-{uuid.uuid4().hex[:6]}"
    centre = endpoints(xmpp_server, ADMIN, resource="centre")
    ieds = [endpoints(xmpp_server, f"s{i}", resource="ied") for i in range(3)]
    await asyncio.gather(*(e.start() for e in (centre, *ieds)))
    publisher = PubSub(centre, xmpp_server.pubsub_service)
    assert await publisher.create_node(node)
    assert not await publisher.create_node(node)
    first = b'<tariff xmlns="urn:derlink:tariff:1" price="0.21"/>'
    await publisher.publish(node, first, item_id="t1")
    received: dict[str, list[Item]] = {}
    for endpoint in ieds:
        sub = PubSub(endpoint, xmpp_server.pubsub_service)
        sub.on_item(lambda item, b=endpoint.bare: received.setdefault(b, []).append(item))
        assert await sub.subscribe(node) == "subscribed"
        latest = await sub.fetch_latest(node)
        assert latest is not None and latest.id == "t1"
    await publisher.publish(
        node, b'<tariff xmlns="urn:derlink:tariff:1" price="0.35"/>', item_id="t2"
    )
    await _until(lambda: all(len(received.get(e.bare, [])) >= 2 for e in ieds))
    for endpoint in ieds:
        assert [i.id for i in received[endpoint.bare]][:2] == ["t1", "t2"]
        assert b'price="0.35"' in received[endpoint.bare][1].payload
    # ordinary clients cannot create nodes
    with pytest.raises(StanzaError):
        await PubSub(ieds[0], xmpp_server.pubsub_service).create_node(f"{node}-x")


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)
