"""Persistence of what only 2030.5 has: client-written documents, subscriptions, the durable
notification queue, metering mirrors and their readings, log events.

These tables are the 2030.5 adapter's own; the protocol-neutral fleet lives behind
:class:`~derlink.control.service.FleetService`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from derlink.store.database import Database
from derlink.store.schema import (
    Base,
    DeviceResourceRow,
    LogEventRow,
    MirrorMeterReadingRow,
    MirrorUsagePointRow,
    ReadingRow,
    SubscriptionRow,
)


@dataclass(frozen=True, slots=True)
class NewReading:
    time: int
    duration: int
    value: int
    quality_flags: int


def _insert_ignoring_duplicates(dialect: str) -> Any:
    """INSERT of readings that skips one already stored (same meter, start and duration)."""
    # Core on the Table, not the ORM bulk path: this is the ingest hot path.
    table = Base.metadata.tables[ReadingRow.__tablename__]
    if dialect == "postgresql":
        return pg_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


class Sep2Repo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- documents a client writes about itself ---------------------------------------------

    async def put_document(self, lfdi: str, kind: str, body: bytes, now: int) -> bool:
        """Store (replace) a client's document; True when it is new."""
        async with self.db.transaction() as s:
            row = await s.get(DeviceResourceRow, (lfdi, kind))
            if row is None:
                s.add(DeviceResourceRow(lfdi=lfdi, kind=kind, body=body.decode(), updated=now))
                return True
            row.body = body.decode()
            row.updated = now
            return False

    async def document(self, lfdi: str, kind: str) -> bytes | None:
        async with self.db.sessions() as s:
            row = await s.get(DeviceResourceRow, (lfdi, kind))
        return row.body.encode() if row else None

    # --- subscriptions ------------------------------------------------------------------------

    async def add_subscription(
        self, lfdi: str, resource: str, uri: str, limit: int, encoding: int, level: str, now: int
    ) -> int:
        async with self.db.transaction() as s:
            row = SubscriptionRow(
                lfdi=lfdi,
                resource=resource,
                notification_uri=uri,
                limit=limit,
                encoding=encoding,
                level=level,
                created=now,
            )
            s.add(row)
            await s.flush()
            return row.id

    async def subscriptions(self, lfdi: str) -> list[SubscriptionRow]:
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(SubscriptionRow)
                .where(SubscriptionRow.lfdi == lfdi)
                .order_by(SubscriptionRow.id)
            )
            return list(rows.all())

    async def subscription(self, lfdi: str, sub_id: int) -> SubscriptionRow | None:
        async with self.db.sessions() as s:
            row = await s.get(SubscriptionRow, sub_id)
        return row if row is not None and row.lfdi == lfdi else None

    async def delete_subscription(self, lfdi: str, sub_id: int) -> bool:
        async with self.db.transaction() as s:
            result = await s.execute(
                delete(SubscriptionRow).where(
                    SubscriptionRow.id == sub_id, SubscriptionRow.lfdi == lfdi
                )
            )
            return bool(getattr(result, "rowcount", 0))

    # --- mirrors ------------------------------------------------------------------------------

    async def mirror_by_mrid(self, mrid: str) -> MirrorUsagePointRow | None:
        async with self.db.sessions() as s:
            return await s.scalar(
                select(MirrorUsagePointRow).where(MirrorUsagePointRow.mrid == mrid)
            )

    async def add_mirror(self, row: MirrorUsagePointRow) -> int:
        async with self.db.transaction() as s:
            s.add(row)
            await s.flush()
            return row.id

    async def mirror(self, mup_id: int) -> MirrorUsagePointRow | None:
        async with self.db.sessions() as s:
            return await s.get(MirrorUsagePointRow, mup_id)

    async def mirrors(self, lfdis: Sequence[str]) -> list[MirrorUsagePointRow]:
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(MirrorUsagePointRow)
                .where(MirrorUsagePointRow.lfdi.in_(lfdis))
                .order_by(MirrorUsagePointRow.id)
            )
            return list(rows.all())

    async def meter_readings(self, mup_id: int) -> list[MirrorMeterReadingRow]:
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(MirrorMeterReadingRow)
                .where(MirrorMeterReadingRow.usage_point_id == mup_id)
                .order_by(MirrorMeterReadingRow.id)
            )
            return list(rows.all())

    async def store_meters(
        self,
        mup_id: int,
        meters: Sequence[tuple[tuple[str, str, str], Sequence[NewReading]]],
        now: int,
    ) -> list[int]:
        """For each (mrid, description, reading type XML) and its readings: create the
        mirrored meter reading if new and append the readings — all in one transaction, so a
        post is stored whole or not at all before it is acknowledged. Returns the meter ids."""
        async with self.db.transaction() as s:
            mrids = [mrid for (mrid, _, _), _ in meters]
            existing = {
                row.mrid: row
                for row in await s.scalars(
                    select(MirrorMeterReadingRow).where(MirrorMeterReadingRow.mrid.in_(mrids))
                )
            }
            ids: list[int] = []
            rows: list[dict[str, int]] = []
            for (mrid, description, reading_type), readings in meters:
                row = existing.get(mrid)
                if row is None:
                    row = MirrorMeterReadingRow(
                        usage_point_id=mup_id,
                        mrid=mrid,
                        description=description,
                        reading_type=reading_type,
                    )
                    s.add(row)
                    await s.flush()
                    existing[mrid] = row
                elif reading_type and not row.reading_type:
                    row.reading_type = reading_type
                ids.append(row.id)
                rows.extend(
                    {
                        "meter_reading_id": row.id,
                        "time": r.time,
                        "duration": r.duration,
                        "value": r.value,
                        "quality_flags": r.quality_flags,
                        "received": now,
                    }
                    for r in readings
                )
            if rows:
                await s.execute(_insert_ignoring_duplicates(self.db.dialect), rows)
            return ids

    async def readings(self, meter_id: int, start: int, limit: int) -> tuple[int, list[ReadingRow]]:
        async with self.db.sessions() as s:
            total = await s.scalar(
                select(func.count())
                .select_from(ReadingRow)
                .where(ReadingRow.meter_reading_id == meter_id)
            )
            rows = await s.scalars(
                select(ReadingRow)
                .where(ReadingRow.meter_reading_id == meter_id)
                .order_by(ReadingRow.time.desc(), ReadingRow.id.desc())
                .offset(start)
                .limit(limit)
            )
            return int(total or 0), list(rows.all())

    # --- log events ---------------------------------------------------------------------------

    async def add_log_event(self, lfdi: str, body: bytes, now: int) -> int:
        async with self.db.transaction() as s:
            row = LogEventRow(lfdi=lfdi, created=now, body=body.decode())
            s.add(row)
            await s.flush()
            return row.id

    async def log_events(self, lfdi: str) -> list[LogEventRow]:
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(LogEventRow).where(LogEventRow.lfdi == lfdi).order_by(LogEventRow.id)
            )
            return list(rows.all())
