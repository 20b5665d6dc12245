"""Subscriptions and notifications over real TLS, including across a server restart."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from derlink.domain import ControlBase, Priority
from derlink.sep2.transport import server_context
from derlink.sep2.xml import DERControlList, Notification, Subscription, decode
from support.sep2 import free_port
from support.xsd import validate

from .conftest import Deployment


class Listener:
    """A device's notification endpoint: HTTPS with a certificate of the deployment's PKI."""

    def __init__(self, prefix: Path, cafile: Path) -> None:
        self.port = free_port()
        self.bodies: list[bytes] = []
        self.prefix = prefix
        self.cafile = cafile
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def start(self) -> None:
        context = server_context(
            certfile=self.prefix.with_suffix(".pem"),
            keyfile=self.prefix.with_suffix(".key"),
            cafile=self.cafile,
        )
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ssl_context_factory=lambda _c, _d: context,
            http="h11",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve()),  # type: ignore[union-attr]
            daemon=True,
        )
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/notify"

    def wait_for(self, needle: str, timeout: float = 30.0) -> bytes:
        """The first notification whose body mentions ``needle`` (an mRID)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in list(self.bodies):
                if needle.encode() in body:
                    return body
            time.sleep(0.05)
        raise AssertionError(f"no notification mentioning {needle} in {timeout} s")

    def wait(self, count: int, timeout: float = 20.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.bodies) < count:
            time.sleep(0.05)
        assert len(self.bodies) >= count, f"{len(self.bodies)} notifications, wanted {count}"
        return self.bodies


@pytest.fixture
def listener(deployment: Deployment) -> Iterator[Listener]:
    found = Listener(deployment.certs["listener"], deployment.home.pki_dir / "ca-bundle.pem")
    found.start()
    yield found
    found.stop()


def _dispatch(deployment: Deployment, group: str, watts: float) -> str:
    async def work(f: Any) -> Any:
        return await f.create_control(
            ControlBase(export_limit_w=watts),
            actor="test",
            start=int(time.time()),
            duration=600,
            group=group,
            priority=Priority.YELLOW,
        )

    return str(deployment.fleet(work).mrid)  # type: ignore[attr-defined]


def _subscribe(deployment: Deployment, listener: Listener, program: str) -> str:
    c = deployment.client("dev1")
    sub = Subscription(
        subscribedResource=f"/derp/{program}/derc",
        encoding=0,
        level="+S1",
        limit=10,
        notificationURI=listener.url,
    )
    created = c.send("POST", f"/edev/{deployment.sfdi('dev1')}/sub", sub, expect=201)
    location = created.headers["location"]
    got = c.obj(location)
    assert isinstance(got, Subscription) and got.notificationURI == listener.url
    return location


def test_subscriber_is_notified_of_a_new_control(
    deployment: Deployment, listener: Listener
) -> None:
    _dispatch(deployment, "feeder-1", 4000)  # creates the program feeder-1.yellow
    location = _subscribe(deployment, listener, "feeder-1.yellow")
    mrid = _dispatch(deployment, "feeder-1", 3000)
    body = listener.wait_for(mrid)
    validate(body)
    note = decode(body, Notification)
    assert note.subscribedResource == "/derp/feeder-1.yellow/derc"
    assert note.subscriptionURI == location and note.status == 0
    assert isinstance(note.Resource, DERControlList)
    assert mrid in {c.mRID.hex().upper() for c in note.Resource.DERControl}


def test_notifications_survive_a_server_restart(deployment: Deployment, listener: Listener) -> None:
    _dispatch(deployment, "feeder-1", 4000)
    _subscribe(deployment, listener, "feeder-1.yellow")
    deployment.server.stop()
    mrid = _dispatch(deployment, "feeder-1", 2500)  # the change waits in the outbox
    time.sleep(0.5)
    assert not any(mrid.encode() in b for b in listener.bodies)
    deployment.server.start()
    note = decode(listener.wait_for(mrid), Notification)
    assert isinstance(note.Resource, DERControlList)


def test_undeliverable_notifications_are_retried(deployment: Deployment) -> None:
    down = Listener(deployment.certs["listener"], deployment.home.pki_dir / "ca-bundle.pem")
    _dispatch(deployment, "feeder-1", 4000)
    _subscribe(deployment, down, "feeder-1.yellow")  # nobody listens on that port yet
    mrid = _dispatch(deployment, "feeder-1", 1500)
    time.sleep(1.0)
    down.start()
    try:
        down.wait_for(mrid)
    finally:
        down.stop()
