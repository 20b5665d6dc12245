"""``derlink field``: signed commands carried by a field tool, and one-time configuration codes.

Head-end side (needs the data directory and an operator identity that may control):

- ``field export --control MRID --device LFDI --out FILE``: the control signed again for that
  one device, a self-contained file (content, signature, the signer's certificate path).
- ``field otc issue --device-cert PEM --action A --value V``: a 20-digit one-time code.

Device side (no WAN, no data directory: the device's certificate, its trust anchors and a state
directory where its counter cache lives):

- ``field apply FILE --device-cert PEM --ca PEM --state DIR``: verify, record the counter
  durably, then apply (the applied command is written to ``DIR/applied/``); a second apply of
  the same file is refused.
- ``field otc enter CODE --device-cert PEM --device-key KEY --issuer-cert PEM --ca PEM
  --state DIR``.

Every device-side decision, accepted or refused, is appended to ``DIR/events.jsonl`` (the
device's own security log); head-end actions are in the audit log.

The signing identity: ``--signer PEM`` (certificate with its key in the file or beside it as
``NAME.key``), else ``DERLINK_SIGNER``, else ``--identity``, else the data directory's local
administrator (``pki/admin.pem``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.cli.context import CliContext, emit_json, pass_ctx
from derlink.cli.fleet import plain
from derlink.cli.units import DURATION
from derlink.e2e import otc
from derlink.e2e.commands import (
    CommandError,
    SignedCommand,
    Signer,
    Trust,
    load_counters,
    save_counters,
    verify,
    write_durably,
)
from derlink.errors import DerlinkError
from derlink.pki import PkiError, lfdi_of_certificate, normalise_lfdi
from derlink.rbac.credentials import admin_prefix, matching_key

T = TypeVar("T")
SIGNER_ENV = "DERLINK_SIGNER"


class FieldError(DerlinkError):
    """A field-tool input that cannot be used (a missing file, a key that does not match)."""

    exit_code = 2


# --- identities and files ---------------------------------------------------------------------


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise FieldError(f"cannot read the {what} {path}: {err.strerror}") from None


def _certificates(path: Path, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(path, what))
    except ValueError:
        raise FieldError(f"{path} holds no PEM certificate") from None


def _key(
    path: Path, cert: x509.Certificate, passphrase: bytes | None
) -> ec.EllipticCurvePrivateKey:
    try:
        return matching_key(path, cert, passphrase)
    except PkiError as err:
        raise FieldError(str(err)) from None


def load_signer(path: Path, passphrase: bytes | None = None) -> Signer:
    """An operator's signing identity: certificate path, key in the file or as ``NAME.key``."""
    certs = _certificates(path, "signer certificate")
    try:
        return Signer(_key(path, certs[0], passphrase), tuple(certs))
    except CommandError as err:
        raise FieldError(f"{path}: {err}") from None


def resolve_signer(ctx: CliContext, explicit: str | None) -> Signer:
    """``--signer``, ``DERLINK_SIGNER``, ``--identity``, or the local administrator."""
    chosen = explicit or os.environ.get(SIGNER_ENV) or getattr(ctx, "identity_file", None)
    if chosen:
        return load_signer(Path(chosen))
    admin = admin_prefix(ctx.home.require().pki_dir).with_suffix(".pem")
    if not admin.exists():
        raise FieldError(f"no signer: give --signer PEM or set {SIGNER_ENV}")
    return load_signer(admin)


signer_option = click.option(
    "--signer",
    "signer_file",
    type=click.Path(dir_okay=False),
    help=f"Operator certificate (key in it or as NAME.key) to sign with; default ${SIGNER_ENV}, "
    "--identity, or the local administrator.",
)


def _trust(ca: str, crls: tuple[str, ...]) -> Trust:
    from derlink.pki import load_crl

    roots = tuple(_certificates(Path(ca), "trust anchors"))
    try:
        return Trust(roots, tuple(load_crl(Path(c)) for c in crls))
    except PkiError as err:
        raise FieldError(str(err)) from None


def _device(cert_file: str, key_file: str | None) -> tuple[x509.Certificate, str, Any]:
    cert = _certificates(Path(cert_file), "device certificate")[0]
    key = _key(Path(key_file), cert, None) if key_file else None
    return cert, lfdi_of_certificate(cert), key


def _log(state: Path, event: dict[str, Any]) -> None:
    """Append one decision to the device's own security log (durable before the answer)."""
    state.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": int(time.time()), **event}, sort_keys=True) + "\n"
    with (state / "events.jsonl").open("a") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())


def _run_fleet(ctx: CliContext, work: Callable[[Any], Any]) -> Any:
    from derlink.audit.service import open_audit_log

    async def go() -> Any:
        async with open_audit_log(ctx.home.require(), ctx.database_url, write=True) as log:
            return await work(log)

    return asyncio.run(go())


# --- commands ---------------------------------------------------------------------------------


@click.group()
def field() -> None:
    """Field tools: pre-signed commands for devices without WAN, one-time codes."""


