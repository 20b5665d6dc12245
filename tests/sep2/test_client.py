"""The DER client against the real head-end (``derlink serve`` in a subprocess, real TLS).

A module-scoped deployment: feeder-1 (sites a and c) polled every second, feeder-2 (site n)
polled every 120 s so that only a notification can bring a control in quickly; a device at
site a, one at site n, an aggregator with two devices at site c and a third it registers itself.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from derlink.control.service import FleetService
from derlink.domain import (
    Control,
    ControlBase,
    Device,
    DeviceKind,
    Group,
    Priority,
    Program,
    ResponseStatus,
    Site,
)
from derlink.home import Home
from derlink.pki import Issued, Pki, Role
from derlink.sep2.client import (
    Backoff,
    ClientOptions,
    Credentials,
    DerClient,
    EndDeviceSpec,
    ManagedDevice,
    NotifyEndpoint,
    NotRegistered,
    PinMismatch,
    SubscribePolicy,
    TransportFailure,
    open_client,
)
from derlink.sep2.xml import (
    DERCapability,
    DeviceInformation,
    MeterReadingList,
    MirrorUsagePointList,
    ReadingList,
    ReadingSetList,
    ReadingType,
    UsagePointList,
)
from derlink.sim.physics import SiteSpec
from support.sep2 import (
    RecordingDer,
    Sep2Client,
    Server,
    client_running,
    device_run_once,
    fleet_work,
    initialised_home,
)

PINS = {"dev": 111111, "devn": 222222, "agg1": 301, "agg2": 302}
TIMES: dict[str, float] = {}


@dataclass
class World:
    home: Home
    server: Server
    root: Path
    issued: dict[str, Issued] = field(default_factory=dict)

    @property
    def cafile(self) -> Path:
        return self.home.pki_dir / "ca-bundle.pem"

    def prefix(self, name: str) -> Path:
        return self.root / name

    def credentials(self, name: str, cafile: Path | None = None) -> Credentials:
        return Credentials.from_prefix(self.prefix(name), cafile or self.cafile)

    def lfdi(self, name: str) -> str:
        return self.issued[name].lfdi

    def sfdi(self, name: str) -> int:
        return self.issued[name].sfdi

    async def fleet(self, work: Callable[[FleetService], Awaitable[Any]]) -> Any:
        return await fleet_work(self.home, work)

    def http(self, name: str) -> Sep2Client:
        return Sep2Client(self.server, self.prefix(name))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("client")
    home, pki = initialised_home(root)
    now = datetime.now(UTC)
    world = World(home, Server(home), root)
    for name in ("dev", "devn", "agg1", "agg2", "agg3", "stranger"):
        world.issued[name] = pki.issue_device(f"SN-{name}", now=now)
    world.issued["agg"] = pki.issue_aggregator("vpp", [Role.OPERATOR], now=now)
    world.issued["notify"] = pki.issue_server(["127.0.0.1"], now=now)
    for name, cert in world.issued.items():
        cert.write(root / name)

    async def setup(f: FleetService) -> None:
        for group in ("feeder-1", "feeder-2"):
            await f.add_group(Group(group), actor="test")
        await f.add_site(
            Site("site-a", groups=frozenset({"feeder-1"}), connection_point_id="NMI0000001"),
            actor="test",
        )
        await f.add_site(Site("site-c", groups=frozenset({"feeder-1"})), actor="test")
        await f.add_site(Site("site-n", groups=frozenset({"feeder-2"})), actor="test")
        await f.add_program(
            Program("feeder-2.yellow", primacy=10, groups=frozenset({"feeder-2"})), actor="test"
        )
        for name, site in (("dev", "site-a"), ("devn", "site-n")):
            cert = world.issued[name]
            await f.enrol(Device(cert.lfdi, cert.sfdi, site=site, pin=PINS[name]), actor="test")
        agg = world.issued["agg"]
        await f.enrol(Device(agg.lfdi, agg.sfdi, kind=DeviceKind.AGGREGATOR), actor="test")
        for name in ("agg1", "agg2"):
            cert = world.issued[name]
            await f.enrol(
                Device(cert.lfdi, cert.sfdi, site="site-c", aggregator=agg.lfdi, pin=PINS[name]),
                actor="test",
            )
        await f.set_setting("deployment", "poll:*", "1", actor="test")
        await f.set_setting("deployment", "post:*", "2", actor="test")
        await f.set_setting("site:site-n", "poll:*", "120", actor="test")

    asyncio.run(world.fleet(setup))
    with world.server:
        yield world
    if TIMES:
        print("\nclient timings:", {k: f"{v:.2f} s" for k, v in TIMES.items()})


class Recorder(RecordingDer):
    """A simulated DER that records every envelope it is given."""

    def __init__(self, seed: int) -> None:
        spec = SiteSpec(
            pv_w=7000, inverter_w=5000, battery_wh=10000, battery_w=4000, seed=seed, tz_hours=0
        )
        super().__init__(spec, f"R{seed}")


def options(**changes: Any) -> ClientOptions:
    base: dict[str, Any] = {
        "sample_interval": 0.5,
        "backoff": Backoff(0.2, 1.0),
        "status_interval": 2.0,
        "keepalive": 30.0,
    }
    return ClientOptions(**{**base, **changes})


@asynccontextmanager
async def running(
    world: World,
    name: str,
    targets: list[tuple[str, int | None]],
    *,
    notify: bool = False,
    **changes: Any,
) -> AsyncIterator[tuple[DerClient, list[Recorder]]]:
    recorders = [Recorder(n + 7) for n in range(len(targets))]
    managed = [
        ManagedDevice(EndDeviceSpec.of(lfdi, pin), rec, rec)
        for (lfdi, pin), rec in zip(targets, recorders, strict=True)
    ]
    endpoint = None
    if notify:
        prefix = world.prefix("notify")
        endpoint = NotifyEndpoint(
            "127.0.0.1", 0, prefix.with_suffix(".pem"), prefix.with_suffix(".key")
        )
    async with client_running(
        world.server.url, world.credentials(name), managed, options(**changes), notify=endpoint
    ) as client:
        yield client, recorders


def device(world: World, name: str) -> list[tuple[str, int | None]]:
    return [(world.lfdi(name), PINS.get(name))]


async def until(check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> float:
    """Seconds until ``check()`` holds (AssertionError after ``timeout``)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what or check}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def dispatch(world: World, group: str, **envelope: Any) -> Control:
    async def work(f: FleetService) -> Control:
        return await f.create_control(
            ControlBase(**envelope),
            actor="test",
            start=int(time.time()),
            duration=600,
            group=group,
            priority=Priority.YELLOW,
        )

    control: Control = await world.fleet(work)
    return control


