"""Service discovery (XEP-0030): IEDs say what they are, the centre finds them.

An IED answers ``disco#info`` with the feature :data:`IEC61850_FEATURE` and ``disco#items``
with one item per logical device (``node`` = the LD name), so a centre can tell an IED from any
other entity and list its logical devices before associating. Written against the endpoint's
one dispatcher instead of slixmpp's xep_0030 plugin, which costs memory and handlers per
connection for far more than an IED needs.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from slixmpp import JID

from derlink.iec61850.xmpp.endpoint import Endpoint, StanzaError, XmppError

DISCO_INFO_NS = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS_NS = "http://jabber.org/protocol/disco#items"
IEC61850_FEATURE = "urn:derlink:iec61850-8-2"
"""The feature an IED advertises: it serves IEC 61850 ACSI as MMS payloads over XMPP."""


@dataclass(frozen=True)
class Identity:
    category: str
    type: str
    name: str = ""


@dataclass(frozen=True)
class DiscoInfo:
    identities: tuple[Identity, ...]
    features: frozenset[str]


@dataclass(frozen=True)
class DiscoItem:
    jid: str
    node: str = ""
    name: str = ""


@dataclass(frozen=True)
class DiscoveredIed:
    """An entity that advertised :data:`IEC61850_FEATURE`, with its logical devices."""

    jid: str
    name: str
    logical_devices: tuple[str, ...]


class DiscoResponder:
    """Answers disco#info and disco#items queries on ``endpoint``.

    ``items`` is called on each items query (node None for the top level) so the list follows
    the model.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        identity: Identity,
        features: Iterable[str],
        items: Callable[[str | None], Sequence[DiscoItem]] = lambda _node: (),
    ) -> None:
        self.identity = identity
        self.features = frozenset({DISCO_INFO_NS, DISCO_ITEMS_NS, *features})
        self._items = items
        endpoint.register_iq(DISCO_INFO_NS, self._info)
        endpoint.register_iq(DISCO_ITEMS_NS, self._items_query)

    async def _info(self, _sender: JID, itype: str, query: ET.Element) -> ET.Element:
        if itype != "get":
            raise StanzaError("bad-request", "disco queries are iq get")
        node = query.get("node")
        if node is not None and node not in {i.node for i in self._items(None)}:
            raise StanzaError("item-not-found")
        answer = ET.Element(f"{{{DISCO_INFO_NS}}}query")
        if node is not None:
            answer.set("node", node)
        attrs = {"category": self.identity.category, "type": self.identity.type}
        if self.identity.name:
            attrs["name"] = self.identity.name
        ET.SubElement(answer, f"{{{DISCO_INFO_NS}}}identity", attrs)
        for feature in sorted(self.features):
            ET.SubElement(answer, f"{{{DISCO_INFO_NS}}}feature", {"var": feature})
        return answer

    async def _items_query(self, _sender: JID, itype: str, query: ET.Element) -> ET.Element:
        if itype != "get":
            raise StanzaError("bad-request", "disco queries are iq get")
        node = query.get("node")
        answer = ET.Element(f"{{{DISCO_ITEMS_NS}}}query")
        if node is not None:
            answer.set("node", node)
        for item in self._items(node):
            attrs = {"jid": item.jid}
            if item.node:
                attrs["node"] = item.node
            if item.name:
                attrs["name"] = item.name
            ET.SubElement(answer, f"{{{DISCO_ITEMS_NS}}}item", attrs)
        return answer


async def disco_info(
    endpoint: Endpoint, jid: str, node: str | None = None, *, timeout: float | None = None
) -> DiscoInfo:
    """Ask ``jid`` what it is (XEP-0030 §3)."""
    query = ET.Element(f"{{{DISCO_INFO_NS}}}query")
    if node:
        query.set("node", node)
    result = await endpoint.iq(jid, "get", query, timeout=timeout)
    answer = result.xml.find(f"{{{DISCO_INFO_NS}}}query")
    if answer is None:
        raise XmppError(f"{jid} answered disco#info without a query")
    identities = tuple(
        Identity(e.get("category", ""), e.get("type", ""), e.get("name", ""))
        for e in answer.findall(f"{{{DISCO_INFO_NS}}}identity")
    )
    features = frozenset(
        e.get("var", "") for e in answer.findall(f"{{{DISCO_INFO_NS}}}feature") if e.get("var")
    )
    return DiscoInfo(identities, features)


async def disco_items(
    endpoint: Endpoint, jid: str, node: str | None = None, *, timeout: float | None = None
) -> list[DiscoItem]:
    """The items ``jid`` lists (XEP-0030 §4)."""
    query = ET.Element(f"{{{DISCO_ITEMS_NS}}}query")
    if node:
        query.set("node", node)
    result = await endpoint.iq(jid, "get", query, timeout=timeout)
    answer = result.xml.find(f"{{{DISCO_ITEMS_NS}}}query")
    if answer is None:
        raise XmppError(f"{jid} answered disco#items without a query")
    return [
        DiscoItem(e.get("jid", ""), e.get("node", ""), e.get("name", ""))
        for e in answer.findall(f"{{{DISCO_ITEMS_NS}}}item")
    ]


async def discover_ied(
    endpoint: Endpoint, jid: str, *, timeout: float | None = None
) -> DiscoveredIed | None:
    """``jid`` as an IED (its logical devices) if it advertises the 61850 feature, else None."""
    try:
        info = await disco_info(endpoint, jid, timeout=timeout)
    except StanzaError:
        return None
    if IEC61850_FEATURE not in info.features:
        return None
    items = await disco_items(endpoint, jid, timeout=timeout)
    name = next((i.name for i in info.identities if i.name), "")
    return DiscoveredIed(jid, name, tuple(i.node for i in items if i.node))


async def discover_ieds(
    endpoint: Endpoint, jids: Iterable[str], *, timeout: float | None = None
) -> list[DiscoveredIed]:
    """The IEDs among ``jids`` (full JIDs, queried concurrently)."""
    found = await asyncio.gather(*(discover_ied(endpoint, j, timeout=timeout) for j in jids))
    return [ied for ied in found if ied is not None]
