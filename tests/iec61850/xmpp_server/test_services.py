"""MUC, PubSub and service discovery on the derlink-run servers: the control centre (admin)
creates rooms and nodes, IEDs (ordinary clients) join and subscribe but cannot create."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from support.xmpp import ADMIN, XmppService, login

pytestmark = pytest.mark.xmpp


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def admin(xmpp_server: XmppService) -> AsyncIterator[Any]:
    jid, cert, key = xmpp_server.client(ADMIN, resource=_name("centre"))
    client = await login(xmpp_server, jid, cert, key)
    yield client
    client.disconnect()


@pytest.fixture
async def ied(xmpp_server: XmppService) -> AsyncIterator[Any]:
    jid, cert, key = xmpp_server.client(_name("ied"))
    client = await login(xmpp_server, jid, cert, key)
    yield client
    client.disconnect()


async def _refused_join(client: Any, room: str, nick: str) -> str:
    """Try to join ``room``; the error condition of the refusal.

    Read from the raw presence: Prosody's MUC error presences carry no MUC payload, so
    slixmpp's ``join_muc_wait`` would wait for its timeout instead of raising.
    """
    occupant = f"{room}/{nick}"
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_presence(presence: Any) -> None:
        if str(presence["from"]) == occupant and not answer.done():
            answer.set_result(presence)

    client.add_event_handler("presence", on_presence)
    try:
        client.plugin["xep_0045"].join_muc(room, nick, maxhistory="0")
        presence = await asyncio.wait_for(answer, 10)
    finally:
        client.del_event_handler("presence", on_presence)
    assert presence["type"] == "error", f"joined {room}: {presence}"
    condition: str = presence["error"]["condition"]
    return condition


async def _create_instant_room(client: Any, room: str) -> None:
    """Join (which creates the room, locked) and submit the empty owner form (instant room)."""
    await client.plugin["xep_0045"].join_muc_wait(room, "centre", maxstanzas=0, timeout=10)
    form = client.plugin["xep_0004"].make_form(ftype="submit")
    await client.plugin["xep_0045"].set_room_config(room, form, timeout=10)


async def test_the_admin_creates_a_room_and_an_invited_ied_joins(
    xmpp_server: XmppService, admin: Any, ied: Any
) -> None:
    room = f"{_name('room')}@{xmpp_server.muc_service}"
    await _create_instant_room(admin, room)
    await admin.plugin["xep_0045"].set_affiliation(
        room, "member", jid=ied.boundjid.bare, timeout=10
    )
    admin.plugin["xep_0045"].invite(room, ied.boundjid.bare)
    presence, *_ = await ied.plugin["xep_0045"].join_muc_wait(room, "ied", maxstanzas=0, timeout=10)
    assert presence["muc"]["affiliation"] == "member"


async def test_an_ied_cannot_create_a_room(xmpp_server: XmppService, ied: Any) -> None:
    room = f"{_name('room')}@{xmpp_server.muc_service}"
    assert await _refused_join(ied, room, "ied") in {"not-allowed", "forbidden"}


async def test_an_uninvited_ied_cannot_join_a_members_only_room(
    xmpp_server: XmppService, admin: Any, ied: Any
) -> None:
    room = f"{_name('room')}@{xmpp_server.muc_service}"
    await _create_instant_room(admin, room)
    assert await _refused_join(ied, room, "ied") == "registration-required"


async def test_the_admin_creates_a_node_and_an_ied_subscribes(
    xmpp_server: XmppService, admin: Any, ied: Any
) -> None:
    node = _name("node")
    await admin.plugin["xep_0060"].create_node(xmpp_server.pubsub_service, node, timeout=10)
    result = await ied.plugin["xep_0060"].subscribe(xmpp_server.pubsub_service, node, timeout=10)
    assert result["pubsub"]["subscription"]["subscription"] == "subscribed"


async def test_an_ied_cannot_create_a_node(xmpp_server: XmppService, ied: Any) -> None:
    with pytest.raises(IqError) as refused:
        await ied.plugin["xep_0060"].create_node(
            xmpp_server.pubsub_service, _name("node"), timeout=10
        )
    assert refused.value.condition == "forbidden"


async def test_discovery_lists_the_muc_and_pubsub_services(
    xmpp_server: XmppService, ied: Any
) -> None:
    items = await ied.plugin["xep_0030"].get_items(jid=xmpp_server.domain, timeout=10)
    listed = {item[0] for item in items["disco_items"]["items"]}
    assert {xmpp_server.muc_service, xmpp_server.pubsub_service} <= listed
    muc = await ied.plugin["xep_0030"].get_info(jid=xmpp_server.muc_service, timeout=10)
    assert ("conference", "text") in {i[:2] for i in muc["disco_info"]["identities"]}
    assert "http://jabber.org/protocol/muc" in muc["disco_info"]["features"]
    pubsub = await ied.plugin["xep_0030"].get_info(jid=xmpp_server.pubsub_service, timeout=10)
    assert ("pubsub", "service") in {i[:2] for i in pubsub["disco_info"]["identities"]}
    server = await ied.plugin["xep_0030"].get_info(jid=xmpp_server.domain, timeout=10)
    assert ("server", "im") in {i[:2] for i in server["disco_info"]["identities"]}


async def test_no_server_to_server_and_no_registration(xmpp_server: XmppService, ied: Any) -> None:
    with pytest.raises(IqError) as remote:
        await ied.plugin["xep_0030"].get_info(jid="elsewhere.example", timeout=10)
    # Prosody: s2s not loaded; ejabberd: s2s_access none. Neither tries to connect.
    expected = {"prosody": "not-allowed", "ejabberd": "forbidden"}[xmpp_server.kind]
    assert remote.value.condition == expected
    register = ied.make_iq_get(queryxmlns="jabber:iq:register", ito=ied.boundjid.domain)
    with pytest.raises(IqError) as refused:
        await register.send(timeout=10)
    assert refused.value.condition in {"service-unavailable", "feature-not-implemented"}
