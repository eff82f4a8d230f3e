"""Order indexes on artifacts without the kind, for the generic /artifacts list.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add (create_time, id) and (update_time, id) indexes on artifacts."""
    op.create_index("ix_artifacts_create_time", "artifacts", ["create_time", "id"])
    op.create_index("ix_artifacts_update_time", "artifacts", ["update_time", "id"])


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index("ix_artifacts_update_time", table_name="artifacts")
    op.drop_index("ix_artifacts_create_time", table_name="artifacts")
