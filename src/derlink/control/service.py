"""The fleet service: every operator action on sites, groups, devices, programs and controls.

Each method is one database transaction that makes the change and appends its audit record
together (``AuditLog.append_in``), so a change is never without its record and a refused
operation changes nothing. The CLI, the 2030.5 head-end and the operator API all call this.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from derlink.audit.anomaly import AnomalyGuard
from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.audit.log import AuditLog
from derlink.control.errors import Conflict, ControlError, NotFound
from derlink.domain import (
    Control,
    ControlBase,
    ControlStatus,
    Device,
    Group,
    Priority,
    Program,
    Response,
    Site,
)
from derlink.e2e.commands import Signer
from derlink.store import codec
from derlink.store.database import Database
from derlink.store.schema import (
    Base,
    ChangeRow,
    ControlRow,
    DeviceRow,
    GroupRow,
    ProgramGroupRow,
    ProgramRow,
    ResponseRow,
    SettingRow,
    SiteGroupRow,
    SiteRow,
)

Clock = Callable[[], float]


def new_mrid() -> str:
    """A fresh 128-bit mRID as 32 upper-case hex digits (IEEE 2030.5 mRIDType)."""
    return secrets.token_hex(16).upper()


class FleetService:
    """Operator actions, audited; ``actor`` names who acts (certificate or CLI user)."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        clock: Clock = time.time,
        detector: AnomalyGuard | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock
        self.detector = detector  # anomaly detection of create_control (control.held)

    def now(self) -> int:
        return int(self.clock())

    async def _commit(
        self, session: AsyncSession, actor: str, action: str, target: str, **details: Any
    ) -> None:
        """Record the change in the outbox and the audit log; last step of a transaction."""
        kind, _, key = target.partition(":")
        session.add(ChangeRow(kind=kind, key=key, time=self.now()))
        await self.audit.append_in(session, [_change_event(actor, action, target, details)])

    # --- groups -----------------------------------------------------------------------------

    async def add_group(self, group: Group, *, actor: str) -> Group:
        async with self.db.transaction() as s:
            if await s.get(GroupRow, group.id) is not None:
                raise Conflict(f"group {group.id!r} exists")
            s.add(GroupRow(id=group.id, name=group.name, kind=group.kind))
            await self._commit(s, actor, "group.add", f"group:{group.id}", kind=group.kind)
        return group

    async def remove_group(self, group_id: str, *, actor: str) -> None:
        async with self.db.transaction() as s:
            await _need(s, GroupRow, group_id, "group")
            await s.execute(delete(GroupRow).where(GroupRow.id == group_id))
            await self._commit(s, actor, "group.remove", f"group:{group_id}")

    async def groups(self) -> list[Group]:
        async with self.db.sessions() as s:
            rows = (await s.scalars(select(GroupRow).order_by(GroupRow.id))).all()
        return [codec.group_from_row(r) for r in rows]

    # --- sites ------------------------------------------------------------------------------

    async def add_site(self, site: Site, *, actor: str) -> Site:
        async with self.db.transaction() as s:
            if await s.get(SiteRow, site.id) is not None:
                raise Conflict(f"site {site.id!r} exists")
            for group_id in site.groups:
                await _need(s, GroupRow, group_id, "group")
            s.add(codec.site_to_row(site))
            await s.flush()  # rows without relationship() are not ordered by foreign key
            s.add_all(SiteGroupRow(site_id=site.id, group_id=g) for g in site.groups)
            await self._commit(s, actor, "site.add", f"site:{site.id}", groups=sorted(site.groups))
        return site

    async def update_site(self, site: Site, *, actor: str) -> Site:
        """Replace a site's attributes and group memberships."""
        async with self.db.transaction() as s:
            await _need(s, SiteRow, site.id, "site")
            for group_id in site.groups:
                await _need(s, GroupRow, group_id, "group")
            await s.merge(codec.site_to_row(site))
            await s.execute(delete(SiteGroupRow).where(SiteGroupRow.site_id == site.id))
            s.add_all(SiteGroupRow(site_id=site.id, group_id=g) for g in site.groups)
            await self._commit(
                s, actor, "site.update", f"site:{site.id}", groups=sorted(site.groups)
            )
        return site

    async def remove_site(self, site_id: str, *, actor: str) -> None:
        async with self.db.transaction() as s:
            await _need(s, SiteRow, site_id, "site")
            await s.execute(delete(SiteRow).where(SiteRow.id == site_id))
            await self._commit(s, actor, "site.remove", f"site:{site_id}")

    async def site(self, site_id: str) -> Site:
        async with self.db.sessions() as s:
            row = await _need(s, SiteRow, site_id, "site")
            return codec.site_from_row(row, await _site_groups(s, site_id))

    async def sites(self) -> list[Site]:
        async with self.db.sessions() as s:
            rows = (await s.scalars(select(SiteRow).order_by(SiteRow.id))).all()
            links = (await s.execute(select(SiteGroupRow.site_id, SiteGroupRow.group_id))).all()
        groups: dict[str, set[str]] = {}
        for site_id, group_id in links:
            groups.setdefault(site_id, set()).add(group_id)
        return [codec.site_from_row(r, frozenset(groups.get(r.id, ()))) for r in rows]

    # --- devices ----------------------------------------------------------------------------

    async def enrol(
        self, device: Device, *, actor: str, ied: tuple[str, str] | None = None
    ) -> Device:
        """Register a device or aggregator certificate identity (by LFDI/SFDI, with a PIN).

        ``ied`` = (bare JID, IED name) registers the device as an IEC 61850 IED reached over
        XMPP (the JID from its certificate's id-on-xmppAddr), in the same transaction."""
        async with self.db.transaction() as s:
            if await s.get(DeviceRow, device.lfdi) is not None:
                raise Conflict(f"LFDI {device.lfdi} is already enrolled")
            taken = await s.scalar(select(DeviceRow.lfdi).where(DeviceRow.sfdi == device.sfdi))
            if taken is not None:
                raise Conflict(f"SFDI {device.sfdi} is already enrolled (LFDI {taken})")
            if device.site is not None:
                await _need(s, SiteRow, device.site, "site")
            if device.aggregator is not None:
                agg = await _need(s, DeviceRow, device.aggregator, "aggregator")
                if agg.kind != "aggregator":
                    raise ControlError(f"{device.aggregator} is not an aggregator")
            now = self.now()
            s.add(codec.device_to_row(replace(device, changed_time=now), created=now))
            extra: dict[str, str] = {}
            if ied is not None:
                from derlink.store.schema_ieds import IedRow

                if await s.scalar(select(IedRow.lfdi).where(IedRow.jid == ied[0])) is not None:
                    raise Conflict(f"an IED with JID {ied[0]} is already enrolled")
                await s.flush()
                s.add(IedRow(lfdi=device.lfdi, jid=ied[0], ied_name=ied[1], created=now))
                extra = {"jid": ied[0], "ied_name": ied[1]}
            await self._commit(
                s,
                actor,
                "device.enrol",
                f"device:{device.lfdi}",
                sfdi=device.sfdi,
                kind=device.kind.value,
                site=device.site,
                aggregator=device.aggregator,
                **extra,
            )
        return replace(device, changed_time=now)

    async def enrol_many(self, devices: Sequence[Device], *, actor: str) -> int:
        """Enrol many devices at existing sites (under existing aggregators) in one
        transaction, each with its own audit record; all or none."""
        now = self.now()
        async with self.db.transaction() as s:
            sites = {d.site for d in devices if d.site is not None}
            for site_id in sites:
                await _need(s, SiteRow, site_id, "site")
            for lfdi in {d.aggregator for d in devices if d.aggregator is not None}:
                agg = await _need(s, DeviceRow, lfdi, "aggregator")
                if agg.kind != "aggregator":
                    raise ControlError(f"{lfdi} is not an aggregator")
            lfdis = [d.lfdi for d in devices]
            if len(set(lfdis)) != len(lfdis):
                raise Conflict("the same LFDI is listed twice")
            taken = (
                await s.scalar(
                    select(func.count()).select_from(DeviceRow).where(DeviceRow.lfdi.in_(lfdis))
                )
                or 0
            )
            sfdis = [d.sfdi for d in devices]
            taken += (
                await s.scalar(
                    select(func.count()).select_from(DeviceRow).where(DeviceRow.sfdi.in_(sfdis))
                )
                or 0
            )
            if taken or len(set(sfdis)) != len(sfdis):
                raise Conflict("some of these LFDIs or SFDIs are already enrolled or repeated")
            s.add_all(
                codec.device_to_row(replace(d, changed_time=now), created=now) for d in devices
            )
            for d in devices:
                s.add(ChangeRow(kind="device", key=d.lfdi, time=now))
            events = [
                _change_event(
                    actor,
                    "device.enrol",
                    f"device:{d.lfdi}",
                    {"sfdi": d.sfdi, "site": d.site, "bulk": True},
                )
                for d in devices
            ]
            await self.audit.append_in(s, events)
        return len(devices)

    async def remove_device(self, lfdi: str, *, actor: str) -> None:
        async with self.db.transaction() as s:
            row = await _need(s, DeviceRow, _lfdi(lfdi), "device")
            await s.delete(row)
            await self._commit(s, actor, "device.remove", f"device:{row.lfdi}")

    async def set_access(self, lfdi: str, enabled: bool, *, actor: str) -> Device:
        """Grant (enabled) or revoke a client's access without removing its registration."""
        async with self.db.transaction() as s:
            row = await _need(s, DeviceRow, _lfdi(lfdi), "device")
            row.enabled = enabled
            row.changed_time = self.now()
            action = "device.grant" if enabled else "device.revoke"
            await self._commit(s, actor, action, f"device:{row.lfdi}")
            return codec.device_from_row(row)

    async def move_device(self, lfdi: str, site_id: str | None, *, actor: str) -> Device:
        async with self.db.transaction() as s:
            row = await _need(s, DeviceRow, _lfdi(lfdi), "device")
            if site_id is not None:
                await _need(s, SiteRow, site_id, "site")
            row.site_id = site_id
            row.changed_time = self.now()
            await self._commit(s, actor, "device.move", f"device:{row.lfdi}", site=site_id)
            return codec.device_from_row(row)

    async def device(self, lfdi: str) -> Device | None:
        async with self.db.sessions() as s:
            row = await s.get(DeviceRow, _lfdi(lfdi))
        return codec.device_from_row(row) if row else None

    async def devices(
        self, *, aggregator: str | None = None, site: str | None = None
    ) -> list[Device]:
        query = select(DeviceRow).order_by(DeviceRow.lfdi)
        if aggregator is not None:
            query = query.where(DeviceRow.aggregator == _lfdi(aggregator))
        if site is not None:
            query = query.where(DeviceRow.site_id == site)
        async with self.db.sessions() as s:
            rows = (await s.scalars(query)).all()
        return [codec.device_from_row(r) for r in rows]

    async def device_groups(self, lfdi: str) -> frozenset[str]:
        """The groups of the device's site (empty when it has no site)."""
        async with self.db.sessions() as s:
            site_id = await s.scalar(select(DeviceRow.site_id).where(DeviceRow.lfdi == lfdi))
            return await _site_groups(s, site_id) if site_id else frozenset()

    # --- programs ---------------------------------------------------------------------------

    async def add_program(self, program: Program, *, actor: str) -> Program:
        async with self.db.transaction() as s:
            if await s.get(ProgramRow, program.id) is not None:
                raise Conflict(f"program {program.id!r} exists")
            await self._insert_program(s, program)
            await self._commit(
                s,
                actor,
                "program.add",
                f"program:{program.id}",
                primacy=program.primacy,
                groups=sorted(program.groups),
            )
        return program

    async def _insert_program(self, s: AsyncSession, program: Program) -> None:
        for group_id in program.groups:
            await _need(s, GroupRow, group_id, "group")
        s.add(
            ProgramRow(
                id=program.id,
                mrid=new_mrid(),
                primacy=program.primacy,
                description=program.description,
                default_base=codec.base_to_json(program.default),
                default_mrid=new_mrid() if program.default else None,
                changed_time=self.now(),
            )
        )
        await s.flush()
        s.add_all(ProgramGroupRow(program_id=program.id, group_id=g) for g in program.groups)
        await s.flush()

    async def set_default(
        self, program_id: str, base: ControlBase | None, *, actor: str
    ) -> Program:
        """Set (or clear, with None) the program's DefaultDERControl envelope."""
        async with self.db.transaction() as s:
            row = await _need(s, ProgramRow, program_id, "program")
            row.default_base = codec.base_to_json(base)
            row.default_mrid = new_mrid() if base else None
            row.version += 1
            row.changed_time = self.now()
            fields = base.set_fields() if base else None
            await self._commit(s, actor, "program.default", f"program:{program_id}", base=fields)
            return codec.program_from_row(row, await program_groups(s, program_id))

    async def remove_program(self, program_id: str, *, actor: str) -> None:
        async with self.db.transaction() as s:
            await _need(s, ProgramRow, program_id, "program")
            await s.execute(delete(ProgramRow).where(ProgramRow.id == program_id))
            await self._commit(s, actor, "program.remove", f"program:{program_id}")

    async def programs(self, *, groups: frozenset[str] | None = None) -> list[Program]:
        """All programs, or those targeting any of ``groups``; by primacy."""
        async with self.db.sessions() as s:
            query = select(ProgramRow).order_by(ProgramRow.primacy, ProgramRow.id)
            if groups is not None:
                ids = select(ProgramGroupRow.program_id).where(ProgramGroupRow.group_id.in_(groups))
                query = query.where(ProgramRow.id.in_(ids))
            rows = (await s.scalars(query)).all()
            links = (await s.execute(select(ProgramGroupRow))).scalars().all()
        by_program: dict[str, set[str]] = {}
        for link in links:
            by_program.setdefault(link.program_id, set()).add(link.group_id)
        return [codec.program_from_row(r, frozenset(by_program.get(r.id, ()))) for r in rows]

    async def program(self, program_id: str) -> Program:
        async with self.db.sessions() as s:
            row = await _need(s, ProgramRow, program_id, "program")
            return codec.program_from_row(row, await program_groups(s, program_id))

    async def group_program(
        self, s: AsyncSession, group_id: str, priority: Priority, actor: str
    ) -> str:
        """The program through which the group is dispatched at ``priority``; created when
        missing, so ``control create --group G`` needs no setup."""
        program_id = f"{group_id}.{priority.value}"
        if await s.get(ProgramRow, program_id) is None:
            await _need(s, GroupRow, group_id, "group")
            program = Program(
                id=program_id,
                primacy=priority.primacy,
                groups=frozenset({group_id}),
                description=f"{priority.value} dispatch of group {group_id}",
            )
            await self._insert_program(s, program)
            await self._commit(
                s, actor, "program.add", f"program:{program_id}", primacy=program.primacy
            )
        return program_id

    # --- controls ---------------------------------------------------------------------------

    async def create_control(
        self,
        base: ControlBase,
        *,
        actor: str,
        start: int,
        duration: int,
        program: str | None = None,
        group: str | None = None,
        priority: Priority = Priority.YELLOW,
        randomize_start: int = 0,
        randomize_duration: int = 0,
        description: str = "",
        approved_by: str | None = None,
        signer: Signer | None = None,
        valid_for: int | None = None,
    ) -> Control:
        """Schedule a control for a program, or for a group at a traffic-light priority.

        With ``signer`` the control also gets the operator's signed form (control.signing),
        valid until its end or for ``valid_for`` seconds.

        With a detector, the command is screened first and may be held for a second operator
        (raises CommandHeld) or refused; ``approved_by`` names that second operator."""
        if (program is None) == (group is None):
            raise ControlError("name either a program or a group")
        if self.detector is not None and approved_by is None:
            from derlink.control.held import control_request, screen_control

            request = control_request(
                base,
                start=start,
                duration=duration,
                program=program,
                group=group,
                priority=priority,
                randomize_start=randomize_start,
                randomize_duration=randomize_duration,
                description=description,
            )
            await screen_control(self, self.detector, actor, request)
        now = self.now()
        async with self.db.transaction() as s:
            if program is None:
                assert group is not None
                program = await self.group_program(s, group, priority, actor)
            prow = await _need(s, ProgramRow, program, "program")
            control = Control(
                mrid=new_mrid(),
                program=program,
                start=start,
                duration=duration,
                base=base,
                created=now,
                description=description,
                randomize_start=randomize_start,
                randomize_duration=randomize_duration,
                status_time=now,
            )
            if control.end <= now:
                raise ControlError("the control would end before it starts: nothing to send")
            s.add(codec.control_to_row(control))
            signed: dict[str, object] = {}
            if signer is not None:
                from derlink.control.signing import sign_control

                await s.flush()  # the signed form refers to the control row
                command = await sign_control(
                    s, control, prow.primacy, signer, now=now, valid_for=valid_for
                )
                signed = {"signed_by": signer.originator, "counter": command.command().counter}
            prow.version += 1
            prow.changed_time = now
            await self._commit(
                s,
                actor,
                "control.create",
                f"control:{control.mrid}",
                program=program,
                start=start,
                duration=duration,
                base=base.set_fields(),
                **({"approved_by": approved_by} if approved_by else {}),
                **signed,
            )
        return control

    async def cancel(self, mrid: str, *, actor: str, randomized: bool = False) -> Control:
        """Cancel one control (2030.5 status 2, or 3 to let devices randomise the cancel)."""
        async with self.db.transaction() as s:
            row = await _need(s, ControlRow, mrid.upper(), "control")
            control = await self._cancel_row(s, row, randomized)
            await self._commit(s, actor, "control.cancel", f"control:{row.mrid}")
        return control

    async def cancel_all(
        self, *, actor: str, program: str | None = None, group: str | None = None
    ) -> int:
        """Cancel every control not yet ended (of a program, of a group's programs, or all)."""
        now = self.now()
        async with self.db.transaction() as s:
            query = select(ControlRow).where(
                ControlRow.status.in_([ControlStatus.SCHEDULED, ControlStatus.ACTIVE]),
                ControlRow.start + ControlRow.duration > now,
            )
            if program is not None:
                await _need(s, ProgramRow, program, "program")
                query = query.where(ControlRow.program_id == program)
            if group is not None:
                await _need(s, GroupRow, group, "group")
                ids = select(ProgramGroupRow.program_id).where(ProgramGroupRow.group_id == group)
                query = query.where(ControlRow.program_id.in_(ids))
            rows = (await s.scalars(query)).all()
            for row in rows:
                await self._cancel_row(s, row, False)
            scope = f"program:{program}" if program else f"group:{group}" if group else "all"
            await self._commit(s, actor, "control.cancel_all", scope, count=len(rows))
        return len(rows)

    async def _cancel_row(self, s: AsyncSession, row: ControlRow, randomized: bool) -> Control:
        if row.status in (ControlStatus.CANCELLED, ControlStatus.CANCELLED_RANDOM):
            raise ControlError(f"control {row.mrid} is already cancelled")
        now = self.now()
        row.status = ControlStatus.CANCELLED_RANDOM if randomized else ControlStatus.CANCELLED
        row.status_time = now
        await s.execute(
            update(ProgramRow)
            .where(ProgramRow.id == row.program_id)
            .values(version=ProgramRow.version + 1, changed_time=now)
        )
        return codec.control_from_row(row)

    async def controls(
        self, *, program: str | None = None, include_ended: bool = False
    ) -> list[Control]:
        query = select(ControlRow).order_by(ControlRow.start, ControlRow.created)
        if program is not None:
            query = query.where(ControlRow.program_id == program)
        if not include_ended:
            query = query.where(ControlRow.start + ControlRow.duration > self.now())
        async with self.db.sessions() as s:
            rows = (await s.scalars(query)).all()
        return [codec.control_from_row(r) for r in rows]

    async def control(self, mrid: str) -> Control:
        async with self.db.sessions() as s:
            return codec.control_from_row(await _need(s, ControlRow, mrid.upper(), "control"))

    # --- responses --------------------------------------------------------------------------

    async def record_responses(self, responses: Sequence[Response]) -> None:
        """Store device responses (durably; the caller acknowledges after this returns)."""
        if not responses:
            return
        now = self.now()
        table = Base.metadata.tables[ResponseRow.__tablename__]
        async with self.db.transaction() as s:
            await s.execute(
                insert(table),
                [
                    {
                        "subject": r.subject,
                        "lfdi": r.lfdi,
                        "status": int(r.status),
                        "created": r.created,
                        "received": now,
                    }
                    for r in responses
                ],
            )

    async def response_summary(self, mrid: str) -> dict[int, int]:
        """How many distinct devices reported each status for control ``mrid``."""
        async with self.db.sessions() as s:
            rows = (
                await s.execute(
                    select(ResponseRow.status, func.count(func.distinct(ResponseRow.lfdi)))
                    .where(ResponseRow.subject == mrid.upper())
                    .group_by(ResponseRow.status)
                )
            ).all()
        return {int(status): int(count) for status, count in rows}

    # --- settings: poll and post rates, disabled resources ----------------------------------

    async def set_setting(self, scope: str, key: str, value: str | None, *, actor: str) -> None:
        """Set (or clear, with None) a per-deployment setting such as a poll rate."""
        async with self.db.transaction() as s:
            await s.execute(
                delete(SettingRow).where(SettingRow.scope == scope, SettingRow.key == key)
            )
            if value is not None:
                s.add(SettingRow(scope=scope, key=key, value=value))
            await self._commit(s, actor, "setting.set", f"{scope}:{key}", value=value)

    async def settings(self) -> dict[tuple[str, str], str]:
        async with self.db.sessions() as s:
            rows = (await s.scalars(select(SettingRow))).all()
        return {(r.scope, r.key): r.value for r in rows}


