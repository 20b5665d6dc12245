"""``derlink sim``: a fleet of simulated IEEE 2030.5 DERs in one process.

Enrols the fleet through the fleet service (sites ``sim-nnnnn`` in groups ``feeder-1..N``,
devices with their PINs; kept for the next run), then runs every device's DER client against
the head-end and prints a live summary: devices polling, envelopes applied, fleet export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.units import DURATION

if TYPE_CHECKING:
    from derlink.sep2.client import NotifyEndpoint


@click.command()
@click.option("--devices", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--groups", type=click.IntRange(1, 1000), default=3, show_default=True)
@click.option("--server", help="Head-end URL (default: https://server.host:server.port).")
@click.option("--duration", type=DURATION, help="Stop after this long (default: Ctrl-C).")
@click.option("--stagger", type=DURATION, help="Spread the start over (default: devices/10 s).")
@click.option("--every", type=DURATION, default=2.0, show_default=True, help="Summary period.")
@click.option("--notify-port", type=click.IntRange(0, 65535), help="Listen for notifications.")
@click.option(
    "--subscribe", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True
)
@click.option("--enrol-only", is_flag=True, help="Enrol the fleet and exit.")
@pass_ctx
def sim(
    ctx: CliContext,
    /,
    devices: int,
    groups: int,
    server: str | None,
    duration: float | None,
    stagger: float | None,
    every: float,
    notify_port: int | None,
    subscribe: str,
    enrol_only: bool,
) -> None:
    """Run DEVICES simulated DERs in GROUPS feeders against the head-end."""
    import asyncio
    import logging
    import time
    from datetime import UTC, datetime

    from derlink.cli.fleet import run
    from derlink.sep2.client import SubscribePolicy
    from derlink.sim import FleetSim, enrol_fleet, sim_options

    home = ctx.home.require()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("derlink.sep2.client").setLevel(logging.ERROR)  # the summary says it
    started = time.monotonic()
    records = run(
        ctx,
        lambda f: enrol_fleet(
            home,
            f,
            devices,
            groups,
            actor=ctx.actor,
            now=datetime.now(UTC),
            passphrase=ctx.passphrase(),
        ),
    )
    click.echo(f"fleet of {len(records)} enrolled in {time.monotonic() - started:.1f} s")
    if enrol_only:
        return
    url = server or f"https://{ctx.config.server.host}:{ctx.config.server.port}"
    options = sim_options(devices, subscribe=SubscribePolicy(subscribe))
    if stagger is not None:
        options = sim_options(devices, subscribe=SubscribePolicy(subscribe), stagger=stagger)
    notify = None
    if notify_port is not None:
        notify = _notify_endpoint(ctx, notify_port)

    async def go() -> None:
        fleet = FleetSim(
            records, url, home.pki_dir / "ca-bundle.pem", options=options, notify=notify
        )
        await fleet.start()
        end = None if duration is None else time.monotonic() + duration
        try:
            while end is None or time.monotonic() < end:
                await asyncio.sleep(every)
                click.echo(fleet.summary().line())
        finally:
            per_device = fleet.memory_per_device()
            await fleet.stop()
        click.echo(f"memory: {per_device / 1024:.1f} KiB per simulated device (RSS)")

    click.echo(f"running {len(records)} devices against {url}")
    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


def _notify_endpoint(ctx: CliContext, port: int) -> NotifyEndpoint:
    from datetime import UTC, datetime

    from derlink.pki import Pki
    from derlink.sep2.client import NotifyEndpoint
    from derlink.sim.fleet import sim_dir

    prefix = sim_dir(ctx.home) / "notify"
    if not prefix.with_suffix(".pem").exists():
        pki = Pki.open(ctx.home.pki_dir, passphrase=ctx.passphrase())
        pki.issue_server(["127.0.0.1"], now=datetime.now(UTC)).write(prefix)
    return NotifyEndpoint("127.0.0.1", port, prefix.with_suffix(".pem"), prefix.with_suffix(".key"))
