"""The audit log at scale: a per-row hash encoding version and indexes for /deploy history.

``chain_version`` names the encoding a row's hash uses (``storage.audit_chain``). Rows already
in the table were hashed with the first encoding, so the column's default is 1; deploybot
writes 2 from this revision on. Adding a column with a constant default rewrites no rows on
SQLite or PostgreSQL, so a million-row log upgrades in an instant.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "audit_events",
        sa.Column("chain_version", sa.Integer(), server_default="1", nullable=False),
    )
    op.create_index("ix_audit_events_action_seq", "audit_events", ["action", "seq"])
    op.create_index(
        "ix_audit_events_environment_action_seq",
        "audit_events",
        ["environment", "action", "seq"],
    )


def downgrade() -> None:
    # Without the column, rows hashed with encoding 2 would read as encoding 1 and fail to
    # verify: refuse rather than make a good log look tampered with.
    newer = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM audit_events WHERE chain_version <> 1"))
        .scalar_one()
    )
    if newer:
        raise RuntimeError(
            f"cannot downgrade below revision 0013: {newer} audit row(s) are hashed with "
            "chain encoding 2, which older deploybot versions cannot verify"
        )
    op.drop_index("ix_audit_events_environment_action_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_action_seq", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("chain_version")
