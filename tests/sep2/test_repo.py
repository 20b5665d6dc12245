"""The 2030.5 adapter's own tables on SQLite and PostgreSQL: readings are durable and
idempotent, subscriptions belong to their device."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.audit import AuditLog
from derlink.control.service import FleetService
from derlink.domain import Device
from derlink.sep2.repo import NewReading, Sep2Repo
from derlink.store import Database, upgrade
from derlink.store.schema import MirrorUsagePointRow

LFDI = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"


@pytest.fixture
async def repo(db_url: str) -> AsyncIterator[Sep2Repo]:
    async with Database(db_url) as db:
        await upgrade(db)
        fleet = FleetService(db, AuditLog(db, signer=ec.generate_private_key(ec.SECP256R1())))
        await fleet.enrol(Device(LFDI, 167261211391), actor="t")
        yield Sep2Repo(db)


async def test_readings_are_stored_once(repo: Sep2Repo) -> None:
    mup = await repo.add_mirror(
        MirrorUsagePointRow(
            mrid="AA" * 16,
            lfdi=LFDI,
            device_lfdi=LFDI,
            role_flags=0x49,
            service_category=0,
            status=1,
        )
    )
    readings = [NewReading(1_790_000_000 + 60 * i, 60, 1000 + i, 0) for i in range(50)]
    meter = ("BB" * 16, "avg W", "")
    [first] = await repo.store_meters(mup, [(meter, readings)], 1)
    [again] = await repo.store_meters(mup, [(meter, [*readings[10:], NewReading(5, 60, 7, 0)])], 2)
    assert first == again
    total, newest = await repo.readings(first, 0, 3)
    assert total == 51
    assert [r.value for r in newest] == [1049, 1048, 1047]


async def test_subscriptions_are_per_device(repo: Sep2Repo) -> None:
    sub = await repo.add_subscription(LFDI, "/derp/p/derc", "https://h/n", 5, 0, "+S1", 1)
    assert [s.id for s in await repo.subscriptions(LFDI)] == [sub]
    assert await repo.subscription("CC" * 20, sub) is None
    assert not await repo.delete_subscription("CC" * 20, sub)
    assert await repo.delete_subscription(LFDI, sub)
    assert await repo.subscriptions(LFDI) == []
