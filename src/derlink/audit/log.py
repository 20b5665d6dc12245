"""The tamper-evident audit log: records in the database, an RFC 6962 tree over them.

Every append, in one transaction: assign the next sequence number, hash the record's
canonical bytes into a leaf (RFC 6962 section 2.1), extend the compact Merkle frontier, sign
the new tree head with the audit key, and store record, leaf hash and signed head together.
The transaction starts by writing the single ``audit_state`` row, which serialises appends from
every process on SQLite and PostgreSQL alike, so the tree never forks.

``verify`` re-derives every leaf and every tree head from the records and names the first
sequence number where anything disagrees: a modified, deleted, reordered or inserted record, or
a tree head whose signature does not verify. A log cut short at its end is detected only
against a tree head kept outside the database (a witness): keep one with ``derlink audit head``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from derlink.audit.errors import AuditError
from derlink.audit.event import AuditEvent, AuditRecord, Outcome, Severity
from derlink.audit.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from derlink.audit.treehead import TreeHead
from derlink.store.database import Database
from derlink.store.schema import AuditRecordRow, AuditStateRow

STATE_ID = 1
BATCH = 5000


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as read back: the record, its stored leaf hash and the head it produced."""

    record: AuditRecord
    leaf_hash: bytes
    head: TreeHead

    def to_json(self) -> dict[str, object]:
        return {**self.record.to_json(), "leaf_hash": self.leaf_hash.hex(), **self.head.to_json()}


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :meth:`AuditLog.verify`; ``first_bad`` is a sequence number or None."""

    size: int
    head: TreeHead | None
    first_bad: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class InclusionProof:
    seq: int
    leaf_hash: bytes
    head: TreeHead
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "leaf_hash": self.leaf_hash.hex(),
            "tree_head": self.head.to_json(),
            "audit_path": [h.hex() for h in self.path],
        }


def _timestamp_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _row_to_stored(row: AuditRecordRow) -> StoredRecord:
    event = AuditEvent(
        action=row.action,
        target=row.target,
        actor=row.actor,
        outcome=Outcome(row.outcome),
        severity=Severity(row.severity),
        event_id=row.event_id,
        source=row.source,
        details=json.loads(row.details),
    )
    time = datetime.strptime(row.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    record = AuditRecord(seq=row.seq, time=time, event=event)
    head = TreeHead(row.seq + 1, _timestamp_ms(time), bytes(row.root_hash), bytes(row.signature))
    return StoredRecord(record, bytes(row.leaf_hash), head)


def _record_to_row(record: AuditRecord, leaf: bytes, head: TreeHead) -> AuditRecordRow:
    data = record.to_json()
    return AuditRecordRow(
        seq=record.seq,
        time=data["time"],
        actor=record.event.actor,
        action=record.event.action,
        target=record.event.target,
        outcome=record.event.outcome.value,
        severity=record.event.severity.value,
        event_id=record.event.event_id,
        source=record.event.source,
        details=json.dumps(record.event.details, sort_keys=True, separators=(",", ":")),
        leaf_hash=leaf,
        root_hash=head.root,
        signature=head.signature,
    )


class AuditLog:
    """Append to, read, prove and verify the audit log kept in ``db``.

    ``signer`` is the audit private key (needed to append); ``public_key`` checks heads
    (derived from ``signer`` when not given).
    """

    def __init__(
        self,
        db: Database,
        *,
        signer: ec.EllipticCurvePrivateKey | None = None,
        public_key: ec.EllipticCurvePublicKey | None = None,
    ) -> None:
        self.db = db
        self.signer = signer
        self.public_key = public_key or (signer.public_key() if signer else None)

    async def append(self, event: AuditEvent, *, now: datetime | None = None) -> StoredRecord:
        """Append one event durably; returns it with its sequence number and signed head."""
        return (await self.append_many([event], now=now))[0]

    async def append_many(
        self, events: Sequence[AuditEvent], *, now: datetime | None = None
    ) -> list[StoredRecord]:
        """Append several events in one transaction of their own (all or none)."""
        async with self.db.transaction() as session:
            return await self.append_in(session, events, now=now)

    async def append_in(
        self, session: AsyncSession, events: Sequence[AuditEvent], *, now: datetime | None = None
    ) -> list[StoredRecord]:
        """Append ``events`` inside the caller's transaction, so that a change and its audit
        record commit together or not at all. Takes the log's append lock until that commit:
        call it last in the transaction."""
        if self.signer is None:
            raise AuditError("no audit key: this log can be read and verified, not written")
        when = (now or datetime.now(UTC)).astimezone(UTC)
        frontier = await self._lock_frontier(session)
        stored = [self._seal(frontier, event, when) for event in events]
        session.add_all(_record_to_row(s.record, s.leaf_hash, s.head) for s in stored)
        await session.execute(
            update(AuditStateRow)
            .where(AuditStateRow.id == STATE_ID)
            .values(size=frontier.size, frontier=frontier.to_bytes())
        )
        return stored

    async def _lock_frontier(self, session: AsyncSession) -> CompactRange:
        # Writing the state row first takes the write lock before anything is read, so
        # concurrent appenders (threads, processes, nodes) queue here instead of forking.
        await session.execute(
            update(AuditStateRow)
            .where(AuditStateRow.id == STATE_ID)
            .values(size=AuditStateRow.size)
        )
        state = await session.get(AuditStateRow, STATE_ID)
        if state is None:
            raise AuditError("the audit log's append state is missing: run 'derlink db upgrade'")
        try:
            return CompactRange.from_bytes(bytes(state.frontier))
        except ValueError as err:
            raise AuditError(f"the audit log's append state is damaged: {err}") from None

    def _seal(self, frontier: CompactRange, event: AuditEvent, when: datetime) -> StoredRecord:
        assert self.signer is not None
        record = AuditRecord(seq=frontier.size, time=when, event=event)
        leaf = leaf_hash(record.canonical())
        frontier.append(leaf)
        head = TreeHead.sign(self.signer, frontier.size, _timestamp_ms(when), frontier.root())
        return StoredRecord(record, leaf, head)

    async def size(self) -> int:
        async with self.db.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(AuditRecordRow))
        return int(count or 0)

    async def head(self) -> TreeHead | None:
        """The newest signed tree head, or None for an empty log."""
        async with self.db.sessions() as session:
            row = await session.scalar(
                select(AuditRecordRow).order_by(AuditRecordRow.seq.desc()).limit(1)
            )
        return _row_to_stored(row).head if row else None

    async def records(self, start: int = 0, stop: int | None = None) -> AsyncIterator[StoredRecord]:
        """Records with ``start <= seq < stop`` in sequence order, read in batches."""
        cursor = start
        while stop is None or cursor < stop:
            query = select(AuditRecordRow).where(AuditRecordRow.seq >= cursor)
            if stop is not None:
                query = query.where(AuditRecordRow.seq < stop)
            async with self.db.sessions() as session:
                rows = (
                    await session.scalars(query.order_by(AuditRecordRow.seq).limit(BATCH))
                ).all()
            if not rows:
                return
            for row in rows:
                yield _row_to_stored(row)
            cursor = rows[-1].seq + 1

    async def _leaf_hashes(self, stop: int) -> list[bytes]:
        async with self.db.sessions() as session:
            result = await session.execute(
                select(AuditRecordRow.leaf_hash)
                .where(AuditRecordRow.seq < stop)
                .order_by(AuditRecordRow.seq)
            )
            return [bytes(h) for h in result.scalars()]

    async def prove_inclusion(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        """The audit path of record ``seq`` to the head of ``tree_size`` (default: newest)."""
        head = await self._head_at(tree_size)
        if not 0 <= seq < head.size:
            raise AuditError(f"no record {seq} in a log of {head.size} records")
        leaves = await self._leaf_hashes(head.size)
        return InclusionProof(seq, leaves[seq], head, tuple(inclusion_proof(leaves, seq)))

    async def prove_consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 6962 consistency proof between the heads of ``old_size`` and ``new_size``."""
        head = await self._head_at(new_size)
        if not 1 <= old_size <= head.size:
            raise AuditError(f"old size {old_size} is not within 1..{head.size}")
        return consistency_proof(await self._leaf_hashes(head.size), old_size)

    async def _head_at(self, size: int | None) -> TreeHead:
        if size is None:
            head = await self.head()
            if head is None:
                raise AuditError("the audit log is empty")
            return head
        async with self.db.sessions() as session:
            row = await session.get(AuditRecordRow, size - 1)
        if row is None:
            raise AuditError(f"no tree head of size {size}")
        return _row_to_stored(row).head

    async def verify(
        self,
        witnessed: Iterable[TreeHead] = (),
        progress: Callable[[int], None] | None = None,
    ) -> VerifyResult:
        """Re-derive the whole log and check it, and each witnessed head, record by record.

        ``progress`` is called with the number of records checked so far, every batch.
        """
        if self.public_key is None:
            raise AuditError("no audit public key to check tree heads with")
        witnesses = {w.size: w for w in witnessed}
        for head in witnesses.values():
            if not head.verify(self.public_key):
                return VerifyResult(0, None, head.size - 1, "a witnessed tree head is forged")
        frontier = CompactRange()
        last: TreeHead | None = None
        async for stored in self.records():
            expected = frontier.size
            problem = self._check(frontier, stored, witnesses.get(expected + 1))
            if problem is not None:
                return VerifyResult(expected, last, expected, problem)
            last = stored.head
            if progress is not None and frontier.size % BATCH == 0:
                progress(frontier.size)
        if progress is not None:
            progress(frontier.size)
        if witnesses and max(witnesses) > frontier.size:
            cut = frontier.size
            return VerifyResult(cut, last, cut, f"records from {cut} on were removed")
        problem = await self._check_state(frontier)
        return VerifyResult(frontier.size, last, frontier.size if problem else None, problem)

    def _check(
        self, frontier: CompactRange, stored: StoredRecord, witness: TreeHead | None
    ) -> str | None:
        assert self.public_key is not None
        seq = stored.record.seq
        if seq != frontier.size:
            return f"record {frontier.size} is missing (next stored is {seq})"
        leaf = leaf_hash(stored.record.canonical())
        if leaf != stored.leaf_hash:
            return f"record {seq} was modified (its content does not hash to its leaf)"
        frontier.append(leaf)
        if frontier.root() != stored.head.root:
            return f"record {seq} was modified, moved or inserted (tree head root differs)"
        if not stored.head.verify(self.public_key):
            return f"the tree head of record {seq} does not verify (forged or re-signed)"
        if witness is not None and witness.root != stored.head.root:
            return f"the log up to record {seq} differs from the witnessed tree head"
        return None

    async def _check_state(self, frontier: CompactRange) -> str | None:
        async with self.db.sessions() as session:
            state = await session.get(AuditStateRow, STATE_ID)
        if state is None:
            return "the append state is missing"
        if state.size != frontier.size or bytes(state.frontier) != frontier.to_bytes():
            return "the append state does not match the records"
        return None
