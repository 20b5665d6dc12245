"""Signed controls end to end: the real head-end (``derlink serve``, real TLS) and the real DER
client with ``require_signed``.

A control signed by an operator is verified by the device and applied; one whose signature does
not verify, one that is not signed and one past its validity window are refused, the refusal
reaches the head-end as a Response (253 / 254) and is audited; a control relayed unchanged by an
aggregator is still verified with the device's own trust anchors, a relay's edit is not.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from derlink.control.service import FleetService
from derlink.domain import (
    Control,
    ControlBase,
    Device,
    DeviceKind,
    Group,
    Priority,
    ResponseStatus,
    Site,
)
from derlink.e2e.commands import (
    MEDIA_TYPE,
    BadSignature,
    CounterCache,
    SignedCommand,
    Signer,
    Trust,
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
)
from derlink.sep2.client.convert import to_control
from derlink.sep2.client.signed import CommandTrust, check_control
from derlink.sep2.xml import DERControl, DERControlList, decode
from derlink.sim.physics import SiteSpec
from derlink.store.schema import AuditRecordRow
from derlink.store.schema_commands import SignedCommandRow
from support.sep2 import (
    RecordingDer,
    Sep2Client,
    Server,
    client_running,
    device_run_once,
    fleet_work,
    initialised_home,
)

PIN = 111115
PROGRAM = "feeder-1.yellow"


@dataclass
class World:
    home: Home
    server: Server
    root: Path
    pki: Pki
    issued: dict[str, Issued] = field(default_factory=dict)

    def signer(self, name: str = "alice") -> Signer:
        cert = self.issued[name]
        return Signer(cert.private_key, (cert.certificate, *cert.chain))

    def trust(self, state: Path) -> CommandTrust:
        roots = (self.pki.root_certificate,)
        return CommandTrust(Trust(roots, tuple(self.pki.crls())), state)

    async def fleet(self, work: Callable[[FleetService], Awaitable[Any]]) -> Any:
        return await fleet_work(self.home, work)

    def http(self, name: str) -> Sep2Client:
        return Sep2Client(self.server, self.root / name)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("signed")
    home, pki = initialised_home(root)
    now = datetime.now(UTC)
    world = World(home, Server(home), root, pki)
    world.issued["alice"] = pki.issue_operator("alice", [Role.OPERATOR], now=now)
    world.issued["rogue"] = Pki.create(root / "rogue", passphrase=None, now=now).issue_operator(
        "alice", [Role.OPERATOR], now=now
    )
    for name in ("dev", "aggdev"):
        world.issued[name] = pki.issue_device(f"SN-{name}", now=now)
    world.issued["agg"] = pki.issue_aggregator("vpp", [Role.OPERATOR], now=now)
    for name in ("dev", "aggdev", "agg"):
        world.issued[name].write(root / name)

    async def setup(f: FleetService) -> None:
        await f.add_group(Group("feeder-1"), actor="test")
        await f.add_site(Site("site-a", groups=frozenset({"feeder-1"})), actor="test")
        dev, agg, aggdev = (world.issued[n] for n in ("dev", "agg", "aggdev"))
        await f.enrol(Device(dev.lfdi, dev.sfdi, site="site-a", pin=PIN), actor="test")
        await f.enrol(Device(agg.lfdi, agg.sfdi, kind=DeviceKind.AGGREGATOR), actor="test")
        await f.enrol(
            Device(aggdev.lfdi, aggdev.sfdi, site="site-a", aggregator=agg.lfdi, pin=PIN),
            actor="test",
        )
        await f.set_setting("deployment", "poll:*", "1", actor="test")

    asyncio.run(world.fleet(setup))
    with world.server:
        yield world


class Recorder(RecordingDer):
    def __init__(self) -> None:
        spec = SiteSpec(pv_w=7000, inverter_w=5000, battery_wh=0, battery_w=0, seed=3, tz_hours=0)
        super().__init__(spec, "R3")


@asynccontextmanager
async def running(
    world: World, cert: str, device: str, state: Path
) -> AsyncIterator[tuple[DerClient, Recorder]]:
    recorder = Recorder()
    managed = [ManagedDevice(EndDeviceSpec.of(world.issued[device].lfdi, PIN), recorder)]
    options = ClientOptions(
        backoff=Backoff(0.2, 1.0),
        status_interval=5.0,
        require_signed=True,
        command_trust=world.trust(state),
    )
    credentials = Credentials.from_prefix(world.root / cert, world.home.pki_dir / "ca-bundle.pem")
    async with client_running(world.server.url, credentials, managed, options) as client:
        yield client, recorder


async def until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


async def dispatch(world: World, signer: Signer | None, **kw: Any) -> Control:
    async def work(f: FleetService) -> Control:
        await f.cancel_all(actor="test", group="feeder-1")
        return await f.create_control(
            ControlBase(**kw.pop("envelope", {"export_limit_w": 5000})),
            actor="test",
            start=int(time.time()),
            duration=600,
            group="feeder-1",
            priority=Priority.YELLOW,
            signer=signer,
            **kw,
        )

    control: Control = await world.fleet(work)
    return control


async def listed_control(http: Sep2Client, mrid: str) -> tuple[bytes, DERControl]:
    """The program's DERControlList (validated against the XSD) once it lists ``mrid`` (the
    head-end's read cache may lag a quarter of a second), and that DERControl."""
    deadline = time.monotonic() + 5
    while True:
        body = http.get(f"/derp/{PROGRAM}/derc?l=20").content
        listed = decode(body, DERControlList)
        assert isinstance(listed, DERControlList)
        for xml in listed.DERControl:
            if xml.mRID.hex().upper() == mrid:
                return body, xml
        assert time.monotonic() < deadline, f"{mrid} not listed"
        await asyncio.sleep(0.1)


