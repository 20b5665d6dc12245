"""50 simulated DERs in this process against a real head-end: they enrol, poll, take a
dispatch (an export limit for every feeder) and the fleet's export visibly drops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from derlink.audit.service import open_audit_log
from derlink.config import load_config
from derlink.control.service import FleetService
from derlink.domain import ControlBase, Priority
from derlink.home import Home
from derlink.sep2.client import Backoff
from derlink.sim import FleetSim, SimRecord, enrol_fleet, sim_options
from support.sep2 import Server, derlink

DEVICES, GROUPS = 50, 3


async def _fleet(home: Home, work: Any) -> Any:
    url = load_config(home).database_url(home)
    async with open_audit_log(home, url, write=True) as log:
        return await work(FleetService(log.db, log))


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Home, Server, list[SimRecord]]]:
    home = Home(tmp_path_factory.mktemp("sim") / "home")
    derlink(home, "init")

    async def setup(f: FleetService) -> list[SimRecord]:
        records = await enrol_fleet(home, f, DEVICES, GROUPS, actor="test", now=datetime.now(UTC))
        await f.set_setting("deployment", "poll:*", "2", actor="test")
        await f.set_setting("deployment", "post:*", "5", actor="test")
        return records

    records = asyncio.run(_fleet(home, setup))
    server = Server(home).start()
    try:
        yield home, server, records
    finally:
        server.stop()


def test_enrolment_is_idempotent_and_groups_round_robin(
    deployment: tuple[Home, Server, list[SimRecord]],
) -> None:
    home, _, records = deployment
    again = asyncio.run(
        _fleet(
            home, lambda f: enrol_fleet(home, f, DEVICES, GROUPS, actor="t", now=datetime.now(UTC))
        )
    )
    assert again == records
    assert {r.group for r in records} == {"feeder-1", "feeder-2", "feeder-3"}
    assert len({r.lfdi for r in records}) == DEVICES
    devices = asyncio.run(_fleet(home, lambda f: f.devices()))
    assert {d.lfdi: d.pin for d in devices} == {r.lfdi: r.pin for r in records}


async def test_fifty_devices_take_a_dispatch_and_export_drops(
    deployment: tuple[Home, Server, list[SimRecord]],
) -> None:
    home, server, records = deployment
    noon_here = (12 - datetime.now(UTC).hour - datetime.now(UTC).minute / 60) % 24
    options = sim_options(
        DEVICES, stagger=2.0, sample_interval=1.0, backoff=Backoff(0.2, 2.0), status_interval=30.0
    )
    fleet = FleetSim(
        records, server.url, home.pki_dir / "ca-bundle.pem", options=options, tz_hours=noon_here
    )
    await fleet.start()
    try:
        await _until(lambda: fleet.summary().polling == DEVICES, 40, "all devices polling")
        await asyncio.sleep(1.5)  # a sample under no limits
        before = fleet.summary()
        assert before.export_w > DEVICES * 1000  # midday sun on 3-10 kW arrays

        async def dispatch(f: FleetService) -> list[str]:
            made = []
            for n in range(1, GROUPS + 1):
                control = await f.create_control(
                    ControlBase(export_limit_w=500),
                    actor="test",
                    start=int(time.time()),
                    duration=600,
                    group=f"feeder-{n}",
                    priority=Priority.RED,
                )
                made.append(control.mrid)
            return made

        started = time.monotonic()
        mrids = await _fleet(home, dispatch)
        await _until(lambda: fleet.summary().controlled == DEVICES, 20, "every device limited")
        took = time.monotonic() - started
        await asyncio.sleep(1.5)  # the next samples are taken under the limit
        after = fleet.summary()
        assert after.export_w <= DEVICES * 500 + 1e-3
        assert after.export_w < before.export_w / 2
        summaries = [await _fleet(home, lambda f, m=m: f.response_summary(m)) for m in mrids]
        assert sum(s.get(2, 0) for s in summaries) == DEVICES  # every device started it
        per_device = fleet.memory_per_device()
        print(
            f"\n{DEVICES} devices: dispatch applied fleet-wide in {took:.1f} s; export "
            f"{before.export_w / 1000:.0f} kW -> {after.export_w / 1000:.0f} kW; "
            f"{per_device / 1024:.0f} KiB RSS per device; {after.requests} requests"
        )
        assert per_device < 512 * 1024
    finally:
        await fleet.stop()


async def _until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)
