"""A lean HTTPS/1.1 load generator for the head-end: keep-alive connections, each with its own
device certificate, TLS 1.2 + CCM-8 as 2030.5 devices use; raw asyncio streams so that the
generator, which shares this machine's two cores with the server, costs as little as possible.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from derlink.sep2 import outbound
from derlink.sep2.transport import client_context
from derlink.sep2.xml import MEDIA_TYPE


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Connection(outbound.Connection):
    """derlink's own keep-alive client connection, sending 2030.5 XML bodies."""

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = MEDIA_TYPE
    ) -> tuple[int, bytes]:
        return await super().request(method, path, body, content_type if body else "")


def device_context(prefix: Path, cafile: Path) -> ssl.SSLContext:
    ctx = client_context(
        certfile=prefix.with_suffix(".pem"), keyfile=prefix.with_suffix(".key"), cafile=cafile
    )
    ctx.check_hostname = False
    return ctx


RequestMaker = Callable[[int], tuple[str, str, bytes]]


def cycling_gets(paths: Sequence[str]) -> RequestMaker:
    return lambda i: ("GET", paths[i % len(paths)], b"")


async def run_load(
    host: str,
    port: int,
    contexts: Sequence[ssl.SSLContext],
    makers: Sequence[RequestMaker],
    seconds: float,
    warmup: float = 2.0,
) -> tuple[Stats, float]:
    """Each connection sends ``maker(i)`` for i = 0, 1, ... for ``seconds`` after ``warmup``."""
    stats = Stats()
    start = time.perf_counter()
    measured_from = start + warmup
    stop = measured_from + seconds

    async def worker(ctx: ssl.SSLContext, make: RequestMaker) -> None:
        conn = Connection(host, port, ctx)
        i = 0
        try:
            while True:
                now = time.perf_counter()
                if now >= stop:
                    return
                method, path, body = make(i)
                i += 1
                try:
                    status, _ = await conn.request(method, path, body)
                except (OSError, asyncio.IncompleteReadError, ssl.SSLError, outbound.OutboundError):
                    stats.errors += 1
                    conn = Connection(host, port, ctx)
                    continue
                done = time.perf_counter()
                if now >= measured_from:
                    stats.add(status, done - now)
        finally:
            await conn.close()

    await asyncio.gather(*(worker(c, m) for c, m in zip(contexts, makers, strict=True)))
    return stats, seconds
