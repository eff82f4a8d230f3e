"""Projects and tokens: a project column on every entity table, uniqueness and paging per project.

Existing rows move into the project named ``default`` (internal id 1). Names and external ids
become unique per project, and every paging index is led by the project. The tokens table
holds issued API tokens (SHA-256 of the secret only) and their role per project.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ENTITY_TABLES = ("contexts", "artifacts", "executions", "metric_history")
_UNIQUE_TABLES = ("contexts", "artifacts", "executions")
_ORDER_COLUMNS = ("create_time", "update_time")
# SQLite's batch mode rebuilds a table from its reflection, which does not carry AUTOINCREMENT:
# without it, a deleted row's id would be handed out again.
_KEEP = {"sqlite_autoincrement": True}


def _properties_table(owner: str) -> None:
    op.create_table(
        f"{owner}_properties",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value_type", sa.String(length=32), nullable=False),
        sa.Column("string_value", sa.Text(), nullable=True),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", sa.Float(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("bytes_value", sa.Text(), nullable=True),
        sa.Column("proto_type", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], [f"{owner}.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", "name"),
    )


def _old_indexes(table: str) -> list[str]:
    names = [f"ix_{table}_kind_id", f"ix_{table}_kind_parent_id"]
    for col in _ORDER_COLUMNS:
        names += [f"ix_{table}_kind_{col}", f"ix_{table}_kind_parent_{col}"]
    if table in _UNIQUE_TABLES:
        names.append(f"uq_{table}_external_id")
    if table == "artifacts":
        names += [f"ix_artifacts_{col}" for col in _ORDER_COLUMNS]
    return names


def upgrade() -> None:
    """Create projects and tokens; scope every entity table by project."""
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("model_task", sa.String(length=64), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("uq_projects_uuid", "projects", ["uuid"], unique=True)
    op.create_index("uq_projects_name", "projects", ["name"], unique=True)
    op.create_index("uq_projects_external_id", "projects", ["external_id"], unique=True)
    op.create_index("ix_projects_create_time", "projects", ["create_time", "id"])
    op.create_index("ix_projects_update_time", "projects", ["update_time", "id"])
    _properties_table("projects")
    now = time.time_ns() // 1_000_000
    projects = sa.table(
        "projects",
        sa.column("id", sa.Integer()),
        sa.column("uuid", sa.String()),
        sa.column("name", sa.String()),
        sa.column("create_time", sa.BigInteger()),
        sa.column("update_time", sa.BigInteger()),
    )
    op.bulk_insert(
        projects,
        [
            {
                "id": 1,
                "uuid": str(uuid.uuid4()),
                "name": "default",
                "create_time": now,
                "update_time": now,
            }
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        # The explicit id 1 did not advance the sequence.
        op.execute("SELECT setval(pg_get_serial_sequence('projects', 'id'), 1)")

    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("expires_time", sa.BigInteger(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("uq_tokens_secret_hash", "tokens", ["secret_hash"], unique=True)
    op.create_table(
        "token_roles",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("token_id", "project_id"),
    )

    for table in _ENTITY_TABLES:
        # Two passes: SQLite's batch mode copies the rows into the rebuilt table, so the new
        # NOT NULL column needs a default while they move (into project 1), dropped after.
        with op.batch_alter_table(table, table_kwargs=_KEEP) as batch:
            batch.add_column(
                sa.Column("project_id", sa.Integer(), nullable=False, server_default="1")
            )
        with op.batch_alter_table(table, table_kwargs=_KEEP) as batch:
            batch.alter_column("project_id", existing_type=sa.Integer(), server_default=None)
            batch.create_foreign_key(f"fk_{table}_project", "projects", ["project_id"], ["id"])
            for name in _old_indexes(table):
                batch.drop_index(name)
            if table in _UNIQUE_TABLES:
                batch.drop_constraint(f"uq_{table}_name", type_="unique")
                batch.create_unique_constraint(
                    f"uq_{table}_project_name", ["project_id", "kind", "parent_id", "name"]
                )
                batch.create_index(
                    f"uq_{table}_project_external_id", ["project_id", "external_id"], unique=True
                )
            batch.create_index(f"ix_{table}_project_kind_id", ["project_id", "kind", "id"])
            batch.create_index(
                f"ix_{table}_project_kind_parent_id", ["project_id", "kind", "parent_id", "id"]
            )
            for col in _ORDER_COLUMNS:
                batch.create_index(
                    f"ix_{table}_project_kind_{col}", ["project_id", "kind", col, "id"]
                )
                batch.create_index(
                    f"ix_{table}_project_kind_parent_{col}",
                    ["project_id", "kind", "parent_id", col, "id"],
                )
            if table == "artifacts":
                batch.create_index("ix_artifacts_project_id", ["project_id", "id"])
                for col in _ORDER_COLUMNS:
                    batch.create_index(f"ix_artifacts_project_{col}", ["project_id", col, "id"])


def downgrade() -> None:
    """Not supported: projects cannot be folded back into one registry without losing data."""
    raise NotImplementedError("migration 0006 (projects) has no downgrade")
