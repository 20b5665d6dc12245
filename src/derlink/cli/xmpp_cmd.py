"""``derlink xmpp``: run the XMPP server that carries IEC 61850-8-2, issue its client certificates.

The server (ejabberd or Prosody, from the Debian packages) runs with a configuration derlink
generates in ``<home>/run/xmpp/<kind>/``: STARTTLS required, certificate login only (SASL
EXTERNAL), MUC and PubSub whose rooms and nodes only the ``[xmpp] admins`` create, no s2s, no
registration. Starting, stopping and issuing certificates are audited.
"""

from __future__ import annotations

import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click

from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.cli.context import CliContext, emit_json, pass_ctx
from derlink.iec61850.xmpp.server import KINDS, XmppServer, XmppServerError, XmppSettings
from derlink.pki import Pki, PkiError, check_output, parse_role

#: How often a foreground server picks up revocations and renews CRLs near their nextUpdate.
REFRESH_SECONDS = 30.0


def _now() -> datetime:
    return datetime.now(UTC)


def _event(
    ctx: CliContext,
    action: str,
    target: str,
    event_id: str,
    details: dict[str, Any],
    outcome: Outcome = Outcome.SUCCESS,
) -> AuditEvent:
    return AuditEvent(
        action=action,
        target=target,
        actor=ctx.actor,
        outcome=outcome,
        severity=Severity.NOTICE if outcome is Outcome.SUCCESS else Severity.WARNING,
        event_id=event_id,
        source="derlink.cli",
        details=details,
    )


def _server(
    ctx: CliContext, kind: str | None, host: str | None = None, port: int | None = None
) -> XmppServer:
    home = ctx.home.require()
    settings = XmppSettings.from_config(ctx.config, kind, host=host, port=port)
    return XmppServer(home, settings, passphrase=ctx.passphrase())


def _started(ctx: CliContext, kind: str | None) -> XmppServer:
    """The server of ``kind`` with the address it was started on (from its state file)."""
    server = _server(ctx, kind)
    state = _state(server.files.state_file)
    if state is None or not state[1].isdigit():
        return server
    return _server(ctx, kind, state[0], int(state[1]))


def _details(server: XmppServer) -> dict[str, Any]:
    s = server.settings
    return {"server": s.kind, "domain": s.domain, "host": s.host, "port": s.port}


@click.group()
def xmpp() -> None:
    """The XMPP server carrying IEC 61850-8-2 (ejabberd or Prosody), run by derlink."""


@xmpp.command()
@click.option(
    "--server",
    "kind",
    type=click.Choice(KINDS),
    default=None,
    help="Which server (config xmpp.server, default ejabberd).",
)
@click.option("--host", default=None, help="Address to listen on (config xmpp.host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (5222).")
@click.option(
    "--foreground/--background",
    default=True,
    show_default=True,
    help="Stay attached until interrupted, or start the server and return.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 600),
    default=60,
    show_default=True,
    help="Seconds to wait for the server to serve TLS.",
)
@pass_ctx
def serve(
    ctx: CliContext,
    kind: str | None,
    host: str | None,
    port: int | None,
    foreground: bool,
    timeout: float,
) -> None:
    """Generate the configuration and run the XMPP server.

    Clients log in with certificates from 'derlink xmpp cert' (SASL EXTERNAL only). In the
    foreground the server is stopped on Ctrl-C or SIGTERM, and revocations ('derlink pki
    revoke') are pushed to it every 30 seconds; in the background run 'derlink xmpp
    reload-crl' after a revocation and 'derlink xmpp stop' to stop it.
    """
    server = _server(ctx, kind, host, port)
    server.start(timeout=timeout)
    details = {**_details(server), "pid": server.pid()}
    ctx.audit(_event(ctx, "xmpp.start", f"xmpp:{server.kind}", "XMPP:Start.1", details))
    s = server.settings
    click.echo(f"{s.kind} serving {s.domain} on {s.host}:{s.port} (pid {server.pid()})")
    click.echo(f"  rooms   {s.muc_service}\n  pubsub  {s.pubsub_service}")
    click.echo(f"  log     {server.files.log_file}")
    if not foreground:
        return
    _run_attached(ctx, server)


class _Terminated(Exception):
    pass


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _run_attached(ctx: CliContext, server: XmppServer) -> None:
    previous = signal.signal(signal.SIGTERM, _terminate)
    status: int | None = None
    try:
        while status is None:
            try:
                status = server.wait(timeout=REFRESH_SECONDS)
            except subprocess.TimeoutExpired:
                if server.refresh():
                    click.echo("revocations changed: the server reloaded its CRLs", err=True)
    except (KeyboardInterrupt, _Terminated):
        server.stop()
        ctx.audit(_event(ctx, "xmpp.stop", f"xmpp:{server.kind}", "XMPP:Stop.1", _details(server)))
        click.echo(f"{server.kind} stopped")
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    details = {**_details(server), "status": status}
    ctx.audit(
        _event(ctx, "xmpp.exit", f"xmpp:{server.kind}", "XMPP:Exit.1", details, Outcome.FAILURE)
    )
    raise XmppServerError(
        f"{server.kind} exited with status {status}; log tail:\n{server.log_tail()}"
    )


