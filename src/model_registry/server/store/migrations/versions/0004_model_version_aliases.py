"""Aliases of model versions: named, movable pointers from a registered model to a version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``model_version_aliases``: one row per (registered model, alias)."""
    op.create_table(
        "model_version_aliases",
        sa.Column("registered_model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["registered_model_id"], ["contexts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_version_id"], ["contexts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("registered_model_id", "alias"),
    )
    op.create_index(
        "ix_model_version_aliases_version",
        "model_version_aliases",
        ["model_version_id", "alias"],
        unique=False,
    )


def downgrade() -> None:
    """Drop ``model_version_aliases``."""
    op.drop_index("ix_model_version_aliases_version", table_name="model_version_aliases")
    op.drop_table("model_version_aliases")
