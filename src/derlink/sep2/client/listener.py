"""The client's notification endpoint: a small ASGI app over HTTPS with mutual TLS.

The head-end POSTs Notifications (IEEE 2030.5-2018 §9.3) to the ``notificationURI`` a client
subscribed with, here ``{base}/notify/{sfdi}``. The endpoint requires a client certificate
chained to the configured CA (``server_context``), decodes the body with the codec (a
Notification or a NotificationList; anything else is a 400), and hands each notification to the
handler of that EndDevice, which only brings the next fetch of the subscribed resource forward:
nothing a notification carries is applied as such, so nothing reaches the device that did not
come over the client's own authenticated channel to its server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from derlink.sep2.transport import server_context
from derlink.sep2.xml import (
    Notification,
    NotificationList,
    Sep2DecodeError,
    Sep2TooLarge,
    decode,
)

log = logging.getLogger("derlink.sep2.client")
Handler = Callable[[Notification], bool]
PREFIX = "/notify/"


class NotificationListener:
    """Serves ``/notify/{key}`` on ``host:port`` (port 0: any free port, see :attr:`port`)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        certfile: Path,
        keyfile: Path,
        cafile: Path,
        public_url: str | None = None,
        max_bytes: int = 256 * 1024,
    ) -> None:
        self.host = host
        self.port = port
        self.certfile, self.keyfile, self.cafile = certfile, keyfile, cafile
        self.public_url = public_url
        self.max_bytes = max_bytes
        self.handlers: dict[str, Handler] = {}
        self.received = 0
        self.server: uvicorn.Server | None = None

    def uri(self, key: str) -> str:
        base = self.public_url or f"https://{self.host}:{self.port}"
        return f"{base.rstrip('/')}{PREFIX}{key}"

    def register(self, key: str, handler: Handler) -> str:
        self.handlers[key] = handler
        return self.uri(key)

    async def start(self) -> None:
        context = server_context(certfile=self.certfile, keyfile=self.keyfile, cafile=self.cafile)
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            ssl_context_factory=lambda _config, _default: context,
            http="h11",
            interface="asgi3",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup()
        self.server = server
        if self.port == 0 and server.servers:
            self.port = int(server.servers[0].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.server.force_exit = True  # do not wait for the notifier's kept-alive connection
            await self.server.shutdown()
            self.server = None

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        status = await self._handle(scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _handle(self, scope: dict[str, Any], receive: Any) -> int:
        path = str(scope.get("path", ""))
        handler = self.handlers.get(path.removeprefix(PREFIX)) if path.startswith(PREFIX) else None
        if scope.get("method") != "POST":
            return 405
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return 413
            more = message.get("more_body", False)
        if handler is None:
            return 404
        try:
            doc = decode(bytes(body), (Notification, NotificationList), max_bytes=self.max_bytes)
        except (Sep2DecodeError, Sep2TooLarge) as err:
            log.warning("refused a notification to %s: %s", path, err)
            return 400
        if isinstance(doc, NotificationList):
            notes = doc.Notification
        elif isinstance(doc, Notification):
            notes = (doc,)
        else:
            return 400
        self.received += len(notes)
        known = [handler(note) for note in notes]
        return 204 if all(known) else 404
