"""Telemetry ingest: readings per second made durable (target >= 5,000/s on PostgreSQL).

Workload: C devices, each over its own keep-alive mutual-TLS connection, POST to their
MirrorUsagePoint a MirrorMeterReadingList of 4 meters (W, var, Hz, V) x K readings, the way a
CSIP-AUS site posts its averages; every reading has a new time, so none is deduplicated. A
reading counts when the server answered 201, which it does only after the transaction that
stored it committed (SQLite WAL synchronous=FULL; PostgreSQL fsync). Method: the real server
(`derlink serve --workers 2`) and this generator share the machine's two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from deployment import Bench, cert_lfdi
from loadgen import Connection, RequestMaker, device_context, run_load

from derlink.sep2.xml import (
    DateTimeInterval,
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorReadingSet,
    MirrorUsagePoint,
    Reading,
    ReadingType,
    encode,
)

UOMS = (38, 63, 33, 29)
T0 = 1_790_000_000


def batch(device: int, i: int, per_meter: int) -> bytes:
    start = T0 + (i * per_meter) * 60
    meters = tuple(
        MirrorMeterReading(
            mRID=(device * 10 + m).to_bytes(16, "big"),
            MirrorReadingSet=(
                MirrorReadingSet(
                    mRID=(device * 1_000_000 + i * 10 + m).to_bytes(16, "big"),
                    timePeriod=DateTimeInterval(duration=60 * per_meter, start=start),
                    Reading=tuple(
                        Reading(
                            value=1000 + k,
                            timePeriod=DateTimeInterval(duration=60, start=start + 60 * k),
                        )
                        for k in range(per_meter)
                    ),
                ),
            ),
            ReadingType=ReadingType(kind=37, dataQualifier=2, uom=uom) if i == 0 else None,
        )
        for m, uom in enumerate(UOMS)
    )
    return encode(
        MirrorMeterReadingList(all=len(meters), results=len(meters), MirrorMeterReading=meters)
    )


async def measure(database: str, connected: int, per_meter: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), database, connected, connected)
        await bench.create()
        bench.start()
        try:
            cafile = bench.home.pki_dir / "ca-bundle.pem"
            contexts = [device_context(prefix, cafile) for prefix, _ in bench.certs]
            makers: list[RequestMaker] = []
            for n, (prefix, _) in enumerate(bench.certs):
                mup = MirrorUsagePoint(
                    mRID=(0xB000 + n).to_bytes(16, "big"),
                    roleFlags=b"\x00\x49",
                    serviceCategoryKind=0,
                    status=1,
                    deviceLFDI=bytes.fromhex(cert_lfdi(prefix)),
                )
                conn = Connection("127.0.0.1", bench.port, contexts[n])
                status, _ = await conn.request("POST", "/mup", encode(mup))
                assert status == 201, status
                await conn.close()
                makers.append(lambda i, n=n: ("POST", f"/mup/{n + 1}", batch(n, i, per_meter)))
            stats, span = await run_load("127.0.0.1", bench.port, contexts, makers, seconds)
        finally:
            await bench.destroy()
    ok = stats.statuses.get(201, 0)
    readings = ok * per_meter * len(UOMS)
    print(
        f"{database:10s} connections={connected:3d} readings/post={per_meter * len(UOMS):3d}: "
        f"{readings / span:8.0f} readings/s durable  ({ok / span:6.0f} posts/s, "
        f"p50 {stats.percentile(50) * 1000:.1f} ms, p99 {stats.percentile(99) * 1000:.1f} ms, "
        f"statuses {stats.statuses}, errors {stats.errors})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--per-meter", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql"], nargs="+", default=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    print(__doc__.strip().splitlines()[0])
    for database in args.database:
        asyncio.run(measure(database, args.connections, args.per_meter, args.seconds))


if __name__ == "__main__":
    main()
