"""Tables. The Alembic revisions in ``storage/migrations/versions`` create exactly this schema
(a test compares them), so change both together: edit here, then add a revision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from storage.timeutil import as_utc

GENESIS_HASH = "0" * 64


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out.

    SQLite keeps no zone and hands back naive values, so we store naive UTC there and attach
    UTC on the way out; PostgreSQL gets a ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value, "timestamp")
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class AuditEventRow(Base):
    """One append-only, hash-chained audit row. ``at`` is the exact ISO text that is hashed."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str | None] = mapped_column(String(200))
    deployment_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The keyed layer (``audit_key``); NULL on rows written without DEPLOYBOT_AUDIT_KEY.
    key_id: Mapped[str | None] = mapped_column(String(16))
    mac: Mapped[str | None] = mapped_column(String(64))
    # Which encoding ``hash`` uses (``audit_chain``); rows from before revision 0013 are 1.
    chain_version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        Index("ix_audit_events_environment_seq", "environment", "seq"),
        Index("ix_audit_events_deployment_id_seq", "deployment_id", "seq"),
        Index("ix_audit_events_at", "at"),
        # /deploy history [env]: the newest rows of one action (in one environment).
        Index("ix_audit_events_action_seq", "action", "seq"),
        Index("ix_audit_events_environment_action_seq", "environment", "action", "seq"),
    )


class AuditHeadRow(Base):
    """The single row naming the chain's last ``seq`` and ``hash``; appends lock and bump it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))
    mac: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class DeploymentRow(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    environment: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    from_version: Mapped[str | None] = mapped_column(String(200))
    strategy: Mapped[str] = mapped_column(String(50))
    requested_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(50))
    current_step: Mapped[str | None] = mapped_column(String(200))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    flags: Mapped[dict[str, Any]] = mapped_column(JSON)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    card_channel: Mapped[str | None] = mapped_column(String(100))
    card_ts: Mapped[str | None] = mapped_column(String(100))
    # The state the card in Slack last showed (confirmed by Slack): a terminal deployment
    # whose card shows another state was left behind by a crash and is drawn again.
    card_state: Mapped[str | None] = mapped_column(String(50))
    approvals_required: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("kind IN ('deploy', 'rollback', 'canary')", name="kind"),
        Index("ix_deployments_environment_created_at", "environment", "created_at"),
        Index("ix_deployments_state", "state"),
    )


class ApprovalRow(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("deployments.id", ondelete="CASCADE")
    )
    approver: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]

    __table_args__ = (
        # One decision per person per deployment: a double click cannot count twice.
        UniqueConstraint("deployment_id", "approver"),
        CheckConstraint("decision IN ('approve', 'reject')", name="decision"),
    )


class LockRow(Base):
    __tablename__ = "locks"

    environment: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    deployment_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    acquired_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("kind IN ('manual', 'job')", name="kind"),)
