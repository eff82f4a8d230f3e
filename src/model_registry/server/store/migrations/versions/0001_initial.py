"""Initial schema: contexts, artifacts, executions, metric history, properties, attributions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table and index of the first schema."""
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("model_format_name", sa.Text(), nullable=True),
        sa.Column("model_format_version", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.Text(), nullable=True),
        sa.Column("storage_path", sa.Text(), nullable=True),
        sa.Column("service_account_name", sa.Text(), nullable=True),
        sa.Column("model_source_kind", sa.Text(), nullable=True),
        sa.Column("model_source_class", sa.Text(), nullable=True),
        sa.Column("model_source_group", sa.Text(), nullable=True),
        sa.Column("model_source_id", sa.Text(), nullable=True),
        sa.Column("model_source_name", sa.Text(), nullable=True),
        sa.Column("digest", sa.Text(), nullable=True),
        sa.Column("source_type", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("dataset_schema", sa.Text(), nullable=True),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("param_value", sa.Text(), nullable=True),
        sa.Column("parameter_type", sa.String(length=32), nullable=True),
        sa.Column("metric_value", sa.Float(), nullable=True),
        sa.Column("metric_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("experiment_run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "parent_id", "name", name="uq_artifacts_name"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_artifacts_kind_create_time", "artifacts", ["kind", "create_time", "id"], unique=False
    )
    op.create_index("ix_artifacts_kind_id", "artifacts", ["kind", "id"], unique=False)
    op.create_index(
        "ix_artifacts_kind_parent_create_time",
        "artifacts",
        ["kind", "parent_id", "create_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_artifacts_kind_parent_id", "artifacts", ["kind", "parent_id", "id"], unique=False
    )
    op.create_index(
        "ix_artifacts_kind_parent_update_time",
        "artifacts",
        ["kind", "parent_id", "update_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_artifacts_kind_update_time", "artifacts", ["kind", "update_time", "id"], unique=False
    )
    op.create_index("uq_artifacts_external_id", "artifacts", ["external_id"], unique=True)
    op.create_table(
        "contexts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("readme", sa.Text(), nullable=True),
        sa.Column("maturity", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("tasks", sa.Text(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("logo", sa.Text(), nullable=True),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("license_link", sa.Text(), nullable=True),
        sa.Column("library_name", sa.Text(), nullable=True),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("runtime", sa.Text(), nullable=True),
        sa.Column("desired_state", sa.String(length=32), nullable=True),
        sa.Column("registered_model_id", sa.Integer(), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "parent_id", "name", name="uq_contexts_name"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_contexts_kind_create_time", "contexts", ["kind", "create_time", "id"], unique=False
    )
    op.create_index("ix_contexts_kind_id", "contexts", ["kind", "id"], unique=False)
    op.create_index(
        "ix_contexts_kind_parent_create_time",
        "contexts",
        ["kind", "parent_id", "create_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_contexts_kind_parent_id", "contexts", ["kind", "parent_id", "id"], unique=False
    )
    op.create_index(
        "ix_contexts_kind_parent_update_time",
        "contexts",
        ["kind", "parent_id", "update_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_contexts_kind_update_time", "contexts", ["kind", "update_time", "id"], unique=False
    )
    op.create_index("uq_contexts_external_id", "contexts", ["external_id"], unique=True)
    op.create_table(
        "executions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("last_known_state", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "parent_id", "name", name="uq_executions_name"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_executions_kind_create_time", "executions", ["kind", "create_time", "id"], unique=False
    )
    op.create_index("ix_executions_kind_id", "executions", ["kind", "id"], unique=False)
    op.create_index(
        "ix_executions_kind_parent_create_time",
        "executions",
        ["kind", "parent_id", "create_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_executions_kind_parent_id", "executions", ["kind", "parent_id", "id"], unique=False
    )
    op.create_index(
        "ix_executions_kind_parent_update_time",
        "executions",
        ["kind", "parent_id", "update_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_executions_kind_update_time", "executions", ["kind", "update_time", "id"], unique=False
    )
    op.create_index("uq_executions_external_id", "executions", ["external_id"], unique=True)
    op.create_table(
        "metric_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("metric_value", sa.Float(), nullable=True),
        sa.Column("metric_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("experiment_run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_metric_history_kind_create_time",
        "metric_history",
        ["kind", "create_time", "id"],
        unique=False,
    )
    op.create_index("ix_metric_history_kind_id", "metric_history", ["kind", "id"], unique=False)
    op.create_index(
        "ix_metric_history_kind_parent_create_time",
        "metric_history",
        ["kind", "parent_id", "create_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_metric_history_kind_parent_id",
        "metric_history",
        ["kind", "parent_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_metric_history_kind_parent_update_time",
        "metric_history",
        ["kind", "parent_id", "update_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_metric_history_kind_update_time",
        "metric_history",
        ["kind", "update_time", "id"],
        unique=False,
    )
    op.create_index(
        "ix_metric_history_run_name_step",
        "metric_history",
        ["parent_id", "name", "step"],
        unique=False,
    )
    op.create_table(
        "artifacts_properties",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value_type", sa.String(length=32), nullable=False),
        sa.Column("string_value", sa.Text(), nullable=True),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", sa.Float(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("bytes_value", sa.Text(), nullable=True),
        sa.Column("proto_type", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["artifacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", "name"),
    )
    op.create_table(
        "attributions",
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["artifact_id"], ["artifacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["context_id"], ["contexts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("context_id", "artifact_id"),
    )
    op.create_index(
        "ix_attributions_artifact", "attributions", ["artifact_id", "context_id"], unique=False
    )
    op.create_table(
        "contexts_properties",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value_type", sa.String(length=32), nullable=False),
        sa.Column("string_value", sa.Text(), nullable=True),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", sa.Float(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("bytes_value", sa.Text(), nullable=True),
        sa.Column("proto_type", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["contexts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", "name"),
    )
    op.create_table(
        "executions_properties",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value_type", sa.String(length=32), nullable=False),
        sa.Column("string_value", sa.Text(), nullable=True),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", sa.Float(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("bytes_value", sa.Text(), nullable=True),
        sa.Column("proto_type", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["executions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", "name"),
    )
    op.create_table(
        "metric_history_properties",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value_type", sa.String(length=32), nullable=False),
        sa.Column("string_value", sa.Text(), nullable=True),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("double_value", sa.Float(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("bytes_value", sa.Text(), nullable=True),
        sa.Column("proto_type", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["metric_history.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", "name"),
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    """Drop every table of the first schema."""
    for table in (
        "attributions",
        "metric_history_properties",
        "executions_properties",
        "artifacts_properties",
        "contexts_properties",
        "metric_history",
        "executions",
        "artifacts",
        "contexts",
    ):
        op.drop_table(table)
