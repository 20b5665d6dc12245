"""A deployment for the head-end tests: a data directory, a PKI with every kind of client,
a fleet in two feeders, and the real server over TLS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from derlink.control.service import FleetService
from derlink.domain import Device, DeviceKind, Group, Site
from derlink.home import Home
from derlink.pki import Issued, Role
from support.sep2 import Sep2Client, Server, fleet_work, initialised_home


@dataclass
class Deployment:
    home: Home
    server: Server
    certs: dict[str, Path]
    issued: dict[str, Issued]

    def client(self, name: str) -> Sep2Client:
        return Sep2Client(self.server, self.certs[name])

    def sfdi(self, name: str) -> int:
        return self.issued[name].sfdi

    def lfdi(self, name: str) -> str:
        return self.issued[name].lfdi

    async def fleet_do(self, work: object) -> object:
        return await fleet_work(self.home, work)  # type: ignore[arg-type]

    def fleet(self, work: object) -> object:
        return asyncio.run(self.fleet_do(work))


CLIENTS = ("dev1", "dev2", "aggdev1", "aggdev2", "stranger", "revoked", "blocked")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("sep2")
    home, pki = initialised_home(root)
    now = datetime.now(UTC)
    issued: dict[str, Issued] = {}
    certs: dict[str, Path] = {}
    for name in CLIENTS:
        issued[name] = pki.issue_device(f"SN-{name}", now=now)
    issued["agg"] = pki.issue_aggregator("vpp", [Role.OPERATOR], now=now)
    issued["listener"] = pki.issue_server(["127.0.0.1"], now=now)
    for name, cert in issued.items():
        certs[name] = root / name
        cert.write(certs[name])
    pki.revoke(issued["revoked"].certificate.serial_number, now=now)
    deployment = Deployment(home, Server(home), certs, issued)

    async def setup(f: FleetService) -> None:
        for group in ("feeder-1", "feeder-2"):
            await f.add_group(Group(group), actor="test")
        await f.add_site(
            Site("site-a", groups=frozenset({"feeder-1"}), connection_point_id="NMI0000001"),
            actor="test",
        )
        await f.add_site(Site("site-b", groups=frozenset({"feeder-2"})), actor="test")
        await f.add_site(
            Site("site-c", groups=frozenset({"feeder-1"}), lock_connection_point=True), actor="test"
        )
        for name, site in (
            ("dev1", "site-a"),
            ("dev2", "site-b"),
            ("revoked", "site-a"),
            ("blocked", "site-a"),
        ):
            cert = issued[name]
            await f.enrol(Device(cert.lfdi, cert.sfdi, site=site, pin=123455), actor="test")
        agg = issued["agg"]
        await f.enrol(Device(agg.lfdi, agg.sfdi, kind=DeviceKind.AGGREGATOR), actor="test")
        for name in ("aggdev1", "aggdev2"):
            cert = issued[name]
            await f.enrol(
                Device(cert.lfdi, cert.sfdi, site="site-c", aggregator=agg.lfdi), actor="test"
            )
        await f.set_access(issued["blocked"].lfdi, False, actor="test")

    deployment.fleet(setup)
    with deployment.server:
        yield deployment
