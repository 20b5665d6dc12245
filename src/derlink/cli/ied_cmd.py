"""``derlink ied``: run an IEC 61850 IED (a DER's ACSI server) over XMPP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.e2e_opts import (
    PLAINTEXT_WARNING,
    E2eSettings,
    e2e_options,
    e2e_settings,
    make_protector,
    protect_ied,
)
from derlink.iec61850.acsi.server import IedServer
from derlink.iec61850.groupkeys import GroupKeyReceiver
from derlink.iec61850.ied import (
    DEFAULT_CENTRE_RESOURCE,
    AuditSink,
    DerDriver,
    IedRuntime,
    SimulatedDriver,
)
from derlink.iec61850.model.nodes import ServerModel
from derlink.iec61850.model.store import ValueStore
from derlink.iec61850.protection import E2eProtector
from derlink.iec61850.xmpp.endpoint import Endpoint, EndpointConfig
from derlink.rbac import Policy
from derlink.rbac.policy import DEFAULT_POLICY


def _server(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--server")
    return host.strip("[]"), int(port)


@click.group()
def ied() -> None:
    """IEC 61850 IEDs over XMPP (IEC 61850-8-2)."""


@dataclass
class IedStack:
    """An IED runtime and, when end-to-end protection is on, its protector and group keys."""

    runtime: IedRuntime
    protector: E2eProtector | None = None
    receiver: GroupKeyReceiver | None = None

    async def start(self, timeout: float | None = None) -> None:
        await self.runtime.start(timeout)

    async def stop(self) -> None:
        await self.runtime.stop()
        if self.protector is not None:
            await self.protector.close()


def build_ied(
    endpoint: Endpoint,
    model: ServerModel,
    *,
    centres: Sequence[str],
    viewers: Sequence[str] = (),
    e2e: E2eSettings | None = None,
    policy: Policy | None = None,
    audit: AuditSink | None = None,
    driver: DerDriver | None = None,
    pubsub_service: str | None = None,
    tariff_node: str | None = None,
    measurement_interval: float = 1.0,
) -> IedStack:
    """The IED of ``derlink ied run`` on ``endpoint`` (not started).

    Without ``e2e`` the listed centres may do everything and viewers may look (the JID decides).
    With ``e2e`` every MMS payload is sealed end to end and plaintext is refused; the listed
    JIDs still gate the transport, and the IEC 62351-8 roles of the peer's verified end-to-end
    certificate decide each ACSI service (derlink.rbac, ``policy``); group keys for the MUC
    group commands come from the first centre, the key server.
    """
    server = IedServer(model, ValueStore(model), clock=time.time)
    runtime = IedRuntime(
        endpoint,
        server,
        centres=centres,
        viewers=viewers,
        driver=driver or SimulatedDriver(),
        pubsub_service=pubsub_service,
        tariff_node=tariff_node,
        audit=audit,
        measurement_interval=measurement_interval,
    )
    if e2e is None:
        return IedStack(runtime)
    protector = make_protector(e2e, str(endpoint.jid), audit=audit)
    receiver = protect_ied(
        runtime, protector, kdc_jid=_full_centre(centres[0]), policy=policy or DEFAULT_POLICY
    )
    return IedStack(runtime, protector, receiver)


def _full_centre(jid: str) -> str:
    return jid if "/" in jid else f"{jid}/{DEFAULT_CENTRE_RESOURCE}"


@ied.command("run")
@click.option(
    "--scl",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="ICD/CID file of the IED (default: the shipped DER IED model).",
)
@click.option("--ied-name", default=None, help="Rename the IED of the SCL file.")
@click.option("--jid", required=True, help="The IED's JID (its certificate's xmppAddr).")
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="PEM certificate (with chain) the IED logs in with (SASL EXTERNAL).",
)
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="PEM bundle of the CAs that issued the XMPP server's certificate.",
)
@click.option("--server", "server_address", required=True, help="XMPP server as HOST:PORT.")
@click.option(
    "--centre",
    "centres",
    multiple=True,
    help="Control-centre JID admitted (repeatable; default centre@<domain>); the first one "
    "hands out the group keys. Without end-to-end protection a centre may do everything.",
)
@click.option(
    "--viewer",
    "viewers",
    multiple=True,
    help="JID admitted to read (repeatable); with end-to-end protection its roles decide.",
)
@click.option("--tariff-node", default=None, help="PubSub node of tariffs to subscribe to.")
@click.option("--pubsub", "pubsub_service", default=None, help="PubSub service JID.")
@click.option(
    "--audit/--no-audit",
    default=None,
    help="Record refusals, controls and associations in the data directory's audit log "
    "(default: when the data directory is initialised).",
)
@e2e_options
@pass_ctx
def run(
    ctx: CliContext,
    scl: Path | None,
    ied_name: str | None,
    jid: str,
    cert: Path,
    key: Path,
    ca: Path,
    server_address: str,
    centres: tuple[str, ...],
    viewers: tuple[str, ...],
    tariff_node: str | None,
    pubsub_service: str | None,
    audit: bool | None,
    e2e_cert: Path | None,
    e2e_key: Path | None,
    e2e_ca: Path | None,
    e2e_crls: tuple[Path, ...],
    require_e2e: bool,
) -> None:
    """Serve the IED's data model to its control centre until interrupted (Ctrl-C).

    The IED logs in with its certificate, answers MMS requests, sends reports, joins the group
    rooms its centre invites it to and keeps the tariffs it is sent. Measurements come from a
    simulated driver; vendors plug their inverter in through ``derlink.iec61850.ied.DerDriver``.

    End-to-end protection is on whenever --e2e-cert and --e2e-key are given: every MMS payload
    is sealed in a session with the peer named by its end-to-end certificate, plaintext is
    refused, group commands need the group key, and the roles in the centre's end-to-end
    certificate decide what it may do (IEC 62351-8). Without them a warning says the payloads
    cross the XMPP server in clear; --require-e2e refuses to start then.
    """
    from derlink.iec61850.model.der import load_der_ied
    from derlink.iec61850.model.scl import load_scl

    settings = e2e_settings(e2e_cert, e2e_key, e2e_ca or ca, e2e_crls, require=require_e2e)
    host, port = _server(server_address)
    model = load_scl(scl, rename=ied_name) if scl is not None else load_der_ied(ied_name)
    domain = jid.partition("@")[2].partition("/")[0]
    if not domain:
        raise click.BadParameter(f"{jid!r} is not a JID (local@domain)", param_hint="--jid")
    endpoint = Endpoint(
        EndpointConfig(
            jid=jid, certfile=cert, keyfile=key, cafile=ca, host=host, port=port, resource="ied"
        )
    )
    use_audit = ctx.home.exists() if audit is None else audit
    if use_audit:
        ctx.home.require()
    policy = Policy.from_config(ctx.config.rbac)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if settings is None:
        click.echo(PLAINTEXT_WARNING, err=True)
    else:  # fail before logging in when the credentials do not fit
        make_protector(settings, str(endpoint.jid))

    async def main() -> None:
        from derlink.audit.service import open_audit_log

        async with contextlib.AsyncExitStack() as stack:
            audit_log = None
            if use_audit:
                audit_log = await stack.enter_async_context(
                    open_audit_log(ctx.home, ctx.database_url, write=True)
                )
            stack_ = build_ied(
                endpoint,
                model,
                centres=centres or (f"centre@{domain}",),
                viewers=viewers,
                e2e=settings,
                policy=policy,
                audit=audit_log.append if audit_log is not None else None,
                pubsub_service=pubsub_service,
                tariff_node=tariff_node,
            )
            await serve(stack_)

    async def serve(ied_stack: IedStack) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await ied_stack.start()
        protection = "end-to-end protected" if settings is not None else "NOT end-to-end protected"
        click.echo(
            f"IED {model.ied_name} online as {endpoint.jid} on {host}:{port} ({protection}); "
            "Ctrl-C stops it",
            err=True,
        )
        try:
            await stop.wait()
        finally:
            await ied_stack.stop()
        click.echo("IED stopped", err=True)

    asyncio.run(main())


from derlink.cli.ied_fleet_cmd import dispatch, sim  # noqa: E402  (simulated IEDs, dispatcher)

ied.add_command(sim)
ied.add_command(dispatch)
