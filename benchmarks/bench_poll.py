"""Device poll throughput and latency over mutual TLS with keep-alive (issue target: >= 2,000
requests/s, p99 < 50 ms, with 10,000 registered devices).

Workload: R registered devices (C of them connect, each with its own certificate, over one
keep-alive TLS 1.2 CCM-8 connection) poll what a CSIP client polls: EndDevice, FSA list, the
FSA's DERProgramList, the program's DERControlList, Time. Method: the real server
(`derlink serve --workers 2`) and this load generator share the machine's two cores; requests
are timed from write to last byte; 2 s warm-up excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from deployment import GROUPS, Bench
from loadgen import cycling_gets, device_context, run_load


def poll_paths(sfdi: int, group: str) -> list[str]:
    return [
        f"/edev/{sfdi}",
        f"/edev/{sfdi}/fsa?l=10",
        f"/edev/{sfdi}/fsa/{group}/derp?l=10",
        f"/derp/{group}.yellow/derc?l=10",
        "/tm",
    ]


async def measure(
    database: str, registered: int, connected: int, seconds: float, workers: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), database, registered, connected, workers=workers)
        await bench.create()
        bench.start()
        try:
            cafile = bench.home.pki_dir / "ca-bundle.pem"
            contexts = [device_context(prefix, cafile) for prefix, _ in bench.certs]
            makers = [
                cycling_gets(poll_paths(sfdi, GROUPS[i % 3]))
                for i, (_, sfdi) in enumerate(bench.certs)
            ]
            stats, span = await run_load("127.0.0.1", bench.port, contexts, makers, seconds)
        finally:
            await bench.destroy()
    rate = len(stats.latencies) / span
    print(
        f"{database:10s} registered={registered:6d} connections={connected:4d} "
        f"workers={workers}: {rate:7.0f} req/s  p50 {stats.percentile(50) * 1000:6.1f} ms  "
        f"p99 {stats.percentile(99) * 1000:6.1f} ms  errors {stats.errors}  "
        f"statuses {stats.statuses}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registered", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql"], nargs="+", default=["postgresql"]
    )
    args = parser.parse_args()
    print(__doc__.strip().splitlines()[0])
    for database in args.database:
        for registered in args.registered:
            asyncio.run(measure(database, registered, args.connections, args.seconds, args.workers))


if __name__ == "__main__":
    main()
