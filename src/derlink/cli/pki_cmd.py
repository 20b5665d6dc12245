"""``derlink pki``: create the PKI, issue, revoke and inspect certificates, publish CRLs.

Every command that changes the PKI appends an audit event once it has succeeded; a mistake
(missing file, wrong passphrase, unknown serial, output exists...) is one ``error:`` line, and
nothing is written or audited.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from cryptography import x509

from derlink.audit.event import AuditEvent, Severity
from derlink.cli.context import CliContext, emit_json, pass_ctx
from derlink.pki import (
    CertificateError,
    CertificateSummary,
    Issued,
    IssuedRecord,
    PassphraseError,
    Pki,
    PkiError,
    Profile,
    Role,
    check_output,
    load_certificate,
    parse_role,
    summarise,
)
from derlink.pki.checks import xmpp_addrs
from derlink.pki.clock import iso
from derlink.rbac.credentials import issue_local_admin

SERIAL_HELP = "hexadecimal, as 'derlink pki list' shows it"
REASONS = [r.value for r in x509.ReasonFlags if r is not x509.ReasonFlags.remove_from_crl]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def _passphrase_hint(ctx: CliContext) -> Iterator[None]:
    """Name the variable the passphrase comes from when it is missing or wrong."""
    try:
        yield
    except PassphraseError as err:
        raise PassphraseError(f"{err} (read from ${ctx.config.pki.passphrase_env})") from None


def _open(ctx: CliContext) -> Pki:
    return Pki.open(ctx.home.require().pki_dir, passphrase=ctx.passphrase())


def _event(
    ctx: CliContext, action: str, target: str, event_id: str, details: dict[str, Any]
) -> AuditEvent:
    severity = Severity.INFO if action == "pki.crl" else Severity.NOTICE
    return AuditEvent(
        action=action,
        target=target,
        actor=ctx.actor,
        severity=severity,
        event_id=event_id,
        source="derlink.cli",
        details=details,
    )


def _issued_json(issued: Issued, paths: tuple[Path, Path]) -> dict[str, Any]:
    cert = issued.certificate
    summary = summarise(cert)
    return {
        "serial_number": f"{cert.serial_number:X}",
        "profile": issued.profile.value,
        "subject": summary.subject,
        "lfdi": issued.lfdi,
        "sfdi": issued.sfdi,
        "hardware_serial": summary.hardware_serial,
        "roles": [r.name.lower() for r in summary.roles],
        "xmpp_addresses": list(_xmpp_addresses(cert)),
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "certificate_file": str(paths[0]),
        "key_file": str(paths[1]),
    }


def _xmpp_addresses(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        return xmpp_addrs(cert)
    except CertificateError:
        return ()


@click.group()
def pki() -> None:
    """The PKI: 2030.5 device, server, operator, aggregator and end-to-end certificates,
    revocation, CRLs."""


@pki.command("init")
@click.option("--name", default="derlink", show_default=True, help="Name of the PKI (the O=).")
@pass_ctx
def init(ctx: CliContext, name: str) -> None:
    """Create a PKI in the data directory's empty pki/ (after it was removed).

    Writes the root, device and operator CAs, then, as 'derlink init' does, the 2030.5 server
    certificate (pki/server.pem) and the audit signer (pki/audit.pem). Refuses when pki/ holds
    anything. CA keys are encrypted when the passphrase variable is set.
    """
    home = ctx.home.require()
    now = _now()
    created = Pki.create(home.pki_dir, passphrase=ctx.passphrase(), name=name, now=now)
    created.issue_server(["localhost", "127.0.0.1", "::1"], now=now).write(home.pki_dir / "server")
    created.issue_signer(f"{created.name} audit", now=now).write(home.pki_dir / "audit")
    issue_local_admin(created, name=created.name, now=now)  # the CLI's default identity
    root = created.root_certificate
    details = {"name": created.name, "root_serial": f"{root.serial_number:X}"}
    ctx.audit(_event(ctx, "pki.init", "pki:root", "PKI:Init.1", details))
    click.echo(f"created the PKI {created.name!r} in {home.pki_dir}")
    click.echo(f"  trust anchor  {created.paths.root_cert}")
    click.echo(f"  CA bundle     {created.paths.ca_bundle}")
    click.echo(
        "warning: the audit signing key (pki/audit.key) is new; tree heads signed with the old "
        "key no longer verify against pki/audit.pem",
        err=True,
    )


@pki.group("issue")
def issue() -> None:
    """Issue a certificate and write PREFIX.pem (certificate and chain) and PREFIX.key."""


def _output_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(
        command
    )
    command = click.option(
        "--overwrite", is_flag=True, help="Replace PREFIX.pem and PREFIX.key if they exist."
    )(command)
    return click.option(
        "--out",
        "prefix",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write PREFIX.pem and PREFIX.key. Default: named after the subject, here.",
    )(command)


def _issue_and_report(
    ctx: CliContext,
    prefix: Path,
    overwrite: bool,
    as_json: bool,
    make: Callable[[Pki, datetime], Issued],
) -> None:
    """Check the output, issue, write the files, audit, print: in that order."""
    check_output(prefix, overwrite=overwrite)
    with _passphrase_hint(ctx):
        issued = make(_open(ctx), _now())
    paths = issued.write(prefix, overwrite=overwrite)
    data = _issued_json(issued, paths)
    details = {k: data[k] for k in ("profile", "subject", "lfdi", "sfdi", "roles")}
    details["hardware_serial"] = data["hardware_serial"]
    if data["xmpp_addresses"]:
        details["xmpp_addresses"] = data["xmpp_addresses"]
    target = f"cert:{issued.serial_number:X}"
    ctx.audit(_event(ctx, "pki.issue", target, "PKI:Issue.1", details))
    if as_json:
        emit_json(data)
    else:
        _print_issued(data)


def _print_issued(data: dict[str, Any]) -> None:
    click.echo(f"issued {data['profile']} certificate {data['serial_number']}")
    rows = [
        ("subject", data["subject"]),
        ("hardware serial", data["hardware_serial"]),
        ("roles", ", ".join(data["roles"])),
        ("JID", ", ".join(data["xmpp_addresses"])),
        ("LFDI", data["lfdi"]),
        ("SFDI", data["sfdi"]),
        ("valid until", data["not_after"]),
        ("certificate", f"{data['certificate_file']} (with the CA chain)"),
        ("private key", data["key_file"]),
    ]
    for label, value in rows:
        if value not in (None, ""):
            click.echo(f"  {label:<16}{value}")


def _default_prefix(prefix: Path | None, name: str) -> Path:
    return prefix if prefix is not None else Path(_UNSAFE.sub("_", name).strip("._") or "cert")


@issue.command("device")
@click.option("--serial", required=True, help="Hardware serial number of the device.")
@click.option(
    "--hw-type", default=None, help="Hardware type OID (default: derlink's generic DER type)."
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    help="2030.5 policy: generic, mobile, post-manufacture, test, self-signed, "
    "service-provider, bulk or an OID (repeatable; default generic).",
)
@_output_options
@pass_ctx
def issue_device(
    ctx: CliContext,
    serial: str,
    hw_type: str | None,
    policies: tuple[str, ...],
    prefix: Path | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """An IEEE 2030.5 device certificate (empty subject, HardwareModuleName, notAfter 9999)."""
    kwargs: dict[str, Any] = {"policies": policies or ("generic",)}
    if hw_type is not None:
        kwargs["hw_type"] = hw_type

    def make(p: Pki, now: datetime) -> Issued:
        return p.issue_device(serial, now=now, **kwargs)

    _issue_and_report(ctx, _default_prefix(prefix, serial), overwrite, as_json, make)


@issue.command("server")
@click.argument("names", nargs=-1, required=True)
@click.option("--days", default=825, show_default=True, help="Validity in days.")
@_output_options
@pass_ctx
def issue_server(
    ctx: CliContext,
    names: tuple[str, ...],
    days: int,
    prefix: Path | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """A TLS server certificate for NAMES (DNS names or IP addresses; the first is the CN)."""

    def make(p: Pki, now: datetime) -> Issued:
        return p.issue_server(list(names), now=now, validity_days=days)

    _issue_and_report(ctx, _default_prefix(prefix, names[0]), overwrite, as_json, make)


def _role_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option(
        "--aor",
        default="derlink",
        show_default=True,
        help="IEC 62351-8 area of responsibility of the roles.",
    )(command)
    command = click.option("--days", default=365, show_default=True, help="Validity in days.")(
        command
    )
    names = ", ".join(r.name.lower() for r in Role)
    return click.option(
        "--role",
        "roles",
        multiple=True,
        required=True,
        help=f"IEC 62351-8 role, repeatable, any case: {names}.",
    )(command)


def _person_command(profile: Profile) -> Callable[..., None]:
    def command(
        ctx: CliContext,
        name: str,
        roles: tuple[str, ...],
        aor: str,
        days: int,
        prefix: Path | None,
        overwrite: bool,
        as_json: bool,
    ) -> None:
        parsed = [parse_role(r) for r in roles]

        def make(p: Pki, now: datetime) -> Issued:
            issue_with = p.issue_operator if profile is Profile.OPERATOR else p.issue_aggregator
            return issue_with(name, parsed, now=now, validity_days=days, area_of_responsibility=aor)

        _issue_and_report(ctx, _default_prefix(prefix, name), overwrite, as_json, make)

    return command


def _register_person(profile: Profile, help_text: str) -> None:
    command = _person_command(profile)
    command.__doc__ = help_text
    decorated = _role_options(_output_options(pass_ctx(command)))
    decorated = click.argument("name")(decorated)
    issue.command(profile.value)(decorated)


_register_person(
    Profile.OPERATOR, "A certificate for the operator NAME with IEC 62351-8 roles (clientAuth)."
)
_register_person(
    Profile.AGGREGATOR,
    "A client certificate for the aggregator NAME with IEC 62351-8 roles (clientAuth).",
)


@issue.command("e2e")
@click.argument("name")
@click.option(
    "--xmpp",
    "xmpp_address",
    default=None,
    help="Bare JID (local@domain) the holder speaks from: an end-to-end peer must use it.",
)
@click.option(
    "--hardware-serial",
    default=None,
    help="Hardware serial of the device, as in its 2030.5 device certificate.",
)
@click.option(
    "--role",
    "roles",
    multiple=True,
    help="IEC 62351-8 role, repeatable (a control centre or operator; IEDs need none).",
)
@click.option(
    "--aor",
    default="derlink",
    show_default=True,
    help="IEC 62351-8 area of responsibility of the roles.",
)
@click.option("--days", default=365, show_default=True, help="Validity in days.")
@_output_options
@pass_ctx
def issue_e2e(
    ctx: CliContext,
    name: str,
    xmpp_address: str | None,
    hardware_serial: str | None,
    roles: tuple[str, ...],
    aor: str,
    days: int,
    prefix: Path | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """An end-to-end certificate for NAME: signs IEC 62351-4-style session handshakes and
    receives group keys (never a TLS certificate).

    Give --xmpp with the holder's JID (an IED's or a control centre's): peers refuse a session
    whose certificate names another JID. The roles decide what a centre may do at an IED.
    """
    parsed = [parse_role(r) for r in roles]

    def make(p: Pki, now: datetime) -> Issued:
        return p.issue_e2e(
            name,
            roles=parsed or None,
            xmpp_address=xmpp_address,
            hardware_serial=hardware_serial,
            now=now,
            validity_days=days,
            area_of_responsibility=aor,
        )

    _issue_and_report(ctx, _default_prefix(prefix, name), overwrite, as_json, make)


@issue.command("signer")
@click.argument("name")
@click.option("--days", default=1825, show_default=True, help="Validity in days.")
@_output_options
@pass_ctx
def issue_signer(
    ctx: CliContext, name: str, days: int, prefix: Path | None, overwrite: bool, as_json: bool
) -> None:
    """A certificate that signs audit-log tree heads (digitalSignature only)."""

    def make(p: Pki, now: datetime) -> Issued:
        return p.issue_signer(name, now=now, validity_days=days)

    _issue_and_report(ctx, _default_prefix(prefix, name), overwrite, as_json, make)


def parse_serial(text: str) -> int:
    """A serial number in hexadecimal (``0x`` prefix and ``:`` separators allowed)."""
    cleaned = text.strip().replace(":", "")
    cleaned = cleaned[2:] if cleaned.lower().startswith("0x") else cleaned
    try:
        value = int(cleaned, 16)
    except ValueError:
        raise PkiError(f"{text!r} is not a serial number ({SERIAL_HELP})") from None
    if value <= 0:
        raise PkiError(f"{text!r} is not a serial number ({SERIAL_HELP})")
    return value


@pki.command("revoke")
@click.argument("serial")
@click.option(
    "--reason",
    type=click.Choice(REASONS),
    default="unspecified",
    show_default=True,
    help="RFC 5280 revocation reason.",
)
@pass_ctx
def revoke(ctx: CliContext, serial: str, reason: str) -> None:
    """Revoke the certificate with serial number SERIAL (hex) and publish its CA's new CRL."""
    serial_number = parse_serial(serial)
    with _passphrase_hint(ctx):
        opened = _open(ctx)
        record = opened.revoke(serial_number, reason=x509.ReasonFlags(reason), now=_now())
    details = {
        "profile": record.profile.value,
        "subject": record.subject,
        "lfdi": record.lfdi,
        "hardware_serial": record.hardware_serial,
        "reason": reason,
    }
    ctx.audit(_event(ctx, "pki.revoke", f"cert:{serial_number:X}", "PKI:Revoke.1", details))
    click.echo(f"revoked {record.profile.value} certificate {record.serial_hex} ({reason})")
    click.echo(f"  CRL updated   {opened.paths.crl(record.issuer)}")


