"""``derlink init`` (a new data directory) and ``derlink config`` (what is in force)."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime

import click

from derlink.audit.event import AuditEvent, Severity
from derlink.audit.log import AuditLog
from derlink.audit.service import load_signer
from derlink.cli.context import CliContext, emit_json, pass_ctx
from derlink.config import DEFAULT_TOML, load_config
from derlink.errors import DerlinkError
from derlink.home import write_private
from derlink.pki import Issued, Pki
from derlink.rbac.credentials import issue_local_admin
from derlink.store.database import Database
from derlink.store.migrate import upgrade

SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


@click.command()
@click.option("--name", default="derlink", show_default=True, help="Name of the PKI (the O=).")
@click.option(
    "--server-name",
    "server_names",
    multiple=True,
    help="DNS name or IP address of the 2030.5 server certificate (repeatable). "
    "Default: localhost, 127.0.0.1, ::1.",
)
@pass_ctx
def init(ctx: CliContext, name: str, server_names: tuple[str, ...]) -> None:
    """Create a data directory: config, database, PKI, server and audit certificates.

    CA keys are encrypted when the passphrase variable (DERLINK_PKI_PASSPHRASE by default)
    is set. Refuses to touch a directory that is already initialised.
    """
    home = ctx.home
    if home.exists():
        raise DerlinkError(f"{home.root} is already a derlink data directory")
    if home.root.exists() and any(home.root.iterdir()):
        raise DerlinkError(f"{home.root} exists and is not empty; choose another --home")
    created = not home.root.exists()
    try:
        _initialise(ctx, name, server_names or SERVER_NAMES)
    except BaseException:
        if created:
            shutil.rmtree(home.root, ignore_errors=True)
        else:
            for child in home.root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    click.echo(f"initialised {home.root}")
    click.echo(f"  config    {home.config_file}")
    click.echo(f"  database  {ctx.config.database_url(home)}")
    click.echo(f"  PKI       {home.pki_dir}")


def _initialise(ctx: CliContext, name: str, server_names: tuple[str, ...]) -> None:
    home = ctx.home
    load_config(None)  # a bad DERLINK_* variable fails before anything is written
    home.create()
    write_private(home.config_file, DEFAULT_TOML.encode())
    ctx._config = None
    now = datetime.now(UTC)
    pki = Pki.create(home.pki_dir, passphrase=ctx.passphrase(), name=name, now=now)
    server = pki.issue_server(list(server_names), now=now)
    server.write(home.pki_dir / "server")
    signer = pki.issue_signer(f"{name} audit", now=now)
    signer.write(home.pki_dir / "audit")
    admin = issue_local_admin(pki, name=name, now=now)
    events = [
        AuditEvent(
            action="derlink.init",
            target=f"home:{home.root}",
            actor=ctx.actor,
            severity=Severity.NOTICE,
            event_id="Derlink:Init.1",
            source="derlink.cli",
            details={"administrator": _cert_target(admin)},
        ),
        _issue_event(ctx, "pki.init", "pki:root", "PKI:Init.1", {"name": name}),
        _issue_event(ctx, "pki.issue", _cert_target(server), "PKI:Issue.1", _cert_details(server)),
        _issue_event(ctx, "pki.issue", _cert_target(signer), "PKI:Issue.1", _cert_details(signer)),
    ]
    asyncio.run(_create_database(ctx, events))


def _cert_target(issued: Issued) -> str:
    return f"cert:{issued.certificate.serial_number:X}"


def _cert_details(issued: Issued) -> dict[str, object]:
    return {
        "profile": issued.profile.name.lower(),
        "subject": issued.certificate.subject.rfc4514_string(),
    }


def _issue_event(
    ctx: CliContext, action: str, target: str, event_id: str, details: dict[str, object]
) -> AuditEvent:
    return AuditEvent(
        action=action,
        target=target,
        actor=ctx.actor,
        severity=Severity.NOTICE,
        event_id=event_id,
        source="derlink.cli",
        details=details,
    )


async def _create_database(ctx: CliContext, events: list[AuditEvent]) -> None:
    if not ctx.config.database.url:
        # SQLite gives its -wal and -shm files the database file's mode: make it private first.
        os.close(os.open(ctx.home.database_file, os.O_CREAT | os.O_WRONLY, 0o600))
    async with Database(ctx.database_url) as db:
        await upgrade(db)
        await AuditLog(db, signer=load_signer(ctx.home)).append_many(events)


@click.group()
def config() -> None:
    """Show the configuration in force."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def config_show(ctx: CliContext, as_json: bool) -> None:
    """Print the effective configuration (file, then DERLINK_* variables, then defaults)."""
    data = ctx.config.model_dump(mode="json")
    data["database"]["effective_url"] = ctx.database_url
    if as_json:
        emit_json(data)
        return
    source = ctx.home.config_file if ctx.home.exists() else "defaults (no data directory)"
    click.echo(f"# from {source} and DERLINK_* variables")
    for section, values in data.items():
        click.echo(f"[{section}]")
        for key, value in values.items():
            click.echo(f"{key} = {value!r}")
