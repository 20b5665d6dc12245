"""Opening a client: TLS context, connection pool, notification endpoint, all closed together.

::

    async with open_client(server, credentials, [ManagedDevice(spec, driver, meter)]) as client:
        await client.run()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from derlink.sep2.client.client import DerClient, ManagedDevice
from derlink.sep2.client.config import ClientOptions, Credentials
from derlink.sep2.client.http import CommandVerifier, Sep2Http
from derlink.sep2.client.listener import NotificationListener


@dataclass(frozen=True, slots=True)
class NotifyEndpoint:
    """Where the client listens for notifications, and with which certificate (the device's
    own by default; a head-end that checks host names needs one issued for ``host``)."""

    host: str
    port: int
    certfile: Path | None = None
    keyfile: Path | None = None
    public_url: str | None = None


def limits(options: ClientOptions) -> httpx.Limits:
    return httpx.Limits(
        max_connections=options.max_connections,
        max_keepalive_connections=options.max_connections,
        keepalive_expiry=options.keepalive,
    )


def split_server(server: str, options: ClientOptions) -> tuple[str, ClientOptions]:
    """``https://host:port/path``: the origin, and the path as the DeviceCapability link."""
    parts = urlsplit(server)
    if parts.scheme != "https":
        from derlink.sep2.client.errors import ClientError

        raise ClientError(f"the server URL must be https://, not {server!r}")
    if parts.path not in ("", "/"):
        options = replace(options, dcap_path=parts.path)
    return f"https://{parts.netloc}", options


@asynccontextmanager
async def open_client(
    server: str,
    credentials: Credentials,
    devices: Sequence[ManagedDevice],
    options: ClientOptions | None = None,
    *,
    notify: NotifyEndpoint | None = None,
    verifier: CommandVerifier | None = None,
    check_hostname: bool = False,
) -> AsyncIterator[DerClient]:
    origin, opts = split_server(server, options or ClientOptions())
    context = credentials.tls(check_hostname=check_hostname)
    listener = None
    async with httpx.AsyncClient(
        verify=context, limits=limits(opts), timeout=opts.timeout, http2=False
    ) as client:
        http = Sep2Http(
            client,
            origin,
            verifier=verifier,
            max_bytes=opts.max_body_bytes,
            page_size=opts.page_size,
        )
        if notify is not None:
            listener = NotificationListener(
                notify.host,
                notify.port,
                certfile=notify.certfile or credentials.certfile,
                keyfile=notify.keyfile or credentials.keyfile,
                cafile=credentials.cafile,
                public_url=notify.public_url,
            )
            await listener.start()
        try:
            yield DerClient(http, devices, opts, listener=listener)
        finally:
            if listener is not None:
                await listener.stop()
