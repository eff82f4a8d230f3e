"""One description per entity kind: wire fields, columns, parent, uniqueness.

The service and the store are written once against these descriptions, so adding an entity kind
is mostly adding a descriptor here. Common fields (``id``, ``name``, ``externalId``,
``description``, ``customProperties`` and both times) are handled by the generic code; the
descriptors list each kind's own fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["str", "enum", "id", "int64str", "int", "double", "strlist"]
"""How a field looks on the wire:

- ``str``: a JSON string; ``enum``: a JSON string out of ``Field.enum``;
- ``id``: an id string (``^[1-9][0-9]{0,8}$``) stored as an integer;
- ``int64str``: an int64 written as a decimal string (times since epoch);
- ``int``: a JSON integer; ``double``: a JSON number; ``strlist``: a JSON array of strings.
"""

FieldMode = Literal["rw", "create", "ro"]
"""``rw``: set on create and changed by PATCH; ``create``: set on create, a PATCH may repeat it
but not change it; ``ro``: set by the server, accepted and ignored in full-entity bodies."""

TableName = Literal["contexts", "artifacts", "executions", "metric_history"]

CONTEXT_STATES = ("LIVE", "ARCHIVED")
ARTIFACT_STATES = (
    "UNKNOWN",
    "PENDING",
    "LIVE",
    "MARKED_FOR_DELETION",
    "DELETED",
    "ABANDONED",
    "REFERENCE",
)
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
DESIRED_STATES = ("DEPLOYED", "UNDEPLOYED")
EXECUTION_STATES = ("UNKNOWN", "NEW", "RUNNING", "COMPLETE", "FAILED", "CACHED", "CANCELED")
PARAMETER_TYPES = ("string", "number", "boolean", "object")


@dataclass(frozen=True)
class Field:
    """One kind-specific field.

    Attributes:
        wire: The camelCase JSON name.
        column: The column of the kind's table.
        type: The wire type.
        mode: Who sets the field and when (see ``FieldMode``).
        enum: The allowed values of an ``enum`` field.
        default: The value stored on create when the body leaves the field out.
        ref: For an ``id`` field naming another entity, that entity's kind (it must exist).
        required: A create without the field is a 422.
    """

    wire: str
    column: str
    type: FieldType = "str"
    mode: FieldMode = "rw"
    enum: tuple[str, ...] = ()
    default: str | None = None
    ref: str | None = None
    required: bool = False


@dataclass(frozen=True)
class Parent:
    """The parent of a child kind.

    Attributes:
        kind: The parent's entity kind.
        wire: The body field holding the parent id, or None when only the path gives it.
    """

    kind: str
    wire: str | None


@dataclass(frozen=True)
class EntityKind:
    """The description of one entity kind.

    Attributes:
        kind: The kind name (the artifactType for artifacts, e.g. ``"model-artifact"``).
        label: A human name for messages (``"registered model"``).
        table: The table holding rows of this kind.
        fields: The kind's own fields.
        parent: The parent relation of a child kind; names are unique per (kind, parent).
        name_required: A create without ``name`` is a 422.
        generate_name: A create without ``name`` stores a generated UUID name.
        artifact_type: The ``artifactType`` written on the wire, for artifact kinds.
    """

    kind: str
    label: str
    table: TableName
    fields: tuple[Field, ...] = ()
    parent: Parent | None = None
    name_required: bool = False
    generate_name: bool = False
    artifact_type: str | None = None
    by_wire: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_wire", {f.wire: f for f in self.fields})

    @property
    def is_artifact(self) -> bool:
        """Whether the kind is an artifact kind (has an ``artifactType``)."""
        return self.artifact_type is not None

    @property
    def parent_field(self) -> Field | None:
        """The field that carries the parent id on the wire, if any."""
        if self.parent is None or self.parent.wire is None:
            return None
        return self.by_wire[self.parent.wire]


def _state(enum: tuple[str, ...], default: str | None) -> Field:
    return Field("state", "state", "enum", enum=enum, default=default)


REGISTERED_MODEL = EntityKind(
    kind="registered-model",
    label="registered model",
    table="contexts",
    name_required=True,
    fields=(
        Field("owner", "owner"),
        _state(CONTEXT_STATES, "LIVE"),
        Field("readme", "readme"),
        Field("maturity", "maturity"),
        Field("language", "language", "strlist"),
        Field("tasks", "tasks", "strlist"),
        Field("provider", "provider"),
        Field("logo", "logo"),
        Field("license", "license"),
        Field("licenseLink", "license_link"),
        Field("libraryName", "library_name"),
    ),
)

MODEL_VERSION = EntityKind(
    kind="model-version",
    label="model version",
    table="contexts",
    name_required=True,
    parent=Parent("registered-model", "registeredModelId"),
    fields=(
        Field(
            "registeredModelId",
            "parent_id",
            "id",
            mode="create",
            ref="registered-model",
            required=True,
        ),
        _state(CONTEXT_STATES, "LIVE"),
        Field("author", "author"),
    ),
)

EXPERIMENT = EntityKind(
    kind="experiment",
    label="experiment",
    table="contexts",
    name_required=True,
    fields=(Field("owner", "owner"), _state(CONTEXT_STATES, "LIVE")),
)

EXPERIMENT_RUN = EntityKind(
    kind="experiment-run",
    label="experiment run",
    table="contexts",
    generate_name=True,
    parent=Parent("experiment", "experimentId"),
    fields=(
        Field("experimentId", "parent_id", "id", mode="create", ref="experiment", required=True),
        Field("startTimeSinceEpoch", "start_time", "int64str"),
        Field("endTimeSinceEpoch", "end_time", "int64str"),
        Field("status", "status", "enum", enum=RUN_STATUSES, default="RUNNING"),
        _state(CONTEXT_STATES, "LIVE"),
        Field("owner", "owner"),
    ),
)

SERVING_ENVIRONMENT = EntityKind(
    kind="serving-environment",
    label="serving environment",
    table="contexts",
    name_required=True,
)

INFERENCE_SERVICE = EntityKind(
    kind="inference-service",
    label="inference service",
    table="contexts",
    generate_name=True,
    parent=Parent("serving-environment", "servingEnvironmentId"),
    fields=(
        Field(
            "servingEnvironmentId",
            "parent_id",
            "id",
            mode="create",
            ref="serving-environment",
            required=True,
        ),
        Field(
            "registeredModelId",
            "registered_model_id",
            "id",
            mode="create",
            ref="registered-model",
            required=True,
        ),
        Field("modelVersionId", "model_version_id", "id", ref="model-version"),
        Field("runtime", "runtime"),
        Field("desiredState", "desired_state", "enum", enum=DESIRED_STATES, default="DEPLOYED"),
    ),
)

SERVE_MODEL = EntityKind(
    kind="serve-model",
    label="serve model",
    table="executions",
    parent=Parent("inference-service", None),
    fields=(
        Field(
            "modelVersionId",
            "model_version_id",
            "id",
            mode="create",
            ref="model-version",
            required=True,
        ),
        Field(
            "lastKnownState", "last_known_state", "enum", enum=EXECUTION_STATES, default="UNKNOWN"
        ),
    ),
)

# Fields every artifact kind has besides the common ones.
_ARTIFACT_FIELDS = (
    Field("uri", "uri"),
    _state(ARTIFACT_STATES, "UNKNOWN"),
    Field("experimentId", "experiment_id", "id", mode="ro"),
    Field("experimentRunId", "experiment_run_id", "id", mode="ro"),
)

MODEL_ARTIFACT = EntityKind(
    kind="model-artifact",
    label="model artifact",
    table="artifacts",
    generate_name=True,
    artifact_type="model-artifact",
    fields=(
        *_ARTIFACT_FIELDS,
        Field("modelFormatName", "model_format_name"),
        Field("modelFormatVersion", "model_format_version"),
        Field("storageKey", "storage_key"),
        Field("storagePath", "storage_path"),
        Field("serviceAccountName", "service_account_name"),
        Field("modelSourceKind", "model_source_kind"),
        Field("modelSourceClass", "model_source_class"),
        Field("modelSourceGroup", "model_source_group"),
        Field("modelSourceId", "model_source_id"),
        Field("modelSourceName", "model_source_name"),
    ),
)

DOC_ARTIFACT = EntityKind(
    kind="doc-artifact",
    label="doc artifact",
    table="artifacts",
    generate_name=True,
    artifact_type="doc-artifact",
    fields=_ARTIFACT_FIELDS,
)

DATASET_ARTIFACT = EntityKind(
    kind="dataset-artifact",
    label="dataset artifact",
    table="artifacts",
    generate_name=True,
    artifact_type="dataset-artifact",
    fields=(
        *_ARTIFACT_FIELDS,
        Field("digest", "digest"),
        Field("sourceType", "source_type"),
        Field("source", "source"),
        Field("schema", "dataset_schema"),
        Field("profile", "profile"),
    ),
)

_METRIC_FIELDS = (
    *_ARTIFACT_FIELDS,
    Field("value", "metric_value", "double"),
    Field("timestamp", "metric_timestamp", "int64str"),
    Field("step", "step", "int"),
)

METRIC = EntityKind(
    kind="metric",
    label="metric",
    table="artifacts",
    generate_name=True,
    artifact_type="metric",
    fields=_METRIC_FIELDS,
)

PARAMETER = EntityKind(
    kind="parameter",
    label="parameter",
    table="artifacts",
    generate_name=True,
    artifact_type="parameter",
    fields=(
        *_ARTIFACT_FIELDS,
        Field("value", "param_value"),
        Field("parameterType", "parameter_type", "enum", enum=PARAMETER_TYPES, default="string"),
    ),
)

# A metric history entry: a metric recorded on a run, kept in its own table; on the wire it is
# a Metric (artifactType "metric").
METRIC_HISTORY = EntityKind(
    kind="metric-history",
    label="metric history entry",
    table="metric_history",
    artifact_type="metric",
    parent=Parent("experiment-run", None),
    fields=_METRIC_FIELDS,
)

ARTIFACT_KINDS: dict[str, EntityKind] = {
    k.kind: k for k in (MODEL_ARTIFACT, DOC_ARTIFACT, DATASET_ARTIFACT, METRIC, PARAMETER)
}
"""The artifact kinds by artifactType."""

KINDS: dict[str, EntityKind] = {
    k.kind: k
    for k in (
        REGISTERED_MODEL,
        MODEL_VERSION,
        EXPERIMENT,
        EXPERIMENT_RUN,
        SERVING_ENVIRONMENT,
        INFERENCE_SERVICE,
        SERVE_MODEL,
        METRIC_HISTORY,
        *ARTIFACT_KINDS.values(),
    )
}
"""Every entity kind by name."""

ANY_ARTIFACT = "artifact"
"""The pseudo kind of the generic artifact endpoints: any of ``ARTIFACT_KINDS``."""

# Columns of the artifacts table holding kind-specific fields, with the field type, for the
# generic artifact filter (a field name means the same column in every kind that has it,
# except ``value`` which is a double for metrics and a string for parameters).
ARTIFACT_UNION_FIELDS: dict[str, Field] = {}
for _k in ARTIFACT_KINDS.values():
    for _f in _k.fields:
        ARTIFACT_UNION_FIELDS.setdefault(_f.wire, _f)
