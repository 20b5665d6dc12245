"""IEC 61850 IED registry (XMPP address and IED name of devices that are 61850 IEDs) and the
values the 61850 dispatcher must restore on them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "iec61850_ied",
        sa.Column("lfdi", sa.String(length=40), nullable=False),
        sa.Column("jid", sa.String(length=255), nullable=False),
        sa.Column("ied_name", sa.String(length=64), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lfdi"],
            ["device.lfdi"],
            name=op.f("fk_iec61850_ied_lfdi_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lfdi", name=op.f("pk_iec61850_ied")),
        sa.UniqueConstraint("jid", name=op.f("uq_iec61850_ied_jid")),
    )
    op.create_table(
        "iec61850_baseline",
        sa.Column("lfdi", sa.String(length=40), nullable=False),
        sa.Column("point", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lfdi"],
            ["device.lfdi"],
            name=op.f("fk_iec61850_baseline_lfdi_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lfdi", "point", name=op.f("pk_iec61850_baseline")),
    )


def downgrade() -> None:
    op.drop_table("iec61850_baseline")
    op.drop_table("iec61850_ied")
