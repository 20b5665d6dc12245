"""``derlink device run``: the device side, an IEEE 2030.5 DER client against a head-end.

Runs one EndDevice (a device certificate) or, with ``--for``, the EndDevices an aggregator
certificate acts for; each is a simulated DER (PV, battery, load) whose telemetry is mirrored.
Logs every envelope it applies. Heavy imports happen when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.units import POWER


def _managed(text: str) -> tuple[str, int | None]:
    lfdi, _, pin = text.partition(":")
    if pin and not pin.isdigit():
        raise click.BadParameter(f"{text!r}: expected LFDI[:PIN]")
    return lfdi.strip().upper(), int(pin) if pin else None


@click.command("run")
@click.option(
    "--cert",
    "prefix",
    required=True,
    type=click.Path(path_type=Path),
    help="PREFIX of the client's PREFIX.pem (with chain) and PREFIX.key.",
)
@click.option("--server", required=True, help="Head-end URL, https://host:port[/dcap-path].")
@click.option(
    "--ca",
    "cafile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA certificates the server's chain must verify against "
    "(default: the data directory's pki/ca-bundle.pem).",
)
@click.option("--pin", type=click.IntRange(0, 999_999), help="Registration PIN to check.")
@click.option("--notify-port", type=click.IntRange(0, 65535), help="Listen for notifications.")
@click.option("--notify-host", default="127.0.0.1", show_default=True)
@click.option(
    "--notify-cert",
    type=click.Path(path_type=Path),
    help="PREFIX of the notification endpoint's certificate (default: --cert).",
)
@click.option(
    "--subscribe",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="auto: where the server advertises subscribable; always: ask anyway.",
)
@click.option(
    "--for",
    "managed",
    multiple=True,
    help="Aggregator mode: LFDI[:PIN] of an EndDevice this certificate acts for (repeatable).",
)
@click.option("--pv", type=POWER, default=5000.0, show_default=True, help="Simulated PV peak.")
@click.option("--battery-wh", type=click.FloatRange(0), default=0.0, help="Simulated battery.")
@click.option("--check-hostname", is_flag=True, help="Also check the server's host name.")
@click.option("--once", is_flag=True, help="One full cycle, then exit.")
@click.option(
    "--require-signed",
    is_flag=True,
    help="Apply only controls an operator signed (verified against --ca and --crl).",
)
@click.option(
    "--crl",
    "crls",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CRL (PEM) for verifying signed controls (repeatable).",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the device keeps its command counters (with --require-signed).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
@pass_ctx
def run(
    ctx: CliContext,
    /,
    prefix: Path,
    server: str,
    cafile: Path | None,
    pin: int | None,
    notify_port: int | None,
    notify_host: str,
    notify_cert: Path | None,
    subscribe: str,
    managed: tuple[str, ...],
    pv: float,
    battery_wh: float,
    check_hostname: bool,
    once: bool,
    require_signed: bool,
    crls: tuple[Path, ...],
    state_dir: Path | None,
    verbose: bool,
) -> None:
    """Run an IEEE 2030.5 DER client with certificate PREFIX against SERVER."""
    import asyncio
    import logging

    from derlink.sep2.client import (
        ClientOptions,
        Credentials,
        EndDeviceSpec,
        ManagedDevice,
        NotifyEndpoint,
        SubscribePolicy,
        open_client,
    )
    from derlink.sim.der import SimulatedDer, nameplate_of
    from derlink.sim.physics import Household, SiteSpec

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.INFO if verbose else logging.WARNING)
    ca = cafile or ctx.home.pki_dir / "ca-bundle.pem"
    if not ca.is_file():
        raise click.UsageError("give --ca (no data directory CA bundle here)")
    credentials = Credentials.from_prefix(prefix, ca)
    for path in (credentials.certfile, credentials.keyfile):
        if not path.is_file():
            raise click.UsageError(f"{path} does not exist")
    own = credentials.lfdi()
    targets = [_managed(m) for m in managed] or [(own, pin)]
    devices = []
    for n, (lfdi, device_pin) in enumerate(targets):
        spec = SiteSpec(
            pv_w=pv,
            inverter_w=min(pv, 5000.0) or 5000.0,
            battery_wh=battery_wh,
            battery_w=min(5000.0, battery_wh / 2),
            seed=int(lfdi[:8], 16) + n,
        )
        der = SimulatedDer(Household(spec), nameplate_of(spec, f"{lfdi[:12]}"))
        devices.append(ManagedDevice(EndDeviceSpec.of(lfdi, device_pin), der, der))
    command_trust = None
    if require_signed:
        from derlink.sep2.client.signed import CommandTrust, TrustFiles

        if state_dir is None:
            raise click.UsageError("--require-signed needs --state DIR (the counter cache)")
        files = TrustFiles(ca, tuple(crls))  # read again when an agent replaces a CRL file
        command_trust = CommandTrust(files.load(), state_dir, files=files)
    options = ClientOptions(
        subscribe=SubscribePolicy(subscribe),
        max_connections=4 if managed else 1,
        once=once,
        require_signed=require_signed,
        command_trust=command_trust,
    )
    notify = None
    if notify_port is not None:
        cert = notify_cert.with_suffix(".pem") if notify_cert else None
        key = notify_cert.with_suffix(".key") if notify_cert else None
        notify = NotifyEndpoint(notify_host, notify_port, cert, key)

    async def go() -> None:
        async with open_client(
            server, credentials, devices, options, notify=notify, check_hostname=check_hostname
        ) as client:
            await client.run(once=once)

    click.echo(f"derlink DER client {own} -> {server}", err=True)
    asyncio.run(go())
