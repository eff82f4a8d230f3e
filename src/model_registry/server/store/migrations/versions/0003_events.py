"""The change-event log: ``events`` (the outbox) and ``event_log`` (its cursor counter).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two tables and the counter's one row."""
    op.create_table(
        "events",
        sa.Column("cursor", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("cursor"),
    )
    op.create_index("ix_events_time", "events", ["time"], unique=False)
    log = op.create_table(
        "event_log",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_cursor", sa.BigInteger(), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(log, [{"id": 1, "last_cursor": 0, "pruned_through": 0}])


def downgrade() -> None:
    """Drop the two tables."""
    op.drop_table("event_log")
    op.drop_index("ix_events_time", table_name="events")
    op.drop_table("events")
