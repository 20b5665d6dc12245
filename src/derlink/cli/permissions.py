"""What each ``derlink`` command needs, and the one place the CLI enforces it.

:data:`COMMAND_PERMISSIONS` maps each command path (``control create``) to the permissions it
needs (all of them); ``None`` marks the few commands with nothing to protect (creating a data
directory or a PKI, showing the configuration). A command missing from the table needs
``view`` when it only lists or shows, and ``manage-security`` otherwise: a new command fails
closed until it is added here.

The subject is the certificate of ``--identity`` / ``DERLINK_IDENTITY`` (with its key), else the
token of ``--token`` / ``DERLINK_TOKEN``, else the data directory's local administrator
(``pki/admin.pem``, written by ``derlink init``). An encrypted identity key is opened with
``DERLINK_IDENTITY_PASSPHRASE``. A command on a directory that is not
initialised is not checked: there is nothing to protect, and the command says what is missing.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.cli.context import CliContext
from derlink.errors import DerlinkError
from derlink.pki import Pki
from derlink.rbac import AccessDenied, Permission, Policy, Subject, Target, authorize
from derlink.rbac.credentials import admin_prefix, load_identity, subject_from_token
from derlink.rbac.decision import denial_event
from derlink.rbac.subject import Source

P = Permission
Needs = tuple[Permission, ...] | None

COMMAND_PERMISSIONS: dict[str, Needs] = {
    "init": None,
    "config show": None,
    "pki init": None,  # only into an empty pki/; refuses otherwise
    "pki issue device": (P.MANAGE_SECURITY,),
    "pki issue server": (P.MANAGE_SECURITY,),
    "pki issue operator": (P.MANAGE_SECURITY,),
    "pki issue aggregator": (P.MANAGE_SECURITY,),
    "pki issue signer": (P.MANAGE_SECURITY,),
    "pki issue e2e": (P.MANAGE_SECURITY,),
    "pki revoke": (P.MANAGE_SECURITY,),
    "pki crl": (P.MANAGE_SECURITY,),
    "pki show": (P.VIEW,),
    "pki list": (P.VIEW,),
    "rbac token issue": (P.MANAGE_SECURITY,),
    "rbac whoami": None,
    "rbac matrix": None,
    "audit verify": (P.READ_AUDIT,),
    "audit head": (P.READ_AUDIT,),
    "audit export": (P.READ_AUDIT,),
    "audit prove": (P.READ_AUDIT,),
    "audit consistency": (P.READ_AUDIT,),
    "db upgrade": (P.CONFIGURE,),
    "db current": (P.VIEW,),
    "demo": (P.MANAGE_FLEET, P.CONTROL, P.SERVE),
    "group add": (P.MANAGE_FLEET,),
    "group remove": (P.MANAGE_FLEET,),
    "group list": (P.VIEW,),
    "site add": (P.MANAGE_FLEET,),
    "site set": (P.MANAGE_FLEET,),
    "site remove": (P.MANAGE_FLEET,),
    "site list": (P.VIEW,),
    "device enrol": (P.MANAGE_FLEET,),
    "device remove": (P.MANAGE_FLEET,),
    "device grant": (P.MANAGE_FLEET,),
    "device revoke": (P.MANAGE_FLEET,),
    "device move": (P.MANAGE_FLEET,),
    "device list": (P.VIEW,),
    "device run": (P.SERVE,),
    "program add": (P.CONFIGURE,),
    "program default": (P.CONFIGURE,),
    "program remove": (P.CONFIGURE,),
    "program list": (P.VIEW,),
    "control create": (P.CONTROL,),
    "control cancel": (P.CONTROL,),
    "control cancel-all": (P.CONTROL,),
    "control list": (P.VIEW,),
    "control show": (P.READ_TELEMETRY,),
    "control held": (P.VIEW,),
    "control approve": (P.APPROVE,),
    "control reject": (P.APPROVE,),
    "rate": (P.CONFIGURE,),
    "curve add": (P.CONFIGURE,),
    "curve remove": (P.CONFIGURE,),
    "curve list": (P.VIEW,),
    "tariff add": (P.CONFIGURE,),
    "tariff component": (P.CONFIGURE,),
    "tariff price": (P.CONFIGURE,),
    "tariff remove": (P.CONFIGURE,),
    "tariff cancel": (P.CONFIGURE,),
    "tariff list": (P.VIEW,),
    "tariff show": (P.READ_TELEMETRY,),
    "dr add": (P.CONFIGURE,),
    "dr control": (P.CONTROL,),
    "dr cancel": (P.CONTROL,),
    "dr remove": (P.CONFIGURE,),
    "dr list": (P.VIEW,),
    "dr show": (P.READ_TELEMETRY,),
    "message add": (P.CONFIGURE,),
    "message send": (P.CONTROL,),
    "message cancel": (P.CONTROL,),
    "message remove": (P.CONFIGURE,),
    "message list": (P.VIEW,),
    "message show": (P.READ_TELEMETRY,),
    "file add": (P.MANAGE_FILES,),
    "file remove": (P.MANAGE_FILES,),
    "file list": (P.VIEW,),
    "file show": (P.VIEW,),
    "resource disable": (P.CONFIGURE,),
    "resource enable": (P.CONFIGURE,),
    "resource lock": (P.CONFIGURE,),
    "resource unlock": (P.CONFIGURE,),
    "resource list": (P.VIEW,),
    "serve": (P.SERVE,),
    "sim": (P.SERVE,),
    "xmpp serve": (P.SERVE,),
    "xmpp stop": (P.SERVE,),
    "xmpp status": (P.VIEW,),
    "xmpp reload-crl": (P.SERVE,),
    "xmpp cert": (P.MANAGE_SECURITY,),
    "ied run": None,  # device side: its own certificate, no data directory
    "ied sim": (P.SERVE,),
    "ied dispatch": (P.SERVE, P.CONTROL),
    "field export": (P.CONTROL,),
    "field otc issue": (P.CONTROL,),
    "field apply": None,  # device side: no data directory, the signature is the authority
    "field otc enter": None,
}
IDENTITY_PASSPHRASE_ENV = "DERLINK_IDENTITY_PASSPHRASE"  # for an encrypted identity key
READ_ONLY_VERBS = frozenset({"list", "show", "current", "head", "held"})
STRICTEST: tuple[Permission, ...] = (P.MANAGE_SECURITY,)


def needs(path: str) -> Needs:
    """The permissions of the command at ``path`` (``control create``), failing closed."""
    if path in COMMAND_PERMISSIONS:
        return COMMAND_PERMISSIONS[path]
    if path.rsplit(" ", 1)[-1] in READ_ONLY_VERBS:
        return (P.VIEW,)
    return STRICTEST


def command_path(click_ctx: click.Context) -> str:
    """``derlink control create`` -> ``control create``."""
    return " ".join(click_ctx.command_path.split()[1:])


def _now() -> datetime:
    return datetime.now(UTC)


def resolve_subject(ctx: CliContext) -> Subject:
    """The CLI's subject (see the module docstring); a refusal is audited and raised."""
    home = ctx.home.require()
    pki = Pki.open(home.pki_dir, passphrase=None)
    try:
        if ctx.identity_file:
            secret = os.environ.get(IDENTITY_PASSPHRASE_ENV)
            key_pass = secret.encode() if secret else None
            return load_identity(Path(ctx.identity_file), pki, now=_now(), passphrase=key_pass)[0]
        if ctx.token:
            policy = Policy.from_config(ctx.config.rbac)
            return subject_from_token(ctx.token, pki, now=_now(), policy=policy)
        admin = admin_prefix(home.pki_dir).with_suffix(".pem")
        if not admin.exists():
            raise DerlinkError(f"no identity: pass --identity or --token ({admin} does not exist)")
        local = load_identity(admin, pki, now=_now())[0]
    except DerlinkError as err:
        ctx.audit(
            AuditEvent(
                action="rbac.authenticate",
                target="cli",
                actor=ctx.actor,
                outcome=Outcome.DENIED,
                severity=Severity.WARNING,
                event_id="RBAC:AuthFailed.1",
                source="derlink.cli",
                details={"reason": str(err)[:300]},
            )
        )
        raise
    return Subject(ctx.actor, local.roles, Source.LOCAL, local.aor, local.profile)