def _event_id(action: str) -> str:
    domain, _, verb = action.partition(".")
    return f"Control:{domain.capitalize()}{verb.capitalize().replace('_', '')}.1"


def _change_event(actor: str, action: str, target: str, details: dict[str, Any]) -> AuditEvent:
    """The audit record of a successful operator change (see ``FleetService._commit``)."""
    return AuditEvent(
        action=action,
        target=target,
        actor=actor,
        outcome=Outcome.SUCCESS,
        severity=Severity.NOTICE,
        event_id=_event_id(action),
        source="derlink.control",
        details=details,
    )


def _lfdi(value: str) -> str:
    return value.strip().upper()


async def _need(s: AsyncSession, row_type: type[Any], key: str, kind: str) -> Any:
    row = await s.get(row_type, key)
    if row is None:
        raise NotFound(f"no {kind} {key!r}")
    return row


async def _site_groups(s: AsyncSession, site_id: str) -> frozenset[str]:
    rows = await s.scalars(select(SiteGroupRow.group_id).where(SiteGroupRow.site_id == site_id))
    return frozenset(rows.all())


async def program_groups(s: AsyncSession, program_id: str) -> frozenset[str]:
    """The groups program ``program_id`` targets (in the caller's session)."""
    rows = await s.scalars(
        select(ProgramGroupRow.group_id).where(ProgramGroupRow.program_id == program_id)
    )
    return frozenset(rows.all())
