"""Audit log: records with leaf hashes and signed tree heads, and the append state.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_record",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.String(27), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(80), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_record"),
    )
    op.create_index("ix_audit_record_time", "audit_record", ["time"])
    op.create_index("ix_audit_record_actor", "audit_record", ["actor"])
    op.create_index("ix_audit_record_action", "audit_record", ["action"])
    state = op.create_table(
        "audit_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_state"),
    )
    # The one state row exists from the start, so every append can lock it by updating it.
    # Its frontier is the empty tree in CompactRange's encoding: version 1, size 0.
    op.bulk_insert(state, [{"id": 1, "size": 0, "frontier": b"\x01" + bytes(8)}])


def downgrade() -> None:
    op.drop_table("audit_state")
    op.drop_index("ix_audit_record_action", "audit_record")
    op.drop_index("ix_audit_record_actor", "audit_record")
    op.drop_index("ix_audit_record_time", "audit_record")
    op.drop_table("audit_record")
