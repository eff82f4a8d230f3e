"""Indexes of the NAME ordering (our extension): (project, kind, name, id) on every entity
table, and (project, name, id) on artifacts for the generic /artifacts list.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLES = ("contexts", "artifacts", "executions", "metric_history")


def upgrade() -> None:
    """Add the name indexes."""
    for table in _TABLES:
        op.create_index(
            f"ix_{table}_project_kind_name", table, ["project_id", "kind", "name", "id"]
        )
    op.create_index("ix_artifacts_project_name", "artifacts", ["project_id", "name", "id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_artifacts_project_name", table_name="artifacts")
    for table in _TABLES:
        op.drop_index(f"ix_{table}_project_kind_name", table_name=table)
