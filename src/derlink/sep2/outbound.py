"""A lean HTTP/1.1 client for the head-end's outbound notifications.

A notification is one small POST, and thousands go to few endpoints (an aggregator's, a
gateway's) at once; a general client's per-request pool bookkeeping becomes the cost. This
one keeps a few keep-alive connections per (host, port), writes the request in one go and reads
the status line, headers and Content-Length body. TLS with the head-end's own client context.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEADER_LINES = 100


class OutboundError(Exception):
    """The endpoint could not be reached or answered something that is not HTTP."""


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None) -> None:
        self.host, self.port, self.context = host, port, context
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host,
            self.port,
            ssl=self.context,
            server_hostname=self.host if self.context else None,
        )

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = ""
    ) -> tuple[int, bytes]:
        """Send one request and read its answer (Content-Length framed)."""
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None and self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"content-length: {len(body)}\r\n"
        if content_type:
            head += f"content-type: {content_type}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise OutboundError(f"not an HTTP answer: {status_line[:60]!r}")
        headers: dict[bytes, bytes] = {}
        for _ in range(MAX_HEADER_LINES):
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get(b"transfer-encoding") == b"chunked":
            payload = await self._chunks()
        else:
            length = int(headers.get(b"content-length") or b"0")
            payload = await self.reader.readexactly(length) if length else b""
        if headers.get(b"connection") == b"close":
            await self.close()
        return int(parts[1]), payload

    async def _chunks(self) -> bytes:
        """A chunked body (RFC 9112 7.1), trailers skipped."""
        assert self.reader is not None
        body = b""
        while True:
            size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await self.reader.readline()) not in (b"\r\n", b""):
                    pass
                return body
            body += await self.reader.readexactly(size)
            await self.reader.readline()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ssl.SSLError, ConnectionError, OSError, TimeoutError):
                await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        self.reader = self.writer = None


@dataclass
class OutboundClient:
    """POSTs to many endpoints over a few pooled connections per endpoint."""

    context: ssl.SSLContext | None
    per_endpoint: int = 8
    timeout: float = 10.0
    _idle: dict[tuple[str, str, int], list[Connection]] = field(default_factory=dict)
    _gates: dict[tuple[str, str, int], asyncio.Semaphore] = field(default_factory=dict)

    async def post(self, url: str, body: bytes, content_type: str) -> int:
        """The status the endpoint answered; OutboundError/OSError when it could not."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OutboundError(f"cannot deliver to {url!r}")
        tls = parts.scheme == "https"
        key = (parts.scheme, parts.hostname, parts.port or (443 if tls else 80))
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        gate = self._gates.setdefault(key, asyncio.Semaphore(self.per_endpoint))
        async with gate:
            idle = self._idle.setdefault(key, [])
            conn = idle.pop() if idle else Connection(key[1], key[2], self.context if tls else None)
            try:
                status, _ = await asyncio.wait_for(
                    conn.request("POST", path, body, content_type), self.timeout
                )
            except (
                OSError,
                OutboundError,
                asyncio.IncompleteReadError,
                TimeoutError,
                ValueError,
            ) as err:
                await conn.close()
                raise OutboundError(f"{type(err).__name__}: {err}") from None
            idle.append(conn)
            return status

    async def close(self) -> None:
        for connections in self._idle.values():
            for conn in connections:
                await conn.close()
        self._idle.clear()
