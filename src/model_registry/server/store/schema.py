"""The tables of the store (SQLAlchemy Core), as the migrations leave them.

MLMD-like layout: ``contexts`` holds registered models, versions, experiments, runs, serving
environments and inference services; ``artifacts`` every artifact kind; ``executions`` serve
models; ``metric_history`` the metrics recorded on runs. Each has a ``*_properties`` table for
custom properties, and ``attributions`` links artifacts to contexts. Each entity table carries a
superset of nullable columns for its kinds' fields.

Every entity row belongs to one project (``project_id``, a row of ``projects``; the migration
that introduced projects moved existing rows into the project named ``default``, id 1).
Uniqueness lives in the database: names are unique per (project, kind, parent_id), with
``parent_id`` 0 for top-level rows so the index covers them; ``external_id`` is unique per
(project, table). Every paging index is led by the project, so a page of one project costs
the same however many rows the others hold. ``tokens`` holds the issued API tokens (their
SHA-256 only) and ``token_roles`` their role per project.

The migrations under ``migrations/versions`` are the source of the schema; a test checks that
this module and the migrated database agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

NAME_LENGTH = 255
"""Names and external ids are at most this long (the reference's column size)."""


DEFAULT_PROJECT_ID = 1
"""The internal id of the project named ``default`` (every database has it)."""


def _entity_table(name: str, *columns: Column[Any], unique: bool = True) -> Table:
    """Build an entity table with the common columns and the paging indexes."""
    table = Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
        Column("kind", String(64), nullable=False),
        Column("parent_id", Integer, nullable=False, server_default="0"),
        Column("name", String(NAME_LENGTH), nullable=True),
        Column("external_id", String(NAME_LENGTH), nullable=True),
        Column("description", Text, nullable=True),
        Column("create_time", BigInteger, nullable=False),
        Column("update_time", BigInteger, nullable=False),
        *columns,
        sqlite_autoincrement=True,
    )
    if unique:
        table.append_constraint(
            UniqueConstraint(
                "project_id", "kind", "parent_id", "name", name=f"uq_{name}_project_name"
            )
        )
        Index(
            f"uq_{name}_project_external_id",
            table.c.project_id,
            table.c.external_id,
            unique=True,
        )
    # Keyset paging indexes: (project, kind, [parent,] order column, id) so a page costs the
    # same however many rows the parent, or another project, has.
    p = table.c.project_id
    Index(f"ix_{name}_project_kind_id", p, table.c.kind, table.c.id)
    Index(f"ix_{name}_project_kind_parent_id", p, table.c.kind, table.c.parent_id, table.c.id)
    # Ordered by name (our NAME ordering): within a parent the unique name index serves.
    Index(f"ix_{name}_project_kind_name", p, table.c.kind, table.c.name, table.c.id)
    for col in ("create_time", "update_time"):
        Index(f"ix_{name}_project_kind_{col}", p, table.c.kind, table.c[col], table.c.id)
        Index(
            f"ix_{name}_project_kind_parent_{col}",
            p,
            table.c.kind,
            table.c.parent_id,
            table.c[col],
            table.c.id,
        )
    return table


