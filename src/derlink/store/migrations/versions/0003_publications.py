"""Publications to groups besides DER programs: tariffs, demand response and messaging
programs, files and their content, their events; and the program a DER curve belongs to.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 04:44:44.133759
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OWNER = ["publication.kind", "publication.id"]


def upgrade() -> None:
    op.create_table(
        "publication",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("mrid", sa.String(length=32), nullable=False),
        sa.Column("primacy", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name=op.f("pk_publication")),
        sa.UniqueConstraint("mrid", name=op.f("uq_publication_mrid")),
    )
    op.create_table(
        "publication_group",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("publication_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["fleet_group.id"],
            name=op.f("fk_publication_group_group_id_fleet_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["kind", "publication_id"],
            OWNER,
            name=op.f("fk_publication_group_kind_publication"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "kind", "publication_id", "group_id", name=op.f("pk_publication_group")
        ),
    )
    op.create_index(
        op.f("ix_publication_group_group_id"), "publication_group", ["group_id"], unique=False
    )
    op.create_table(
        "publication_event",
        sa.Column("mrid", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("part", sa.String(length=64), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.BigInteger(), nullable=False),
        sa.Column("randomize_start", sa.Integer(), nullable=False),
        sa.Column("randomize_duration", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("status_time", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kind", "program_id"],
            OWNER,
            name=op.f("fk_publication_event_kind_publication"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mrid", name=op.f("pk_publication_event")),
    )
    op.create_index(
        "ix_publication_event_program",
        "publication_event",
        ["kind", "program_id", "start"],
        unique=False,
    )
    op.create_table(
        "file_content",
        sa.Column("mrid", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mrid"],
            ["publication.mrid"],
            name=op.f("fk_file_content_mrid_publication"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mrid", name=op.f("pk_file_content")),
    )
    op.create_table(
        "program_curve",
        sa.Column("curve_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["curve_id"],
            ["curve.id"],
            name=op.f("fk_program_curve_curve_id_curve"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["program.id"],
            name=op.f("fk_program_curve_program_id_program"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("curve_id", name=op.f("pk_program_curve")),
    )
    op.create_index(
        op.f("ix_program_curve_program_id"), "program_curve", ["program_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("program_curve")
    op.drop_table("file_content")
    op.drop_table("publication_event")
    op.drop_table("publication_group")
    op.drop_table("publication")