async def responses_reach(world: World, mrid: str, wanted: dict[int, int]) -> None:
    deadline = time.monotonic() + 30
    while True:
        got: dict[int, int] = await world.fleet(lambda f: f.response_summary(mrid))
        if all(got.get(k, 0) >= v for k, v in wanted.items()):
            return
        assert time.monotonic() < deadline, (wanted, got)
        await asyncio.sleep(0.2)


async def refusals_audited(world: World, mrid: str) -> list[dict[str, Any]]:
    async def work(f: FleetService) -> list[dict[str, Any]]:
        async with f.db.sessions() as s:
            rows = await s.scalars(
                select(AuditRecordRow).where(
                    AuditRecordRow.action == "control.refused",
                    AuditRecordRow.target == f"control:{mrid}",
                )
            )
            return [{"event_id": r.event_id, **json.loads(r.details)} for r in rows.all()]

    found: list[dict[str, Any]] = await world.fleet(work)
    return found


R, S = ResponseStatus.EVENT_RECEIVED, ResponseStatus.EVENT_STARTED
INVALID, EXPIRED = ResponseStatus.REJECTED_INVALID, ResponseStatus.REJECTED_EXPIRED


async def test_a_signed_control_is_verified_and_applied(world: World, tmp_path: Path) -> None:
    control = await dispatch(world, world.signer(), envelope={"export_limit_w": 4200})
    http = world.http("dev")  # what a non-derlink client reads still validates against the XSD
    _, xml = await listed_control(http, control.mrid)
    assert xml.href is not None
    served = http.http.get(xml.href + "/sc")
    assert served.headers["content-type"] == MEDIA_TYPE
    assert SignedCommand.decode(served.content).command().mrid == control.mrid
    http.close()
    async with running(world, "dev", "dev", tmp_path) as (_, rec):
        await until(lambda: rec.envelope.export_limit_w == 4200, what="signed control applied")
        await responses_reach(world, control.mrid, {R: 1, S: 1})
    saved = (tmp_path / f"{world.issued['dev'].lfdi}.counters.json").read_text()
    assert world.signer().originator in saved


async def test_a_bad_signature_is_refused_answered_and_audited(
    world: World, tmp_path: Path
) -> None:
    control = await dispatch(world, world.signer(), envelope={"export_limit_w": 1000})

    async def tamper(f: FleetService) -> None:
        async with f.db.transaction() as s:
            row = await s.get(SignedCommandRow, control.mrid)
            assert row is not None
            signed = SignedCommand.decode(row.document)
            bad = bytearray(signed.content)
            bad[-1] ^= 0x01  # the export limit, one bit off
            document = SignedCommand(bytes(bad), signed.signature, signed.certificates).encode()
            await s.execute(
                update(SignedCommandRow)
                .where(SignedCommandRow.mrid == control.mrid)
                .values(document=document)
            )

    await world.fleet(tamper)
    async with running(world, "dev", "dev", tmp_path) as (client, rec):
        agent = client.agents[0]
        await until(lambda: agent.decision is not None, what="first decision")
        await responses_reach(world, control.mrid, {INVALID: 1})
        assert rec.envelope.export_limit_w != 1000
        assert agent.engine.state_of(control.mrid) is not None
    audited = await refusals_audited(world, control.mrid)
    assert audited and audited[0]["event_id"] == "Security:CommandRefused.1"
    assert audited[0]["status"] == 253 and audited[0]["device"] == world.issued["dev"].lfdi