def _properties_table(owner: Table) -> Table:
    """Build the custom-property table of an entity table."""
    return Table(
        f"{owner.name}_properties",
        metadata,
        Column(
            "owner_id",
            Integer,
            ForeignKey(f"{owner.name}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("name", String(NAME_LENGTH), primary_key=True),
        Column("value_type", String(32), nullable=False),
        Column("string_value", Text, nullable=True),
        Column("int_value", BigInteger, nullable=True),
        Column("double_value", Float, nullable=True),
        Column("bool_value", Boolean, nullable=True),
        Column("bytes_value", Text, nullable=True),
        Column("proto_type", Text, nullable=True),
    )


projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("external_id", String(NAME_LENGTH), nullable=True),
    Column("description", Text, nullable=True),
    Column("model_task", String(64), nullable=True),
    Column("create_time", BigInteger, nullable=False),
    Column("update_time", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)
Index("uq_projects_uuid", projects.c.uuid, unique=True)
Index("uq_projects_name", projects.c.name, unique=True)
Index("uq_projects_external_id", projects.c.external_id, unique=True)
Index("ix_projects_create_time", projects.c.create_time, projects.c.id)
Index("ix_projects_update_time", projects.c.update_time, projects.c.id)

contexts = _entity_table(
    "contexts",
    Column("owner", Text),
    Column("state", String(32)),
    Column("author", Text),
    Column("readme", Text),
    Column("maturity", Text),
    Column("language", Text),
    Column("tasks", Text),
    Column("provider", Text),
    Column("logo", Text),
    Column("license", Text),
    Column("license_link", Text),
    Column("library_name", Text),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("status", String(32)),
    Column("runtime", Text),
    Column("desired_state", String(32)),
    Column("registered_model_id", Integer),
    Column("model_version_id", Integer),
    # The row's answer, kept (see WIRE_COLUMNS).
    Column("wire", Text),
    Column("wire_pb", LargeBinary),
    Column("wire_version", Integer),
)

WIRE_COLUMNS = ("wire", "wire_pb", "wire_version")
"""A context row's own answer, kept beside it so a list page splices text instead of building
an object per row: ``wire`` is the JSON the service's ``to_wire`` gives for the row, aliases
left out (they change through other rows, and only REST v1 shows them), ``wire_pb`` the same
as its serialized gRPC message, and ``wire_version`` the rendering both were made by. NULL, or
another version, means "not kept": the page renders that row from its columns. Every update of
the row sets them NULL in the same statement; the service writes them anew at the end of each
write transaction (``RegistryService._keep_wire``)."""

_ARTIFACT_COLUMNS = (
    "uri",
    "model_format_name",
    "model_format_version",
    "storage_key",
    "storage_path",
    "service_account_name",
    "model_source_kind",
    "model_source_class",
    "model_source_group",
    "model_source_id",
    "model_source_name",
    "digest",
    "source_type",
    "source",
    "dataset_schema",
    "profile",
    "param_value",
)

artifacts = _entity_table(
    "artifacts",
    Column("state", String(32)),
    *(Column(c, Text) for c in _ARTIFACT_COLUMNS),
    Column("parameter_type", String(32)),
    Column("metric_value", Float),
    Column("metric_timestamp", BigInteger),
    Column("step", BigInteger),
    Column("experiment_id", Integer),
    Column("experiment_run_id", Integer),
)

# The generic /artifacts list covers every artifact kind: order indexes without the kind.
Index("ix_artifacts_project_id", artifacts.c.project_id, artifacts.c.id)
for _col in ("create_time", "update_time", "name"):
    Index(f"ix_artifacts_project_{_col}", artifacts.c.project_id, artifacts.c[_col], artifacts.c.id)

executions = _entity_table(
    "executions",
    Column("model_version_id", Integer),
    Column("last_known_state", String(32)),
)

metric_history = _entity_table(
    "metric_history",
    Column("uri", Text),
    Column("state", String(32)),
    Column("metric_value", Float),
    Column("metric_timestamp", BigInteger),
    Column("step", BigInteger),
    Column("experiment_id", Integer),
    Column("experiment_run_id", Integer),
    unique=False,
)
Index(
    "ix_metric_history_run_name_step",
    metric_history.c.parent_id,
    metric_history.c.name,
    metric_history.c.step,
)

projects_properties = _properties_table(projects)
contexts_properties = _properties_table(contexts)
artifacts_properties = _properties_table(artifacts)
executions_properties = _properties_table(executions)
metric_history_properties = _properties_table(metric_history)

# Uploaded artifact content (our extension): the digest of an artifact's content is its
# reserved custom property ``registry.sha256``; this partial index finds the artifacts naming a
# digest (every value under that name is 64 hex digits, so the index never meets a long one).
SHA256_PROPERTY_NAME = "registry.sha256"
Index(
    "ix_artifacts_properties_sha256",
    artifacts_properties.c.string_value,
    sqlite_where=artifacts_properties.c.name == SHA256_PROPERTY_NAME,
    postgresql_where=artifacts_properties.c.name == SHA256_PROPERTY_NAME,
)

# The content the artifact store holds, by digest, and the sweep (garbage collection) state
# of each: ``pinned`` is the last time an upload placed or attached it (ms), ``sweep`` the id
# of the sweep removing it (with ``marked``, when it did so), NULL while it is kept.
artifact_contents = Table(
    "artifact_contents",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("pinned", BigInteger, nullable=False),
    Column("sweep", String(32), nullable=True),
    Column("marked", BigInteger, nullable=True),
)

attributions = Table(
    "attributions",
    metadata,
    Column("context_id", Integer, ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    ),
)
Index("ix_attributions_artifact", attributions.c.artifact_id, attributions.c.context_id)

ALIAS_LENGTH = NAME_LENGTH
"""Aliases are at most this long."""

# Aliases (our extension): unique per registered model, a version may carry several. The
# (version, alias) index lists a page of versions' aliases in one indexed lookup.
model_version_aliases = Table(
    "model_version_aliases",
    metadata,
    Column(
        "registered_model_id",
        Integer,
        ForeignKey("contexts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("alias", String(ALIAS_LENGTH), primary_key=True),
    Column(
        "model_version_id",
        Integer,
        ForeignKey("contexts.id", ondelete="CASCADE"),
        nullable=False,
    ),
)
Index(
    "ix_model_version_aliases_version",
    model_version_aliases.c.model_version_id,
    model_version_aliases.c.alias,
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(NAME_LENGTH), nullable=False),
    # SHA-256 (hex) of the secret: the secret itself is never stored.
    Column("secret_hash", String(64), nullable=False),
    Column("create_time", BigInteger, nullable=False),
    Column("expires_time", BigInteger, nullable=True),
    Column("revoked", Boolean, nullable=False),
    sqlite_autoincrement=True,
)
Index("uq_tokens_secret_hash", tokens.c.secret_hash, unique=True)

token_roles = Table(
    "token_roles",
    metadata,
    Column("token_id", Integer, ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True),
    Column("role", String(16), nullable=False),
    # The order the roles were given in: the first project is the token's default project.
    Column("position", Integer, nullable=False),
)

TABLES: dict[str, Table] = {
    "contexts": contexts,
    "artifacts": artifacts,
    "executions": executions,
    "metric_history": metric_history,
}
PROPERTY_TABLES: dict[str, Table] = {
    "contexts": contexts_properties,
    "artifacts": artifacts_properties,
    "executions": executions_properties,
    "metric_history": metric_history_properties,
}

# The change-event log (an outbox): one row per change, written in the change's transaction.
# The cursor comes from the one row of ``event_log``: on SQLite in that transaction, on
# PostgreSQL after its commit (a negative, pending cursor until then; store/events.py).
events = Table(
    "events",
    metadata,
    Column("cursor", BigInteger, primary_key=True, autoincrement=False),
    Column("time", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("project", String(NAME_LENGTH), nullable=True),
    Column("subject", String(NAME_LENGTH), nullable=True),
    Column("entity", Text, nullable=False),
)
Index("ix_events_time", events.c.time)

event_log = Table(
    "event_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_cursor", BigInteger, nullable=False),
    Column("pruned_through", BigInteger, nullable=False),
)

# Webhooks: where events are delivered (signed), how far each got, the last deliveries.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("events", Text, nullable=False),  # a JSON list of event types ("*": every type)
    Column("description", Text, nullable=True),
    Column("create_time", BigInteger, nullable=False),
    # The newest event cursor this webhook is done with (delivered, or given up on).
    Column("cursor", BigInteger, nullable=False),
    Column("last_status", String(32), nullable=True),
    Column("last_time", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    sqlite_autoincrement=True,
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("error", Text, nullable=True),
)
Index("ix_webhook_deliveries_webhook", webhook_deliveries.c.webhook_id, webhook_deliveries.c.time)

# Who delivers: one server of many holds this lease (renewed while it runs).
webhook_lease = Table(
    "webhook_lease",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(64), nullable=True),
    Column("expires", BigInteger, nullable=False),
)
