"""Tables of what is published to groups besides DER programs: tariffs, demand response and
messaging programs, files (with their content), their events, and the curves of DER programs.

A publication's own fields (a tariff's currency and rate components, a file's model and
version...) are one JSON document in ``data``, as a control's envelope is in ``control.base``:
they are read and written whole, never queried. Declared on the same ``Base`` as
:mod:`derlink.store.schema`, so Alembic sees one schema.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from derlink.store.schema import Base

_OWNER = ("publication.kind", "publication.id")


class PublicationRow(Base):
    """A tariff, a demand response program, a messaging program or a file (by ``kind``)."""

    __tablename__ = "publication"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mrid: Mapped[str] = mapped_column(String(32), unique=True)
    primacy: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(String(256), default="")
    data: Mapped[str] = mapped_column(Text)
    created: Mapped[int] = mapped_column(BigInteger)


class PublicationGroupRow(Base):
    """The groups a publication targets."""

    __tablename__ = "publication_group"
    __table_args__ = (ForeignKeyConstraint(["kind", "publication_id"], _OWNER, ondelete="CASCADE"),)

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    publication_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("fleet_group.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PublicationEventRow(Base):
    """A price interval, load control or text message of a publication; ``part`` is the
    rate component of a price interval."""

    __tablename__ = "publication_event"
    __table_args__ = (
        ForeignKeyConstraint(["kind", "program_id"], _OWNER, ondelete="CASCADE"),
        Index("ix_publication_event_program", "kind", "program_id", "start"),
    )

    mrid: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    program_id: Mapped[str] = mapped_column(String(64))
    part: Mapped[str] = mapped_column(String(64), default="")
    start: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[int] = mapped_column(BigInteger)
    randomize_start: Mapped[int] = mapped_column(Integer, default=0)
    randomize_duration: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[int] = mapped_column(Integer, default=0)
    status_time: Mapped[int] = mapped_column(BigInteger, default=0)
    data: Mapped[str] = mapped_column(Text)


class FileContentRow(Base):
    """The bytes of a published file, apart so that listing files never loads them."""

    __tablename__ = "file_content"

    mrid: Mapped[str] = mapped_column(
        ForeignKey("publication.mrid", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ProgramCurveRow(Base):
    """Which DER program a curve (``curve`` table) belongs to."""

    __tablename__ = "program_curve"

    curve_id: Mapped[str] = mapped_column(
        ForeignKey("curve.id", ondelete="CASCADE"), primary_key=True
    )
    program_id: Mapped[str] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), index=True
    )
