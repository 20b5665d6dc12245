"""Signed commands: the counter allocated per originator, and the signed form of a control.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "originator_counter",
        sa.Column("originator", sa.String(length=512), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("originator", name=op.f("pk_originator_counter")),
    )
    op.create_table(
        "signed_command",
        sa.Column("mrid", sa.String(length=32), nullable=False),
        sa.Column("originator", sa.String(length=512), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("not_after", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mrid"],
            ["control.mrid"],
            name=op.f("fk_signed_command_mrid_control"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mrid", name=op.f("pk_signed_command")),
    )


def downgrade() -> None:
    op.drop_table("signed_command")
    op.drop_table("originator_counter")
