"""The audit log's keyed layer: a key id and an HMAC per row and on the head.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("audit_events", "audit_head"):
        op.add_column(table, sa.Column("key_id", sa.String(16), nullable=True))
        op.add_column(table, sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in ("audit_head", "audit_events"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("mac")
            batch.drop_column("key_id")