async def test_unsigned_and_untrusted_controls_are_refused(world: World, tmp_path: Path) -> None:
    unsigned = await dispatch(world, None, envelope={"export_limit_w": 1100})
    async with running(world, "dev", "dev", tmp_path) as (_, rec):
        await responses_reach(world, unsigned.mrid, {INVALID: 1})
        rogue = await dispatch(world, world.signer("rogue"), envelope={"export_limit_w": 1200})
        await responses_reach(world, rogue.mrid, {INVALID: 1})
        assert rec.envelope.export_limit_w not in (1100, 1200)
    assert await refusals_audited(world, unsigned.mrid)
    assert await refusals_audited(world, rogue.mrid)


async def test_a_control_past_its_window_is_refused_with_254(world: World, tmp_path: Path) -> None:
    control = await dispatch(world, world.signer(), envelope={"export_limit_w": 1300}, valid_for=1)
    await asyncio.sleep(2.1)
    async with running(world, "dev", "dev", tmp_path) as (_, rec):
        await responses_reach(world, control.mrid, {EXPIRED: 1})
        assert rec.envelope.export_limit_w != 1300
    audited = await refusals_audited(world, control.mrid)
    assert audited and audited[0]["status"] == 254


async def test_a_control_relayed_by_an_aggregator_is_verified_by_the_device(
    world: World, tmp_path: Path
) -> None:
    control = await dispatch(world, world.signer(), envelope={"export_limit_w": 3300})
    relay = world.http("agg")  # the aggregator reads with its own certificate...
    body, xml = await listed_control(relay, control.mrid)
    assert xml.href is not None
    fetched = relay.http.get(xml.href + "/sc")
    assert fetched.status_code == 200, fetched.text
    document = fetched.content
    primacy = Priority.YELLOW.primacy
    relay.close()
    # ...and passes both on unchanged: the device checks them with its own trust anchors.
    device = world.issued["aggdev"].lfdi
    trust = world.trust(tmp_path)
    counters = CounterCache(trust.replay_window)
    now = int(time.time())
    verified = check_control(
        to_control("p", xml),
        primacy,
        document,
        lfdi=device,
        trust=trust,
        counters=counters,
        now=now,
    )
    assert verified.content.recipient.ids == ("feeder-1",)
    edited = decode(body.replace(b"<value>3300</value>", b"<value>9900</value>"), DERControlList)
    assert isinstance(edited, DERControlList)
    xml2 = next(c for c in edited.DERControl if c.mRID.hex().upper() == control.mrid)
    with pytest.raises(BadSignature):
        check_control(
            to_control("p", xml2),
            primacy,
            document,
            lfdi=device,
            trust=trust,
            counters=CounterCache(trust.replay_window),
            now=now,
        )
    with pytest.raises(BadSignature):  # a higher priority claimed by the relay
        check_control(
            to_control("p", xml),
            primacy - 1,
            document,
            lfdi=device,
            trust=trust,
            counters=CounterCache(trust.replay_window),
            now=now,
        )
    # The aggregator's own client, acting for its device, verifies and applies it too.
    async with running(world, "agg", "aggdev", tmp_path / "agg") as (_, rec):
        await until(lambda: rec.envelope.export_limit_w == 3300, what="relayed control applied")


def _device_run_once(world: World, state: Path) -> subprocess.CompletedProcess[str]:
    crl = world.home.pki_dir / "operator-ca.crl.pem"
    options = ("--require-signed", "--crl", str(crl), "--state", str(state))
    return device_run_once(world.home, world.root / "dev", world.server.url, PIN, *options)


async def test_device_run_require_signed_from_the_command_line(
    world: World, tmp_path: Path
) -> None:
    control = await dispatch(world, world.signer(), envelope={"export_limit_w": 2700})
    done = await asyncio.to_thread(_device_run_once, world, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "export_limit_w=2700" in done.stderr
    await responses_reach(world, control.mrid, {R: 1})
    unsigned = await dispatch(world, None, envelope={"export_limit_w": 2800})
    done = await asyncio.to_thread(_device_run_once, world, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "refuses control" in done.stderr and "export_limit_w=2800" not in done.stderr
    await responses_reach(world, unsigned.mrid, {INVALID: 1})
