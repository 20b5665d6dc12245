"""The IEC 61850 part of ``derlink demo``: simulated IEDs over XMPP taking part in the dispatch.

derlink's XMPP server (ejabberd, the configured default; it starts in about a second here)
runs on a free port with a certificate from the demo's PKI; simulated IEDs (household physics
behind the 7-420 model) log in with their own XMPP certificates, enrolled as IEDs of the same
feeder groups as the 2030.5 DERs; the control centre and the 61850 dispatcher follow the
fleet's controls, so the red export limit reaches them as operations on their data objects.
Every MMS payload between the centre and the IEDs is protected end to end (a session per IED,
certificates issued once from the demo's PKI; :mod:`derlink.cli.e2e_opts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from derlink.audit.log import AuditLog
from derlink.cli.e2e_opts import CentreE2e, protect_centre, protect_simulated
from derlink.config import Config
from derlink.control.service import FleetService
from derlink.domain import ResponseStatus
from derlink.home import Home
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.dispatch import Dispatcher
from derlink.iec61850.protection import E2eProtector
from derlink.iec61850.xmpp.endpoint import Endpoint, EndpointConfig
from derlink.iec61850.xmpp.server import XmppServer, XmppSettings
from derlink.pki import Pki, Role
from derlink.sim.fleet import sim_dir
from derlink.sim.iedfleet import IED_RESOURCE, IedFleet, IedRecord, enrol_ieds

CENTRE = "centre"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_xmpp(home: Home, config: Config, passphrase: bytes | None) -> XmppServer:
    """derlink's XMPP server for the demo, on a free port; the centre JID administers it."""
    domain = config.xmpp.domain
    settings = XmppSettings.from_config(
        config, port=_free_port(), host="127.0.0.1", admins=(f"{CENTRE}@{domain}",)
    )
    server = XmppServer(home, settings, passphrase=passphrase)
    server.start(timeout=60)
    return server


@dataclass
class IedStory:
    """Enrol, run and watch the simulated IEDs of the demo."""

    home: Home
    server: XmppServer
    count: int
    groups: int
    records: list[IedRecord] = field(default_factory=list)
    fleet_sim: IedFleet | None = None
    centre: ControlCentre | None = None
    dispatcher: Dispatcher | None = None
    e2e: bool = True
    _centre_e2e: CentreE2e | None = None
    _ied_e2e: list[E2eProtector] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @property
    def domain(self) -> str:
        return self.server.settings.domain

    async def enrol(
        self,
        fleet: FleetService,
        *,
        actor: str,
        passphrase: bytes | None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.records = await enrol_ieds(
            self.home,
            fleet,
            self.count,
            self.groups,
            domain=self.domain,
            actor=actor,
            now=datetime.now(UTC),
            passphrase=passphrase,
            progress=progress,
        )

    async def start(
        self, fleet: FleetService, log: AuditLog, *, passphrase: bytes | None, tz_hours: float
    ) -> int:
        """Start the centre, the dispatcher and the IEDs; returns how many IEDs logged in."""
        logging.getLogger("derlink.iec61850").setLevel(logging.ERROR)
        logging.getLogger("slixmpp").setLevel(logging.ERROR)
        settings = self.server.settings
        prefix = sim_dir(self.home) / "centre"
        if not prefix.with_suffix(".pem").exists():
            pki = Pki.open(self.home.pki_dir, passphrase=passphrase)
            issued = pki.issue_xmpp_client(
                f"{CENTRE}@{self.domain}", roles=[Role.OPERATOR], now=datetime.now(UTC)
            )
            issued.write(prefix)
        endpoint = Endpoint(
            EndpointConfig(
                jid=f"{CENTRE}@{self.domain}/{CENTRE}",
                certfile=prefix.with_suffix(".pem"),
                keyfile=prefix.with_suffix(".key"),
                cafile=self.server.files.ca_file,
                host=settings.host,
                port=settings.port,
                max_outstanding=256,
            )
        )
        self.centre = ControlCentre(endpoint, request_timeout=10.0)
        if self.e2e:
            self._centre_e2e = protect_centre(
                endpoint, self.home, passphrase=passphrase, audit=log.append
            )
        await self.centre.start()
        self.fleet_sim = IedFleet(
            self.records,
            host=settings.host,
            port=settings.port,
            cafile=self.server.files.ca_file,
            centres=[endpoint.bare],
            tz_hours=tz_hours,
            measurement_interval=2.0,
        )
        if self.e2e:
            self._ied_e2e = protect_simulated(
                self.home,
                [
                    (i.record.prefix, f"{i.record.jid}/{IED_RESOURCE}", i.runtime)
                    for i in self.fleet_sim.ieds
                ],
                kdc_jid=str(endpoint.jid),
                passphrase=passphrase,
            )
        started = await self.fleet_sim.start()
        self.centre.watch(f"{r.jid}/{IED_RESOURCE}" for r in self.records)
        self.dispatcher = Dispatcher(fleet, log, self.centre)
        self._task = asyncio.ensure_future(self.dispatcher.run(self._stop, interval=0.25))
        return started

    def available(self) -> int:
        """IEDs whose presence the centre sees (reachable for commands)."""
        if self.centre is None:
            return 0
        return sum(1 for r in self.records if self.centre.presence.is_available(r.jid))

    def export_w(self, group: str) -> float:
        """What the IEDs of ``group`` export now (sum over sites of max(0, -site W))."""
        if self.fleet_sim is None:
            return 0.0
        return sum(max(0.0, -i.driver.sample().site_w) for i in self.fleet_sim.by_group(group))

    def in_group(self, group: str) -> int:
        return sum(1 for r in self.records if r.group == group)

    def holding(self, group: str, limit_w: float) -> int:
        """IEDs of ``group`` whose physics runs under the export limit ``limit_w``."""
        if self.fleet_sim is None:
            return 0
        return sum(
            1 for i in self.fleet_sim.by_group(group) if i.driver.envelope.export_limit_w == limit_w
        )

    def protected_sessions(self, group: str) -> int:
        """IEDs of ``group`` the control centre holds an end-to-end session with."""
        if self._centre_e2e is None:
            return 0
        peers = set(self._centre_e2e.protector.peers())
        return sum(1 for r in self.records if r.group == group and r.jid in peers)

    def responded(self, mrid: str, status: ResponseStatus, group: str | None = None) -> int:
        """IEDs (of ``group``) for which the dispatcher recorded ``status`` for ``mrid``."""
        if self.dispatcher is None:
            return 0
        lfdis = {r.lfdi for r in self.records if group is None or r.group == group}
        return sum(
            1
            for lfdi, state in self.dispatcher.states.items()
            if lfdi in lfdis and (mrid, status) in state.reported
        )

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        if self.fleet_sim is not None:
            await self.fleet_sim.stop()
        if self.centre is not None:
            await self.centre.stop()
        for protector in self._ied_e2e:
            await protector.close()
        if self._centre_e2e is not None:
            await self._centre_e2e.close()


__all__ = ["IedStory", "start_xmpp"]
