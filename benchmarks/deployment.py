"""Building a benchmark deployment: a data directory, N registered devices, C of them with
certificates that connect, controls on their groups, and the real server."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from derlink.audit.service import open_audit_log
from derlink.control.service import FleetService
from derlink.domain import ControlBase, Device, Group, Priority, Site
from derlink.home import Home
from derlink.pki import Pki, sfdi_from_lfdi

PG_ADMIN = os.environ.get("DERLINK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
GROUPS = ("feeder-1", "feeder-2", "feeder-3")


@dataclass
class Bench:
    root: Path
    database: str  # "sqlite" or "postgresql"
    registered: int
    connected: int
    workers: int = 2
    home: Home = field(init=False)
    url: str = field(init=False)
    port: int = 18943
    certs: list[tuple[Path, int]] = field(default_factory=list)  # (prefix, sfdi)
    server: subprocess.Popen[bytes] | None = None
    pg_name: str | None = None

    def __post_init__(self) -> None:
        self.home = Home(self.root / "home")

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DERLINK_DATABASE_URL": self.url} if self.pg_name else {**os.environ}

    async def create_empty(self) -> None:
        """The data directory, database, groups and sites; no devices, no controls."""
        await self._init()
        pki = Pki.open(self.home.pki_dir, passphrase=None)
        pki.issue_server(["127.0.0.1"], now=datetime.now(UTC)).write(self.root / "listener")
        async with open_audit_log(self.home, self.url, write=True) as log:
            fleet = FleetService(log.db, log)
            for g in GROUPS:
                await fleet.add_group(Group(g), actor="bench")
                await fleet.add_site(Site(f"site-{g}", groups=frozenset({g})), actor="bench")

    async def _init(self) -> None:
        if self.database == "postgresql":
            self.pg_name = f"derlink_bench_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'CREATE DATABASE "{self.pg_name}"')
            await conn.close()
            self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.pg_name
        else:
            self.url = f"sqlite:///{self.home.database_file}"
        subprocess.run(
            [sys.executable, "-m", "derlink.cli.main", "--home", str(self.home.root), "init"],
            check=True,
            env=self.env,
            capture_output=True,
        )

    async def create(self) -> None:
        await self._init()
        pki = Pki.open(self.home.pki_dir, passphrase=None)
        now = datetime.now(UTC)
        for n in range(self.connected):
            issued = pki.issue_device(f"BENCH-{n:05d}", now=now)
            prefix = self.root / f"dev{n}"
            issued.write(prefix)
            self.certs.append((prefix, issued.sfdi))
        async with open_audit_log(self.home, self.url, write=True) as log:
            fleet = FleetService(log.db, log)
            for g in GROUPS:
                await fleet.add_group(Group(g), actor="bench")
                await fleet.add_site(Site(f"site-{g}", groups=frozenset({g})), actor="bench")
            devices = [
                Device(lfdi=cert_lfdi(prefix), sfdi=sfdi, site=f"site-{GROUPS[i % 3]}")
                for i, (prefix, sfdi) in enumerate(self.certs)
            ]
            for i in range(self.registered - self.connected):
                lfdi = secrets.token_hex(20).upper()
                devices.append(Device(lfdi, sfdi_from_lfdi(lfdi), site=f"site-{GROUPS[i % 3]}"))
            for start in range(0, len(devices), 2000):
                await fleet.enrol_many(devices[start : start + 2000], actor="bench")
            for g in GROUPS:
                await fleet.create_control(
                    ControlBase(export_limit_w=5000),
                    actor="bench",
                    start=int(time.time()),
                    duration=7200,
                    group=g,
                    priority=Priority.YELLOW,
                )

    def start(self) -> None:
        log = (self.root / "serve.log").open("ab")
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "derlink.cli.main",
                "--home",
                str(self.home.root),
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        import socket

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(1.0)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    async def destroy(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
        if self.pg_name:
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            await conn.close()


def cert_lfdi(prefix: Path) -> str:
    from derlink.pki import lfdi_of_certificate, load_certificate

    return lfdi_of_certificate(load_certificate(prefix.with_suffix(".pem")))


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
