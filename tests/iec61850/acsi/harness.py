"""Test harness: an in-memory link between AcsiClient and IedServer on the shipped der_ied.icd.

Every PDU crosses the real XER codec both ways (encode -> bytes -> decode), as on XMPP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from derlink.iec61850.acsi.client import AcsiClient, ClientEvent
from derlink.iec61850.acsi.server import IedServer, Outgoing
from derlink.iec61850.mms import codec
from derlink.iec61850.model.nodes import ServerModel
from derlink.iec61850.model.store import ValueStore

T0 = 1_700_000_000.0


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


def wire(pdu: Any) -> Any:
    """What the peer gets: the PDU through XER bytes."""
    data = codec.encode(pdu)
    assert isinstance(data, bytes)
    return codec.decode(data)


@dataclass
class Link:
    server: IedServer
    client: AcsiClient
    peer: str
    connected: bool = True
    events: list[ClientEvent] = field(default_factory=list)
    dropped: int = 0

    def deliver(self, outgoing: list[Outgoing]) -> list[ClientEvent]:
        got: list[ClientEvent] = []
        for out in outgoing:
            if out.peer != self.peer:
                continue
            if not self.connected:
                self.dropped += 1
                continue
            got.extend(self.client.receive(wire(out.pdu)))
        self.events.extend(got)
        return got

    def pump(self) -> list[ClientEvent]:
        got: list[ClientEvent] = []
        while self.connected:
            pdus = self.client.take_outgoing()
            if not pdus:
                break
            for pdu in pdus:
                got.extend(self.deliver(self.server.handle(self.peer, wire(pdu))))
        return got

    def call(self, request_id: int) -> Any:
        self.pump()
        return self.client.result(request_id)

    def tick(self, dt: float = 0.0) -> list[ClientEvent]:
        clock = self.server.clock
        assert isinstance(clock, Clock)
        clock.now += dt
        return self.deliver(self.server.tick(clock.now))

    def process(self, change: Callable[[], object]) -> list[ClientEvent]:
        """A process-side change of the store (what a device driver does)."""
        change()
        return self.deliver(self.server.take_pending())

    def drop(self) -> None:
        """The transport loses the association (presence unavailable)."""
        self.connected = False
        self.client.connection_lost()
        self.deliver(self.server.peer_lost(self.peer))

    def reconnect(self) -> None:
        self.connected = True
        self.client.associate()
        self.pump()


@dataclass
class Rig:
    model: ServerModel
    store: ValueStore
    server: IedServer
    clock: Clock
    denied: set[tuple[str, str]]

    def link(self, peer: str = "centre@example/1", *, associate: bool = True) -> Link:
        link = Link(self.server, AcsiClient(clock=self.clock), peer)
        if associate:
            link.client.associate()
            link.pump()
        return link
