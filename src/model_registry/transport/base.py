"""The ``Transport`` interface: the registry's operations at the level of entities.

The core client (``model_registry.core``) talks only to this interface. ``transport/rest.py``
implements it over the generated REST stubs, ``transport/grpc.py`` over ``grpc.aio``. Every method
takes and returns domain types (``model_registry.types``) and raises only
``model_registry.exceptions`` classes: an absent entity is
:class:`~model_registry.exceptions.NotFound` (the core turns it into ``None`` where the API says
so).

Ids are decimal strings. ``options`` is never ``None`` here: the core passes a ``ListOptions``;
transports must not mutate it (the core updates ``next_page_token`` itself).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from model_registry.exceptions import NotFound
from model_registry.types import (
    Artifact,
    ArtifactType,
    Experiment,
    ExperimentRun,
    InferenceService,
    ListOptions,
    Metric,
    ModelArtifact,
    ModelVersion,
    Page,
    RegisteredModel,
    ServeModel,
    ServingEnvironment,
)
from model_registry.types.pager import announce_next_page, wait_until_needed

__all__ = ["Transport", "build_page"]

T = TypeVar("T")

#: Items converted between two event-loop turns when a prefetching ``Pager`` waits on the next
#: page: about 0.4 ms of work at a few µs per item, so that request is sent (and its answer
#: read) while this page is converted.
_CHUNK = 100


async def build_page(
    options: ListOptions,
    items: Sequence[Any],
    next_page_token: str,
    page_size: int | None,
    convert: Callable[[Any], T],
) -> Page[T]:
    """Convert a parsed list answer into a ``Page``, telling a prefetching ``Pager`` first.

    A page read ahead by a ``Pager`` first waits until the walk gets to it (see
    :func:`~model_registry.types.pager.wait_until_needed`). The next page token is known
    before the items are converted: handing it to
    :func:`~model_registry.types.pager.announce_next_page` lets a ``Pager`` walking these
    ``options`` ask for the next page now, so the server works on it while this one is
    converted. Then the conversion gives the loop a turn every ``_CHUNK`` items, so that
    request actually leaves (a plain list call converts in one go, as before).

    Args:
        options: The options the list call was given (not changed).
        items: The page's items as the wire sent them.
        next_page_token: The next page token (``""`` on the last page).
        page_size: The page size the server reported, if any.
        convert: Wire item -> domain object.

    Returns:
        The page of converted items.
    """
    await wait_until_needed(options)
    if not announce_next_page(options, next_page_token, len(items)):
        return Page([convert(item) for item in items], next_page_token, page_size)
    converted: list[T] = []
    for start in range(0, len(items), _CHUNK):
        await asyncio.sleep(0)
        converted += [convert(item) for item in items[start : start + _CHUNK]]
    if not items:
        await asyncio.sleep(0)
    return Page(converted, next_page_token, page_size)


class Transport(ABC):
    """Abstract async transport: one connection pool, entity operations, mapped errors.

    Implementations open their connection lazily on first use and reuse it; ``aclose()`` is
    idempotent and a call after it raises :class:`~model_registry.exceptions.ClientClosed`.
    """

    @abstractmethod
    async def aclose(self) -> None:
        """Release the connection pool (idempotent)."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""

    # -- registered models ---------------------------------------------------------------

    @abstractmethod
    async def create_registered_model(self, rm: RegisteredModel) -> RegisteredModel:
        """Create a registered model (``rm.id`` is ``None``)."""

    @abstractmethod
    async def update_registered_model(self, rm: RegisteredModel) -> RegisteredModel:
        """Update a registered model (``rm.id`` is set)."""

    @abstractmethod
    async def get_registered_model(self, id: str) -> RegisteredModel:
        """Get a registered model by id; NotFound when absent."""

    @abstractmethod
    async def find_registered_model(
        self, *, name: str | None = None, external_id: str | None = None
    ) -> RegisteredModel:
        """Find a registered model by name or external id; NotFound when absent."""

    @abstractmethod
    async def list_registered_models(self, options: ListOptions) -> Page[RegisteredModel]:
        """List registered models."""

    @abstractmethod
    async def get_inference_service_model(self, inference_service_id: str) -> RegisteredModel:
        """Get the registered model an inference service serves; NotFound when absent."""

    # -- model versions ------------------------------------------------------------------

    @abstractmethod
    async def create_model_version(self, mv: ModelVersion) -> ModelVersion:
        """Create a model version (``mv.registered_model_id`` is set)."""

    @abstractmethod
    async def update_model_version(self, mv: ModelVersion) -> ModelVersion:
        """Update a model version (``mv.id`` is set)."""

    @abstractmethod
    async def get_model_version(self, id: str) -> ModelVersion:
        """Get a model version by id; NotFound when absent."""

    @abstractmethod
    async def find_model_version(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        registered_model_id: str | None = None,
    ) -> ModelVersion:
        """Find a model version by name within a model, or by external id."""

    @abstractmethod
    async def list_model_versions(
        self, options: ListOptions, registered_model_id: str | None = None
    ) -> Page[ModelVersion]:
        """List model versions, of one registered model when ``registered_model_id`` is set."""

    @abstractmethod
    async def get_inference_service_version(self, inference_service_id: str) -> ModelVersion:
        """Get the version an inference service serves (its ``model_version_id``, else the
        newest version of its model); NotFound when absent."""

    # -- artifacts (any kind) ------------------------------------------------------------

    @abstractmethod
    async def create_artifact(self, artifact: Artifact) -> Artifact:
        """Create an artifact of any kind."""

    @abstractmethod
    async def update_artifact(self, artifact: Artifact) -> Artifact:
        """Update an artifact of any kind (``artifact.id`` is set)."""

    @abstractmethod
    async def get_artifact(self, id: str) -> Artifact:
        """Get an artifact of any kind by id; NotFound when absent."""

    @abstractmethod
    async def find_artifact(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        parent_resource_id: str | None = None,
    ) -> Artifact:
        """Find an artifact by name within a parent (model version), or by external id."""

    @abstractmethod
    async def list_artifacts(
        self, options: ListOptions, artifact_type: ArtifactType | None = None
    ) -> Page[Artifact]:
        """List artifacts of every kind, or of one kind."""

    @abstractmethod
    async def upsert_model_version_artifact(
        self, artifact: Artifact, model_version_id: str
    ) -> Artifact:
        """Create an artifact in a model version, or link an existing one (``artifact.id`` set)."""

    @abstractmethod
    async def list_model_version_artifacts(
        self,
        model_version_id: str,
        options: ListOptions,
        artifact_type: ArtifactType | None = None,
    ) -> Page[Artifact]:
        """List the artifacts of a model version (of one kind when ``artifact_type`` is set)."""

    # -- model artifacts -----------------------------------------------------------------

    @abstractmethod
    async def create_model_artifact(self, ma: ModelArtifact) -> ModelArtifact:
        """Create a model artifact not linked to a version."""

    @abstractmethod
    async def update_model_artifact(self, ma: ModelArtifact) -> ModelArtifact:
        """Update a model artifact (``ma.id`` is set)."""

    @abstractmethod
    async def get_model_artifact(self, id: str) -> ModelArtifact:
        """Get a model artifact by id; NotFound when absent."""

    @abstractmethod
    async def find_model_artifact(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        model_version_id: str | None = None,
    ) -> ModelArtifact:
        """Find a model artifact by name within a version, or by external id."""

    @abstractmethod
    async def list_model_artifacts(self, options: ListOptions) -> Page[ModelArtifact]:
        """List every model artifact."""

    async def get_inference_service_model_artifact(
        self, inference_service_id: str
    ) -> ModelArtifact:
        """Get the model artifact of the version an inference service serves; NotFound when
        absent. The default reads the served version, then its first model artifact."""
        version = await self.get_inference_service_version(inference_service_id)
        if version.id is not None:
            page = await self.list_model_version_artifacts(
                version.id, ListOptions(limit=1), ArtifactType.MODEL_ARTIFACT
            )
            for artifact in page:
                if isinstance(artifact, ModelArtifact):
                    return artifact
        raise NotFound(f"no model artifact served by inference service {inference_service_id}")

    # -- serving environments ------------------------------------------------------------

    @abstractmethod
    async def create_serving_environment(self, se: ServingEnvironment) -> ServingEnvironment:
        """Create a serving environment."""

    @abstractmethod
    async def update_serving_environment(self, se: ServingEnvironment) -> ServingEnvironment:
        """Update a serving environment (``se.id`` is set)."""

    @abstractmethod
    async def get_serving_environment(self, id: str) -> ServingEnvironment:
        """Get a serving environment by id; NotFound when absent."""

    @abstractmethod
    async def find_serving_environment(
        self, *, name: str | None = None, external_id: str | None = None
    ) -> ServingEnvironment:
        """Find a serving environment by name or external id."""

    @abstractmethod
    async def list_serving_environments(self, options: ListOptions) -> Page[ServingEnvironment]:
        """List serving environments."""

    # -- inference services --------------------------------------------------------------

    @abstractmethod
    async def create_inference_service(self, isvc: InferenceService) -> InferenceService:
        """Create an inference service (its environment and model ids are set)."""

    @abstractmethod
    async def update_inference_service(self, isvc: InferenceService) -> InferenceService:
        """Update an inference service (``isvc.id`` is set)."""

    @abstractmethod
    async def get_inference_service(self, id: str) -> InferenceService:
        """Get an inference service by id; NotFound when absent."""

    @abstractmethod
    async def find_inference_service(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        serving_environment_id: str | None = None,
    ) -> InferenceService:
        """Find an inference service by name within an environment, or by external id."""

    @abstractmethod
    async def list_inference_services(
        self, options: ListOptions, serving_environment_id: str | None = None
    ) -> Page[InferenceService]:
        """List inference services, of one environment when ``serving_environment_id`` is set."""

    # -- serve models --------------------------------------------------------------------

    @abstractmethod
    async def create_serve_model(self, sm: ServeModel, inference_service_id: str) -> ServeModel:
        """Create a serve model in an inference service."""

    @abstractmethod
    async def update_serve_model(self, sm: ServeModel, inference_service_id: str) -> ServeModel:
        """Update a serve model (``sm.id`` is set)."""

    @abstractmethod
    async def list_serve_models(
        self, options: ListOptions, inference_service_id: str | None = None
    ) -> Page[ServeModel]:
        """List serve models, of one inference service when ``inference_service_id`` is set
        (a transport that needs it raises ValueError when it is missing)."""

    async def get_serve_model(self, id: str, inference_service_id: str | None = None) -> ServeModel:
        """Get a serve model by id; NotFound when absent.

        The default asks the listing endpoints with an ``id`` filter: in the given inference
        service, or else in each inference service in turn (one filtered query per service;
        nothing is filtered on the client). Transports with a direct call override it.
        """
        flt = f"id = {int(id)}" if str(id).isdigit() else f"id = '{id}'"
        if inference_service_id is not None:
            page = await self.list_serve_models(ListOptions(filter_query=flt), inference_service_id)
            if page:
                return page[0]
            raise NotFound(
                f"serve model {id} not found in inference service {inference_service_id}"
            )
        options = ListOptions(limit=100)
        seen: set[str] = set()
        while True:
            services = await self.list_inference_services(options)
            for isvc in services:
                if isvc.id is None:
                    continue
                page = await self.list_serve_models(ListOptions(filter_query=flt), isvc.id)
                if page:
                    return page[0]
            token = services.next_page_token
            if not token or token in seen:
                break
            seen.add(token)
            options = options.copy(next_page_token=token)
        raise NotFound(f"serve model {id} not found")

    # -- experiments ---------------------------------------------------------------------

    @abstractmethod
    async def create_experiment(self, exp: Experiment) -> Experiment:
        """Create an experiment."""

    @abstractmethod
    async def update_experiment(self, exp: Experiment) -> Experiment:
        """Update an experiment (``exp.id`` is set)."""

    @abstractmethod
    async def get_experiment(self, id: str) -> Experiment:
        """Get an experiment by id; NotFound when absent."""

    @abstractmethod
    async def find_experiment(
        self, *, name: str | None = None, external_id: str | None = None
    ) -> Experiment:
        """Find an experiment by name or external id."""

    @abstractmethod
    async def list_experiments(self, options: ListOptions) -> Page[Experiment]:
        """List experiments."""

    # -- experiment runs -----------------------------------------------------------------

    @abstractmethod
    async def create_experiment_run(self, run: ExperimentRun) -> ExperimentRun:
        """Create an experiment run (``run.experiment_id`` is set)."""

    @abstractmethod
    async def update_experiment_run(self, run: ExperimentRun) -> ExperimentRun:
        """Update an experiment run (``run.id`` is set)."""

    @abstractmethod
    async def get_experiment_run(self, id: str) -> ExperimentRun:
        """Get an experiment run by id; NotFound when absent."""

    @abstractmethod
    async def find_experiment_run(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        experiment_id: str | None = None,
    ) -> ExperimentRun:
        """Find an experiment run by name within an experiment, or by external id."""

    @abstractmethod
    async def list_experiment_runs(
        self, options: ListOptions, experiment_id: str | None = None
    ) -> Page[ExperimentRun]:
        """List experiment runs, of one experiment when ``experiment_id`` is set."""

    @abstractmethod
    async def upsert_experiment_run_artifact(
        self, artifact: Artifact, experiment_run_id: str
    ) -> Artifact:
        """Create an artifact in a run, or link an existing one (``artifact.id`` set). A metric
        is also appended to the run's metric history."""

    @abstractmethod
    async def list_experiment_run_artifacts(
        self,
        experiment_run_id: str,
        options: ListOptions,
        artifact_type: ArtifactType | None = None,
    ) -> Page[Artifact]:
        """List the artifacts of an experiment run (of one kind when ``artifact_type`` is set)."""

    @abstractmethod
    async def list_metric_history(
        self,
        options: ListOptions,
        *,
        experiment_run_id: str | None = None,
        name: str | None = None,
        step_ids: Sequence[int] | None = None,
    ) -> Page[Metric]:
        """List metric history entries of one run, or across runs when ``experiment_run_id`` is
        ``None``; filtered by metric ``name`` and ``step_ids`` when given."""
