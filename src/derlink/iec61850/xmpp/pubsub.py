"""Publish-subscribe (XEP-0060) for data many IEDs want once: tariffs, price signals.

The centre creates a node on ``pubsub.<domain>`` and publishes items to it; IEDs subscribe with
their bare JID and receive each item as an event notification ``<message>``. A subscriber also
fetches the latest item when it subscribes, so one that comes late still has the current
tariff; an item is delivered once even when the server also pushes the last item on
subscription. Notifications are accepted only from the configured PubSub service, and items are
handed over as the bytes of their payload element.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from slixmpp import JID
from slixmpp.xmlstream import StanzaBase

from derlink.iec61850.xmpp.endpoint import (
    Endpoint,
    StanzaError,
    XmppError,
    parse_element,
)

PUBSUB_NS = "http://jabber.org/protocol/pubsub"
PUBSUB_EVENT_NS = "http://jabber.org/protocol/pubsub#event"
PUBSUB_OWNER_NS = "http://jabber.org/protocol/pubsub#owner"


@dataclass(frozen=True)
class Item:
    node: str
    id: str
    payload: bytes
    """The item's payload element, serialised."""


ItemListener = Callable[[Item], None]


def _pubsub(*children: ET.Element) -> ET.Element:
    element = ET.Element(f"{{{PUBSUB_NS}}}pubsub")
    element.extend(children)
    return element


class PubSub:
    """Our side of one PubSub service (``service`` defaults to ``pubsub.<our domain>``)."""

    def __init__(self, endpoint: Endpoint, service: str | None = None) -> None:
        self.endpoint = endpoint
        self.service = service or f"pubsub.{endpoint.domain}"
        self._listeners: list[ItemListener] = []
        self.ignored = 0
        self._last: dict[str, Item] = {}
        endpoint.listen_messages(PUBSUB_EVENT_NS, self._on_event)

    # -- publisher ----------------------------------------------------------------------------

    async def create_node(self, node: str, *, timeout: float | None = None) -> bool:
        """Create ``node``; False when it already exists."""
        create = ET.Element(f"{{{PUBSUB_NS}}}create", {"node": node})
        try:
            await self.endpoint.iq(self.service, "set", _pubsub(create), timeout=timeout)
        except StanzaError as err:
            if err.condition == "conflict":
                return False
            raise
        return True

    async def publish(
        self, node: str, payload: bytes, *, item_id: str | None = None, timeout: float | None = None
    ) -> str:
        """Publish one item (``payload`` is one XML element); returns the item id."""
        publish = ET.Element(f"{{{PUBSUB_NS}}}publish", {"node": node})
        item = ET.SubElement(publish, f"{{{PUBSUB_NS}}}item")
        if item_id:
            item.set("id", item_id)
        item.append(parse_element(payload))
        result = await self.endpoint.iq(self.service, "set", _pubsub(publish), timeout=timeout)
        answered = result.xml.find(
            f"{{{PUBSUB_NS}}}pubsub/{{{PUBSUB_NS}}}publish/{{{PUBSUB_NS}}}item"
        )
        if answered is not None and answered.get("id"):
            return str(answered.get("id"))
        return item_id or ""

    async def delete_node(self, node: str, *, timeout: float | None = None) -> None:
        delete = ET.Element(f"{{{PUBSUB_OWNER_NS}}}delete", {"node": node})
        owner = ET.Element(f"{{{PUBSUB_OWNER_NS}}}pubsub")
        owner.append(delete)
        await self.endpoint.iq(self.service, "set", owner, timeout=timeout)

    # -- subscriber ---------------------------------------------------------------------------

    def on_item(self, listener: ItemListener) -> None:
        """Call ``listener(item)`` for every item notified (or fetched on subscribe)."""
        self._listeners.append(listener)

    async def subscribe(self, node: str, *, timeout: float | None = None) -> str:
        """Subscribe our bare JID to ``node``; returns the subscription state."""
        subscribe = ET.Element(
            f"{{{PUBSUB_NS}}}subscribe", {"node": node, "jid": self.endpoint.bare}
        )
        result = await self.endpoint.iq(self.service, "set", _pubsub(subscribe), timeout=timeout)
        sub = result.xml.find(f"{{{PUBSUB_NS}}}pubsub/{{{PUBSUB_NS}}}subscription")
        return sub.get("subscription", "subscribed") if sub is not None else "subscribed"

    async def unsubscribe(self, node: str, *, timeout: float | None = None) -> None:
        unsubscribe = ET.Element(
            f"{{{PUBSUB_NS}}}unsubscribe", {"node": node, "jid": self.endpoint.bare}
        )
        await self.endpoint.iq(self.service, "set", _pubsub(unsubscribe), timeout=timeout)

    async def items(
        self, node: str, *, max_items: int | None = None, timeout: float | None = None
    ) -> list[Item]:
        """Fetch the node's items (the latest ``max_items``)."""
        query = ET.Element(f"{{{PUBSUB_NS}}}items", {"node": node})
        if max_items is not None:
            query.set("max_items", str(max_items))
        result = await self.endpoint.iq(self.service, "get", _pubsub(query), timeout=timeout)
        items = result.xml.find(f"{{{PUBSUB_NS}}}pubsub/{{{PUBSUB_NS}}}items")
        if items is None:
            raise XmppError(f"{self.service} answered items without items")
        return [
            parsed
            for element in items.findall(f"{{{PUBSUB_NS}}}item")
            if (parsed := _item(node, element)) is not None
        ]

    async def fetch_latest(self, node: str, *, timeout: float | None = None) -> Item | None:
        """The latest item of ``node`` (delivered to listeners too), or None."""
        found = await self.items(node, max_items=1, timeout=timeout)
        if not found:
            return None
        self._deliver(found[-1])
        return found[-1]

    def _deliver(self, item: Item) -> None:
        # a server may also send the last item on subscription (ejabberd does): deliver once
        if self._last.get(item.node) == item:
            return
        self._last[item.node] = item
        for listener in list(self._listeners):
            listener(item)

    def _on_event(self, stanza: StanzaBase) -> None:
        if str(JID(stanza["from"]).bare) != self.service:
            self.ignored += 1
            return
        event = stanza.xml.find(f"{{{PUBSUB_EVENT_NS}}}event")
        if event is None:
            return
        for items in event.findall(f"{{{PUBSUB_EVENT_NS}}}items"):
            node = items.get("node", "")
            for element in items.findall(f"{{{PUBSUB_EVENT_NS}}}item"):
                item = _item(node, element)
                if item is not None:
                    self._deliver(item)


def _item(node: str, element: ET.Element) -> Item | None:
    payload = next(iter(element), None)
    if payload is None:
        return None
    return Item(node, element.get("id", ""), ET.tostring(payload))
