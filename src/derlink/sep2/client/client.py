"""A DER client: one certificate, one server, one or more EndDevices.

:class:`DerClient` reads DeviceCapability, Time and the EndDeviceList (the link it was given is
the only href it does not find by following links: the DeviceCapability path), finds each of its
EndDevices there by LFDI or SFDI, registers the missing ones when the server lets it (POST to the
EndDeviceList: an aggregator's devices, or a device under open registration), and runs an
:class:`~derlink.sep2.client.agent.EndDeviceAgent` for each. A device certificate runs one
EndDevice; an aggregator certificate runs all of its devices through the same connection pool.

Network trouble (the server restarting, a dropped connection) backs the whole client off with
exponential delays and jitter; it then resumes where it was (kept state, no re-registration).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from derlink.sep2.client.agent import FOREVER, EndDeviceAgent
from derlink.sep2.client.config import ClientOptions, EndDeviceSpec
from derlink.sep2.client.device import DerDevice
from derlink.sep2.client.errors import (
    BadResource,
    ClientError,
    NotRegistered,
    ServerAnswer,
    TransportFailure,
    Unauthenticated,
)
from derlink.sep2.client.http import Sep2Http
from derlink.sep2.client.listener import NotificationListener
from derlink.sep2.client.telemetry import Telemetry
from derlink.sep2.client.timebase import ServerClock
from derlink.sep2.client.tree import ResourceTree
from derlink.sep2.xml import (
    DeviceCapability,
    EndDevice,
    EndDeviceList,
    Notification,
    Sep2Object,
    Time,
)

log = logging.getLogger("derlink.sep2.client")
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ManagedDevice:
    """An EndDevice the client acts for, the DER behind it, and where its telemetry comes
    from (None: no mirrors)."""

    spec: EndDeviceSpec
    device: DerDevice
    telemetry: Telemetry | None = None


def _follow(obj: Sep2Object) -> Iterable[tuple[str, type[Sep2Object]]]:
    if isinstance(obj, DeviceCapability):
        if obj.TimeLink is not None:
            yield obj.TimeLink.href, Time
        if obj.EndDeviceListLink is not None:
            yield obj.EndDeviceListLink.href, EndDeviceList


class DerClient:
    def __init__(
        self,
        http: Sep2Http,
        devices: Sequence[ManagedDevice],
        options: ClientOptions | None = None,
        *,
        listener: NotificationListener | None = None,
        rng: random.Random | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.http = http
        self.options = options or ClientOptions()
        self.rng = rng or random.Random()
        self.clock = clock
        self.server_clock = ServerClock(self.options.time_skew_tolerance)
        self.tree = ResourceTree(_follow)
        self.failures = 0
        self.online = False
        self.refused: ServerAnswer | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._register_after: dict[int, float] = {}
        self.agents: list[EndDeviceAgent] = []
        for managed in devices:
            uri = None
            if listener is not None:
                uri = listener.register(str(managed.spec.sfdi), self._handler(len(self.agents)))
            self.agents.append(
                EndDeviceAgent(
                    managed.spec,
                    managed.device,
                    http,
                    telemetry=managed.telemetry,
                    options=self.options,
                    clock=self.server_clock,
                    rng=self.rng,
                    notify_uri=uri,
                )
            )

    # --- notifications -------------------------------------------------------------------------

    def _handler(self, index: int) -> Callable[[Notification], bool]:
        def handle(note: Notification) -> bool:
            known = self.agents[index].notified(note, self.clock())
            if known and self._wake is not None:
                self._wake.set()
            return known

        return handle

    def stop(self) -> None:
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    # --- discovery ------------------------------------------------------------------------------

    async def discover(self, now: float) -> None:
        """DeviceCapability, Time and the EndDeviceList, when due."""
        self.tree.add_root(self.options.dcap_path, DeviceCapability, now)
        for _ in range(4):
            due = self.tree.due(now)
            if not due:
                return
            for entry in due:
                try:
                    obj = await self.http.get_any(entry.href, entry.kind)
                except (ServerAnswer, BadResource, Unauthenticated) as err:
                    log.warning("%s", err)
                    if isinstance(err, ServerAnswer) and err.status in (401, 403):
                        self.refused = err
                    self.tree.failed(
                        entry.href, now, self.options.backoff.delay(entry.failures, self.rng)
                    )
                    continue
                self.tree.received(entry.href, obj, now)
                self.refused = None
                await self._took(entry.href, obj, now)

    async def _took(self, href: str, obj: Sep2Object, now: float) -> None:
        if isinstance(obj, Time):
            self.server_clock.update(obj.currentTime, now)
        elif isinstance(obj, DeviceCapability):
            mup = obj.MirrorUsagePointListLink.href if obj.MirrorUsagePointListLink else None
            for agent in self.agents:
                agent.mup_list = mup
        elif isinstance(obj, EndDeviceList):
            rate = self.tree.entries[href].rate
            await self._match(href, obj, rate, now)

    async def _match(self, href: str, listed: EndDeviceList, rate: int, now: float) -> None:
        by_lfdi = {d.lFDI.hex().upper(): d for d in listed.EndDevice if d.lFDI is not None}
        by_sfdi = {d.sFDI: d for d in listed.EndDevice}
        for agent in self.agents:
            spec = agent.spec
            found = by_lfdi.get(spec.lfdi) or by_sfdi.get(spec.sfdi)
            if found is not None:
                agent.on_end_device(found, rate, now)
            elif not agent.stopped:
                await self._register(agent, href, rate, now)

    async def _register(self, agent: EndDeviceAgent, href: str, rate: int, now: float) -> None:
        spec = agent.spec
        if not self.options.register_missing or now < self._register_after.get(spec.sfdi, 0.0):
            return
        self._register_after[spec.sfdi] = now + rate
        device = EndDevice(
            sFDI=spec.sfdi,
            lFDI=bytes.fromhex(spec.lfdi),
            changedTime=self.server_clock.now(now),
            deviceCategory=spec.device_category.to_bytes(4, "big")
            if spec.device_category
            else None,
        )
        try:
            await self.http.post(href, device)
        except ServerAnswer as err:
            log.warning("EndDevice %s is not registered and may not register: %s", spec.sfdi, err)
            if self.options.once:
                agent.stop(NotRegistered(f"EndDevice {spec.sfdi} is not registered: {err}"))
            return
        log.info("EndDevice %s registered with the server", spec.sfdi)
        self.tree.refresh(href, now)

    # --- running ---------------------------------------------------------------------------------

    async def step(self, now: float) -> None:
        await self.discover(now)
        live = [a for a in self.agents if not a.stopped]
        if len(live) == 1:
            await live[0].step(now)
            return
        results = await asyncio.gather(*(a.step(now) for a in live), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def next_wake(self) -> float:
        wakes = [a.next_wake() for a in self.agents if not a.stopped]
        return min([self.tree.next_due() or FOREVER, *wakes])

    async def run(self, *, once: bool = False) -> None:
        """Run until :meth:`stop` (or, with ``once``, one full cycle of every EndDevice).

        Raises the first EndDevice's error when every EndDevice has stopped.
        """
        self._wake = asyncio.Event()
        if self.options.stagger > 0:
            await self._sleep(self.rng.uniform(0.0, self.options.stagger))
        while not self._stopping:
            now = self.clock()
            try:
                await self.step(now)
            except TransportFailure as err:
                self.failures += 1
                delay = self.options.backoff.delay(self.failures - 1, self.rng)
                if self.online or self.failures == 1:
                    log.warning("server unreachable (%s); retrying in %.1f s", err, delay)
                self.online = False
                await self._sleep(delay)
                continue
            if not self.online:
                log.info("connected to %s", self.http.origin)
            self.online, self.failures = True, 0
            live = [a for a in self.agents if not a.stopped]
            if not live:
                first = next(a.error for a in self.agents if a.error is not None)
                raise first if isinstance(first, ClientError) else ClientError(str(first))
            if once and all(a.once_done for a in live):
                return
            if once and self.refused and not any(a.walker.end_device for a in live):
                raise NotRegistered(f"the server refuses this client: {self.refused}")
            await self._sleep(self.next_wake() - self.clock())

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        if self._stopping:
            return
        self._wake.clear()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(min(seconds, 3600.0)):
                await self._wake.wait()
        except TimeoutError:
            pass
