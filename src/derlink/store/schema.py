"""Tables. One declarative base; Alembic migrations in ``migrations/`` create what is here.

Times that are part of signed or hashed content are stored as fixed-width RFC 3339 text
(``2026-01-02T03:04:05.000006Z``) so that SQLite and PostgreSQL return exactly what was written.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AuditRecordRow(Base):
    """One audit record, its RFC 6962 leaf hash, and the signed tree head it produced."""

    __tablename__ = "audit_record"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(27), index=True)
    actor: Mapped[str] = mapped_column(String(256), index=True)
    action: Mapped[str] = mapped_column(String(128), index=True)
    target: Mapped[str] = mapped_column(String(512))
    outcome: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(128))
    details: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(80))


class AuditStateRow(Base):
    """The single row that serialises appends: tree size and the compact Merkle frontier."""

    __tablename__ = "audit_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


# --- the fleet: sites, groups, devices --------------------------------------------------------


class SiteRow(Base):
    __tablename__ = "site"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    connection_point_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    capacity_w: Mapped[float | None] = mapped_column(Float, nullable=True)
    lock_connection_point: Mapped[bool] = mapped_column(Boolean, default=False)


class GroupRow(Base):
    __tablename__ = "fleet_group"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    kind: Mapped[str] = mapped_column(String(32), default="feeder")


class SiteGroupRow(Base):
    __tablename__ = "site_group"

    site_id: Mapped[str] = mapped_column(
        ForeignKey("site.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("fleet_group.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DeviceRow(Base):
    __tablename__ = "device"

    lfdi: Mapped[str] = mapped_column(String(40), primary_key=True)
    sfdi: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[str | None] = mapped_column(
        ForeignKey("site.id", ondelete="SET NULL"), nullable=True, index=True
    )
    aggregator: Mapped[str | None] = mapped_column(
        ForeignKey("device.lfdi", ondelete="CASCADE"), nullable=True, index=True
    )
    pin: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_category: Mapped[int] = mapped_column(BigInteger, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_time: Mapped[int] = mapped_column(BigInteger, default=0)
    created: Mapped[int] = mapped_column(BigInteger, default=0)


# --- programs, controls, curves, responses ----------------------------------------------------


class ProgramRow(Base):
    __tablename__ = "program"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mrid: Mapped[str] = mapped_column(String(32), unique=True)
    primacy: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(256), default="")
    default_base: Mapped[str | None] = mapped_column(Text, nullable=True)
    default_mrid: Mapped[str | None] = mapped_column(String(32), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_time: Mapped[int] = mapped_column(BigInteger, default=0)


class ProgramGroupRow(Base):
    __tablename__ = "program_group"

    program_id: Mapped[str] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("fleet_group.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ControlRow(Base):
    __tablename__ = "control"

    mrid: Mapped[str] = mapped_column(String(32), primary_key=True)
    program_id: Mapped[str] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), index=True
    )
    start: Mapped[int] = mapped_column(BigInteger, index=True)
    duration: Mapped[int] = mapped_column(BigInteger)
    randomize_start: Mapped[int] = mapped_column(Integer, default=0)
    randomize_duration: Mapped[int] = mapped_column(Integer, default=0)
    base: Mapped[str] = mapped_column(Text)
    created: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[int] = mapped_column(Integer, default=0)
    status_time: Mapped[int] = mapped_column(BigInteger, default=0)


class CurveRow(Base):
    __tablename__ = "curve"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mrid: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[int] = mapped_column(Integer)
    points: Mapped[str] = mapped_column(Text)
    created: Mapped[int] = mapped_column(BigInteger, default=0)


class ResponseRow(Base):
    __tablename__ = "response"
    __table_args__ = (Index("ix_response_subject_lfdi", "subject", "lfdi"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(32))
    lfdi: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger)


class DeviceResourceRow(Base):
    """What a client writes about itself (DERCapability, DERSettings, DERStatus,
    DERAvailability, DeviceInformation, PowerStatus...), kept as the document it sent."""

    __tablename__ = "device_resource"

    lfdi: Mapped[str] = mapped_column(
        ForeignKey("device.lfdi", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    updated: Mapped[int] = mapped_column(BigInteger)


class SettingRow(Base):
    """Per-deployment settings: poll/post rates per list and site, disabled resources."""

    __tablename__ = "setting"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


# --- subscriptions and the durable notification queue ----------------------------------------


class SubscriptionRow(Base):
    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lfdi: Mapped[str] = mapped_column(ForeignKey("device.lfdi", ondelete="CASCADE"), index=True)
    resource: Mapped[str] = mapped_column(String(256), index=True)
    notification_uri: Mapped[str] = mapped_column(String(512))
    limit: Mapped[int] = mapped_column(Integer, default=1)
    encoding: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[str] = mapped_column(String(16), default="-S1")
    created: Mapped[int] = mapped_column(BigInteger)


class NotificationRow(Base):
    """One notification to deliver. A node claims a row by setting ``claimed_by`` and
    ``claimed_until`` in one UPDATE, so two nodes never send the same row; a claim that expires
    (the node died) is taken over. ``delivered`` is set only after the client answered 2xx."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "delivered", "next_attempt"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscription.id", ondelete="SET NULL"), nullable=True
    )
    uri: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(Text)
    created: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[int] = mapped_column(BigInteger)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str] = mapped_column(String(512), default="")


