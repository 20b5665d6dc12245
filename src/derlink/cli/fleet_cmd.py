"""``derlink site|group|device``: who is in the fleet and how it is grouped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.fleet import json_option, output, run
from derlink.cli.units import POWER
from derlink.domain import Device, DeviceKind, Group, Site


@click.group()
def group() -> None:
    """Groups of sites (by feeder, zone, size, type): what programs and tariffs target."""


@group.command("add")
@click.argument("group_id")
@click.option("--name", default="", help="Human-readable name.")
@click.option("--kind", default="feeder", show_default=True, help="feeder, zone, size, type...")
@json_option
@pass_ctx
def group_add(ctx: CliContext, group_id: str, name: str, kind: str, as_json: bool) -> None:
    """Create group GROUP_ID."""
    made = run(ctx, lambda f: f.add_group(Group(group_id, name, kind), actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"group {made.id} added"))


@group.command("remove")
@click.argument("group_id")
@pass_ctx
def group_remove(ctx: CliContext, group_id: str) -> None:
    """Delete group GROUP_ID (its sites stay; its programs lose this target)."""
    run(ctx, lambda f: f.remove_group(group_id, actor=ctx.actor))
    click.echo(f"group {group_id} removed")


@group.command("list")
@json_option
@pass_ctx
def group_list(ctx: CliContext, as_json: bool) -> None:
    """List the groups."""
    groups = run(ctx, lambda f: f.groups())

    def text() -> None:
        for g in groups:
            click.echo(f"{g.id}\t{g.kind}\t{g.name}")

    output(groups, as_json, text)


def _site_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--name", default="", help="Human-readable name."),
            click.option("--connection-point", help="CSIP-AUS connection point id (NMI)."),
            click.option("--group", "groups", multiple=True, help="Group (repeatable)."),
            click.option("--lat", type=click.FloatRange(-90, 90), help="Latitude."),
            click.option("--lon", type=click.FloatRange(-180, 180), help="Longitude."),
            click.option("--capacity", type=POWER, help="Rated capacity, e.g. 10kW."),
            click.option(
                "--lock-connection-point",
                is_flag=True,
                help="Refuse client updates of the ConnectionPoint.",
            ),
        ]
    ):
        command = option(command)
    return command


def _site(site_id: str, options: dict[str, Any]) -> Site:
    return Site(
        id=site_id,
        name=options["name"],
        connection_point_id=options["connection_point"],
        groups=frozenset(options["groups"]),
        latitude=options["lat"],
        longitude=options["lon"],
        capacity_w=options["capacity"],
        lock_connection_point=options["lock_connection_point"],
    )


@click.group()
def site() -> None:
    """Sites: connection points to the grid, members of groups."""


@site.command("add")
@click.argument("site_id")
@_site_options
@json_option
@pass_ctx
def site_add(ctx: CliContext, /, site_id: str, as_json: bool, **options: Any) -> None:
    """Create site SITE_ID."""
    made = run(ctx, lambda f: f.add_site(_site(site_id, options), actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"site {made.id} added"))


@site.command("set")
@click.argument("site_id")
@_site_options
@json_option
@pass_ctx
def site_set(ctx: CliContext, /, site_id: str, as_json: bool, **options: Any) -> None:
    """Replace the attributes and groups of site SITE_ID."""
    made = run(ctx, lambda f: f.update_site(_site(site_id, options), actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"site {made.id} updated"))


@site.command("remove")
@click.argument("site_id")
@pass_ctx
def site_remove(ctx: CliContext, site_id: str) -> None:
    """Delete site SITE_ID (its devices stay enrolled, without a site)."""
    run(ctx, lambda f: f.remove_site(site_id, actor=ctx.actor))
    click.echo(f"site {site_id} removed")


@site.command("list")
@json_option
@pass_ctx
def site_list(ctx: CliContext, as_json: bool) -> None:
    """List the sites with their groups."""
    sites = run(ctx, lambda f: f.sites())

    def text() -> None:
        for s in sites:
            groups = ",".join(sorted(s.groups)) or "-"
            click.echo(f"{s.id}\t{groups}\t{s.connection_point_id or '-'}\t{s.name}")

    output(sites, as_json, text)


@click.group()
def device() -> None:
    """End devices and aggregators: enrolment and access."""


@device.command("enrol")
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The client's certificate: LFDI and SFDI are taken from it.",
)
@click.option("--lfdi", help="LFDI (40 hex digits), when no certificate is at hand.")
@click.option("--sfdi", type=click.IntRange(0, 10**12 - 1), help="SFDI (default: from LFDI).")
@click.option("--pin", type=click.IntRange(0, 999_999), help="Registration PIN.")
@click.option("--site", "site_id", help="The site the device is at.")
@click.option("--aggregator", help="LFDI of the aggregator that manages this device.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in DeviceKind]),
    default=None,
    help="device or aggregator (default: from the certificate, else device).",
)
@click.option(
    "--ied-name",
    default=None,
    help="IEC 61850 IED name, for an XMPP certificate (default: the shipped model's, DERIED).",
)
@json_option
@pass_ctx
def device_enrol(
    ctx: CliContext,
    cert: Path | None,
    lfdi: str | None,
    sfdi: int | None,
    pin: int | None,
    site_id: str | None,
    aggregator: str | None,
    kind: str | None,
    ied_name: str | None,
    as_json: bool,
) -> None:
    """Enrol a client by certificate or by LFDI/SFDI, with its PIN.

    An XMPP client certificate (id-on-xmppAddr) enrols an IEC 61850 IED reached at that JID."""
    from derlink.iec61850.registry import DEFAULT_IED_NAME, ied_device, jid_of_certificate
    from derlink.pki import lfdi_of_certificate, load_certificate, sfdi_from_lfdi

    if (cert is None) == (lfdi is None):
        raise click.UsageError("give either --cert or --lfdi")
    ied: tuple[str, str] | None = None
    if cert is not None:
        certificate = load_certificate(cert)
        lfdi = lfdi_of_certificate(certificate)
        if jid_of_certificate(certificate) is not None:
            name = ied_name or DEFAULT_IED_NAME
            ied = ied_device(certificate, site=site_id, pin=pin, ied_name=name)[1]
            kind = kind or "device"
        if kind is None:
            kind = _kind_of(ctx, certificate)
    if ied_name is not None and ied is None:
        raise click.UsageError("--ied-name needs --cert with an XMPP client certificate")
    assert lfdi is not None
    from derlink.pki import normalise_lfdi

    lfdi = normalise_lfdi(lfdi)
    made = Device(
        lfdi=lfdi,
        sfdi=sfdi if sfdi is not None else sfdi_from_lfdi(lfdi),
        kind=DeviceKind(kind or "device"),
        site=site_id,
        aggregator=aggregator,
        pin=pin,
    )
    made = run(ctx, lambda f: f.enrol(made, actor=ctx.actor, ied=ied))
    at = f", IEC 61850 IED at {ied[0]}" if ied else ""
    output(
        made,
        as_json,
        lambda: click.echo(f"enrolled {made.kind.value} {made.lfdi} (SFDI {made.sfdi}){at}"),
    )


def _kind_of(ctx: CliContext, certificate: Any) -> str:
    from derlink.pki import Pki, Profile

    pki = Pki.open(ctx.home.pki_dir, passphrase=None)
    return "aggregator" if pki.profile_of(certificate) is Profile.AGGREGATOR else "device"


@device.command("remove")
@click.argument("lfdi")
@pass_ctx
def device_remove(ctx: CliContext, lfdi: str) -> None:
    """Remove a device's registration (and, for an aggregator, its devices)."""
    run(ctx, lambda f: f.remove_device(lfdi, actor=ctx.actor))
    click.echo(f"device {lfdi.upper()} removed")


