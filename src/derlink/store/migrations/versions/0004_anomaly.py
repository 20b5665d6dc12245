"""Anomaly detection: controls held for a second operator's approval, and rate counters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "held_control",
        sa.Column("id", ID, nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("operator", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("decided_time", sa.BigInteger(), nullable=True),
        sa.Column("control_mrid", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_control")),
    )
    op.create_index(op.f("ix_held_control_operator"), "held_control", ["operator"], unique=False)
    op.create_index(op.f("ix_held_control_status"), "held_control", ["status"], unique=False)
    op.create_table(
        "anomaly_count",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_count")),
    )
    op.create_index("ix_anomaly_count_key_time", "anomaly_count", ["key", "time"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_anomaly_count_key_time", table_name="anomaly_count")
    op.drop_table("anomaly_count")
    op.drop_index(op.f("ix_held_control_status"), table_name="held_control")
    op.drop_index(op.f("ix_held_control_operator"), table_name="held_control")
    op.drop_table("held_control")
