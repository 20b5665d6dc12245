"""The fleet service on SQLite and PostgreSQL: every change audited, refusals change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from derlink.audit import AuditLog
from derlink.control.errors import Conflict, ControlError, NotFound
from derlink.control.service import FleetService
from derlink.domain import (
    ControlBase,
    ControlStatus,
    Device,
    DeviceKind,
    DomainError,
    Group,
    Priority,
    Program,
    Response,
    ResponseStatus,
    Site,
)
from derlink.store import Database, upgrade
from derlink.store.schema import ChangeRow

LFDI = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"
AGG = "AA" * 20
NOW = 1_800_000_000


@pytest.fixture
async def fleet(db_url: str) -> AsyncIterator[FleetService]:
    async with Database(db_url) as db:
        await upgrade(db)
        log = AuditLog(db, signer=ec.generate_private_key(ec.SECP256R1()))
        yield FleetService(db, log, clock=lambda: NOW)


async def _setup(f: FleetService) -> None:
    await f.add_group(Group("feeder-1"), actor="t")
    await f.add_group(Group("feeder-2"), actor="t")
    await f.add_site(Site("site-a", groups=frozenset({"feeder-1"})), actor="t")
    await f.enrol(Device(lfdi=AGG, sfdi=111, kind=DeviceKind.AGGREGATOR), actor="t")
    await f.enrol(
        Device(lfdi=LFDI.lower(), sfdi=167261211391, site="site-a", aggregator=AGG, pin=123456),
        actor="t",
    )


async def test_fleet_round_trip_and_every_change_is_audited(fleet: FleetService) -> None:
    await _setup(fleet)
    device = await fleet.device(LFDI.lower())
    assert device is not None and device.lfdi == LFDI and device.aggregator == AGG
    assert [d.lfdi for d in await fleet.devices(aggregator=AGG)] == [LFDI]
    assert await fleet.device_groups(LFDI) == frozenset({"feeder-1"})
    result = await fleet.audit.verify()
    assert result.ok and result.size == 5
    async with fleet.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ChangeRow)) == 5


async def test_group_dispatch_creates_the_priority_program(fleet: FleetService) -> None:
    await _setup(fleet)
    control = await fleet.create_control(
        ControlBase(export_limit_w=5000),
        actor="op",
        start=NOW,
        duration=7200,
        group="feeder-1",
        priority=Priority.RED,
    )
    program = await fleet.program("feeder-1.red")
    assert program.primacy == Priority.RED.primacy and program.groups == {"feeder-1"}
    assert (await fleet.control(control.mrid)).base.export_limit_w == 5000
    assert [p.id for p in await fleet.programs(groups=frozenset({"feeder-1"}))] == ["feeder-1.red"]
    assert await fleet.programs(groups=frozenset({"feeder-2"})) == []
    cancelled = await fleet.cancel(control.mrid, actor="op")
    assert cancelled.status is ControlStatus.CANCELLED
    with pytest.raises(ControlError, match="already cancelled"):
        await fleet.cancel(control.mrid, actor="op")


async def test_cancel_all_and_responses(fleet: FleetService) -> None:
    await _setup(fleet)
    await fleet.add_program(Program("p1", primacy=5, groups=frozenset({"feeder-1"})), actor="t")
    made = [
        await fleet.create_control(
            ControlBase(max_limit_pct=50), actor="op", start=NOW + i, duration=60, program="p1"
        )
        for i in range(3)
    ]
    assert await fleet.cancel_all(actor="op", group="feeder-1") == 3
    await fleet.record_responses(
        [Response(made[0].mrid, LFDI, ResponseStatus.EVENT_RECEIVED, NOW)] * 2
        + [Response(made[0].mrid, AGG, ResponseStatus.EVENT_RECEIVED, NOW)]
    )
    assert await fleet.response_summary(made[0].mrid) == {1: 2}


@pytest.mark.parametrize(
    "bad",
    [
        lambda f: f.add_group(Group("feeder-1"), actor="t"),
        lambda f: f.add_site(Site("s2", groups=frozenset({"nope"})), actor="t"),
        lambda f: f.enrol(Device(lfdi=LFDI, sfdi=1), actor="t"),
        lambda f: f.enrol(Device(lfdi="BB" * 20, sfdi=167261211391), actor="t"),
        lambda f: f.enrol(Device(lfdi="BB" * 20, sfdi=5, aggregator=LFDI), actor="t"),
        lambda f: f.remove_device("CC" * 20, actor="t"),
        lambda f: f.create_control(
            ControlBase(export_limit_w=1), actor="t", start=NOW, duration=60, program="missing"
        ),
        lambda f: f.create_control(
            ControlBase(export_limit_w=1), actor="t", start=NOW - 100, duration=60, group="feeder-1"
        ),
        lambda f: f.create_control(
            ControlBase(export_limit_w=1), actor="t", start=NOW, duration=60
        ),
        lambda f: f.cancel("00" * 16, actor="t"),
    ],
)
async def test_refusals_change_nothing(fleet: FleetService, bad: object) -> None:
    await _setup(fleet)
    before = await fleet.audit.size()
    sites, devices = await fleet.sites(), await fleet.devices()
    with pytest.raises((ControlError, NotFound, Conflict)):
        await bad(fleet)  # type: ignore[operator]
    assert await fleet.audit.size() == before
    assert await fleet.sites() == sites and await fleet.devices() == devices
    assert await fleet.programs() == []


def test_domain_refuses_impossible_values() -> None:
    with pytest.raises(DomainError):
        ControlBase(export_limit_w=-1)
    with pytest.raises(DomainError):
        ControlBase(fixed_pf_inject=1.5)
    with pytest.raises(DomainError):
        Device(lfdi="xyz", sfdi=1)
    with pytest.raises(DomainError):
        Site("bad id with spaces")


async def test_bulk_enrolment_is_all_or_nothing(fleet: FleetService) -> None:
    await _setup(fleet)
    many = [Device(lfdi=f"{i:040X}", sfdi=1000 + i, site="site-a") for i in range(1, 201)]
    assert await fleet.enrol_many(many, actor="t") == 200
    assert len(await fleet.devices(site="site-a")) == 201
    before = await fleet.audit.size()
    again = [Device(lfdi="EE" * 20, sfdi=99), many[0]]
    with pytest.raises(Conflict):
        await fleet.enrol_many(again, actor="t")
    assert await fleet.device("EE" * 20) is None
    assert await fleet.audit.size() == before
