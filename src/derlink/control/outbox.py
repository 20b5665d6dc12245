"""A consumer's feed of the fleet's change outbox, read by one node at a time under a lease.

The fleet service writes a :class:`~derlink.store.schema.ChangeRow` in the same transaction as
each change. A consumer (the 2030.5 notifier, the 61850 dispatcher) keeps its own named cursor
(a :class:`~derlink.store.schema.CursorRow`): the id of the last change it has taken in, the
node holding the lease and when the lease runs out. Only the holder reads; a node that stops
renewing (or releases on shutdown) is taken over once the lease has run out. The consumer
advances the cursor with :meth:`OutboxFeed.advance` inside the transaction that records what
it made of the changes, so each change is taken in exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from derlink.store.database import Database
from derlink.store.schema import ChangeRow, CursorRow

LEASE_SECONDS = 15
RETRY_SECONDS = 2  # a node without the lease looks again after this
BATCH = 1000


@dataclass
class OutboxFeed:
    """The cursor ``cursor`` of the change outbox, as seen from node ``node``."""

    db: Database
    cursor: str
    node: str
    lease_seconds: int = LEASE_SECONDS
    holder: bool = False
    renew_at: float = 0.0

    async def hold(self, now: int) -> bool:
        """Whether this node holds the lease at ``now``; renews it (or tries to take it) when
        due: well inside the lease for the holder, a little later for the others."""
        if now >= self.renew_at:
            self.holder = await self._lease(now)
            self.renew_at = now + (self.lease_seconds // 3 if self.holder else RETRY_SECONDS)
        return self.holder

    async def position(self, s: AsyncSession) -> int:
        """The id of the last change taken in (0 before the first)."""
        found = await s.scalar(select(CursorRow.position).where(CursorRow.name == self.cursor))
        return found or 0

    async def pending(self, s: AsyncSession, after: int, limit: int = BATCH) -> list[ChangeRow]:
        """The changes after ``after``, oldest first, at most ``limit``."""
        rows = await s.scalars(
            select(ChangeRow).where(ChangeRow.id > after).order_by(ChangeRow.id).limit(limit)
        )
        return list(rows.all())

    async def advance(self, s: AsyncSession, position: int) -> None:
        """Move the cursor to ``position``, in the caller's transaction ``s``."""
        await s.execute(
            update(CursorRow).where(CursorRow.name == self.cursor).values(position=position)
        )

    async def release(self) -> None:
        """Give the lease up (on shutdown), so another node takes over at once."""
        async with self.db.transaction() as s:
            await s.execute(
                update(CursorRow)
                .where(CursorRow.name == self.cursor, CursorRow.holder == self.node)
                .values(lease_until=0)
            )
        self.holder = False

    async def _lease(self, now: int) -> bool:
        until = now + self.lease_seconds
        async with self.db.transaction() as s:
            row = await s.get(CursorRow, self.cursor)
            if row is None:
                s.add(CursorRow(name=self.cursor, position=0, holder=self.node, lease_until=until))
                return True
            result = await s.execute(
                update(CursorRow)
                .where(CursorRow.name == self.cursor)
                .where((CursorRow.holder == self.node) | (CursorRow.lease_until < now))
                .values(holder=self.node, lease_until=until)
            )
            return bool(getattr(result, "rowcount", 0))
