"""The audit log on SQLite and PostgreSQL: append, read, prove, and catch every tampering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.audit import AuditError, AuditEvent, AuditLog, Outcome, Severity
from derlink.audit.merkle import root_hash, verify_consistency, verify_inclusion
from derlink.store import Database, upgrade
from support.tamper import TAMPERS

SIZE = 10
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def log(db_url: str) -> AsyncIterator[AuditLog]:
    async with Database(db_url) as db:
        await upgrade(db)
        yield AuditLog(db, signer=ec.generate_private_key(ec.SECP256R1()))


async def _fill(log: AuditLog, n: int = SIZE) -> None:
    for i in range(n):
        await log.append(
            AuditEvent(
                action="control.create",
                target=f"group:feeder-{i % 3}",
                actor="cli:alice",
                outcome=Outcome.SUCCESS if i % 4 else Outcome.DENIED,
                severity=Severity.NOTICE,
                event_id="Control:Create.1",
                details={"export_limit_w": 5000 + i, "note": "ünïcode ✓"},
            ),
            now=T0 + timedelta(seconds=i, microseconds=7),
        )


async def test_append_read_back_exactly(log: AuditLog) -> None:
    await _fill(log)
    stored = [s async for s in log.records()]
    assert [s.record.seq for s in stored] == list(range(SIZE))
    assert stored[3].record.time == T0 + timedelta(seconds=3, microseconds=7)
    assert stored[5].record.event.details == {"export_limit_w": 5005, "note": "ünïcode ✓"}
    assert stored[4].record.event.outcome is Outcome.DENIED
    head = await log.head()
    assert head is not None and head.size == SIZE
    assert head.root == root_hash([s.leaf_hash for s in stored])
    assert (await log.verify()).ok


async def test_empty_log_verifies_and_has_no_head(log: AuditLog) -> None:
    result = await log.verify()
    assert result.ok and result.size == 0 and result.head is None
    with pytest.raises(AuditError, match="empty"):
        await log.prove_inclusion(0)


async def test_inclusion_and_consistency_proofs_verify(log: AuditLog) -> None:
    await _fill(log)
    head = await log.head()
    assert head is not None
    for seq in range(SIZE):
        proof = await log.prove_inclusion(seq)
        assert verify_inclusion(proof.leaf_hash, seq, head.size, list(proof.path), head.root)
    old = await log._head_at(4)
    proof_c = await log.prove_consistency(4)
    assert verify_consistency(4, SIZE, old.root, head.root, proof_c)
    with pytest.raises(AuditError):
        await log.prove_inclusion(SIZE)


async def test_concurrent_appends_never_fork(log: AuditLog) -> None:
    async def writer(k: int) -> None:
        for i in range(5):
            await log.append(AuditEvent(action="a", target=f"w{k}-{i}"))

    await asyncio.gather(*(writer(k) for k in range(4)))
    result = await log.verify()
    assert result.ok and result.size == 20


async def test_reader_without_key_cannot_append(log: AuditLog) -> None:
    reader = AuditLog(log.db, public_key=log.public_key)
    with pytest.raises(AuditError, match="no audit key"):
        await reader.append(AuditEvent(action="a", target="t"))


@pytest.mark.parametrize("how", sorted(TAMPERS))
async def test_every_tampering_is_caught_at_its_sequence(log: AuditLog, how: str) -> None:
    await _fill(log)
    assert (await log.verify()).ok
    expected = await TAMPERS[how](log.db, SIZE)
    result = await log.verify()
    assert not result.ok, how
    assert result.first_bad == expected, result.problem


async def test_truncation_is_caught_only_against_a_witness(log: AuditLog) -> None:
    await _fill(log)
    witnessed = await log.head()
    assert witnessed is not None
    from sqlalchemy import text

    async with log.db.transaction() as s:
        await s.execute(text(f"DELETE FROM audit_record WHERE seq >= {SIZE - 2}"))
    result = await log.verify([witnessed])
    assert not result.ok
    assert result.first_bad == SIZE - 2


async def test_a_forged_witness_is_refused(log: AuditLog) -> None:
    await _fill(log)
    head = await log.head()
    assert head is not None
    from derlink.audit import TreeHead

    forged = TreeHead(head.size, head.timestamp_ms, bytes(32), head.signature)
    result = await log.verify([forged])
    assert not result.ok and "forged" in (result.problem or "")


def test_event_ids_must_follow_62351_14() -> None:
    with pytest.raises(ValueError, match=r"Domain:Group\.Number"):
        AuditEvent(action="a", target="t", event_id="no-colon")
    with pytest.raises(TypeError):
        AuditEvent(action="a", target="t", details={"x": object()})