@pki.command("crl")
@click.option(
    "--days", default=7, show_default=True, type=click.IntRange(1, 366), help="Next update in."
)
@pass_ctx
def crl(ctx: CliContext, days: int) -> None:
    """Issue fresh CRLs for the device CA and the operator CA."""
    with _passphrase_hint(ctx):
        opened = _open(ctx)
        now = _now()
        opened.crl(now=now, next_update=timedelta(days=days))
    details = {"next_update": iso(now + timedelta(days=days)), "revoked": _revoked_count(opened)}
    ctx.audit(_event(ctx, "pki.crl", "pki:crl", "PKI:Crl.1", details))
    for path in opened.paths.crls:
        click.echo(f"wrote {path}")
    click.echo(f"next update due {details['next_update']}")


def _revoked_count(opened: Pki) -> int:
    return sum(1 for r in opened.issued() if r.revoked)


@pki.command("show")
@click.argument("cert", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def show(ctx: CliContext, cert: Path, as_json: bool) -> None:
    """Show CERT (PEM or DER): subject, profile, LFDI, SFDI, roles, validity, revocation.

    The certificate is verified against the data directory's PKI when there is one.
    """
    certificate = load_certificate(cert)
    data = _show_json(summarise(certificate))
    data.update(_check_against_pki(ctx, certificate))
    if as_json:
        emit_json(data)
        return
    data["subject"] = data["subject"] or "(empty)"
    for key, label in _SHOW_LINES:
        value = data.get(key)
        if value not in (None, [], ""):
            shown = ", ".join(value) if isinstance(value, list) else value
            click.echo(f"{label:<16}{shown}")


_SHOW_LINES = [
    ("serial_number", "serial"),
    ("subject", "subject"),
    ("issuer", "issuer"),
    ("profile", "profile"),
    ("hardware_serial", "hardware serial"),
    ("roles", "roles"),
    ("area_of_responsibility", "area"),
    ("lfdi", "LFDI"),
    ("sfdi", "SFDI"),
    ("not_before", "valid from"),
    ("not_after", "valid until"),
    ("status", "status"),
]


def _show_json(summary: CertificateSummary) -> dict[str, Any]:
    claimed = summary.claimed_profile
    return {
        "serial_number": f"{summary.serial_number:X}",
        "subject": summary.subject,
        "issuer": summary.issuer,
        "profile": claimed.value if claimed else None,
        "hardware_serial": summary.hardware_serial,
        "roles": [r.name.lower() for r in summary.roles],
        "area_of_responsibility": summary.area_of_responsibility,
        "lfdi": summary.lfdi,
        "sfdi": summary.sfdi,
        "not_before": iso(summary.not_before),
        "not_after": iso(summary.not_after),
    }


def _check_against_pki(ctx: CliContext, certificate: x509.Certificate) -> dict[str, Any]:
    if not ctx.home.exists():
        return {"status": "not checked (no data directory)", "valid": None, "revoked": None}
    opened = Pki.open(ctx.home.pki_dir, passphrase=None)
    record = opened.find(certificate.serial_number)
    mine = record is not None and opened.certificate(record.serial_number) == certificate
    revoked = mine and record is not None and record.revoked_at is not None
    result: dict[str, Any] = {"issued_by_this_pki": mine, "revoked": revoked}
    if revoked and record is not None and record.revoked_at is not None:
        result["revoked_at"] = iso(record.revoked_at)
        result["revocation_reason"] = record.revocation_reason
    try:
        verified = opened.verify(certificate, _now())
    except CertificateError as err:
        result.update(valid=False, status=f"invalid: {str(err).split(' refused: ', 1)[-1]}")
        return result
    result.update(valid=True, status="valid", profile=verified.profile.value)
    return result


@pki.command("list")
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice([p.value for p in Profile if not p.is_ca]),
    help="Only certificates of this profile.",
)
@click.option("--revoked", "only_revoked", is_flag=True, help="Only revoked certificates.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def list_(ctx: CliContext, profile_name: str | None, only_revoked: bool, as_json: bool) -> None:
    """List the certificates issued by the data directory's PKI, oldest first."""
    opened = Pki.open(ctx.home.require().pki_dir, passphrase=None)
    now = _now()
    records = [r for r in opened.issued() if _wanted(r, profile_name, only_revoked)]
    if as_json:
        emit_json([{**r.to_json(), "status": _status(r, now)} for r in records])
        return
    if not records:
        click.echo("no certificates")
        return
    click.echo(f"{'SERIAL':<17} {'PROFILE':<10} {'STATUS':<8} {'NOT AFTER':<20} NAME")
    for r in records:
        label = r.hardware_serial or r.subject
        status, until = _status(r, now), iso(r.not_after)
        click.echo(f"{r.serial_hex:<17} {r.profile.value:<10} {status:<8} {until:<20} {label}")


def _wanted(record: IssuedRecord, profile_name: str | None, only_revoked: bool) -> bool:
    if profile_name is not None and record.profile.value != profile_name:
        return False
    return record.revoked or not only_revoked


def _status(record: IssuedRecord, now: datetime) -> str:
    if record.revoked:
        return "revoked"
    return "expired" if now > record.not_after else "valid"