def check(click_ctx: click.Context) -> None:
    """Authorise the command about to run; audit and raise :class:`AccessDenied` if not."""
    ctx = click_ctx.find_object(CliContext)
    required = needs(command_path(click_ctx))
    if ctx is None or required is None or not ctx.home.exists():
        return
    subject = resolve_subject(ctx)
    ctx.subject = subject
    policy = Policy.from_config(ctx.config.rbac)
    group = click_ctx.params.get("group")
    target = Target(group=group) if isinstance(group, str) else None
    for permission in required:
        decision = authorize(subject, permission, target, policy=policy)
        if not decision.allowed:
            ctx.audit(
                denial_event(decision, source="derlink.cli", action=f"cli.{_verb(click_ctx)}")
            )
            raise AccessDenied(decision)


def _verb(click_ctx: click.Context) -> str:
    return command_path(click_ctx).replace(" ", ".") or "derlink"


def guard(command: click.Command) -> click.Command:
    """Make every leaf command under ``command`` call :func:`check` first (once)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            guard(sub)
        return command
    callback = command.callback
    if callback is None or getattr(callback, "__derlink_guarded__", False):
        return command

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check(click.get_current_context())
        return callback(*args, **kwargs)

    guarded.__derlink_guarded__ = True  # type: ignore[attr-defined]
    command.callback = guarded
    return command
