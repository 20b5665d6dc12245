"""A control centre and IEDs speaking 61850 over XMPP with end-to-end protection, on a tapped
real XMPP server (the server logs every stanza it handles: its view of the traffic).

Tapped servers: the derlink-generated configuration with stanza logging turned on — Prosody's
``mod_stanza_debug`` at debug level (every stanza in and out, whole), ejabberd at ``loglevel:
debug`` (every packet routed). The servers are otherwise exactly what derlink runs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import support.xmpp
from derlink.e2e import AnchorVerifier, Credentials, PkiVerifier
from derlink.home import write_public
from derlink.iec61850.acsi.server import IedServer
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.groupkeys import GroupKeyDistributor, GroupKeyReceiver
from derlink.iec61850.ied import IedRuntime, SimulatedDriver
from derlink.iec61850.model.der import load_der_ied
from derlink.iec61850.model.nodes import ServerModel
from derlink.iec61850.model.store import ValueStore
from derlink.iec61850.protection import E2eProtector, acsi_authorizer
from derlink.iec61850.xmpp import ejabberd
from derlink.iec61850.xmpp.endpoint import Endpoint
from derlink.iec61850.xmpp.server import ServerKind, XmppServer
from derlink.pki import Issued, Pki, Role
from support.xmpp import ADMIN, XmppService, endpoint_for

MODEL: ServerModel = load_der_ied()
LD = MODEL.logical_devices()[0]
SETTING = f"{LD}/DECP1.WExpLim.setMag.f"
CONTROL = f"{LD}/DWMX1.WMaxSptPct"


def now() -> datetime:
    return datetime.now(UTC)


class TappedServer(XmppServer):
    """derlink's server configuration with every stanza logged."""

    def prepare(self) -> None:
        super().prepare()
        self.tap()

    def tap(self) -> None:
        """Turn stanza logging on in the configuration just written."""
        path = self.files.config_file
        text = path.read_text()
        if self.kind == "prosody":
            tapped = text.replace('min = "info"', 'min = "debug"').replace(
                "modules_enabled = {\n", 'modules_enabled = {\n    "stanza_debug";\n'
            )
        else:
            tapped = text.replace("loglevel: info", "loglevel: debug")
        wanted = (
            ('"stanza_debug"', 'min = "debug"') if self.kind == "prosody" else ("loglevel: debug",)
        )
        assert all(w in tapped for w in wanted), "the server configuration changed: cannot tap"
        write_public(path, tapped.encode())


def tapped_service(kind: ServerKind) -> XmppService:
    with mock.patch.object(support.xmpp, "XmppServer", TappedServer):
        service = XmppService(kind)
    if kind == "ejabberd":  # its log handlers drop events beyond 500/s: the tap must not
        for handler in ("ejabberd_log", "default"):
            settings = (
                "#{burst_limit_enable => false, drop_mode_qlen => 100000, flush_qlen => 200000}"
            )
            assert (
                ejabberd.rpc(
                    service.server.files,
                    "logger",
                    "update_handler_config",
                    f"[{handler}, config, {settings}]",
                )
                == "ok"
            )
    return service