@field.command("export")
@click.option("--control", "mrid", required=True, help="The control (mRID) to sign.")
@click.option("--device", "device_lfdi", required=True, help="LFDI of the one device.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), required=True)
@click.option("--valid-for", type=DURATION, help="Validity (default: until the control ends).")
@signer_option
@pass_ctx
def field_export(
    ctx: CliContext,
    /,
    mrid: str,
    device_lfdi: str,
    out_file: str,
    valid_for: float | None,
    signer_file: str | None,
) -> None:
    """Write control MRID, signed for device LFDI, to a file a field tool carries."""
    from derlink.control.signing import export_for_device

    signer = resolve_signer(ctx, signer_file)
    out = Path(out_file)
    if out.exists():
        raise FieldError(f"{out} exists; refusing to overwrite it")
    try:
        lfdi = normalise_lfdi(device_lfdi)
    except DerlinkError as err:
        raise FieldError(str(err)) from None
    signed = _run_fleet(
        ctx,
        lambda log: export_for_device(
            log.db,
            log,
            mrid,
            lfdi,
            signer,
            actor=ctx.actor,
            now=int(time.time()),
            valid_for=None if valid_for is None else int(valid_for),
        ),
    )
    write_durably(out, signed.to_pem())
    content = signed.command()
    click.echo(f"control {content.mrid} signed for {lfdi} (counter {content.counter}) -> {out}")


@field.command("apply")
@click.argument("command_file", type=click.Path(dir_okay=False))
@click.option("--device-cert", required=True, type=click.Path(dir_okay=False))
@click.option("--device-key", type=click.Path(dir_okay=False), help="Checked against the cert.")
@click.option("--ca", required=True, type=click.Path(dir_okay=False), help="Trust anchors (PEM).")
@click.option("--crl", "crls", multiple=True, type=click.Path(dir_okay=False), help="CRL (PEM).")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def field_apply(
    command_file: str,
    device_cert: str,
    device_key: str | None,
    ca: str,
    crls: tuple[str, ...],
    state_dir: str,
    as_json: bool,
) -> None:
    """Verify a pre-signed command on the device and apply it once."""
    state = Path(state_dir)
    _, lfdi, _ = _device(device_cert, device_key)
    trust = _trust(ca, crls)
    now = int(time.time())
    # The same counter cache as the device's 2030.5 client: one replay state per device.
    path = state / f"{lfdi}.counters.json"
    try:
        signed = SignedCommand.from_pem(_read(Path(command_file), "command file"))
        verified = verify(signed, trust=trust, now=now, lfdi=lfdi)
        counters = load_counters(path)
        counters.admit_verified(verified, now)
    except CommandError as err:
        _log(state, {"event": "command.refused", "code": err.code, "reason": str(err)})
        raise
    save_counters(path, counters)  # durable before the device acts
    content = verified.content
    applied = {
        "mrid": content.mrid,
        "originator": content.originator,
        "counter": content.counter,
        "signer_serial": f"{verified.signer.serial_number:X}",
        "control": plain(content.control()),
    }
    write_durably(
        state / "applied" / f"{content.mrid}-{content.counter}.json",
        json.dumps(applied, sort_keys=True).encode(),
    )
    _log(state, {"event": "command.applied", "mrid": content.mrid, "counter": content.counter})
    if as_json:
        emit_json(applied)
        return
    fields = " ".join(f"{k}={v}" for k, v in content.base.set_fields().items())
    click.echo(f"applied control {content.mrid} from {content.originator}: {fields}")


@field.group("otc")
def field_otc() -> None:
    """One-time configuration codes (20 digits, one device, once)."""


@field_otc.command("issue")
@click.option("--device-cert", required=True, type=click.Path(dir_okay=False))
@click.option("--action", required=True, help=", ".join(a.name.lower() for a in otc.Action))
@click.option("--value", type=int, default=0, show_default=True)
@signer_option
@pass_ctx
def otc_issue(
    ctx: CliContext, /, device_cert: str, action: str, value: int, signer_file: str | None
) -> None:
    """Issue a one-time code for the device of --device-cert."""
    from derlink.control.signing import issue_code

    signer = resolve_signer(ctx, signer_file)
    cert, lfdi, _ = _device(device_cert, None)
    try:
        chosen = otc.Action.parse(action)
    except CommandError as err:
        raise click.UsageError(str(err)) from None
    code = _run_fleet(
        ctx,
        lambda log: issue_code(
            log.db, log, signer, cert.public_key(), lfdi, chosen, value, actor=ctx.actor
        ),
    )
    click.echo(otc.format_code(code))


@field_otc.command("enter")
@click.argument("code")
@click.option("--device-cert", required=True, type=click.Path(dir_okay=False))
@click.option("--device-key", required=True, type=click.Path(dir_okay=False))
@click.option("--issuer-cert", required=True, type=click.Path(dir_okay=False))
@click.option("--ca", required=True, type=click.Path(dir_okay=False), help="Trust anchors (PEM).")
@click.option("--crl", "crls", multiple=True, type=click.Path(dir_okay=False), help="CRL (PEM).")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False))
def otc_enter(
    code: str,
    device_cert: str,
    device_key: str,
    issuer_cert: str,
    ca: str,
    crls: tuple[str, ...],
    state_dir: str,
) -> None:
    """Enter a one-time code on the device: accepted once, on this device only."""
    from derlink.e2e.commands import CounterCache, verify_signer
    from derlink.pki import certificate_der

    state = Path(state_dir)
    _, lfdi, key = _device(device_cert, device_key)
    issuer_path = _certificates(Path(issuer_cert), "issuer certificate")
    now = int(time.time())
    path = state / "otc.json"
    try:
        issuer, _ = verify_signer([certificate_der(c) for c in issuer_path], _trust(ca, crls), now)
        public = issuer.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        counters: CounterCache = load_counters(path, otc.WINDOW)
        content = otc.accept(
            code,
            device_key=key,
            device_lfdi=lfdi,
            issuer_public=public,
            issuer_lfdi=lfdi_of_certificate(issuer),
            counters=counters,
            now=now,
        )
    except CommandError as err:
        _log(state, {"event": "otc.refused", "code": err.code, "reason": str(err)})
        raise
    save_counters(path, counters)
    _log(
        state,
        {
            "event": "otc.applied",
            "counter": content.counter,
            "action": content.action.name.lower(),
            "value": content.value,
        },
    )
    click.echo(f"code accepted: {content.action.name.lower()} {content.value}")
