"""The publication service: DER curves, and what is published to groups besides DER programs
(tariffs with their price intervals, demand response programs with their load controls,
messaging programs with their messages, firmware files with their content).

Each method is one transaction that makes the change, queues it in the change outbox and
appends its audit record (:meth:`FleetService._commit`), so a refused operation changes
nothing; the CLI and the 2030.5 head-end both call it.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from derlink.control.errors import Conflict, ControlError, NotFound
from derlink.control.service import FleetService, _need, new_mrid
from derlink.domain import (
    ControlStatus,
    Curve,
    Event,
    Firmware,
    Publication,
    PublicationKind,
    RateComponent,
    Tariff,
    TariffInterval,
)
from derlink.domain.curves import kind_name, with_units
from derlink.store import codec_publications as pcodec
from derlink.store.curve_refs import curve_ids
from derlink.store.schema import ControlRow, CurveRow, GroupRow, ProgramRow
from derlink.store.schema_publications import (
    FileContentRow,
    ProgramCurveRow,
    PublicationEventRow,
    PublicationGroupRow,
    PublicationRow,
)

MAX_FILE_BYTES = 64 * 1024 * 1024
LABELS = {kind: cls.LABEL for cls, kind in pcodec.KINDS.items()}


class PublicationService(FleetService):
    """Curves and publications, audited; ``actor`` names who acts."""

    # --- DER curves -------------------------------------------------------------------------

    async def add_curve(self, program_id: str, curve: Curve, *, actor: str) -> Curve:
        """Add ``curve`` to DER program ``program_id``; curve ids are unique in the server."""
        curve = with_units(curve)
        async with self.db.transaction() as s:
            await _need(s, ProgramRow, program_id, "program")
            # curves of removed programs lose their link (cascade) and are dropped here
            await s.execute(
                delete(CurveRow).where(CurveRow.id.not_in(select(ProgramCurveRow.curve_id)))
            )
            if await s.get(CurveRow, curve.id) is not None:
                raise Conflict(f"curve {curve.id!r} exists")
            s.add(pcodec.curve_to_row(curve, new_mrid(), self.now()))
            await s.flush()
            s.add(ProgramCurveRow(curve_id=curve.id, program_id=program_id))
            await self._commit(
                s,
                actor,
                "curve.add",
                f"program:{program_id}",
                curve=curve.id,
                kind=kind_name(curve.kind),
                points=[list(p) for p in curve.points],
            )
        return curve

    async def remove_curve(self, program_id: str, curve_id: str, *, actor: str) -> None:
        """Remove a curve that no live control and no default control refers to."""
        async with self.db.transaction() as s:
            link = await s.get(ProgramCurveRow, curve_id)
            if link is None or link.program_id != program_id:
                raise NotFound(f"no curve {curve_id!r} in program {program_id!r}")
            users = await self._curve_users(s, program_id, curve_id)
            if users:
                raise Conflict(f"curve {curve_id} is in use by {', '.join(users)}")
            await s.execute(delete(CurveRow).where(CurveRow.id == curve_id))
            await self._commit(s, actor, "curve.remove", f"program:{program_id}", curve=curve_id)

    async def _curve_users(self, s: AsyncSession, program_id: str, curve_id: str) -> list[str]:
        program = await s.get(ProgramRow, program_id)
        users = (
            ["the default control"]
            if program and curve_id in curve_ids(program.default_base)
            else []
        )
        rows = await s.scalars(
            select(ControlRow).where(
                ControlRow.program_id == program_id,
                ControlRow.start + ControlRow.duration > self.now(),
                ControlRow.status.in_([ControlStatus.SCHEDULED, ControlStatus.ACTIVE]),
            )
        )
        return users + [f"control {r.mrid}" for r in rows if curve_id in curve_ids(r.base)]

    async def curves(self, program_id: str) -> list[tuple[Curve, int]]:
        """The program's curves by id, each with its creation time."""
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(CurveRow)
                .join(ProgramCurveRow, ProgramCurveRow.curve_id == CurveRow.id)
                .where(ProgramCurveRow.program_id == program_id)
                .order_by(CurveRow.id)
            )
            return [(pcodec.curve_from_row(r), r.created) for r in rows]

    # --- publications -----------------------------------------------------------------------

    async def publish(
        self, item: Publication, *, actor: str, content: bytes | None = None
    ) -> Publication:
        """Publish a tariff, program or file to its groups (a file with its ``content``)."""
        kind = pcodec.KINDS[type(item)]
        details = _check_content(item, content)
        async with self.db.transaction() as s:
            if await s.get(PublicationRow, (kind.value, item.id)) is not None:
                raise Conflict(f"{item.LABEL} {item.id!r} exists")
            for group_id in item.groups:
                await _need(s, GroupRow, group_id, "group")
            row = pcodec.publication_to_row(item, new_mrid(), self.now())
            s.add(row)
            await s.flush()
            s.add_all(
                PublicationGroupRow(kind=kind.value, publication_id=item.id, group_id=g)
                for g in item.groups
            )
            if content is not None:
                s.add(FileContentRow(mrid=row.mrid, data=content))
            target = f"{kind.value}:{item.id}"
            await self._commit(
                s, actor, f"{kind.value}.add", target, groups=sorted(item.groups), **details
            )
        return item

    async def add_rate_component(
        self, tariff_id: str, component: RateComponent, *, actor: str
    ) -> Tariff:
        """Add a RateComponent to a tariff (its price intervals name it)."""
        async with self.db.transaction() as s:
            row = await _publication_row(s, PublicationKind.TARIFF, tariff_id)
            groups = await _groups(s, PublicationKind.TARIFF, tariff_id)
            tariff = pcodec.publication_from_row(row, groups)
            assert isinstance(tariff, Tariff)
            updated = replace(tariff, components=(*tariff.components, component))
            row.data = pcodec.publication_to_row(updated, row.mrid, row.created).data
            await self._commit(
                s, actor, "tariff.component", f"tariff:{tariff_id}", component=component.id
            )
        return updated

    async def withdraw(self, kind: PublicationKind, item_id: str, *, actor: str) -> None:
        """Remove a publication with its events (and a file with its content)."""
        async with self.db.transaction() as s:
            await _publication_row(s, kind, item_id)
            await s.execute(
                delete(PublicationRow).where(
                    PublicationRow.kind == kind.value, PublicationRow.id == item_id
                )
            )
            await self._commit(s, actor, f"{kind.value}.remove", f"{kind.value}:{item_id}")

    async def publications(
        self, kind: PublicationKind, *, groups: frozenset[str] | None = None
    ) -> list[Publication]:
        """All publications of ``kind``, or those targeting any of ``groups``; by primacy."""
        query = (
            select(PublicationRow)
            .where(PublicationRow.kind == kind.value)
            .order_by(PublicationRow.primacy, PublicationRow.id)
        )
        links = select(PublicationGroupRow).where(PublicationGroupRow.kind == kind.value)
        if groups is not None:
            query = query.where(PublicationRow.id.in_(_targeting(kind, groups)))
        async with self.db.sessions() as s:
            rows = (await s.scalars(query)).all()
            by_item: dict[str, set[str]] = {}
            for link in (await s.scalars(links)).all():
                by_item.setdefault(link.publication_id, set()).add(link.group_id)
        return [pcodec.publication_from_row(r, frozenset(by_item.get(r.id, ()))) for r in rows]

    async def publication(self, kind: PublicationKind, item_id: str) -> Publication:
        async with self.db.sessions() as s:
            row = await _publication_row(s, kind, item_id)
            return pcodec.publication_from_row(row, await _groups(s, kind, item_id))

    async def publication_mrid(self, kind: PublicationKind, item_id: str) -> str:
        async with self.db.sessions() as s:
            return (await _publication_row(s, kind, item_id)).mrid

    async def counts(self, groups: frozenset[str]) -> dict[PublicationKind, int]:
        """How many publications of each kind target any of ``groups``."""
        async with self.db.sessions() as s:
            rows = await s.execute(
                select(
                    PublicationGroupRow.kind,
                    func.count(func.distinct(PublicationGroupRow.publication_id)),
                )
                .where(PublicationGroupRow.group_id.in_(groups))
                .group_by(PublicationGroupRow.kind)
            )
            found = {PublicationKind(kind): int(n) for kind, n in rows.all()}
        return {kind: found.get(kind, 0) for kind in PublicationKind}

    async def file_content(self, item_id: str) -> bytes:
        async with self.db.sessions() as s:
            row = await _publication_row(s, PublicationKind.FILE, item_id)
            data = await s.scalar(
                select(FileContentRow.data).where(FileContentRow.mrid == row.mrid)
            )
        if data is None:
            raise NotFound(f"file {item_id!r} has no content")
        return bytes(data)

    # --- events -----------------------------------------------------------------------------

    async def schedule(self, event: Event, *, actor: str) -> Event:
        """Schedule a price interval, load control or message (its mRID as given)."""
        kind = pcodec.EVENT_KINDS[type(event)]
        now = self.now()
        event = replace(event, created=now, status=ControlStatus.SCHEDULED, status_time=now)
        if event.end <= now:
            raise ControlError("the event would end before it starts: nothing to send")
        async with self.db.transaction() as s:
            row = await _publication_row(s, kind, event.program)
            if isinstance(event, TariffInterval):
                tariff = pcodec.publication_from_row(row, frozenset())
                assert isinstance(tariff, Tariff)
                tariff.component(event.component)
            s.add(pcodec.event_to_row(event))
            await self._commit(
                s,
                actor,
                f"{kind.value}.event",
                f"{kind.value}:{event.program}",
                event=event.mrid,
                start=event.start,
                duration=event.duration,
            )
        return event

    async def cancel_event(
        self, kind: PublicationKind, mrid: str, *, actor: str, randomized: bool = False
    ) -> Event:
        """Cancel an event (2030.5 status 2, or 3 to let devices randomise the cancel)."""
        async with self.db.transaction() as s:
            row = await _event_row(s, kind, mrid)
            if row.status in (ControlStatus.CANCELLED, ControlStatus.CANCELLED_RANDOM):
                raise ControlError(f"event {row.mrid} is already cancelled")
            if randomized and kind is PublicationKind.MESSAGING:
                raise ControlError("a text message is not randomizable: cancel it plainly")
            row.status = ControlStatus.CANCELLED_RANDOM if randomized else ControlStatus.CANCELLED
            row.status_time = self.now()
            await self._commit(
                s, actor, f"{kind.value}.cancel", f"{kind.value}:{row.program_id}", event=row.mrid
            )
            return pcodec.event_from_row(row)

    async def events(
        self,
        kind: PublicationKind,
        program: str,
        *,
        part: str | None = None,
        include_ended: bool = False,
    ) -> list[Event]:
        """The events of a publication (of one rate component with ``part``), by start."""
        query = (
            select(PublicationEventRow)
            .where(
                PublicationEventRow.kind == kind.value, PublicationEventRow.program_id == program
            )
            .order_by(PublicationEventRow.start, PublicationEventRow.created)
        )
        if part is not None:
            query = query.where(PublicationEventRow.part == part)
        if not include_ended:
            query = query.where(
                PublicationEventRow.start + PublicationEventRow.duration > self.now()
            )
        async with self.db.sessions() as s:
            rows = (await s.scalars(query)).all()
        return [pcodec.event_from_row(r) for r in rows]

    async def event(self, kind: PublicationKind, mrid: str) -> Event:
        async with self.db.sessions() as s:
            return pcodec.event_from_row(await _event_row(s, kind, mrid))