class ServerView:
    """What the server logged (stanzas included) from the moment this object was made."""

    def __init__(self, service: XmppService) -> None:
        files = service.server.files
        self._paths = [files.log_file, *sorted(files.server_log_dir.glob("*.log"))]
        self._start = {path: _size(path) for path in self._paths}

    def text(self) -> str:
        parts = []
        for path in self._paths:
            with path.open("rb") as fh:
                fh.seek(self._start[path])
                parts.append(fh.read().decode("utf-8", "replace"))
        return "".join(parts)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class TapProtector(E2eProtector):
    """The protector, recording every message exactly as it came off the wire."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wire: list[tuple[str, bytes]] = []
        self.clear: list[tuple[str, bytes]] = []

    def open(self, jid: str, message: bytes, now: datetime) -> bytes:
        self.wire.append((jid, message))
        clear = super().open(jid, message, now)
        self.clear.append((jid, clear))
        return clear


def e2e_credentials(
    service: XmppService, name: str, jid: str, roles: list[Role] | None = None
) -> tuple[Credentials, Issued]:
    issued = service.pki.issue_e2e(name, xmpp_address=jid.partition("/")[0], roles=roles, now=now())
    return Credentials.from_issued(issued), issued


def device_verifier(pki: Pki) -> AnchorVerifier:
    """What an IED holds: the trust anchor and the CRLs it last fetched."""
    return AnchorVerifier([pki.root_certificate], pki.crls())


@dataclass
class Ied:
    runtime: IedRuntime
    protector: TapProtector
    verifier: AnchorVerifier
    issued: Issued
    receiver: GroupKeyReceiver

    @property
    def jid(self) -> str:
        return str(self.runtime.endpoint.jid)

    @property
    def driver(self) -> SimulatedDriver:
        driver = self.runtime.driver
        assert isinstance(driver, SimulatedDriver)
        return driver


@dataclass
class Rig:
    service: XmppService
    tag: str
    centre: ControlCentre
    protector: TapProtector
    kdc: GroupKeyDistributor
    issued: Issued
    ieds: list[Ied]
    others: list[Endpoint] = field(default_factory=list)

    @property
    def jids(self) -> list[str]:
        return [ied.jid for ied in self.ieds]

    def endpoint(self, local: str, resource: str) -> Endpoint:
        """An extra endpoint (a rogue party), stopped with the rig."""
        endpoint = endpoint_for(self.service, local, resource)
        self.others.append(endpoint)
        return endpoint

    async def stop(self) -> None:
        await self.centre.stop()
        await self.protector.close()
        for ied in self.ieds:
            await ied.runtime.stop()
            await ied.protector.close()
        for other in self.others:
            await other.stop()


def make_ied(service: XmppService, tag: str, index: int, centre_jid: str) -> Ied:
    local = f"ied{index}-{tag}"
    endpoint = endpoint_for(service, local, "ied", backoff_initial=0.1, backoff_max=1.0)
    creds, issued = e2e_credentials(service, local, endpoint.bare, roles=None)
    verifier = device_verifier(service.pki)
    protector = TapProtector(creds, verifier)
    protector.attach(endpoint)
    receiver = GroupKeyReceiver(protector, centre_jid)
    server = IedServer(
        MODEL, ValueStore(MODEL), clock=time.time, authorize=acsi_authorizer(protector)
    )
    runtime = IedRuntime(
        endpoint,
        server,
        centres=[centre_jid],
        driver=SimulatedDriver(),
        measurement_interval=0.05,
    )
    return Ied(runtime, protector, verifier, issued, receiver)


async def make_rig(service: XmppService, ieds: int = 2, roles: list[Role] | None = None) -> Rig:
    tag = uuid.uuid4().hex[:6]
    endpoint = endpoint_for(service, ADMIN, f"centre-{tag}")
    creds, issued = e2e_credentials(
        service, f"centre-{tag}", endpoint.bare, roles=roles or [Role.OPERATOR, Role.ENGINEER]
    )
    protector = TapProtector(creds, PkiVerifier(service.pki))
    protector.attach(endpoint)
    kdc = GroupKeyDistributor(protector)
    centre_jid = str(endpoint.jid)
    fleet = [make_ied(service, tag, i, centre_jid) for i in range(ieds)]
    centre = ControlCentre(
        endpoint,
        ieds=[ied.jid for ied in fleet],
        muc_service=service.muc_service,
        request_timeout=10.0,
    )
    rig = Rig(service, tag, centre, protector, kdc, issued, fleet)
    await centre.start()
    await asyncio.gather(*(ied.runtime.start() for ied in fleet))
    return rig


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)
