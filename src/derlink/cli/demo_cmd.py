"""``derlink demo``: the main job on embedded defaults, shown step by step.

What it shows grows with the project: today a data directory with SQLite, a generated PKI
(2030.5 device certificates with their LFDI/SFDI, operator and aggregator certificates with
IEC 62351-8 roles), a revocation with a CRL, and the audit log of all of it, verified.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from derlink.audit.event import AuditEvent, Severity
from derlink.audit.log import AuditLog, VerifyResult
from derlink.audit.service import open_audit_log
from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.init_cmd import init
from derlink.pki import CertificateError, Issued, Pki, Role


@click.command()
@click.option("--devices", type=click.IntRange(1, 10_000), default=12, show_default=True)
@pass_ctx
@click.pass_context
def demo(click_ctx: click.Context, ctx: CliContext, devices: int) -> None:
    """Run the demo in the data directory (created when missing) and print what happened."""
    console = Console()
    if not ctx.home.exists():
        click_ctx.invoke(init)
    pki = Pki.open(ctx.home.pki_dir, passphrase=ctx.passphrase())
    now = datetime.now(UTC)
    events: list[AuditEvent] = []
    issued: list[Issued] = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("issuing device certificates", total=devices)
        for n in range(devices):
            issued.append(pki.issue_device(f"DEMO-INV-{n:05d}", now=now))
            bar.advance(task)
    operator = pki.issue_operator("alice", [Role.OPERATOR, Role.VIEWER], now=now)
    aggregator = pki.issue_aggregator("vpp-aggregator", [Role.OPERATOR], now=now)
    victim = issued[-1]
    pki.revoke(victim.certificate.serial_number, now=now)
    pki.crl(now=now)
    for cert in [*issued, operator, aggregator]:
        events.append(_event(ctx, "pki.issue", cert, "PKI:Issue.1"))
    events.append(_event(ctx, "pki.revoke", victim, "PKI:Revoke.1"))
    result = asyncio.run(_audit_and_verify(ctx, events))
    _report(console, pki, issued, operator, aggregator, victim, result, now)
    if not result.ok:
        raise click.ClickException(f"audit log verification failed: {result.problem}")


def _event(ctx: CliContext, action: str, cert: Issued, event_id: str) -> AuditEvent:
    return AuditEvent(
        action=action,
        target=f"cert:{cert.certificate.serial_number:X}",
        actor=ctx.actor,
        severity=Severity.NOTICE,
        event_id=event_id,
        source="derlink.demo",
        details={"profile": cert.profile.name.lower()},
    )


async def _audit_and_verify(ctx: CliContext, events: list[AuditEvent]) -> VerifyResult:
    async with open_audit_log(ctx.home, ctx.database_url, write=True) as log:
        await log.append_many(events)
        return await AuditLog(log.db, public_key=log.public_key).verify()


def _report(
    console: Console,
    pki: Pki,
    issued: list[Issued],
    operator: Issued,
    aggregator: Issued,
    victim: Issued,
    result: VerifyResult,
    now: datetime,
) -> None:
    table = Table(title="derlink demo: identities")
    for column in ("subject / serial", "profile", "LFDI", "SFDI", "roles", "verifies"):
        table.add_column(column)
    for cert in [*issued[:3], victim, operator, aggregator]:
        table.add_row(*_row(pki, cert, now))
    console.print(table)
    summary = Table(title="derlink demo: summary", show_header=False)
    summary.add_row("device certificates issued", str(len(issued)))
    summary.add_row("revoked (refused by verification)", f"{victim.certificate.serial_number:X}")
    summary.add_row("audit records", str(result.size))
    state = "[green]intact[/green]" if result.ok else f"[red]{result.problem}[/red]"
    summary.add_row("audit log", state)
    console.print(summary)


def _row(pki: Pki, cert: Issued, now: datetime) -> tuple[str, ...]:
    try:
        verified = pki.verify(cert.certificate, now=now)
    except CertificateError as err:
        subject = f"serial {cert.certificate.serial_number:X}"
        return (subject, cert.profile.name.lower(), "", "", "", f"[red]no: {err}[/red]")
    subject = verified.subject or f"hw {verified.hardware_serial}"
    roles = ", ".join(r.name for r in verified.roles)
    return (
        subject,
        verified.profile.name.lower(),
        verified.lfdi,
        str(verified.sfdi),
        roles,
        "[green]yes[/green]",
    )
