"""Memory on the server per registered device and per connected device.

Workload: a deployment with R registered devices, one worker; C devices connect over mutual
TLS and poll for 5 s, keeping their connections open. Method: resident set size (RSS, from
/proc) of the worker process after start-up and after the polling, for R = 1,000 and 10,000;
per registered device = difference between the two R runs / 9,000, per connection = growth
during polling / C. (Memory per *simulated* device is measured by the simulator's benchmark.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench_poll import poll_paths
from deployment import GROUPS, Bench
from loadgen import cycling_gets, device_context, run_load


def rss_of_worker(parent: int) -> int:
    """RSS in bytes of the serving process (the child worker, or the parent itself)."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    pids = children.read_text().split() if children.exists() else []
    pid = int(pids[0]) if pids else parent
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def measure(registered: int, connected: int) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), "postgresql", registered, connected, workers=1)
        await bench.create()
        bench.start()
        try:
            assert bench.server is not None
            time.sleep(1.0)
            idle = rss_of_worker(bench.server.pid)
            cafile = bench.home.pki_dir / "ca-bundle.pem"
            contexts = [device_context(prefix, cafile) for prefix, _ in bench.certs]
            makers = [
                cycling_gets(poll_paths(s, GROUPS[i % 3])) for i, (_, s) in enumerate(bench.certs)
            ]
            await run_load("127.0.0.1", bench.port, contexts, makers, 5.0, warmup=0.5)
            busy = rss_of_worker(bench.server.pid)
        finally:
            await bench.destroy()
    print(
        f"registered={registered:6d} connected={connected:4d}: RSS idle {idle / 2**20:7.1f} MiB,"
        f" after polling {busy / 2**20:7.1f} MiB"
    )
    return idle, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()
    print(__doc__.strip().splitlines()[0])
    small = asyncio.run(measure(1000, args.connections))
    large = asyncio.run(measure(10000, args.connections))
    per_registered = (large[1] - small[1]) / 9000
    per_connection = (large[1] - large[0]) / args.connections
    print(
        f"per registered device: {per_registered:8.0f} bytes; "
        f"per connected, polling device: {per_connection / 1024:6.1f} KiB"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
