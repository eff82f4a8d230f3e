"""Enumerations of the registry's wire values.

Each enum is a ``str`` subclass, so a member compares equal to its wire string
(``RegisteredModelState.LIVE == "LIVE"``) and plain strings work wherever an enum is expected.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "ArtifactState",
    "ArtifactType",
    "ExecutionState",
    "ExperimentRunState",
    "ExperimentRunStatus",
    "ExperimentState",
    "InferenceServiceState",
    "ModelVersionState",
    "OrderByField",
    "ParameterType",
    "RegisteredModelState",
    "SortOrder",
]


class _WireEnum(str, Enum):
    """A string enum whose ``str()`` is its wire value."""

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class RegisteredModelState(_WireEnum):
    """Lifecycle state of a registered model."""

    LIVE = "LIVE"
    ARCHIVED = "ARCHIVED"


class ModelVersionState(_WireEnum):
    """Lifecycle state of a model version."""

    LIVE = "LIVE"
    ARCHIVED = "ARCHIVED"


class ExperimentState(_WireEnum):
    """Lifecycle state of an experiment."""

    LIVE = "LIVE"
    ARCHIVED = "ARCHIVED"


class ExperimentRunState(_WireEnum):
    """Lifecycle state of an experiment run."""

    LIVE = "LIVE"
    ARCHIVED = "ARCHIVED"


class ArtifactState(_WireEnum):
    """State of an artifact (the ml-metadata artifact states)."""

    UNKNOWN = "UNKNOWN"
    PENDING = "PENDING"
    LIVE = "LIVE"
    MARKED_FOR_DELETION = "MARKED_FOR_DELETION"
    DELETED = "DELETED"
    ABANDONED = "ABANDONED"
    REFERENCE = "REFERENCE"


class ExperimentRunStatus(_WireEnum):
    """Execution status of an experiment run."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class InferenceServiceState(_WireEnum):
    """Desired state of an inference service."""

    DEPLOYED = "DEPLOYED"
    UNDEPLOYED = "UNDEPLOYED"


class ExecutionState(_WireEnum):
    """Last known state of a serve model (the ml-metadata execution states)."""

    UNKNOWN = "UNKNOWN"
    NEW = "NEW"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CACHED = "CACHED"
    CANCELED = "CANCELED"


class ParameterType(_WireEnum):
    """Data type of a parameter artifact's value."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"


class ArtifactType(_WireEnum):
    """The ``artifactType`` discriminator of the artifact kinds."""

    MODEL_ARTIFACT = "model-artifact"
    DOC_ARTIFACT = "doc-artifact"
    DATASET_ARTIFACT = "dataset-artifact"
    METRIC = "metric"
    PARAMETER = "parameter"


class OrderByField(_WireEnum):
    """Field a listing is ordered by (ties are broken by id)."""

    ID = "ID"
    CREATE_TIME = "CREATE_TIME"
    LAST_UPDATE_TIME = "LAST_UPDATE_TIME"
    NAME = "NAME"
    """Our extension (REST v1 and gRPC): by name; unnamed rows last ascending."""


class SortOrder(_WireEnum):
    """Direction of a listing."""

    ASC = "ASC"
    DESC = "DESC"
