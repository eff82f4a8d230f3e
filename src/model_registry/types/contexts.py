"""Registry entities that group others: models, versions, experiments, runs, serving."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field

from model_registry.types.base import BaseResource
from model_registry.types.enums import (
    ExecutionState,
    ExperimentRunState,
    ExperimentRunStatus,
    ExperimentState,
    InferenceServiceState,
    ModelVersionState,
    RegisteredModelState,
)

__all__ = [
    "Experiment",
    "ExperimentRun",
    "InferenceService",
    "ModelVersion",
    "RegisteredModel",
    "ServeModel",
    "ServingEnvironment",
]


@dataclass(repr=False)
class RegisteredModel(BaseResource):
    """A registered model: the parent of model versions.

    ``RegisteredModel("name", owner="me")``; the name is unique in the registry.
    """

    name: str
    _: KW_ONLY
    owner: str | None = None
    state: RegisteredModelState | None = None
    readme: str | None = None
    maturity: str | None = None
    language: list[str] | None = None
    tasks: list[str] | None = None
    provider: str | None = None
    logo: str | None = None
    license: str | None = None
    license_link: str | None = None
    library_name: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    """Set by the server (our extension): alias -> the id of the version it points at. Change
    aliases with ``set_model_version_alias`` / ``delete_model_version_alias``."""


@dataclass(repr=False)
class ModelVersion(BaseResource):
    """A version of a registered model; its name is unique within the model.

    ``registered_model_id`` is filled by the server, or may be given instead of the
    ``registered_model_id`` argument of ``upsert_model_version``.
    """

    name: str
    _: KW_ONLY
    author: str | None = None
    state: ModelVersionState | None = None
    registered_model_id: str | None = None
    aliases: list[str] = field(default_factory=list)
    """Set by the server (our extension): the aliases pointing at this version, in name order
    (empty from a server without aliases)."""


@dataclass(repr=False)
class Experiment(BaseResource):
    """An experiment: the parent of experiment runs; its name is unique in the registry."""

    name: str
    _: KW_ONLY
    owner: str | None = None
    state: ExperimentState | None = None


@dataclass(repr=False)
class ExperimentRun(BaseResource):
    """A run of an experiment; its name (optional) is unique within the experiment."""

    name: str | None = None
    _: KW_ONLY
    experiment_id: str | None = None
    owner: str | None = None
    status: ExperimentRunStatus | None = None
    state: ExperimentRunState | None = None
    start_time_since_epoch: int | None = None
    end_time_since_epoch: int | None = None


@dataclass(repr=False)
class ServingEnvironment(BaseResource):
    """A place where models are served (e.g. a namespace); its name is unique."""

    name: str


@dataclass(repr=False)
class InferenceService(BaseResource):
    """A deployment of a registered model (optionally one version) in a serving environment."""

    name: str | None = None
    _: KW_ONLY
    registered_model_id: str | None = None
    serving_environment_id: str | None = None
    model_version_id: str | None = None
    runtime: str | None = None
    desired_state: InferenceServiceState | None = None


@dataclass(repr=False)
class ServeModel(BaseResource):
    """One serving action of a model version by an inference service."""

    name: str | None = None
    _: KW_ONLY
    model_version_id: str | None = None
    last_known_state: ExecutionState | None = None
