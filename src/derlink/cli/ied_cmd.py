"""``derlink ied``: run an IEC 61850 IED (a DER's ACSI server) over XMPP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path

import click

from derlink.cli.context import CliContext, pass_ctx


def _server(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--server")
    return host.strip("[]"), int(port)


@click.group()
def ied() -> None:
    """IEC 61850 IEDs over XMPP (IEC 61850-8-2)."""


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
    help="Control-centre JID allowed every service (repeatable; default centre@<domain>).",
)
@click.option("--viewer", "viewers", multiple=True, help="JID allowed to read only (repeatable).")
@click.option("--tariff-node", default=None, help="PubSub node of tariffs to subscribe to.")
@click.option("--pubsub", "pubsub_service", default=None, help="PubSub service JID.")
@click.option(
    "--audit/--no-audit",
    default=None,
    help="Record refusals, controls and associations in the data directory's audit log "
    "(default: when the data directory is initialised).",
)
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
) -> None:
    """Serve the IED's data model to its control centre until interrupted (Ctrl-C).

    The IED logs in with its certificate, answers MMS requests, sends reports, joins the group
    rooms its centre invites it to and keeps the tariffs it is sent. Measurements come from a
    simulated driver; vendors plug their inverter in through ``derlink.iec61850.ied.DerDriver``.
    """
    from derlink.iec61850.acsi.server import IedServer
    from derlink.iec61850.ied import IedRuntime, SimulatedDriver
    from derlink.iec61850.model.der import load_der_ied
    from derlink.iec61850.model.scl import load_scl
    from derlink.iec61850.model.store import ValueStore
    from derlink.iec61850.xmpp.endpoint import Endpoint, EndpointConfig

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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def main() -> None:
        from derlink.audit.service import open_audit_log

        async with contextlib.AsyncExitStack() as stack:
            audit_log = None
            if use_audit:
                audit_log = await stack.enter_async_context(
                    open_audit_log(ctx.home, ctx.database_url, write=True)
                )
            runtime = IedRuntime(
                endpoint,
                IedServer(model, ValueStore(model), clock=time.time),
                centres=centres or (f"centre@{domain}",),
                viewers=viewers,
                driver=SimulatedDriver(),
                pubsub_service=pubsub_service,
                tariff_node=tariff_node,
                audit=audit_log.append if audit_log is not None else None,
            )
            await serve(runtime)

    async def serve(runtime: IedRuntime) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await runtime.start()
        click.echo(
            f"IED {model.ied_name} online as {endpoint.jid} on {host}:{port}; Ctrl-C stops it",
            err=True,
        )
        try:
            await stop.wait()
        finally:
            await runtime.stop()
        click.echo("IED stopped", err=True)

    asyncio.run(main())


from derlink.cli.ied_fleet_cmd import dispatch, sim  # noqa: E402  (simulated IEDs, dispatcher)

ied.add_command(sim)
ied.add_command(dispatch)
