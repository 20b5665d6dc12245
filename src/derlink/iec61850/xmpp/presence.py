"""Peers' availability from ``<presence>``: IEC 61850-8-2 association monitoring.

No rosters: an IED sends *directed* presence to its control centre when its session starts, and
answers the centre's directed presence with its own (so a centre that restarts learns who is
online). RFC 6121 §4.6.3 makes the server send ``unavailable`` on our behalf to everyone we sent
directed presence to when our session ends, however it ends — that is what tells a centre an
association is lost.

MUC occupant presence (carrying ``muc#user``) is left to :mod:`derlink.iec61850.xmpp.muc`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

from slixmpp import JID
from slixmpp.xmlstream import StanzaBase

from derlink.iec61850.xmpp.endpoint import Endpoint, NotConnectedError, bare_jid

MUC_USER_NS = "http://jabber.org/protocol/muc#user"

AvailabilityListener = Callable[[str], None]
"""Called with the full JID whose availability changed."""


class PresenceTracker:
    """Which full JIDs are available, with callbacks on changes.

    ``answer`` lists bare JIDs whose directed presence we answer with ours (the IED answers its
    centre); ``announce`` lists full JIDs we send directed presence to on every session start
    (Prosody does not deliver directed presence addressed to a bare JID without a subscription).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        announce: Iterable[str] = (),
        answer: Iterable[str] = (),
    ) -> None:
        self.endpoint = endpoint
        self.announce_to: set[str] = set(announce)
        self.answer: set[str] = {bare_jid(j) for j in answer}
        self._available: dict[str, set[str]] = {}
        self._on_available: list[AvailabilityListener] = []
        self._on_unavailable: list[AvailabilityListener] = []
        self._changed = asyncio.Event()
        endpoint.listen_presence(self._on_presence)
        endpoint.on_connection(self._on_connection)

    # -- queries ------------------------------------------------------------------------------

    def is_available(self, jid: str) -> bool:
        """Whether ``jid`` (full: that resource; bare: any resource) is available."""
        bare, _, resource = jid.partition("/")
        resources = self._available.get(bare, set())
        return bool(resources) if not resource else jid in resources

    def resources(self, bare: str) -> list[str]:
        """The available full JIDs of ``bare``."""
        return sorted(self._available.get(bare_jid(bare), ()))

    def available(self) -> list[str]:
        """Every available full JID."""
        return sorted(j for resources in self._available.values() for j in resources)

    async def wait(self, jid: str, *, available: bool = True, timeout: float = 10.0) -> None:
        """Wait until ``jid`` is (or is no longer) available; TimeoutError otherwise."""

        async def until() -> None:
            while self.is_available(jid) != available:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    # -- listeners ----------------------------------------------------------------------------

    def on_available(self, listener: AvailabilityListener) -> None:
        self._on_available.append(listener)

    def on_unavailable(self, listener: AvailabilityListener) -> None:
        self._on_unavailable.append(listener)

    # -- sending ------------------------------------------------------------------------------

    def send_available(self, to: str | None = None) -> None:
        """Broadcast (``to`` None) or directed available presence."""
        self.endpoint.send_stanza(self.endpoint.make_presence(to))

    def _on_connection(self, up: bool) -> None:
        if not up:
            lost = self.available()
            self._available.clear()
            for jid in lost:
                self._notify(self._on_unavailable, jid)
            return
        try:
            for jid in sorted(self.announce_to):
                self.send_available(jid)
        except NotConnectedError:
            pass

    # -- receiving ----------------------------------------------------------------------------

    def _on_presence(self, stanza: StanzaBase) -> None:
        if stanza.xml.find(f"{{{MUC_USER_NS}}}x") is not None:
            return
        ptype = str(stanza["type"] or "available")
        sender = JID(stanza["from"])
        full = str(sender.full)
        bare = str(sender.bare)
        if not sender.resource or full == str(self.endpoint.jid):
            return
        if ptype in ("available", "chat", "away", "xa", "dnd"):
            resources = self._available.setdefault(bare, set())
            if full in resources:
                return
            resources.add(full)
            if bare in self.answer:
                with contextlib.suppress(NotConnectedError):
                    self.send_available(full)
            self._notify(self._on_available, full)
        elif ptype in ("unavailable", "error"):
            resources = self._available.get(bare, set())
            if full not in resources:
                return
            resources.discard(full)
            if not resources:
                self._available.pop(bare, None)
            self._notify(self._on_unavailable, full)

    def _notify(self, listeners: list[AvailabilityListener], jid: str) -> None:
        self._changed.set()
        for listener in list(listeners):
            listener(jid)
