"""A lean HTTPS/1.1 load generator for the head-end: keep-alive connections, each with its own
device certificate, TLS 1.2 + CCM-8 as 2030.5 devices use; raw asyncio streams so that the
generator, which shares this machine's two cores with the server, costs as little as possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from derlink.sep2.transport import client_context


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


class Connection:
    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        self.host, self.port, self.context = host, port, context
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.context, server_hostname=None
        )

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None and self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\n"
        if body:
            head += f"content-type: application/sep+xml\r\ncontent-length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await self.writer.wait_closed()


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
                except (OSError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
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
