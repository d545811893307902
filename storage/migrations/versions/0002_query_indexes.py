"""Indexes for the queries /deploy history, status and the job runner make.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_environment_seq", "audit_events", ["environment", "seq"])
    op.create_index("ix_audit_events_deployment_id_seq", "audit_events", ["deployment_id", "seq"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index(
        "ix_deployments_environment_created_at", "deployments", ["environment", "created_at"]
    )
    op.create_index("ix_deployments_state", "deployments", ["state"])


def downgrade() -> None:
    op.drop_index("ix_deployments_state", table_name="deployments")
    op.drop_index("ix_deployments_environment_created_at", table_name="deployments")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_index("ix_audit_events_deployment_id_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_environment_seq", table_name="audit_events")
