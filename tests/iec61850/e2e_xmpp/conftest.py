"""A fleet of IED runtimes and a control centre on a real XMPP server, built once per module.

The IEDs share one parsed model (each has its own value store and ACSI server) and run in this
process; the centre logs in as the server's admin JID so it may create rooms and nodes.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from derlink.iec61850.acsi.server import IedServer
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.ied import IedRuntime, SimulatedDriver
from derlink.iec61850.model.der import load_der_ied
from derlink.iec61850.model.nodes import ServerModel
from derlink.iec61850.model.store import ValueStore
from support.cli import derlink_command
from support.xmpp import ADMIN, XmppService, endpoint_for

FLEET_SIZES = {"prosody": 50, "ejabberd": 10}


@asynccontextmanager
async def ied_process(
    home: Path, service: XmppService, ied_jid: str, cert: Path, key: Path, *options: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, bytes]]:
    """``derlink --home HOME ied run`` as a process logging in to ``service`` as ``ied_jid``
    with these files, ``options`` added: yields it with the line saying it is online, and
    kills it on the way out if it still runs."""
    process = await asyncio.create_subprocess_exec(
        *derlink_command(), "--home", str(home), "ied", "run", "--jid", ied_jid.partition("/")[0],
        "--cert", str(cert), "--key", str(key), "--ca", str(service.ca_file),
        "--server", f"{service.host}:{service.port}", *options,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        line = await asyncio.wait_for(process.stderr.readline(), 30)
        while b"online" not in line:
            assert line, "derlink ied run exited before coming online"
            line = await asyncio.wait_for(process.stderr.readline(), 30)
        yield process, line
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stop_with_ctrl_c(process: asyncio.subprocess.Process) -> None:
    """Ctrl-C stops ``derlink ied run`` cleanly: exit status 0, no traceback."""
    assert process.stderr is not None
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 15) == 0
    rest = await process.stderr.read()
    assert b"IED stopped" in rest and b"Traceback" not in rest


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@dataclass
class Fleet:
    service: XmppService
    centre: ControlCentre
    ieds: list[IedRuntime]
    tag: str
    tariff_node: str
    model: ServerModel
    numbers: dict[str, float] = field(default_factory=dict)

    @property
    def jids(self) -> list[str]:
        return [str(ied.endpoint.jid) for ied in self.ieds]

    def ied(self, index: int) -> IedRuntime:
        return self.ieds[index]

    def driver(self, index: int) -> SimulatedDriver:
        driver = self.ieds[index].driver
        assert isinstance(driver, SimulatedDriver)
        return driver

    @property
    def ld(self) -> str:
        return self.model.logical_devices()[0]


def make_ied(
    service: XmppService,
    model: ServerModel,
    local: str,
    centre_jid: str,
    tariff_node: str,
    viewer: str,
) -> IedRuntime:
    endpoint = endpoint_for(service, local, "ied", backoff_initial=0.1, backoff_max=1.0)
    server = IedServer(model, ValueStore(model), clock=time.time)
    return IedRuntime(
        endpoint,
        server,
        centres=[centre_jid],
        viewers=[viewer],
        driver=SimulatedDriver(),
        pubsub_service=service.pubsub_service,
        tariff_node=tariff_node,
        measurement_interval=1.0,
    )


@pytest_asyncio.fixture(
    scope="module", loop_scope="module", params=sorted(FLEET_SIZES), ids=sorted(FLEET_SIZES)
)
async def fleet(request: pytest.FixtureRequest) -> AsyncIterator[Fleet]:
    service: XmppService = request.getfixturevalue(f"{request.param}_server")
    size = FLEET_SIZES[request.param]
    tag = uuid.uuid4().hex[:6]
    model = load_der_ied()
    centre_endpoint = endpoint_for(service, ADMIN, f"centre-{tag}", request_timeout=10.0)
    centre_jid = str(centre_endpoint.jid)
    tariff_node = f"tariff-{tag}"
    before = rss_bytes()
    viewer = f"viewer-{tag}@{service.domain}"
    ieds = [
        make_ied(service, model, f"ied{i}-{tag}", centre_jid, tariff_node, viewer)
        for i in range(size)
    ]
    centre = ControlCentre(
        centre_endpoint,
        ieds=[str(ied.endpoint.jid) for ied in ieds],
        muc_service=service.muc_service,
        pubsub_service=service.pubsub_service,
    )
    await centre.start()
    await centre.create_tariff_node(tariff_node)
    started = time.perf_counter()
    await asyncio.gather(*(ied.start() for ied in ieds))
    connect_s = time.perf_counter() - started
    numbers = {
        "ieds": float(size),
        "connect_s": connect_s,
        "rss_per_ied_kib": (rss_bytes() - before) / size / 1024,
    }
    jids = [str(ied.endpoint.jid) for ied in ieds]
    await asyncio.gather(*(centre.presence.wait(j, timeout=15) for j in jids))
    started = time.perf_counter()
    await centre.associate_all(jids)
    numbers["associate_all_s"] = time.perf_counter() - started
    fleet = Fleet(service, centre, ieds, tag, tariff_node, model, numbers)
    try:
        yield fleet
        print(f"\n{service.kind} fleet: {fleet.numbers}")
    finally:
        await centre.stop()
        await asyncio.gather(*(ied.stop() for ied in ieds))
