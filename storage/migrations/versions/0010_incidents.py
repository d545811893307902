"""Incidents opened from monitoring alerts, and the alert episodes inside them.

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("group_key", sa.String(2000), nullable=False),
        sa.Column("environment", sa.String(200), nullable=True),
        sa.Column("mapped_why", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("fire_count", sa.Integer(), nullable=False),
        sa.Column("live_version", sa.String(200), nullable=True),
        sa.Column("deployment_id", sa.String(64), nullable=True),
        sa.Column("rollback_id", sa.String(64), nullable=True),
        sa.Column("card_channel", sa.String(100), nullable=True),
        sa.Column("card_ts", sa.String(100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("mitigated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_incidents_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_source_group_key", "incidents", ["source", "group_key"])
    op.create_index(
        "ix_incidents_environment_triggered_at", "incidents", ["environment", "triggered_at"]
    )
    op.create_table(
        "incident_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(2000), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("resource_ids", sa.JSON(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('firing', 'resolved')", name=op.f("ck_incident_alerts_status")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_alerts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_alerts")),
        sa.UniqueConstraint(
            "incident_id",
            "fingerprint",
            "starts_at",
            name=op.f("uq_incident_alerts_incident_id_fingerprint_starts_at"),
        ),
    )


def downgrade() -> None:
    op.drop_table("incident_alerts")
    op.drop_index("ix_incidents_environment_triggered_at", table_name="incidents")
    op.drop_index("ix_incidents_source_group_key", table_name="incidents")
    op.drop_table("incidents")
