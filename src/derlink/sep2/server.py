"""Running the head-end: the application, its background work, and its worker processes.

``serve`` starts ``workers`` processes that each bind the port with SO_REUSEPORT (the kernel
spreads connections) and share state only through the database: run several nodes on
PostgreSQL behind a load balancer the same way. Each process runs the change consumer (one
holds the lease at a time) and a notification deliverer (rows are claimed, never shared).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from derlink.audit.anomaly import AnomalyDetector, Thresholds
from derlink.audit.log import AuditLog
from derlink.audit.service import load_signer
from derlink.config import load_config
from derlink.domain import Program
from derlink.home import Home
from derlink.sep2 import (
    res_curves,
    res_der,
    res_device,
    res_drlc,
    res_files,
    res_messaging,
    res_metering,
    res_pricing,
    res_pubsub,
    res_response,
)
from derlink.sep2.app import Router, Sep2App
from derlink.sep2.context import HeadEnd, HeadEndSettings
from derlink.sep2.notify import ChangeConsumer, Deliverer
from derlink.sep2.outbound import OutboundClient
from derlink.sep2.transport import TLSHttpToolsProtocol, client_context, server_context
from derlink.sep2.xml import Sep2Object
from derlink.store.database import Database
from derlink.store.migrate import require_current

log = logging.getLogger("derlink.sep2")

CONSUME_EVERY = 0.2
DELIVER_EVERY = 0.2
CRL_CHECK_EVERY = 600.0


def build_router() -> Router:
    router = Router()
    for module in (
        res_device,
        res_der,
        res_curves,
        res_pricing,
        res_drlc,
        res_messaging,
        res_files,
        res_response,
        res_pubsub,
        res_metering,
    ):
        module.register(router)
    return router


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Everything a worker process needs; plain values so it pickles to spawned workers."""

    home: str
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8443
    workers: int = 1
    tls13: bool = False
    registration: str = "preregistered"
    default_poll_rate: int = 900
    csipaus_ns: str = "https://csipaus.org/ns/v1.3"
    max_body_bytes: int = 256 * 1024
    trusted_header: str | None = None
    access_log: bool = False
    passphrase_env: str = "DERLINK_PKI_PASSPHRASE"


class Background:
    """The change consumer and the notification deliverer of one process."""

    def __init__(self, headend: HeadEnd, tls: Any, home: Home, passphrase_env: str) -> None:
        self.headend = headend
        self.home = home
        self.passphrase_env = passphrase_env
        node = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.consumer = ChangeConsumer(
            headend.db,
            render=lambda program, target: self._render(program, target),
            programs=headend.fleet.program,
            node=node,
            clock=headend.clock,
        )
        self.deliverer = Deliverer(headend.db, tls, headend.clock, node=node)
        self.tasks: list[asyncio.Task[None]] = []
        self.client = OutboundClient(tls)

    async def _render(self, program: Program, target: str) -> Sep2Object | None:
        # a change is being announced: render from the database, never from a stale snapshot
        self.headend.cache.forget()
        return await res_der.render(self.headend, program, target)

    def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self._loop(self.consumer.run_once, CONSUME_EVERY)),
            asyncio.create_task(
                self._loop(lambda: self.deliverer.run_once(self.client), DELIVER_EVERY)
            ),
        ]

    async def _loop(self, step: Callable[[], Any], pause: float) -> None:
        while True:
            try:
                busy = await step()
            except Exception:
                log.exception("background step failed; retrying")
                busy = 0
            if not busy:
                await asyncio.sleep(pause)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.consumer.release()
        await self.client.close()


async def open_app(options: ServeOptions, clock: Callable[[], float] = time.time) -> Sep2App:
    """The application over the data directory's database, audit key and PKI."""
    home = Home(Path(options.home))
    db = Database(options.database_url)
    await require_current(db)
    audit = AuditLog(db, signer=load_signer(home))
    settings = HeadEndSettings(
        pki_dir=home.pki_dir,
        registration=options.registration,
        default_poll_rate=options.default_poll_rate,
        csipaus_ns=options.csipaus_ns,
        max_body_bytes=options.max_body_bytes,
        trusted_header=options.trusted_header,
    )
    thresholds = Thresholds.from_config(load_config(home).anomaly)
    headend = HeadEnd(db, audit, settings, clock=clock, anomaly=AnomalyDetector(thresholds))
    app = Sep2App(headend, build_router())
    tls = client_context(
        certfile=home.pki_dir / "server.pem",
        keyfile=home.pki_dir / "server.key",
        cafile=home.pki_dir / "ca-bundle.pem",
    )
    # A subscriber's endpoint may present its 2030.5 device certificate, which names no host:
    # the chain to this PKI is verified, the host name cannot be.
    tls.check_hostname = False
    background = Background(headend, tls, home, options.passphrase_env)
    app.on_startup.append(background.start)
    app.on_shutdown.append(background.stop)
    return app


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Sep2App, options: ServeOptions) -> uvicorn.Config:
    home = Home(Path(options.home))
    context = server_context(
        certfile=home.pki_dir / "server.pem",
        keyfile=home.pki_dir / "server.key",
        cafile=home.pki_dir / "ca-bundle.pem",
        tls13=options.tls13,
    )
    return uvicorn.Config(
        app,
        http=TLSHttpToolsProtocol,
        loop="uvloop",
        lifespan="on",
        interface="asgi3",
        access_log=options.access_log,
        log_level="warning",
        timeout_keep_alive=120,
        timeout_graceful_shutdown=5,
        ssl_context_factory=lambda _config, _default: context,
        server_header=False,
    )


async def serve_in_process(options: ServeOptions, sock: socket.socket | None = None) -> None:
    """One worker: the application on ``sock`` (or a new socket on host:port) until stopped."""
    app = await open_app(options)
    server = uvicorn.Server(uvicorn_config(app, options))
    own = sock is None
    sock = sock or _listening_socket(options.host, options.port)
    try:
        await server.serve(sockets=[sock])
    finally:
        if own:
            sock.close()


def _worker(options: ServeOptions) -> None:
    sock = _listening_socket(options.host, options.port)
    import uvloop

    uvloop.run(serve_in_process(options, sock))


def serve(options: ServeOptions, ready: Callable[[], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM with ``options.workers`` processes."""
    if options.workers == 1:
        import uvloop

        if ready is not None:
            ready()
        uvloop.run(serve_in_process(options))
        return
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=_worker, args=(options,), daemon=False) for _ in range(options.workers)
    ]
    for worker in workers:
        worker.start()
    if ready is not None:
        ready()
    stop = {"now": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop["now"] and all(w.is_alive() for w in workers):
        time.sleep(0.2)
    for worker in workers:
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)
    for worker in workers:
        worker.join(timeout=10)
