"""PostgreSQL: the sequence that orders events until they get their cursor (``events_pending``).

A write no longer takes its events' cursors from ``event_log`` (whose row lock, held to the
commit, serialised every commit): it stores them under ``-(nextval(events_pending) * 2^20 +
i)``, and an assigner gives the committed ones their cursors in that order
(``store/events.py``). SQLite is unchanged (its one writer thread commits in cursor order
anyway), so the migration does nothing there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the sequence (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE events_pending AS bigint")


def downgrade() -> None:
    """Drop the sequence (PostgreSQL only; assign pending events first: a server running the
    previous revision never reads them)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE events_pending")
