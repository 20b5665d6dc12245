"""N simulated DERs in one process: one DER client each, over one shared connection pool.

Each simulated device has its own certificate (its own TLS identity, so its own TLS context and
connection), but the process shares one ``httpx.AsyncClient`` through
:class:`~derlink.sep2.client.http.IdentityTransport`, one notification endpoint, one random
source and one event loop; devices start staggered over ``options.stagger`` seconds and post
their telemetry at their own phase of the post interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from derlink.sep2.client import (
    ClientOptions,
    Credentials,
    DerClient,
    EndDeviceSpec,
    IdentityTransport,
    ManagedDevice,
    NotificationListener,
    Sep2Http,
)
from derlink.sep2.client.session import NotifyEndpoint, limits, split_server
from derlink.sim.der import SimulatedDer, nameplate_of
from derlink.sim.fleet import SimRecord, site_spec
from derlink.sim.physics import Household

log = logging.getLogger("derlink.sim")


def rss_bytes() -> int:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096
    except OSError:
        return 0


@dataclass(frozen=True, slots=True)
class Summary:
    devices: int
    polling: int
    registered: int
    controlled: int
    applied: int
    responses: int
    mirror_posts: int
    notifications: int
    requests: int
    export_w: float
    import_w: float
    pv_w: float

    def line(self) -> str:
        return (
            f"devices {self.devices}  polling {self.polling}  controlled {self.controlled}  "
            f"envelopes applied {self.applied}  responses {self.responses}  "
            f"mirror posts {self.mirror_posts}  requests {self.requests}  "
            f"fleet export {self.export_w / 1000:.1f} kW  "
            f"import {self.import_w / 1000:.1f} kW  PV {self.pv_w / 1000:.1f} kW"
        )


class FleetSim:
    def __init__(
        self,
        records: Sequence[SimRecord],
        server: str,
        cafile: Path,
        *,
        options: ClientOptions | None = None,
        notify: NotifyEndpoint | None = None,
        seed: int = 0,
        tz_hours: float = 10.0,
    ) -> None:

        self.records = list(records)
        self.origin, self.options = split_server(server, options or ClientOptions())
        self.cafile = cafile
        self.notify = notify
        self.tz_hours = tz_hours
        self.rng = random.Random(seed)
        self.transport = IdentityTransport(limits(self.options))
        self.http_client = httpx.AsyncClient(transport=self.transport, timeout=self.options.timeout)
        self.listener: NotificationListener | None = None
        self.clients: list[DerClient] = []
        self.ders: list[SimulatedDer] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.rss_before = 0
        self.started = 0.0

    async def start(self) -> None:
        self.rss_before = rss_bytes()
        self.started = time.time()
        if self.notify is not None:
            assert self.notify.certfile is not None and self.notify.keyfile is not None
            self.listener = NotificationListener(
                self.notify.host,
                self.notify.port,
                certfile=self.notify.certfile,
                keyfile=self.notify.keyfile,
                cafile=self.cafile,
                public_url=self.notify.public_url,
            )
            await self.listener.start()
        for record in self.records:
            self.clients.append(self._client(record))
        self.tasks = [asyncio.create_task(self._run(c)) for c in self.clients]

    def _client(self, record: SimRecord) -> DerClient:
        credentials = Credentials.from_prefix(record.prefix, self.cafile)
        self.transport.add(record.lfdi, credentials.tls())
        http = Sep2Http(
            self.http_client,
            self.origin,
            identity=record.lfdi,
            max_bytes=self.options.max_body_bytes,
            page_size=self.options.page_size,
        )
        spec = site_spec(record.index, self.tz_hours)
        der = SimulatedDer(Household(spec, now=time.time()), nameplate_of(spec, record.serial))
        self.ders.append(der)
        managed = ManagedDevice(EndDeviceSpec(record.lfdi, record.sfdi, record.pin), der, der)
        return DerClient(http, [managed], self.options, listener=self.listener, rng=self.rng)

    async def _run(self, client: DerClient) -> None:
        try:
            await client.run()
        except Exception as err:  # one device's failure is reported, the fleet goes on
            log.error("a simulated device stopped: %s", err)

    def summary(self) -> Summary:
        agents = [a for c in self.clients for a in c.agents]
        polling = sum(1 for c in self.clients if c.online and c.agents[0].decision is not None)
        controlled = sum(1 for a in agents if a.decision is not None and a.decision.in_force.events)
        flows = [d.last for d in self.ders if d.last is not None]
        return Summary(
            devices=len(self.clients),
            polling=polling,
            registered=sum(1 for a in agents if a.walker.registered),
            controlled=controlled,
            applied=sum(d.applied for d in self.ders),
            responses=sum(a.stats.responses for a in agents),
            mirror_posts=sum(a.stats.mirror_posts for a in agents),
            notifications=sum(a.stats.notifications for a in agents),
            requests=sum(c.http.requests for c in self.clients),
            export_w=sum(max(0.0, -f.site_w) for f in flows),
            import_w=sum(max(0.0, f.site_w) for f in flows),
            pv_w=sum(f.pv_w for f in flows),
        )

    def memory_per_device(self) -> float:
        """Bytes of resident memory per simulated device since :meth:`start`."""
        return (rss_bytes() - self.rss_before) / max(1, len(self.clients))

    async def stop(self) -> None:
        for client in self.clients:
            client.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.listener is not None:
            await self.listener.stop()
        await self.http_client.aclose()


def sim_options(devices: int, **changes: object) -> ClientOptions:
    """Client options for a simulated fleet: a start staggered over ``devices/10`` seconds (a
    single SQLite head-end serves about a hundred requests a second, and a device's first cycle
    takes about twenty)."""
    base = ClientOptions(stagger=devices / 10.0, keepalive=90.0)
    return replace(base, **changes)  # type: ignore[arg-type]
