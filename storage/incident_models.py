"""Tables for incidents and the alerts inside them (revision 0010 creates exactly these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    group_key: Mapped[str] = mapped_column(String(2000))
    environment: Mapped[str | None] = mapped_column(String(200))
    mapped_why: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    fire_count: Mapped[int] = mapped_column(Integer)
    live_version: Mapped[str | None] = mapped_column(String(200))
    deployment_id: Mapped[str | None] = mapped_column(String(64))
    rollback_id: Mapped[str | None] = mapped_column(String(64))
    card_channel: Mapped[str | None] = mapped_column(String(100))
    card_ts: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    triggered_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("state IN ('open', 'acknowledged', 'resolved')", name="state"),
        Index("ix_incidents_source_group_key", "source", "group_key"),
        Index("ix_incidents_environment_triggered_at", "environment", "triggered_at"),
    )


class IncidentAlertRow(Base):
    """One firing episode of one alert: (fingerprint, starts_at) tells episodes apart."""

    __tablename__ = "incident_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.id", ondelete="CASCADE")
    )
    fingerprint: Mapped[str] = mapped_column(String(2000))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    links: Mapped[dict[str, Any]] = mapped_column(JSON)
    resource_ids: Mapped[list[Any]] = mapped_column(JSON)
    last_seen: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("incident_id", "fingerprint", "starts_at"),
        CheckConstraint("status IN ('firing', 'resolved')", name="status"),
    )
