"""``derlink rbac``: access tokens, who am I, and the role-permission matrix."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from derlink.audit.event import AuditEvent, Severity
from derlink.cli.context import CliContext, emit_json, pass_ctx
from derlink.cli.units import DURATION
from derlink.pki import Pki
from derlink.rbac import PERMISSION_RIGHTS, Permission, Policy, TokenError, authorize
from derlink.rbac.credentials import ensure_token_signer, signer_key
from derlink.rbac.subject import Source, Subject
from derlink.rbac.tokens import issue_token


@click.group()
def rbac() -> None:
    """Role-based access (IEC 62351-8): tokens, identities, the permission matrix."""


@rbac.group("token")
def token() -> None:
    """Signed access tokens for operators behind a web front end."""


@token.command("issue")
@click.argument("subject")
@click.option("--role", "roles", multiple=True, required=True, help="Role name or id (repeat).")
@click.option("--aor", default=None, help="Area of responsibility (default: the deployment).")
@click.option("--lifetime", type=DURATION, default=None, help="e.g. 1h (default: config).")
@pass_ctx
def token_issue(
    ctx: CliContext, subject: str, roles: tuple[str, ...], aor: str | None, lifetime: float | None
) -> None:
    """Print a token for SUBJECT with --role ROLE..., signed by the token signer."""
    policy = Policy.from_config(ctx.config.rbac)
    try:
        ids = [policy.role_id(int(r) if r.lstrip("-").isdigit() else r) for r in roles]
    except ValueError as err:
        raise TokenError(str(err)) from None
    home = ctx.home.require()
    now = datetime.now(UTC)
    pki = Pki.open(home.pki_dir, passphrase=ctx.passphrase())
    cert, key_path = ensure_token_signer(pki, now=now)
    kid = f"{cert.serial_number:X}"
    text = issue_token(
        signer_key(key_path),
        kid,
        sub=subject,
        roles=ids,
        aor=aor or policy.area,
        now=int(now.timestamp()),
        lifetime=int(lifetime or ctx.config.rbac.token_lifetime),
        iss=pki.name,
    )
    ctx.audit(
        AuditEvent(
            action="rbac.token.issue",
            target=f"token:{subject}",
            actor=ctx.actor,
            severity=Severity.NOTICE,
            event_id="RBAC:Token.1",
            source="derlink.cli",
            details={"roles": sorted(ids), "signer": kid, "aor": aor or policy.area},
        )
    )
    click.echo(text)


@rbac.command("whoami")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def whoami(ctx: CliContext, as_json: bool) -> None:
    """Who the CLI acts as, its roles, and what it may do."""
    from derlink.cli.permissions import resolve_subject

    subject = resolve_subject(ctx)
    policy = Policy.from_config(ctx.config.rbac)
    allowed = [p.value for p in Permission if authorize(subject, p, policy=policy).allowed]
    roles = sorted(policy.name_of(r).lower() for r in subject.roles)
    data = {
        "identity": subject.identity,
        "source": subject.source.value,
        "roles": roles,
        "aor": subject.aor,
        "permissions": allowed,
    }
    if as_json:
        emit_json(data)
        return
    click.echo(f"{subject.identity} ({subject.source.value}) roles {', '.join(roles)}")
    click.echo(f"  may: {', '.join(allowed)}")


@rbac.command("matrix")
@pass_ctx
def matrix(ctx: CliContext) -> None:
    """Print every role (standard and private) against every permission."""
    policy = Policy.from_config(ctx.config.rbac)
    perms = list(Permission)
    click.echo("role\t" + "\t".join(p.value for p in perms))
    for role in sorted(policy.roles.values(), key=lambda r: (r.id < 0, abs(r.id))):
        subject = Subject(role.name, frozenset({role.id}), Source.LOCAL, policy.area)
        marks = ["x" if authorize(subject, p, policy=policy) else "-" for p in perms]
        click.echo(f"{role.name.lower()}\t" + "\t".join(marks))
    needed = {p.value: sorted(r.value for r in PERMISSION_RIGHTS[p]) for p in perms}
    click.echo("# rights needed: " + "; ".join(f"{k}={'+'.join(v)}" for k, v in needed.items()))