# --- metering mirrors, log events -----------------------------------------------------------


class MirrorUsagePointRow(Base):
    __tablename__ = "mirror_usage_point"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mrid: Mapped[str] = mapped_column(String(32), unique=True)
    lfdi: Mapped[str] = mapped_column(ForeignKey("device.lfdi", ondelete="CASCADE"), index=True)
    device_lfdi: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(256), default="")
    role_flags: Mapped[int] = mapped_column(Integer)
    service_category: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[int] = mapped_column(Integer, default=0)
    post_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)


class MirrorMeterReadingRow(Base):
    __tablename__ = "mirror_meter_reading"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    usage_point_id: Mapped[int] = mapped_column(
        ForeignKey("mirror_usage_point.id", ondelete="CASCADE"), index=True
    )
    mrid: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(256), default="")
    reading_type: Mapped[str] = mapped_column(Text)


class ReadingRow(Base):
    __tablename__ = "reading"
    # One reading per meter, start and duration: a client that re-posts after a lost answer
    # (or re-sends a whole mirror) adds nothing; the first value stored stands.
    __table_args__ = (
        Index("ix_reading_meter_time", "meter_reading_id", "time", "duration", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    meter_reading_id: Mapped[int] = mapped_column(
        ForeignKey("mirror_meter_reading.id", ondelete="CASCADE")
    )
    time: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[int] = mapped_column(BigInteger)
    quality_flags: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(BigInteger)


class LogEventRow(Base):
    __tablename__ = "log_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    lfdi: Mapped[str] = mapped_column(ForeignKey("device.lfdi", ondelete="CASCADE"), index=True)
    created: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)


# --- the change outbox: what protocol adapters must tell their devices about -----------------


class ChangeRow(Base):
    """A change of fleet state, written in the transaction that made it; protocol adapters
    read the outbox in id order (each keeps its own cursor) to notify subscribers."""

    __tablename__ = "change"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    time: Mapped[int] = mapped_column(BigInteger)


class CursorRow(Base):
    """How far a consumer (a protocol adapter) has read the change outbox, and who holds the
    lease to read on (one node at a time; a lease that expires is taken over)."""

    __tablename__ = "cursor"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[int] = mapped_column(BigInteger, default=0)


# --- anomaly detection: commands held for a second operator, and the rate counters -----------


class HeldControlRow(Base):
    """A control held by anomaly detection until a second operator approves or rejects it."""

    __tablename__ = "held_control"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created: Mapped[int] = mapped_column(BigInteger)
    operator: Mapped[str] = mapped_column(String(256), index=True)
    reason: Mapped[str] = mapped_column(String(512))
    request: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    decided_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    control_mrid: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AnomalyCountRow(Base):
    """One counted event (a command, a failed authentication) of one key in time; the sliding
    windows of anomaly detection are counts of these rows, so every process sees them."""

    __tablename__ = "anomaly_count"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    time: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_anomaly_count_key_time", "key", "time"),)
