"""Each context row keeps its own answer: ``contexts.wire`` (JSON text), ``wire_pb`` (the gRPC
message) and ``wire_version``.

Both NULL for existing rows: a list page renders such a row from its columns, as before, until
a write renders it anew (see ``schema.WIRE_COLUMNS``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``wire``, ``wire_pb`` and ``wire_version`` to ``contexts`` (nullable: an ADD COLUMN,
    no copy)."""
    op.add_column("contexts", sa.Column("wire", sa.Text(), nullable=True))
    op.add_column("contexts", sa.Column("wire_pb", sa.LargeBinary(), nullable=True))
    op.add_column("contexts", sa.Column("wire_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop them (SQLite >= 3.35 drops columns in place)."""
    op.drop_column("contexts", "wire_version")
    op.drop_column("contexts", "wire_pb")
    op.drop_column("contexts", "wire")