async def summary(world: World, mrid: str) -> dict[int, int]:
    found: dict[int, int] = await world.fleet(lambda f: f.response_summary(mrid))
    return found


async def responses_reach(world: World, mrid: str, wanted: dict[int, int]) -> None:
    async def check() -> bool:
        got = await summary(world, mrid)
        return all(got.get(k, 0) >= v for k, v in wanted.items())

    deadline = time.monotonic() + 15
    while not await check():
        assert time.monotonic() < deadline, (wanted, await summary(world, mrid))
        await asyncio.sleep(0.2)


async def clean(world: World, group: str = "feeder-1") -> None:
    await world.fleet(lambda f: f.cancel_all(actor="test", group=group))


R, S, C, X, SUP = (
    ResponseStatus.EVENT_RECEIVED,
    ResponseStatus.EVENT_STARTED,
    ResponseStatus.EVENT_COMPLETED,
    ResponseStatus.EVENT_CANCELLED,
    ResponseStatus.EVENT_SUPERSEDED,
)


async def test_discovery_registration_and_a_control_applied_within_one_poll(
    world: World,
) -> None:
    await clean(world)
    async with running(world, "dev", device(world, "dev")) as (client, (rec,)):
        agent = client.agents[0]
        await until(lambda: agent.decision is not None, what="first complete cycle")
        assert agent.walker.registered and agent.walker.end_device is not None
        assert agent.walker.end_device.sFDI == world.sfdi("dev")
        start = time.monotonic()
        control = await dispatch(world, "feeder-1", export_limit_w=5000)
        await until(lambda: rec.envelope.export_limit_w == 5000, what="5 kW export limit")
        TIMES["apply by poll (1 s)"] = time.monotonic() - start
        assert TIMES["apply by poll (1 s)"] < 3.0
        assert agent.decision is not None and control.mrid in agent.decision.in_force.events
        await responses_reach(world, control.mrid, {R: 1, S: 1})
        assert rec.sim.flows(time.time()).site_w >= -5000 - 1e-6
    http = world.http("dev")
    sfdi = world.sfdi("dev")
    cap = http.obj(f"/edev/{sfdi}/der/1/dercap")
    assert isinstance(cap, DERCapability) and cap.rtgMaxW.value * 10**cap.rtgMaxW.multiplier == 5000
    assert cap.doeModesSupported is not None and cap.doeModesSupported[0] & 0x01
    info = http.obj(f"/edev/{sfdi}/di")
    assert isinstance(info, DeviceInformation) and info.lFDI.hex().upper() == world.lfdi("dev")
    http.get(f"/edev/{sfdi}/der/1/ders")
    http.get(f"/edev/{sfdi}/der/1/dera")
    http.close()