def _check_content(item: Publication, content: bytes | None) -> dict[str, Any]:
    """A file comes with its content, which must be what it describes."""
    if not isinstance(item, Firmware):
        if content is not None:
            raise ControlError(f"a {item.LABEL} has no content")
        return {}
    if content is None or len(content) != item.size:
        raise ControlError(f"file {item.id} needs its {item.size} bytes of content")
    if len(content) > MAX_FILE_BYTES:
        raise ControlError(f"a file has at most {MAX_FILE_BYTES // 2**20} MiB of content")
    if hashlib.sha256(content).hexdigest() != item.sha256:
        raise ControlError(f"the content of file {item.id} does not match its sha256")
    return {"model": item.model, "version": item.version, "sha256": item.sha256}


def _targeting(kind: PublicationKind, groups: frozenset[str]) -> Any:
    return select(PublicationGroupRow.publication_id).where(
        PublicationGroupRow.kind == kind.value, PublicationGroupRow.group_id.in_(groups)
    )


async def _publication_row(s: AsyncSession, kind: PublicationKind, item_id: str) -> PublicationRow:
    row = await s.get(PublicationRow, (kind.value, item_id))
    if row is None:
        raise NotFound(f"no {LABELS[kind]} {item_id!r}")
    return row


async def _groups(s: AsyncSession, kind: PublicationKind, item_id: str) -> frozenset[str]:
    rows = await s.scalars(
        select(PublicationGroupRow.group_id).where(
            PublicationGroupRow.kind == kind.value, PublicationGroupRow.publication_id == item_id
        )
    )
    return frozenset(rows.all())


async def _event_row(s: AsyncSession, kind: PublicationKind, mrid: str) -> PublicationEventRow:
    row = await s.get(PublicationEventRow, mrid.upper())
    if row is None or row.kind != kind.value:
        raise NotFound(f"no {LABELS[kind]} event {mrid!r}")
    return row
