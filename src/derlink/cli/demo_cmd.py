"""``derlink demo``: the main job on embedded defaults, start to finish, in under two minutes.

A data directory with SQLite and a generated PKI; the IEEE 2030.5 head-end started over mutual
TLS; a hundred simulated DERs (PV, battery, household load), each with its own device
certificate, enrolled in three feeder groups and running the derlink 2030.5 client; then an
export limit dispatched to one feeder as a grid-constraint (red) event. It shows the fleet and
feeder export before and after, how many devices acknowledged, and verifies the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from derlink.audit.log import AuditLog
from derlink.audit.service import open_audit_log
from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.init_cmd import init
from derlink.control.service import FleetService
from derlink.domain import ControlBase, Priority, ResponseStatus
from derlink.errors import DerlinkError
from derlink.home import Home
from derlink.iec61850.xmpp.server import XmppServer

FEEDER = "feeder-1"
LIMIT_W = 1000.0
POLL_S = 5
TIMEOUT_S = 60.0


@dataclass
class Export:
    fleet_w: float
    feeder_w: float


@click.command()
@click.option("--devices", type=click.IntRange(3, 2000), default=100, show_default=True)
@click.option("--groups", type=click.IntRange(1, 20), default=3, show_default=True)
@click.option(
    "--ieds",
    type=click.IntRange(0, 1000),
    default=20,
    show_default=True,
    help="Simulated IEC 61850 IEDs over XMPP in the same feeders (0: none).",
)
@pass_ctx
@click.pass_context
def demo(click_ctx: click.Context, ctx: CliContext, devices: int, groups: int, ieds: int) -> None:
    """Start the head-end, enrol simulated DERs, dispatch an export limit to one feeder."""
    console = Console()
    if not ctx.home.exists():
        click_ctx.invoke(init)
    home = ctx.home
    port = _free_port()
    server = _start_server(home, port)
    xmpp = None
    try:
        if ieds:
            from derlink.cli.demo_61850 import start_xmpp

            xmpp = start_xmpp(home, ctx.config, ctx.passphrase())
            console.print(
                f"XMPP server ({xmpp.kind}) for IEC 61850-8-2 on "
                f"{xmpp.settings.host}:{xmpp.settings.port}"
            )
        asyncio.run(_story(ctx, console, port, devices, groups, ieds, xmpp))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        if xmpp is not None:
            xmpp.stop()


async def _story(
    ctx: CliContext,
    console: Console,
    port: int,
    devices: int,
    groups: int,
    ied_count: int = 0,
    xmpp: XmppServer | None = None,
) -> None:
    from derlink.cli.demo_61850 import IedStory
    from derlink.sim import FleetSim, enrol_fleet, sim_options

    home = ctx.home
    async with open_audit_log(home, ctx.database_url, write=True) as log:
        fleet = FleetService(log.db, log)
        await fleet.set_setting("deployment", "poll:*", str(POLL_S), actor=ctx.actor)
        await fleet.set_setting("deployment", "post:*", "60", actor=ctx.actor)
        with _bar(console, "enrolling simulated DERs", devices) as step:
            records = await enrol_fleet(
                home,
                fleet,
                devices,
                groups,
                actor=ctx.actor,
                now=datetime.now(UTC),
                passphrase=ctx.passphrase(),
                progress=step,
            )
        ieds = None
        if xmpp is not None and ied_count:
            ieds = IedStory(home, xmpp, ied_count, groups)
            with _bar(console, "enrolling simulated 61850 IEDs", ied_count) as step:
                await ieds.enrol(fleet, actor=ctx.actor, passphrase=ctx.passphrase(), progress=step)
        noon = 12.0 - (time.gmtime().tm_hour + time.gmtime().tm_min / 60)  # the sun is up
        sim = FleetSim(
            records,
            f"https://127.0.0.1:{port}",
            home.pki_dir / "ca-bundle.pem",
            options=sim_options(devices, stagger=min(10.0, devices / 20)),
            tz_hours=noon,
        )
        await sim.start()
        try:
            if ieds is not None:
                await ieds.start(fleet, log, passphrase=ctx.passphrase(), tz_hours=noon)
                await _wait(console, "61850 IEDs online over XMPP", ied_count, ieds.available)
            await _wait(
                console, "devices polling the head-end", devices, lambda: sim.summary().polling
            )
            await asyncio.sleep(2 * POLL_S)
            before = _export(sim)
            ied_before = ieds.export_w(FEEDER) if ieds is not None else 0.0
            feeder_devices = sum(1 for r in records if r.group == FEEDER)
            feeder_ieds = ieds.in_group(FEEDER) if ieds is not None else 0
            control = await fleet.create_control(
                ControlBase(export_limit_w=LIMIT_W),
                actor=ctx.actor,
                start=int(time.time()),
                duration=3600,
                group=FEEDER,
                priority=Priority.RED,
                description="grid constraint: export limit",
            )
            console.print(
                f"dispatched [bold]{LIMIT_W / 1000:.1f} kW export limit[/bold] per site "
                f"to {FEEDER} (red: grid constraint), control {control.mrid}"
            )

            counts = {}
            for status in (ResponseStatus.EVENT_RECEIVED, ResponseStatus.EVENT_STARTED):

                async def acknowledged(wanted: ResponseStatus = status) -> int:
                    summary = await fleet.response_summary(control.mrid)
                    by_ieds = ieds.responded(control.mrid, wanted) if ieds is not None else 0
                    return summary.get(int(wanted), 0) - by_ieds  # the 2030.5 devices

                label = f"{FEEDER} devices: {status.name.lower().replace('_', ' ')}"
                counts[status] = await _wait_async(console, label, feeder_devices, acknowledged)
            ied_rows: list[tuple[str, str, str]] = []
            if ieds is not None:
                story = ieds
                started = await _wait(
                    console,
                    f"{FEEDER} 61850 IEDs: limit operated and confirmed",
                    feeder_ieds,
                    lambda: story.responded(control.mrid, ResponseStatus.EVENT_STARTED, FEEDER),
                )
            await asyncio.sleep(2 * 5.0)  # a few physics samples under the new envelope
            after = _export(sim)
            if ieds is not None:
                holding = ieds.holding(FEEDER, LIMIT_W)
                ied_rows = [
                    (
                        "61850 IEDs enrolled (XMPP, " + (xmpp.kind if xmpp else "") + ")",
                        "",
                        f"{ied_count} in {groups} feeders",
                    ),
                    (
                        f"{FEEDER} 61850 IEDs acknowledged (started)",
                        "",
                        f"{started} / {feeder_ieds}",
                    ),
                    (f"{FEEDER} 61850 IEDs holding the limit", "", f"{holding} / {feeder_ieds}"),
                    (
                        f"{FEEDER} 61850 IEDs in end-to-end sessions",
                        "",
                        f"{ieds.protected_sessions(FEEDER)} / {feeder_ieds}",
                    ),
                    (
                        f"{FEEDER} 61850 export",
                        f"{ied_before / 1000:.1f} kW",
                        f"{ieds.export_w(FEEDER) / 1000:.1f} kW",
                    ),
                ]
        finally:
            if ieds is not None:
                await ieds.stop()
            await sim.stop()
        verified = await AuditLog(log.db, public_key=log.public_key).verify()
    _report(
        console,
        devices,
        groups,
        feeder_devices,
        counts,
        before,
        after,
        verified.ok,
        verified.size,
        ied_rows,
    )
    if counts[ResponseStatus.EVENT_STARTED] < feeder_devices or not verified.ok:
        raise DerlinkError("the demo did not complete: see the table above")
    if ied_rows and (started < feeder_ieds or holding < feeder_ieds):
        raise DerlinkError("the 61850 IEDs did not all apply the limit: see the table above")


def _export(sim: object) -> Export:
    from derlink.sim import FleetSim

    assert isinstance(sim, FleetSim)
    fleet = feeder = 0.0
    for record, der in zip(sim.records, sim.ders, strict=True):
        if der.last is None:
            continue
        exported = max(0.0, -der.last.site_w)
        fleet += exported
        if record.group == FEEDER:
            feeder += exported
    return Export(fleet, feeder)


def _report(
    console: Console,
    devices: int,
    groups: int,
    feeder_devices: int,
    counts: dict[ResponseStatus, int],
    before: Export,
    after: Export,
    audit_ok: bool,
    audit_size: int,
    ied_rows: list[tuple[str, str, str]] | None = None,
) -> None:
    table = Table(title="derlink demo", show_header=True)
    table.add_column("")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_row("devices enrolled", str(devices), f"in {groups} feeders")
    table.add_row(
        f"{FEEDER} devices acknowledged (received)",
        "",
        f"{counts[ResponseStatus.EVENT_RECEIVED]} / {feeder_devices}",
    )
    table.add_row(
        f"{FEEDER} devices acknowledged (started)",
        "",
        f"{counts[ResponseStatus.EVENT_STARTED]} / {feeder_devices}",
    )
    table.add_row(
        "fleet export", f"{before.fleet_w / 1000:.1f} kW", f"{after.fleet_w / 1000:.1f} kW"
    )
    table.add_row(
        f"{FEEDER} export", f"{before.feeder_w / 1000:.1f} kW", f"{after.feeder_w / 1000:.1f} kW"
    )
    for row in ied_rows or []:
        table.add_row(*row)
    state = "[green]intact[/green]" if audit_ok else "[red]TAMPERED[/red]"
    table.add_row("audit log", "", f"{state} ({audit_size} records)")
    console.print(table)


@contextlib.contextmanager
def _bar(console: Console, label: str, total: int) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)


async def _wait(console: Console, label: str, total: int, count: Callable[[], int]) -> int:
    async def current() -> int:
        return count()

    return await _wait_async(console, label, total, current)


async def _wait_async(
    console: Console, label: str, total: int, count: Callable[[], Awaitable[int]]
) -> int:
    """Show progress towards ``total`` until it is reached or TIMEOUT_S passes."""
    deadline = time.monotonic() + TIMEOUT_S
    done = 0
    with _bar(console, label, total) as step:
        while time.monotonic() < deadline:
            done = await count()
            step(done)
            if done >= total:
                break
            await asyncio.sleep(0.25)
    return done


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(home: Home, port: int) -> subprocess.Popen[bytes]:
    log = (home.log_dir / "demo-serve.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "derlink.cli.main",
            "--home",
            str(home.root),
            "serve",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DerlinkError(f"the head-end did not start: see {home.log_dir}/demo-serve.log")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise DerlinkError("the head-end did not start within 30 s")
