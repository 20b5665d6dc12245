"""A device may read a control from a fresher list than the read cache's snapshot (the cache
looks at the change outbox at most every 0.25 s): answers about "is this an event of that
program" must not refuse a control that exists just because the snapshot predates it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.audit import AuditLog
from derlink.domain import ControlBase, Group
from derlink.sep2.context import HeadEnd, HeadEndSettings
from derlink.store import Database, upgrade

NOW = 1_800_000_000


@pytest.fixture
async def headend(db_url: str, tmp_path: Path) -> AsyncIterator[HeadEnd]:
    async with Database(db_url) as db:
        await upgrade(db)
        log = AuditLog(db, signer=ec.generate_private_key(ec.SECP256R1()))
        yield HeadEnd(db, log, HeadEndSettings(pki_dir=tmp_path), clock=lambda: NOW)


async def test_a_control_newer_than_the_snapshot_is_an_event_of_its_program(
    headend: HeadEnd,
) -> None:
    fleet = headend.fleet
    await fleet.add_group(Group("feeder-1"), actor="t")
    first = await fleet.create_control(
        ControlBase(export_limit_w=5000), actor="t", start=NOW, duration=600, group="feeder-1"
    )
    program = first.program
    await headend.cache.refresh()
    assert await headend.is_control_of(program, first.mrid)  # the snapshot now holds one
    second = await fleet.create_control(
        ControlBase(export_limit_w=4000), actor="t", start=NOW, duration=600, group="feeder-1"
    )
    # The clock has not moved, so the cache has not looked at the outbox again: its snapshot
    # predates the second control, which a device may already have read elsewhere.
    assert second.mrid not in await headend.control_mrids(program)
    assert await headend.is_control_of(program, second.mrid)
    assert not await headend.is_control_of(program, "0" * 32)