async def test_a_superseded_control_is_answered_and_the_new_one_applied(world: World) -> None:
    await clean(world)
    async with running(world, "dev", device(world, "dev")) as (client, (rec,)):
        agent = client.agents[0]
        await until(lambda: agent.decision is not None)
        first = await dispatch(world, "feeder-1", export_limit_w=4000)
        await until(lambda: rec.envelope.export_limit_w == 4000)
        await responses_reach(world, first.mrid, {S: 1})
        await asyncio.sleep(1.0)  # a newer control needs a later creationTime
        second = await dispatch(world, "feeder-1", export_limit_w=2500)
        await until(lambda: rec.envelope.export_limit_w == 2500, what="superseding control")
        await responses_reach(world, first.mrid, {SUP: 1})
        await responses_reach(world, second.mrid, {R: 1, S: 1})
        assert agent.engine.state_of(first.mrid) is not None
        assert agent.engine.state_of(first.mrid).value == "superseded"  # type: ignore[union-attr]


async def test_a_cancelled_control_stops(world: World) -> None:
    await clean(world)
    async with running(world, "dev", device(world, "dev")) as (client, (rec,)):
        await until(lambda: client.agents[0].decision is not None)
        control = await dispatch(world, "feeder-1", export_limit_w=3000, connect=True)
        await until(lambda: rec.envelope.export_limit_w == 3000)
        await world.fleet(lambda f: f.cancel(control.mrid, actor="test"))
        await until(lambda: rec.envelope.export_limit_w is None, what="envelope released")
        await responses_reach(world, control.mrid, {X: 1})


async def test_the_client_rides_through_a_server_restart(world: World) -> None:
    await clean(world)
    async with running(world, "dev", device(world, "dev")) as (client, (rec,)):
        await until(lambda: client.agents[0].decision is not None)
        await asyncio.to_thread(world.server.stop)
        await asyncio.sleep(1.5)
        assert not client.online and client.failures >= 1
        await asyncio.to_thread(world.server.start)
        control = await dispatch(world, "feeder-1", export_limit_w=1800)
        await until(lambda: rec.envelope.export_limit_w == 1800, timeout=20, what="after restart")
        await until(lambda: client.online and client.failures == 0, what="back online")
        await responses_reach(world, control.mrid, {R: 1, S: 1})


async def test_a_notification_brings_a_control_in_before_the_next_poll(world: World) -> None:
    await clean(world, "feeder-2")
    async with running(
        world, "devn", device(world, "devn"), notify=True, subscribe=SubscribePolicy.ALWAYS
    ) as (client, (rec,)):
        agent = client.agents[0]
        await until(lambda: agent.decision is not None)
        await until(lambda: len(agent.subs.active) >= 1, what="subscription")
        assert any(r.endswith("/derc") for r in agent.subs.active)
        start = time.monotonic()
        control = await dispatch(world, "feeder-2", export_limit_w=2200)
        await until(lambda: rec.envelope.export_limit_w == 2200, timeout=10, what="notified")
        TIMES["apply by notification (poll 120 s)"] = time.monotonic() - start
        assert agent.stats.notifications >= 1
        await responses_reach(world, control.mrid, {R: 1, S: 1})
    async with running(world, "devn", device(world, "devn"), notify=True) as (client, _):
        agent = client.agents[0]
        await until(lambda: agent.decision is not None)
        assert not agent.subs.active  # AUTO: derlink advertises subscribable 0


