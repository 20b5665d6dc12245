"""Ways an attacker with write access to the database can tamper with the audit log.

Each function edits the stored log directly with SQL, as someone bypassing derlink would, and
returns the sequence number ``derlink audit verify`` must name as the first bad one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text

from derlink.audit.event import AuditRecord
from derlink.audit.merkle import CompactRange, leaf_hash
from derlink.audit.treehead import TreeHead
from derlink.store.database import Database

Tamper = Callable[[Database, int], Awaitable[int]]
COLUMNS = "time, actor, action, target, outcome, severity, event_id, source, details"


async def modify_content(db: Database, size: int) -> int:
    async with db.transaction() as s:
        await s.execute(text("UPDATE audit_record SET target = 'evil' WHERE seq = 3"))
    return 3


async def modify_with_leaf(db: Database, size: int) -> int:
    """Change the content and store the matching leaf hash, as a careful attacker would."""
    async with db.transaction() as s:
        row = (await s.execute(text("SELECT * FROM audit_record WHERE seq = 2"))).mappings().one()
        record = _record_from(row, target="evil")
        await s.execute(
            text("UPDATE audit_record SET target = 'evil', leaf_hash = :h WHERE seq = 2"),
            {"h": leaf_hash(record.canonical())},
        )
    return 2


async def delete_middle(db: Database, size: int) -> int:
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM audit_record WHERE seq = 4"))
    return 4


async def delete_and_renumber(db: Database, size: int) -> int:
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM audit_record WHERE seq = 1"))
        await s.execute(text("UPDATE audit_record SET seq = seq + 1000 WHERE seq > 1"))
        await s.execute(text("UPDATE audit_record SET seq = seq - 1001 WHERE seq > 1000"))
    return 1


async def reorder(db: Database, size: int) -> int:
    """Swap the contents of two records, keeping their sequence numbers."""
    async with db.transaction() as s:
        await s.execute(text("UPDATE audit_record SET seq = -1 WHERE seq = 2"))
        await s.execute(text("UPDATE audit_record SET seq = 2 WHERE seq = 5"))
        await s.execute(text("UPDATE audit_record SET seq = 5 WHERE seq = -1"))
    return 2


async def insert_middle(db: Database, size: int) -> int:
    async with db.transaction() as s:
        await s.execute(text("UPDATE audit_record SET seq = seq + 1000 WHERE seq >= 3"))
        await s.execute(text("UPDATE audit_record SET seq = seq - 999 WHERE seq >= 1000"))
        await s.execute(
            text(
                f"INSERT INTO audit_record (seq, {COLUMNS}, leaf_hash, root_hash, signature) "
                f"SELECT 3, {COLUMNS}, leaf_hash, root_hash, signature "
                "FROM audit_record WHERE seq = 0"
            )
        )
    return 3


async def append_forged(db: Database, size: int) -> int:
    """Add a record at the end, consistent in every hash but signed by another key."""
    forger = ec.generate_private_key(ec.SECP256R1())
    async with db.transaction() as s:
        rows = (await s.execute(text("SELECT leaf_hash FROM audit_record ORDER BY seq"))).all()
        last = (
            (await s.execute(text(f"SELECT * FROM audit_record WHERE seq = {size - 1}")))
            .mappings()
            .one()
        )
        record = _record_from(last, target="forged", seq=size)
        frontier = CompactRange.from_leaves(bytes(r[0]) for r in rows)
        leaf = leaf_hash(record.canonical())
        frontier.append(leaf)
        head = TreeHead.sign(forger, size + 1, 0, frontier.root())
        await s.execute(
            text(
                f"INSERT INTO audit_record (seq, {COLUMNS}, leaf_hash, root_hash, signature) "
                f"SELECT {size}, time, actor, action, 'forged', outcome, severity, event_id, "
                f"source, details, :leaf, :root, :sig FROM audit_record WHERE seq = {size - 1}"
            ),
            {"leaf": leaf, "root": head.root, "sig": head.signature},
        )
    return size


async def forge_tree_head(db: Database, size: int) -> int:
    async with db.transaction() as s:
        sig = (
            await s.execute(text("SELECT signature FROM audit_record WHERE seq = 6"))
        ).scalar_one()
        forged = bytes(sig)[:-1] + bytes([bytes(sig)[-1] ^ 0x01])
        await s.execute(text("UPDATE audit_record SET signature = :s WHERE seq = 6"), {"s": forged})
    return 6


TAMPERS: dict[str, Tamper] = {
    "modify": modify_content,
    "modify-with-leaf": modify_with_leaf,
    "delete": delete_middle,
    "delete-renumber": delete_and_renumber,
    "reorder": reorder,
    "insert": insert_middle,
    "append-forged": append_forged,
    "forge-tree-head": forge_tree_head,
}


def _record_from(row: Mapping[str, Any], *, target: str, seq: int | None = None) -> AuditRecord:
    """The record a row holds, with ``target`` (and ``seq``) replaced."""
    fields = ("seq", "time", "actor", "action", "outcome", "severity", "event_id", "source")
    data: dict[str, Any] = {k: row[k] for k in fields}
    data.update(target=target, details=json.loads(row["details"]))
    if seq is not None:
        data["seq"] = seq
    return AuditRecord.from_json(data)
