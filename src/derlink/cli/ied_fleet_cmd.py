"""``derlink ied sim`` and ``derlink ied dispatch``: simulated IEDs, and the 61850 dispatcher.

``ied sim`` enrols N simulated IEDs (XMPP certificates ``ied-nnnnn@<domain>``, sites
``ied-nnnnn`` in groups ``feeder-1..G``; kept for the next run) and runs them in one process
against derlink's XMPP server (``derlink xmpp serve``), printing a summary line.

``ied dispatch`` is the control-centre side: one XMPP session as the centre, following the
fleet's controls and turning them into 61850 operations on the IEDs of the targeted groups
(:mod:`derlink.iec61850.dispatch`), with responses recorded and audited like 2030.5 ones.

Both protect end to end by default (``--no-e2e`` turns it off on both sides): every MMS payload
is sealed in a session between the centre and each IED, with end-to-end certificates issued
once from the data directory's PKI (the centre's with the OPERATOR role, which the IEDs check);
see :mod:`derlink.cli.e2e_opts`. A first handshake costs about 6 ms per IED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.units import DURATION

CENTRE_PREFIX = "iec61850-centre"


def _address(ctx: CliContext, server: str | None) -> tuple[str, int]:
    if server is None:
        return ctx.config.xmpp.host, ctx.config.xmpp.port
    host, sep, port = server.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{server!r} is not HOST:PORT", param_hint="--server")
    return host.strip("[]"), int(port)


def _ca_bundle(ctx: CliContext) -> Path:
    return ctx.home.require().pki_dir / "ca-bundle.pem"


def _centre_jid(ctx: CliContext, centre: str | None) -> str:
    if centre:
        return centre.partition("/")[0].lower()
    admins = tuple(ctx.config.xmpp.admins or ())
    return admins[0] if admins else f"centre@{ctx.config.xmpp.domain}"


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


@click.command("sim")
@click.option("--ieds", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--groups", type=click.IntRange(1, 1000), default=3, show_default=True)
@click.option("--server", help="XMPP server as HOST:PORT (default: [xmpp] host and port).")
@click.option("--centre", help="Control-centre JID the IEDs obey (default: first [xmpp] admin).")
@click.option("--duration", type=DURATION, help="Stop after this long (default: Ctrl-C).")
@click.option("--every", type=DURATION, default=5.0, show_default=True, help="Summary period.")
@click.option("--enrol-only", is_flag=True, help="Enrol the IEDs and exit.")
@click.option(
    "--e2e/--no-e2e",
    default=True,
    show_default=True,
    help="Protect every MMS payload end to end (as 'ied dispatch' does by default).",
)
@pass_ctx
def sim(
    ctx: CliContext,
    /,
    ieds: int,
    groups: int,
    server: str | None,
    centre: str | None,
    duration: float | None,
    every: float,
    enrol_only: bool,
    e2e: bool,
) -> None:
    """Run IEDS simulated IEC 61850 DER IEDs in GROUPS feeders over XMPP."""
    from datetime import UTC, datetime

    from derlink.cli.e2e_opts import protect_simulated
    from derlink.cli.fleet import run
    from derlink.iec61850.ied import DEFAULT_CENTRE_RESOURCE
    from derlink.iec61850.protection import E2eProtector
    from derlink.sim.iedfleet import IED_RESOURCE, IedFleet, enrol_ieds
    from derlink.sim.runner import rss_bytes

    home = ctx.home.require()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    started = time.monotonic()
    records = run(
        ctx,
        lambda f: enrol_ieds(
            home,
            f,
            ieds,
            groups,
            domain=ctx.config.xmpp.domain,
            actor=ctx.actor,
            now=datetime.now(UTC),
            passphrase=ctx.passphrase(),
        ),
    )
    click.echo(f"{len(records)} IEDs enrolled in {time.monotonic() - started:.1f} s")
    if enrol_only:
        return
    host, port = _address(ctx, server)
    centre_jid = _centre_jid(ctx, centre)

    async def go() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        before = rss_bytes()
        fleet = IedFleet(
            records, host=host, port=port, cafile=_ca_bundle(ctx), centres=[centre_jid]
        )
        protectors: list[E2eProtector] = []
        if e2e:
            protectors = protect_simulated(
                home,
                [
                    (i.record.prefix, f"{i.record.jid}/{IED_RESOURCE}", i.runtime)
                    for i in fleet.ieds
                ],
                kdc_jid=f"{centre_jid}/{DEFAULT_CENTRE_RESOURCE}",
                passphrase=ctx.passphrase(),
            )
        up = await fleet.start()
        per_ied = (rss_bytes() - before) / max(up, 1)
        protection = "end-to-end protected" if e2e else "NOT end-to-end protected"
        click.echo(
            f"{up}/{len(records)} IEDs online on {host}:{port}, obeying {centre_jid} ({protection})"
        )
        end = None if duration is None else time.monotonic() + duration
        try:
            while not stop.is_set() and (end is None or time.monotonic() < end):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every)
                flows = fleet.sample()
                export = sum(max(0.0, -f.site_w) for f in flows)
                limited = sum(1 for i in fleet.ieds if i.driver.envelope.export_limit_w is not None)
                applied = sum(i.driver.applied for i in fleet.ieds)
                click.echo(
                    f"online {fleet.connected()}/{len(records)}  export {export / 1000:.1f} kW  "
                    f"export-limited {limited}  operations applied {applied}"
                )
        finally:
            await fleet.stop()
            for protector in protectors:
                await protector.close()
        click.echo(f"memory: {per_ied / 1024:.0f} KiB per simulated IED (RSS)")

    asyncio.run(go())


@click.command("dispatch")
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The centre's XMPP certificate (default: issued once into the data directory).",
)
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--server", help="XMPP server as HOST:PORT (default: [xmpp] host and port).")
@click.option("--centre", help="The centre's JID (default: first [xmpp] admin).")
@click.option("--interval", type=DURATION, default=0.5, show_default=True)
@click.option(
    "--e2e/--no-e2e",
    default=True,
    show_default=True,
    help="Protect every MMS payload end to end (the IEDs must too: 'ied sim' does by default).",
)
@click.option(
    "--e2e-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The centre's end-to-end certificate naming its JID, with IEC 62351-8 roles "
    "(default: issued once into the data directory with the OPERATOR role).",
)
@click.option("--e2e-key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def dispatch(
    ctx: CliContext,
    /,
    cert: Path | None,
    key: Path | None,
    server: str | None,
    centre: str | None,
    interval: float,
    e2e: bool,
    e2e_cert: Path | None,
    e2e_key: Path | None,
) -> None:
    """Follow the fleet's controls and carry them out on the 61850 IEDs (Ctrl-C stops)."""
    from datetime import UTC, datetime

    from derlink.audit.service import open_audit_log
    from derlink.cli.e2e_opts import CentreE2e, protect_centre
    from derlink.cli.fleet import detector
    from derlink.control.service import FleetService
    from derlink.iec61850.centre import ControlCentre
    from derlink.iec61850.dispatch import Dispatcher, watch_ieds
    from derlink.iec61850.registry import all_ieds
    from derlink.iec61850.xmpp.endpoint import Endpoint, EndpointConfig
    from derlink.pki import Pki, Role

    home = ctx.home.require()
    jid = _centre_jid(ctx, centre)
    if (cert is None) != (key is None):
        raise click.UsageError("give both --cert and --key, or neither")
    if cert is None or key is None:
        prefix = home.root / "run" / CENTRE_PREFIX
        if not prefix.with_suffix(".pem").exists():
            prefix.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            pki = Pki.open(home.pki_dir, passphrase=ctx.passphrase())
            issued = pki.issue_xmpp_client(jid, roles=[Role.OPERATOR], now=datetime.now(UTC))
            issued.write(prefix)
        cert, key = prefix.with_suffix(".pem"), prefix.with_suffix(".key")
    host, port = _address(ctx, server)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def go() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        endpoint = Endpoint(
            EndpointConfig(
                jid=f"{jid}/centre",
                certfile=cert,
                keyfile=key,
                cafile=_ca_bundle(ctx),
                host=host,
                port=port,
                max_outstanding=256,
            )
        )
        control_centre = ControlCentre(endpoint)
        async with open_audit_log(home, ctx.database_url, write=True) as log:
            fleet = FleetService(log.db, log, detector=detector(ctx))
            protection: CentreE2e | None = None
            if e2e:
                protection = protect_centre(
                    endpoint,
                    home,
                    passphrase=ctx.passphrase(),
                    cert=e2e_cert,
                    key=e2e_key,
                    audit=log.append,
                )
            await control_centre.start()
            await watch_ieds(control_centre, await all_ieds(log.db))
            dispatcher = Dispatcher(fleet, log, control_centre, actor=ctx.actor)
            protected = "end-to-end protected" if e2e else "NOT end-to-end protected"
            click.echo(
                f"61850 dispatch as {endpoint.jid} on {host}:{port} ({protected}); Ctrl-C stops it"
            )
            try:
                await dispatcher.run(stop, interval=interval)
            finally:
                await control_centre.stop()
                if protection is not None:
                    await protection.close()

    asyncio.run(go())