@xmpp.command()
@click.option("--server", "kind", type=click.Choice(KINDS), default=None, help="Only this one.")
@pass_ctx
def stop(ctx: CliContext, kind: str | None) -> None:
    """Stop the XMPP server started by 'derlink xmpp serve --background'."""
    stopped = []
    for name in [kind] if kind else list(KINDS):
        server = _started(ctx, name)
        if server.stop():
            stopped.append(name)
            details = _details(server)
            ctx.audit(_event(ctx, "xmpp.stop", f"xmpp:{name}", "XMPP:Stop.1", details))
            click.echo(f"{name} stopped")
    if not stopped:
        raise XmppServerError("no derlink XMPP server is running in this data directory")


@xmpp.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def status(ctx: CliContext, as_json: bool) -> None:
    """Which XMPP server runs, where, with which pid."""
    rows = []
    for name in KINDS:
        server = _server(ctx, name)
        state = _state(server.files.state_file)
        rows.append(
            {
                "server": name,
                "running": server.running(),
                "pid": server.pid(),
                "host": state[0] if state else server.settings.host,
                "port": int(state[1]) if state else server.settings.port,
                "domain": state[2] if state else server.settings.domain,
                "log": str(server.files.log_file),
            }
        )
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        where = f"{row['domain']} on {row['host']}:{row['port']}"
        text = f"running (pid {row['pid']}), {where}" if row["running"] else "stopped"
        click.echo(f"{row['server']:<9} {text}")


def _state(path: Path) -> list[str] | None:
    try:
        parts = path.read_text().split()
    except OSError:
        return None
    return parts if len(parts) == 3 else None


@xmpp.command("reload-crl")
@click.option("--server", "kind", type=click.Choice(KINDS), default=None, help="Which server.")
@click.option("--renew", is_flag=True, help="Sign fresh CRLs first (needs the CA keys).")
@pass_ctx
def reload_crl(ctx: CliContext, kind: str | None, renew: bool) -> None:
    """Push the PKI's current CRLs (after 'derlink pki revoke') to the XMPP server."""
    if kind is None:  # the one that runs, else the configured one
        kind = next((k for k in KINDS if _server(ctx, k).running()), None)
    server = _started(ctx, kind)
    if not server.running():
        raise XmppServerError(f"{server.kind} is not running; it reads the CRLs when it starts")
    server.reload_crl(renew=renew)
    ctx.audit(_event(ctx, "xmpp.reload", f"xmpp:{server.kind}", "XMPP:Reload.1", _details(server)))
    click.echo(f"{server.kind} reloaded its CRLs")


@xmpp.command()
@click.argument("jid")
@click.option(
    "--role",
    "roles",
    multiple=True,
    help="IEC 62351-8 role for a control-centre identity, repeatable (operator, engineer...).",
)
@click.option(
    "--days",
    type=click.IntRange(1, 36500),
    default=365,
    show_default=True,
    help="Validity in days.",
)
@click.option(
    "--out",
    "prefix",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write PREFIX.pem (certificate and chain) and PREFIX.key.",
)
@click.option("--overwrite", is_flag=True, help="Replace PREFIX.pem and PREFIX.key.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def cert(
    ctx: CliContext,
    jid: str,
    roles: tuple[str, ...],
    days: int,
    prefix: Path,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Issue an XMPP client certificate for the bare JID (local@domain): SASL EXTERNAL login.

    The JID goes into subjectAltName (id-on-xmppAddr). Give --role for control-centre
    identities (IEC 62351-8 roles in the certificate); IEDs need none.
    """
    home = ctx.home.require()
    parsed = [parse_role(r) for r in roles]
    domain = ctx.config.xmpp.domain
    if jid.strip().lower().partition("@")[2] != domain:
        raise PkiError(f"{jid!r} is not a JID of the XMPP domain {domain} (config xmpp.domain)")
    check_output(prefix, overwrite=overwrite)
    pki = Pki.open(home.pki_dir, passphrase=ctx.passphrase())
    issued = pki.issue_xmpp_client(jid, roles=parsed or None, now=_now(), validity_days=days)
    cert_path, key_path = issued.write(prefix, overwrite=overwrite)
    bare = issued.certificate.subject.rfc4514_string()
    data = {
        "jid": jid.strip().lower(),
        "serial_number": f"{issued.serial_number:X}",
        "profile": issued.profile.value,
        "subject": bare,
        "roles": [r.name.lower() for r in sorted(set(parsed))],
        "not_after": issued.certificate.not_valid_after_utc.isoformat(),
        "certificate_file": str(cert_path),
        "key_file": str(key_path),
    }
    details = {k: data[k] for k in ("jid", "profile", "subject", "roles")}
    target = f"cert:{issued.serial_number:X}"
    ctx.audit(_event(ctx, "pki.issue", target, "PKI:Issue.1", details))
    if as_json:
        emit_json(data)
        return
    click.echo(f"issued xmpp-client certificate {data['serial_number']} for {data['jid']}")
    click.echo(f"  certificate  {cert_path}\n  key          {key_path}")
