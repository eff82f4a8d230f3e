"""Artifacts: model files, documents, datasets, metrics and parameters."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

from model_registry.types.base import BaseResource
from model_registry.types.enums import ArtifactState, ArtifactType, ParameterType

__all__ = ["Artifact", "DataSet", "DocArtifact", "Metric", "ModelArtifact", "Parameter"]


@dataclass(repr=False)
class Artifact(BaseResource):
    """Base of every artifact kind; the concrete kinds are its subclasses.

    Attributes:
        name: Optional name (a model artifact created without one gets a generated name).
        uri: Location of the physical artifact.
        state: Artifact state.
        experiment_id: Id of the experiment that produced it (set by the server).
        experiment_run_id: Id of the experiment run that produced it (set by the server).
    """

    #: The wire ``artifactType`` of the kind.
    artifact_type: ClassVar[ArtifactType]

    name: str | None = None
    _: KW_ONLY
    uri: str | None = None
    state: ArtifactState | None = None
    experiment_id: str | None = None
    experiment_run_id: str | None = None


@dataclass(repr=False)
class ModelArtifact(Artifact):
    """A trained model's files and how to load them."""

    artifact_type: ClassVar[ArtifactType] = ArtifactType.MODEL_ARTIFACT

    _: KW_ONLY
    model_format_name: str | None = None
    model_format_version: str | None = None
    storage_key: str | None = None
    storage_path: str | None = None
    service_account_name: str | None = None
    model_source_kind: str | None = None
    model_source_class: str | None = None
    model_source_group: str | None = None
    model_source_id: str | None = None
    model_source_name: str | None = None


@dataclass(repr=False)
class DocArtifact(Artifact):
    """A document about a model (README, model card...)."""

    artifact_type: ClassVar[ArtifactType] = ArtifactType.DOC_ARTIFACT


@dataclass(repr=False)
class DataSet(Artifact):
    """A dataset used to train or evaluate a model."""

    artifact_type: ClassVar[ArtifactType] = ArtifactType.DATASET_ARTIFACT

    _: KW_ONLY
    digest: str | None = None
    source_type: str | None = None
    source: str | None = None
    schema: str | None = None
    profile: str | None = None


@dataclass(repr=False)
class Metric(Artifact):
    """A numeric measurement, optionally at a step (e.g. an epoch)."""

    artifact_type: ClassVar[ArtifactType] = ArtifactType.METRIC

    _: KW_ONLY
    value: float | None = None
    timestamp: int | None = None
    step: int | None = None


@dataclass(repr=False)
class Parameter(Artifact):
    """A configuration parameter of a training or serving run (value as a string)."""

    artifact_type: ClassVar[ArtifactType] = ArtifactType.PARAMETER

    _: KW_ONLY
    value: str | None = None
    parameter_type: ParameterType | None = None
