"""Audit log: appends per second (durable) and verification speed, SQLite and PostgreSQL.

Workload: N events appended one transaction each (as the control plane writes them), then
the same N in batches of 100; then a full verification. Method: wall clock around each phase on
this machine, fresh database each run. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.audit import AuditEvent, AuditLog
from derlink.store import Database, upgrade

PG_ADMIN = os.environ.get("DERLINK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def event(i: int) -> AuditEvent:
    return AuditEvent(
        action="control.create",
        target=f"group:feeder-{i % 7}",
        actor="bench",
        event_id="Control:Create.1",
        details={"export_limit_w": 5000, "i": i},
    )


async def run(url: str, label: str, n: int) -> None:
    async with Database(url) as db:
        await upgrade(db)
        log = AuditLog(db, signer=ec.generate_private_key(ec.SECP256R1()))
        t0 = time.perf_counter()
        for i in range(n):
            await log.append(event(i))
        single = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(0, n, 100):
            await log.append_many([event(j) for j in range(i, min(n, i + 100))])
        batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = await log.verify()
        verify = time.perf_counter() - t0
        assert result.ok, result.problem
    print(f"{label:10s} append, 1 per txn : {n / single:8.0f} records/s ({n} records)")
    print(f"{label:10s} append, 100 per txn: {n / batched:8.0f} records/s ({n} records)")
    print(
        f"{label:10s} verify            : {result.size / verify:8.0f} records/s "
        f"({result.size} records)"
    )


async def pg_database() -> tuple[str, str] | None:
    name = f"derlink_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        print(f"postgresql skipped: {err}")
        return None
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name, PG_ADMIN.rsplit("/", 1)[0] + "/" + name


async def drop(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def main(n: int) -> None:
    print(f"workload: {n} audit events, ECDSA P-256 signed tree head per record")
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite:///{tmp}/bench.db", "sqlite", n)
    pg = await pg_database()
    if pg is not None:
        try:
            await run(pg[1], "postgresql", n)
        finally:
            await drop(pg[0])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=2000, help="events per phase")
    asyncio.run(main(parser.parse_args().n))
