"""A real head-end for tests: ``derlink serve`` in a subprocess over real TLS, and clients.

Each client speaks as a 2030.5 device would: TLS 1.2, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, its
own certificate; every XML body the server answers is validated against the XSD.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from derlink.audit.service import open_audit_log
from derlink.config import load_config
from derlink.control.service import FleetService
from derlink.domain import ControlBase
from derlink.home import Home
from derlink.pki import Pki
from derlink.sep2.client import (
    ClientOptions,
    Credentials,
    DerClient,
    ManagedDevice,
    NotifyEndpoint,
    open_client,
)
from derlink.sep2.client.device import DerState, Nameplate
from derlink.sep2.client.telemetry import Sample
from derlink.sep2.transport import client_context
from derlink.sep2.xml import MEDIA_TYPE, Sep2Object, decode, encode
from derlink.sim.der import SimulatedDer, nameplate_of
from derlink.sim.physics import Household, SiteSpec
from support.xsd import validate

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def derlink(home: Home, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the derlink command (a real process) and return its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "derlink.cli.main", "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"derlink {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def initialised_home(root: Path) -> tuple[Home, Pki]:
    """``ROOT/home`` made by ``derlink init`` (a real process), and its PKI."""
    home = Home(root / "home")
    derlink(home, "init")
    return home, Pki.open(home.pki_dir, passphrase=None)


async def fleet_work(home: Home, work: Callable[[FleetService], Awaitable[T]]) -> T:
    """``work`` on the fleet of ``home``'s database, audited in its signed log."""
    url = load_config(home).database_url(home)
    async with open_audit_log(home, url, write=True) as log:
        return await work(FleetService(log.db, log))


class RecordingDer:
    """A simulated household DER (``derlink.sim``) as the DER client drives it; ``history``
    holds every envelope it was given, with the monotonic time."""

    def __init__(self, spec: SiteSpec, name: str) -> None:
        self.sim = SimulatedDer(Household(spec, now=time.time()), nameplate_of(spec, name))
        self.history: list[tuple[float, ControlBase]] = []

    def nameplate(self) -> Nameplate:
        return self.sim.nameplate()

    async def set_envelope(self, envelope: ControlBase) -> None:
        self.history.append((time.monotonic(), envelope))
        await self.sim.set_envelope(envelope)

    def state(self, now: float) -> DerState:
        return self.sim.state(now)

    def sample(self, now: float) -> Sample:
        return self.sim.sample(now)

    @property
    def envelope(self) -> ControlBase:
        return self.sim.envelope


@asynccontextmanager
async def client_running(
    server_url: str,
    credentials: Credentials,
    devices: Sequence[ManagedDevice],
    options: ClientOptions,
    *,
    notify: NotifyEndpoint | None = None,
) -> AsyncIterator[DerClient]:
    """The DER client for ``devices``, running for the block, then stopped (within 10 s)."""
    async with open_client(server_url, credentials, devices, options, notify=notify) as client:
        task = asyncio.create_task(client.run())
        try:
            yield client
        finally:
            client.stop()
            await asyncio.wait_for(task, 10)


def device_run_once(
    home: Home, cert: Path, server_url: str, pin: int, *options: str
) -> subprocess.CompletedProcess[str]:
    """``derlink device run --once`` (a real process) as the device whose certificate and key
    are at the prefix ``cert``, against the head-end at ``server_url``; ``options`` added."""
    return subprocess.run(
        [
            sys.executable, "-m", "derlink.cli.main", "--home", str(home.root), "device", "run",
            "--cert", str(cert), "--server", server_url, "--pin", str(pin), "--once", *options,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )  # fmt: skip


@dataclass
class Server:
    """``derlink serve`` on a free loopback port; ``restart`` keeps the port and the data."""

    home: Home
    port: int = field(default_factory=free_port)
    extra: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.log = self.home.root / "serve.log"
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "derlink.cli.main",
                "--home",
                str(self.home.root),
                "serve",
                "--port",
                str(self.port),
                *self.extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not start in 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Server:
        """``with server:`` runs it for the block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Sep2Client:
    """A device's view of the server: GETs validate against the XSD and decode."""

    def __init__(
        self,
        server: Server,
        prefix: Path,
        *,
        csipaus_ns: str | None = None,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.server = server
        ctx = context or client_context(
            certfile=prefix.with_suffix(".pem"),
            keyfile=prefix.with_suffix(".key"),
            cafile=server.home.pki_dir / "ca-bundle.pem",
        )
        ctx.check_hostname = False
        self.http = httpx.Client(base_url=server.url, verify=ctx, timeout=20)
        self.csipaus_ns = csipaus_ns

    def get(self, href: str, expect: int = 200) -> httpx.Response:
        response = self.http.get(href)
        assert response.status_code == expect, (
            href,
            response.status_code,
            response.headers.get("x-derlink-error"),
        )
        if response.content:
            assert response.headers["content-type"] == MEDIA_TYPE
            validate(response.content, self.csipaus_ns)
        return response

    def obj(self, href: str) -> Sep2Object:
        return decode(self.get(href).content)

    def send(
        self,
        method: str,
        href: str,
        body: Sep2Object | bytes,
        expect: int,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else encode(body)
        response = self.http.request(
            method,
            href,
            content=content,
            headers={"content-type": MEDIA_TYPE, **(headers or {})},
        )
        assert response.status_code == expect, (
            method,
            href,
            response.status_code,
            response.headers.get("x-derlink-error"),
        )
        if response.content:
            validate(response.content, self.csipaus_ns)
        return response

    def close(self) -> None:
        self.http.close()