async def test_telemetry_mirrors_follow_csip_aus(world: World) -> None:
    async with running(world, "dev", device(world, "dev")) as (client, _):
        agent = client.agents[0]
        await until(lambda: agent.stats.mirror_posts >= 4, timeout=20, what="two posts each")
    http = world.http("dev")
    mirrors = http.obj("/mup?l=10")
    assert isinstance(mirrors, MirrorUsagePointList)
    roles = {int.from_bytes(m.roleFlags, "big"): m for m in mirrors.MirrorUsagePoint}
    assert set(roles) == {0x03, 0x49}
    assert roles[0x49].postRate == 2
    for role, mup in roles.items():
        uoms = set()
        for meter in mup.MirrorMeterReading:
            rt = meter.ReadingType
            assert isinstance(rt, ReadingType)
            assert (rt.kind, rt.dataQualifier) == (37, 2)
            uoms.add(rt.uom)
        assert {38, 63, 33, 29} <= uoms
        assert (0 in uoms) == (role == 0x49)  # state of charge on the device mirror only
    points = http.obj("/upt?l=10")
    assert isinstance(points, UsagePointList)
    site = next(p for p in points.UsagePoint if p.roleFlags == b"\x00\x03")
    assert site.MeterReadingListLink is not None
    meters = http.obj(f"{site.MeterReadingListLink.href}?l=10")
    assert isinstance(meters, MeterReadingList) and meters.all == 4
    watts = next(m for m in meters.MeterReading if "power W" in (m.description or ""))
    assert watts.ReadingSetListLink is not None
    sets = http.obj(watts.ReadingSetListLink.href)
    assert isinstance(sets, ReadingSetList) and sets.ReadingSet[0].ReadingListLink is not None
    readings = http.obj(f"{sets.ReadingSet[0].ReadingListLink.href}?l=10")
    assert isinstance(readings, ReadingList) and readings.all >= 2
    assert all(r.timePeriod is not None and r.timePeriod.duration == 2 for r in readings.Reading)
    http.close()


async def test_aggregator_runs_three_end_devices_through_one_pool(world: World) -> None:
    await clean(world)
    targets = [(world.lfdi(n), PINS.get(n)) for n in ("agg1", "agg2", "agg3")]
    async with running(world, "agg", targets, max_connections=4) as (client, recs):
        third = client.agents[2]
        await until(lambda: third.walker.end_device is not None, what="agg3 registered by POST")
        enrolled = await world.fleet(lambda f: f.device(world.lfdi("agg3")))
        assert enrolled is not None and enrolled.aggregator == world.lfdi("agg")
        await world.fleet(lambda f: f.move_device(world.lfdi("agg3"), "site-c", actor="test"))
        await until(lambda: all(a.decision is not None for a in client.agents))
        control = await dispatch(world, "feeder-1", export_limit_w=3300)
        await until(lambda: all(r.envelope.export_limit_w == 3300 for r in recs), what="all 3")
        await responses_reach(world, control.mrid, {R: 3, S: 3})
        assert len({id(a.http) for a in client.agents}) == 1


async def test_a_pin_mismatch_stops_the_client(world: World) -> None:
    target = [(world.lfdi("dev"), 999999)]
    recorder = Recorder(1)
    managed = [ManagedDevice(EndDeviceSpec.of(*target[0]), recorder, recorder)]
    async with open_client(world.server.url, world.credentials("dev"), managed, options()) as c:
        with pytest.raises(PinMismatch, match="PIN"):
            await asyncio.wait_for(c.run(once=True), 15)
    assert recorder.history == []


async def test_an_unregistered_certificate_is_told_so(world: World) -> None:
    recorder = Recorder(3)
    managed = [ManagedDevice(EndDeviceSpec.of(world.lfdi("stranger")), recorder)]
    async with open_client(
        world.server.url, world.credentials("stranger"), managed, options(once=True)
    ) as client:
        with pytest.raises(NotRegistered, match="403"):
            await asyncio.wait_for(client.run(once=True), 15)
    assert recorder.history == []


async def test_a_server_that_cannot_be_authenticated_is_refused(
    world: World, tmp_path: Path
) -> None:
    other = Pki.create(tmp_path / "other-pki", passphrase=None, now=datetime.now(UTC))
    recorder = Recorder(2)
    managed = [ManagedDevice(EndDeviceSpec.of(world.lfdi("dev"), PINS["dev"]), recorder)]
    credentials = world.credentials("dev", cafile=other.paths.ca_bundle)
    async with open_client(world.server.url, credentials, managed, options()) as client:
        with pytest.raises(TransportFailure, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
            await client.step(time.time())
    assert recorder.history == []


def _device_run_once(world: World, pin: int) -> subprocess.CompletedProcess[str]:
    return device_run_once(world.home, world.prefix("dev"), world.server.url, pin)


def test_device_run_once_from_the_command_line(world: World) -> None:
    done = _device_run_once(world, PINS["dev"])
    assert done.returncode == 0, done.stderr
    assert f"EndDevice {world.sfdi('dev')} applies" in done.stderr
    wrong = _device_run_once(world, 1)
    assert wrong.returncode != 0 and "PIN" in wrong.stderr
