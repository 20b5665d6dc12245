"""Signing controls at the head-end: counters, the signed form of a control, exports, codes.

The cryptography is :mod:`derlink.e2e.commands` and :mod:`derlink.e2e.otc` (sans-IO); this
module allocates the originator counter in the database transaction that uses it (so counters
are strictly increasing and never reused, whatever process signs) and keeps or audits the result.

- A control created with a signer gets one :class:`~derlink.e2e.commands.SignedCommand`
  addressed to the groups its program targets, valid from its creation until its end (or
  ``valid_for`` seconds), stored with the control and served next to its DERControl.
- :func:`export_for_device` signs an existing control again for one device (a field tool carries
  the file to a device without WAN); :func:`issue_code` makes a one-time code for one device.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from derlink.audit.event import AuditEvent, Severity
from derlink.audit.log import AuditLog
from derlink.control.errors import ControlError, NotFound
from derlink.control.service import program_groups
from derlink.domain import Control
from derlink.e2e import otc
from derlink.e2e.commands import (
    CommandContent,
    CommandError,
    Recipient,
    SignedCommand,
    Signer,
    sign,
)
from derlink.pki import lfdi_of_certificate
from derlink.store import codec
from derlink.store.database import Database
from derlink.store.schema import ControlRow, ProgramRow
from derlink.store.schema_commands import OriginatorCounterRow, SignedCommandRow

MAX_DB_COUNTER = 2**63 - 1  # BIGINT; the wire counter is 64-bit unsigned


async def next_counter(s: AsyncSession, originator: str, limit: int = MAX_DB_COUNTER) -> int:
    """The next counter of ``originator`` (1 first), allocated in the caller's transaction."""
    dialect = s.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    row = OriginatorCounterRow
    statement = (
        insert(row)
        .values(originator=originator, counter=1)
        .on_conflict_do_update(index_elements=[row.originator], set_={"counter": row.counter + 1})
        .returning(row.counter)
    )
    counter = int((await s.execute(statement)).scalar_one())
    if counter > limit:
        raise ControlError(f"the counter of {originator} is exhausted ({limit} used)")
    return counter


async def _sign(
    s: AsyncSession,
    control: Control,
    primacy: int,
    signer: Signer,
    recipient: Recipient,
    *,
    now: int,
    not_after: int,
) -> tuple[CommandContent, SignedCommand]:
    """Sign ``control`` for ``recipient`` with the signer's next counter (caller's transaction)."""
    try:
        content = CommandContent.of_control(
            control,
            primacy=primacy,
            originator=signer.originator,
            recipient=recipient,
            counter=await next_counter(s, signer.originator),
            not_before=now,
            not_after=not_after,
        )
        return content, sign(content, signer)
    except CommandError as err:
        raise ControlError(f"cannot sign the control: {err}") from None


async def sign_control(
    s: AsyncSession,
    control: Control,
    primacy: int,
    signer: Signer,
    *,
    now: int,
    valid_for: int | None = None,
) -> SignedCommand:
    """Sign ``control`` for the groups of its program and store it (caller's transaction)."""
    groups = await program_groups(s, control.program)
    if not groups:
        raise ControlError(f"program {control.program} targets no group: nobody to sign for")
    not_after = control.end if valid_for is None else now + valid_for
    content, signed = await _sign(
        s, control, primacy, signer, Recipient.groups(groups), now=now, not_after=not_after
    )
    s.add(
        SignedCommandRow(
            mrid=control.mrid,
            originator=content.originator,
            counter=content.counter,
            not_after=not_after,
            document=signed.encode(),
        )
    )
    return signed


async def signed_document(db: Database, mrid: str) -> bytes | None:
    """The signed form of control ``mrid`` as served (None when it was not signed)."""
    async with db.sessions() as s:
        row = await s.get(SignedCommandRow, mrid.upper())
        return None if row is None else bytes(row.document)


def _event(name: str, target: str, actor: str, /, **details: object) -> AuditEvent:
    return AuditEvent(
        action=name,
        target=target,
        actor=actor,
        severity=Severity.NOTICE,
        event_id=f"Control:{name.split('.')[-1].capitalize()}.1",
        source="derlink.control",
        details=dict(details),
    )


async def export_for_device(
    db: Database,
    audit: AuditLog,
    mrid: str,
    device_lfdi: str,
    signer: Signer,
    *,
    actor: str,
    now: int,
    valid_for: int | None = None,
) -> SignedCommand:
    """Sign control ``mrid`` for one device (a pre-signed command file), audited."""
    try:
        recipient = Recipient.device(device_lfdi)
    except CommandError as err:
        raise ControlError(str(err)) from None
    async with db.transaction() as s:
        row = await s.get(ControlRow, mrid.upper())
        if row is None:
            raise NotFound(f"no control {mrid!r}")
        control = codec.control_from_row(row)
        if control.cancelled:
            raise ControlError(f"control {control.mrid} is cancelled: nothing to export")
        program = await s.get(ProgramRow, control.program)
        assert program is not None
        not_after = control.end if valid_for is None else now + valid_for
        if not_after <= now:
            raise ControlError(f"control {control.mrid} has ended: nothing to export")
        content, signed = await _sign(
            s, control, program.primacy, signer, recipient, now=now, not_after=not_after
        )
        event = _event(
            "control.export",
            f"control:{control.mrid}",
            actor,
            device=recipient.ids[0],
            originator=content.originator,
            counter=content.counter,
            not_after=not_after,
        )
        await audit.append_in(s, [event])
    return signed


async def issue_code(
    db: Database,
    audit: AuditLog,
    signer: Signer,
    device_public: object,
    device_lfdi: str,
    action: otc.Action,
    value: int,
    *,
    actor: str,
) -> str:
    """A one-time code for one device, counter allocated per (issuer, device), audited."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(device_public, ec.EllipticCurvePublicKey):
        raise ControlError("the device certificate does not hold an EC key")
    issuer_lfdi = lfdi_of_certificate(signer.certificates[0])
    async with db.transaction() as s:
        counter = await next_counter(s, f"otc:{issuer_lfdi}:{device_lfdi}", otc.MAX_COUNTER)
        try:
            content = otc.CodeContent(counter, action, value)
        except CommandError as err:
            raise ControlError(str(err)) from None
        code = otc.issue(
            content,
            issuer_key=signer.key,
            issuer_lfdi=issuer_lfdi,
            device_public=device_public,
            device_lfdi=device_lfdi,
        )
        event = _event(
            "control.otc",
            f"device:{device_lfdi}",
            actor,
            issuer=issuer_lfdi,
            counter=counter,
            action=action.name.lower(),
            value=value,
        )
        await audit.append_in(s, [event])
    return code
