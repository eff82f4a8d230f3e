"""Artifact content sweep: ``artifact_contents`` and the index of content digests.

Every digest an artifact names when this migration runs gets its row, pinned now (so the first
sweeps keep it for their grace period whatever happens meanwhile).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SHA256 = "registry.sha256"


def upgrade() -> None:
    """Create ``artifact_contents`` with a row per digest in use, and the digest index."""
    op.create_table(
        "artifact_contents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pinned", sa.BigInteger(), nullable=False),
        sa.Column("sweep", sa.String(length=32), nullable=True),
        sa.Column("marked", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("sha256"),
    )
    where = sa.text(f"name = '{_SHA256}'")
    op.create_index(
        "ix_artifacts_properties_sha256",
        "artifacts_properties",
        ["string_value"],
        unique=False,
        sqlite_where=where,
        postgresql_where=where,
    )
    op.execute(
        sa.text(
            "INSERT INTO artifact_contents (sha256, pinned) "
            "SELECT DISTINCT string_value, :now FROM artifacts_properties "
            "WHERE name = :name AND string_value IS NOT NULL"
        ).bindparams(now=int(time.time() * 1000), name=_SHA256)
    )


def downgrade() -> None:
    """Drop the index and ``artifact_contents``."""
    op.drop_index("ix_artifacts_properties_sha256", table_name="artifacts_properties")
    op.drop_table("artifact_contents")
