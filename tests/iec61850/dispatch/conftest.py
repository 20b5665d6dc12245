"""A fleet (SQLite, signed audit log), a real XMPP server, a control centre and simulated IEDs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.audit import AuditLog
from derlink.control.service import FleetService
from derlink.domain import Control, ControlBase, Group, Site
from derlink.iec61850.acsi.server import IedServer
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.dispatch import Dispatcher
from derlink.iec61850.ied import IedRuntime
from derlink.iec61850.registry import DEFAULT_IED_NAME, enrol_ied
from derlink.iec61850.xmpp.endpoint import Endpoint
from derlink.pki import load_certificate
from derlink.sim.iedfleet import IED_RESOURCE, HouseholdDriver, SharedModel, ied_spec
from derlink.sim.physics import Household
from derlink.store import Database, upgrade
from support.xmpp import XmppService, endpoint_config, endpoint_for

SHARED = SharedModel()


@dataclass
class World:
    fleet: FleetService
    audit: AuditLog
    centre: ControlCentre
    dispatcher: Dispatcher
    service: XmppService
    drivers: dict[str, HouseholdDriver] = field(default_factory=dict)  # LFDI -> driver
    runtimes: dict[str, IedRuntime] = field(default_factory=dict)
    tag: str = ""

    async def add_ied(self, n: int, group: str, ied_name: str = DEFAULT_IED_NAME) -> str:
        """A simulated IED (the shipped model, named DERIED) at a new site in ``group``,
        registered under ``ied_name``; returns its LFDI."""
        jid, cert, key = self.service.client(f"ied{n}-{self.tag}", resource=IED_RESOURCE)
        site = f"s{n}-{self.tag}"
        await self.fleet.add_site(Site(site, groups=frozenset({group})), actor="test")
        device, _ = await enrol_ied(
            self.fleet, load_certificate(cert), actor="test", site=site, ied_name=ied_name
        )
        driver = HouseholdDriver(Household(ied_spec(n), now=time.time()), SHARED.measured)
        server = IedServer(SHARED.model, SHARED.store(), clock=time.time)
        runtime = IedRuntime(
            Endpoint(endpoint_config(self.service, jid, cert, key, request_timeout=5.0)),
            server,
            centres=[self.centre.endpoint.bare],
            driver=driver,
        )
        await runtime.start()
        self.drivers[device.lfdi] = driver
        self.runtimes[device.lfdi] = runtime
        return device.lfdi

    async def control(
        self,
        envelope: ControlBase,
        *,
        group: str | None = "a",
        duration: int = 600,
        actor: str = "operator",
        start: int | None = None,
        **options: Any,
    ) -> Control:
        """A control of ``envelope`` from ``start`` (default: now) for ``duration`` seconds, for
        group ``GROUP-TAG`` (``a``: the two IEDs) or, with ``group=None``, for what ``options``
        name (``program=``); ``options`` may add a ``priority``."""
        if group is not None:
            options["group"] = f"{group}-{self.tag}"
        return await self.fleet.create_control(
            envelope,
            actor=actor,
            start=int(time.time()) if start is None else start,
            duration=duration,
            **options,
        )

    async def until(self, done: Callable[[], bool], timeout: float = 20.0) -> None:
        """Run dispatcher passes until ``done()`` (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.dispatcher.run_once()
            if done():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the dispatcher did not get there in time")

    async def summary_until(self, mrid: str, wanted: dict[int, int]) -> dict[int, int]:
        summary: dict[int, int] = {}
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            await self.dispatcher.run_once()
            summary = await self.fleet.response_summary(mrid)
            if all(summary.get(k, 0) >= v for k, v in wanted.items()):
                return summary
            await asyncio.sleep(0.05)
        raise AssertionError(f"responses {summary} never reached {wanted}")


@pytest.fixture
async def world(ejabberd_server: XmppService, tmp_path: Path) -> AsyncIterator[World]:
    """Group ``a-TAG`` with two simulated IEDs, group ``b-TAG`` with a site but no IED."""
    service = ejabberd_server
    tag = uuid.uuid4().hex[:6]
    async with Database(f"sqlite+aiosqlite:///{tmp_path / 'fleet.db'}") as db:
        await upgrade(db)
        audit = AuditLog(db, signer=ec.generate_private_key(ec.SECP256R1()))
        fleet = FleetService(db, audit)
        await fleet.add_group(Group(f"a-{tag}"), actor="test")
        await fleet.add_group(Group(f"b-{tag}"), actor="test")
        await fleet.add_site(Site(f"empty-{tag}", groups=frozenset({f"b-{tag}"})), actor="test")
        end = endpoint_for(service, f"ctr-{tag}", "centre", request_timeout=5.0)
        centre = ControlCentre(end, request_timeout=5.0)
        await centre.start()
        world = World(fleet, audit, centre, Dispatcher(fleet, audit, centre), service, tag=tag)
        for n in range(2):
            await world.add_ied(n, f"a-{tag}")
        try:
            yield world
        finally:
            for runtime in world.runtimes.values():
                await runtime.stop()
            await centre.stop()