@device.command("grant")
@click.argument("lfdi")
@pass_ctx
def device_grant(ctx: CliContext, lfdi: str) -> None:
    """Give an enrolled client access again."""
    run(ctx, lambda f: f.set_access(lfdi, True, actor=ctx.actor))
    click.echo(f"access granted to {lfdi.upper()}")


@device.command("revoke")
@click.argument("lfdi")
@pass_ctx
def device_revoke(ctx: CliContext, lfdi: str) -> None:
    """Refuse an enrolled client's requests (403) until granted again.

    This is access, not the certificate: 'derlink pki revoke' revokes the certificate."""
    run(ctx, lambda f: f.set_access(lfdi, False, actor=ctx.actor))
    click.echo(f"access revoked for {lfdi.upper()}")


@device.command("move")
@click.argument("lfdi")
@click.option("--site", "site_id", help="The new site (omit to detach from any site).")
@pass_ctx
def device_move(ctx: CliContext, lfdi: str, site_id: str | None) -> None:
    """Move a device to another site."""
    run(ctx, lambda f: f.move_device(lfdi, site_id, actor=ctx.actor))
    click.echo(f"device {lfdi.upper()} at site {site_id or '-'}")


@device.command("list")
@click.option("--aggregator", help="Only the devices of this aggregator.")
@click.option("--site", "site_id", help="Only the devices at this site.")
@json_option
@pass_ctx
def device_list(
    ctx: CliContext, aggregator: str | None, site_id: str | None, as_json: bool
) -> None:
    """List enrolled devices and aggregators."""
    devices = run(ctx, lambda f: f.devices(aggregator=aggregator, site=site_id))

    def text() -> None:
        for d in devices:
            state = "enabled" if d.enabled else "REVOKED"
            click.echo(f"{d.lfdi}\t{d.sfdi}\t{d.kind.value}\t{d.site or '-'}\t{state}")

    output(devices, as_json, text)


from derlink.cli.device_cmd import run as _device_run  # noqa: E402 - the device runner joins the group

device.add_command(_device_run)
