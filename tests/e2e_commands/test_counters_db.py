"""The originator counter in the database: strictly increasing, never reused, per originator,
under concurrent signers, on SQLite and PostgreSQL; a refused signing allocates nothing."""

from __future__ import annotations

import asyncio

import pytest

from derlink.control.errors import ControlError
from derlink.control.signing import next_counter
from derlink.store.database import Database
from derlink.store.migrate import upgrade
from derlink.store.schema_commands import OriginatorCounterRow


async def test_counters_are_strictly_increasing_and_unique(db_url: str) -> None:
    async with Database(db_url) as db:
        await upgrade(db)

        async def allocate(originator: str) -> int:
            async with db.transaction() as s:
                return await next_counter(s, originator)

        got = await asyncio.gather(*(allocate("CN=alice") for _ in range(40)))
        assert sorted(got) == list(range(1, 41))
        assert await allocate("CN=bob") == 1
        with pytest.raises(RuntimeError):
            async with db.transaction() as s:
                await next_counter(s, "CN=alice")
                raise RuntimeError("the signing failed after allocation")
        assert await allocate("CN=alice") == 41  # the rolled-back allocation left no gap
        async with db.transaction() as s:
            row = await s.get(OriginatorCounterRow, "otc:pair")
            assert row is None
            assert await next_counter(s, "otc:pair", limit=1) == 1
        with pytest.raises(ControlError, match="exhausted"):
            async with db.transaction() as s:
                await next_counter(s, "otc:pair", limit=1)
