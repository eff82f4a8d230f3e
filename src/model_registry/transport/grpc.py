"""The gRPC transport: the ``Transport`` operations over one ``grpc.aio`` channel.

One channel per transport, opened on the first call and reused by every call after it; the
stub's method objects are built once with it, so a call costs the message conversion and the
RPC, nothing more. Every RPC goes through :meth:`GrpcTransport._call`, the one place that adds
the bearer token as call metadata, sets the deadline from the same timeout setting as REST,
retries by the same :class:`~model_registry.transport.policy.RetryPolicy`, re-reads the token
once on ``UNAUTHENTICATED``, and maps failures into :mod:`model_registry.exceptions` with
:func:`~model_registry.exceptions.from_grpc_status`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message

from model_registry import _convert_grpc as conv
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry._wire import errors as wire_errors
from model_registry._wire.proto import enum_from_wire
from model_registry.exceptions import (
    ClientClosed,
    ConnectionFailed,
    ModelRegistryError,
    StatusError,
    Timeout,
    error_class_for_http_status,
    from_grpc_status,
)
from model_registry.transport.auth import TokenProvider, TokenSource, bearer_header
from model_registry.transport.base import Transport, build_page
from model_registry.transport.policy import DEFAULT_TIMEOUT, RetryPolicy, effective_timeout
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

__all__ = ["RPC_METHODS", "GrpcTransport"]

#: Every RPC of ``ModelRegistryService`` -> the transport methods that call it. A test checks
#: that this covers the generated service descriptor, so a new RPC cannot be forgotten.
RPC_METHODS: Mapping[str, tuple[str, ...]] = {
    "UpsertRegisteredModel": ("create_registered_model", "update_registered_model"),
    "GetRegisteredModelById": ("get_registered_model",),
    "GetRegisteredModelByInferenceService": ("get_inference_service_model",),
    "GetRegisteredModelByParams": ("find_registered_model",),
    "GetRegisteredModels": ("list_registered_models",),
    "UpsertModelVersion": ("create_model_version", "update_model_version"),
    "GetModelVersionById": ("get_model_version",),
    "GetModelVersionByInferenceService": ("get_inference_service_version",),
    "GetModelVersionByParams": ("find_model_version",),
    "GetModelVersions": ("list_model_versions",),
    "UpsertModelVersionArtifact": ("upsert_model_version_artifact",),
    "UpsertArtifact": ("create_artifact", "update_artifact"),
    "GetArtifactById": ("get_artifact",),
    "GetArtifactByParams": ("find_artifact",),
    "GetArtifacts": ("list_artifacts",),
    "GetModelVersionArtifacts": ("list_model_version_artifacts",),
    "UpsertModelArtifact": ("create_model_artifact", "update_model_artifact"),
    "GetModelArtifactById": ("get_model_artifact",),
    "GetModelArtifactByInferenceService": ("get_inference_service_model_artifact",),
    "GetModelArtifactByParams": ("find_model_artifact",),
    "GetModelArtifacts": ("list_model_artifacts",),
    "UpsertServingEnvironment": ("create_serving_environment", "update_serving_environment"),
    "GetServingEnvironmentById": ("get_serving_environment",),
    "GetServingEnvironmentByParams": ("find_serving_environment",),
    "GetServingEnvironments": ("list_serving_environments",),
    "UpsertInferenceService": ("create_inference_service", "update_inference_service"),
    "GetInferenceServiceById": ("get_inference_service",),
    "GetInferenceServiceByParams": ("find_inference_service",),
    "GetInferenceServices": ("list_inference_services",),
    "UpsertServeModel": ("create_serve_model", "update_serve_model"),
    "GetServeModelById": ("get_serve_model",),
    "GetServeModels": ("list_serve_models",),
    "UpsertExperiment": ("create_experiment", "update_experiment"),
    "GetExperimentById": ("get_experiment",),
    "GetExperimentByParams": ("find_experiment",),
    "GetExperiments": ("list_experiments",),
    "UpsertExperimentRun": ("create_experiment_run", "update_experiment_run"),
    "GetExperimentRunById": ("get_experiment_run",),
    "GetExperimentRunByParams": ("find_experiment_run",),
    "GetExperimentRuns": ("list_experiment_runs",),
    "UpsertExperimentRunArtifact": ("upsert_experiment_run_artifact",),
    "GetExperimentRunArtifacts": ("list_experiment_run_artifacts",),
    "GetExperimentRunMetricHistory": ("list_metric_history",),
}

# Built-in gRPC retries are off: the RetryPolicy is the one retry rule of both transports.
# Reconnection backoff starts small (gRPC's default is 1 s, then growing): while the channel
# waits to reconnect, calls fail at once, so a long wait would spend the policy's retries on a
# server that is already back.
_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.enable_retries", 0),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 5000),
)


def _read_ca(custom_ca: str | bytes | os.PathLike[str]) -> bytes:
    """Return PEM bytes from PEM text/bytes or a path to a PEM file."""
    if isinstance(custom_ca, bytes):
        return custom_ca
    text = os.fspath(custom_ca)
    if "-----BEGIN" in text:
        return text.encode("ascii")
    try:
        return Path(text).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the CA file {text}: {exc.strerror}") from None


class GrpcTransport(Transport):
    """The :class:`~model_registry.transport.base.Transport` over gRPC.

    Args:
        host: Server host name or address.
        port: Server gRPC port.
        secure: Use TLS (with the system roots, or ``custom_ca``).
        custom_ca: CA bundle to trust: PEM text/bytes or a path to a PEM file (TLS only).
        user_token: Bearer token source (see :class:`~model_registry.transport.auth.
            TokenProvider`), sent as ``authorization: Bearer ...`` call metadata.
        timeout: Default timeout of each call in seconds, retries included (``None``: none).
        retry: Retry policy; ``None`` uses ``RetryPolicy()``.
        options: Extra channel options (``grpc.*`` arguments).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        secure: bool = False,
        custom_ca: str | bytes | os.PathLike[str] | None = None,
        user_token: TokenSource | TokenProvider | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._target = f"{host}:{port}"
        self._secure = secure or custom_ca is not None
        self._root_certificates = _read_ca(custom_ca) if custom_ca is not None else None
        self._token = (
            user_token if isinstance(user_token, TokenProvider) else TokenProvider(user_token)
        )
        self._timeout = timeout
        self._retry = retry if retry is not None else RetryPolicy()
        self._options = _CHANNEL_OPTIONS + tuple(options)
        self._channel: grpc.aio.Channel | None = None
        self._methods: dict[str, Any] = {}
        self._closed = False

    def __repr__(self) -> str:
        scheme = "grpcs" if self._secure else "grpc"
        return f"GrpcTransport({scheme}://{self._target})"

    # -- connection ----------------------------------------------------------------------

    def _open(self) -> None:
        # Synchronous and await-free, so two concurrent first calls cannot both open one.
        if self._secure:
            credentials = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
            channel = grpc.aio.secure_channel(self._target, credentials, options=self._options)
        else:
            channel = grpc.aio.insecure_channel(self._target, options=self._options)
        stub = pb_grpc.ModelRegistryServiceStub(channel)
        self._methods = {rpc: getattr(stub, rpc) for rpc in RPC_METHODS}
        self._channel = channel

    async def aclose(self) -> None:
        """Close the channel (idempotent)."""
        self._closed = True
        channel, self._channel = self._channel, None
        self._methods = {}
        if channel is not None:
            await channel.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    # -- the one call path ---------------------------------------------------------------

    async def _call(self, rpc: str, request: Message, *, safe: bool) -> Any:
        """Make one RPC with token, deadline, retries and error mapping.

        Args:
            rpc: The RPC name (a key of :data:`RPC_METHODS`).
            request: The request message.
            safe: Whether the RPC only reads (may always be repeated).
        """
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._channel is None:
            self._open()
        method = self._methods[rpc]
        http_method = "GET" if safe else "POST"
        loop = asyncio.get_running_loop()
        timeout = effective_timeout(self._timeout)
        deadline = None if timeout is None else loop.time() + timeout
        token = await self._token.get() if self._token.enabled else None
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise Timeout(f"no answer within {timeout}s", method="gRPC", path=rpc)
            metadata = (("authorization", bearer_header(token)),) if token else None
            try:
                return await method(request, timeout=remaining, metadata=metadata)
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                if code == "UNAUTHENTICATED" and not refreshed and self._token.enabled:
                    refreshed = True
                    fresh = await self._token.refresh()
                    if fresh != token:
                        token = fresh
                        attempt -= 1  # the refresh does not use up a retry
                        continue
                error = _map_error(exc, code, rpc)
                if not self._should_retry(attempt, http_method, exc, code, error):
                    raise error from None
                wait = self._retry.backoff(attempt)
                if wait is None:
                    raise error from None
                if deadline is not None and loop.time() + wait >= deadline:
                    raise error from None
                await asyncio.sleep(wait)

    def _should_retry(
        self,
        attempt: int,
        http_method: str,
        exc: grpc.aio.AioRpcError,
        code: str,
        error: ModelRegistryError,
    ) -> bool:
        if isinstance(error, ConnectionFailed):
            return self._retry.should_retry(
                attempt,
                http_method,
                connection_error=True,
                connect_phase=_never_sent(exc),
            )
        if isinstance(error, Timeout):
            return False
        return self._retry.should_retry(attempt, http_method, grpc_code=code)

    # -- helpers -------------------------------------------------------------------------

    async def _entity(self, rpc: str, request: Message, *, safe: bool) -> Any:
        return conv.message_to_domain(await self._call(rpc, request, safe=safe))

    async def _page(self, rpc: str, request: Message, options: ListOptions) -> Page[Any]:
        response = await self._call(rpc, request, safe=True)
        return await build_page(
            options,
            response.items,
            response.next_page_token,
            response.page_size,
            conv.message_to_domain,
        )

    # -- registered models ---------------------------------------------------------------

    async def create_registered_model(self, rm: RegisteredModel) -> RegisteredModel:
        """Create a registered model."""
        request = pb.UpsertRegisteredModelRequest(registered_model=conv.domain_to_message(rm))
        result: RegisteredModel = await self._entity("UpsertRegisteredModel", request, safe=False)
        return result

    async def update_registered_model(self, rm: RegisteredModel) -> RegisteredModel:
        """Update a registered model (``rm.id`` is set)."""
        return await self.create_registered_model(rm)

    async def get_registered_model(self, id: str) -> RegisteredModel:
        """Get a registered model by id."""
        request = pb.GetRegisteredModelByIdRequest(id=id)
        result: RegisteredModel = await self._entity("GetRegisteredModelById", request, safe=True)
        return result

    async def find_registered_model(
        self, *, name: str | None = None, external_id: str | None = None
    ) -> RegisteredModel:
        """Find a registered model by name or external id."""
        request = pb.GetRegisteredModelByParamsRequest(name=name, external_id=external_id)
        result: RegisteredModel = await self._entity(
            "GetRegisteredModelByParams", request, safe=True
        )
        return result

    async def list_registered_models(self, options: ListOptions) -> Page[RegisteredModel]:
        """List registered models."""
        request = pb.GetRegisteredModelsRequest(**_list_fields(options))
        return await self._page("GetRegisteredModels", request, options)

    async def get_inference_service_model(self, inference_service_id: str) -> RegisteredModel:
        """Get the registered model an inference service serves."""
        request = pb.GetRegisteredModelByInferenceServiceRequest(
            inference_service_id=inference_service_id
        )
        result: RegisteredModel = await self._entity(
            "GetRegisteredModelByInferenceService", request, safe=True
        )
        return result

    # -- model versions ------------------------------------------------------------------

    async def create_model_version(self, mv: ModelVersion) -> ModelVersion:
        """Create a model version (``mv.registered_model_id`` is set)."""
        request = pb.UpsertModelVersionRequest(model_version=conv.domain_to_message(mv))
        result: ModelVersion = await self._entity("UpsertModelVersion", request, safe=False)
        return result

    async def update_model_version(self, mv: ModelVersion) -> ModelVersion:
        """Update a model version (``mv.id`` is set)."""
        return await self.create_model_version(mv)

    async def get_model_version(self, id: str) -> ModelVersion:
        """Get a model version by id."""
        request = pb.GetModelVersionByIdRequest(id=id)
        result: ModelVersion = await self._entity("GetModelVersionById", request, safe=True)
        return result

    async def find_model_version(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        registered_model_id: str | None = None,
    ) -> ModelVersion:
        """Find a model version by name within a model, or by external id."""
        request = pb.GetModelVersionByParamsRequest(
            version=name, external_id=external_id, registered_model_id=registered_model_id
        )
        result: ModelVersion = await self._entity("GetModelVersionByParams", request, safe=True)
        return result

    async def list_model_versions(
        self, options: ListOptions, registered_model_id: str | None = None
    ) -> Page[ModelVersion]:
        """List model versions, of one registered model when ``registered_model_id`` is set."""
        request = pb.GetModelVersionsRequest(
            registered_model_id=registered_model_id, **_list_fields(options)
        )
        return await self._page("GetModelVersions", request, options)

    async def get_inference_service_version(self, inference_service_id: str) -> ModelVersion:
        """Get the version an inference service serves."""
        request = pb.GetModelVersionByInferenceServiceRequest(
            inference_service_id=inference_service_id
        )
        result: ModelVersion = await self._entity(
            "GetModelVersionByInferenceService", request, safe=True
        )
        return result

    # -- artifacts (any kind) ------------------------------------------------------------

    async def create_artifact(self, artifact: Artifact) -> Artifact:
        """Create an artifact of any kind."""
        request = pb.UpsertArtifactRequest(artifact=conv.domain_to_artifact(artifact))
        result: Artifact = await self._entity("UpsertArtifact", request, safe=False)
        return result

    async def update_artifact(self, artifact: Artifact) -> Artifact:
        """Update an artifact of any kind (``artifact.id`` is set)."""
        return await self.create_artifact(artifact)

    async def get_artifact(self, id: str) -> Artifact:
        """Get an artifact of any kind by id."""
        request = pb.GetArtifactByIdRequest(id=id)
        result: Artifact = await self._entity("GetArtifactById", request, safe=True)
        return result

    async def find_artifact(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        parent_resource_id: str | None = None,
    ) -> Artifact:
        """Find an artifact by name within a model version, or by external id."""
        request = pb.GetArtifactByParamsRequest(
            name=name, external_id=external_id, parent_resource_id=parent_resource_id
        )
        result: Artifact = await self._entity("GetArtifactByParams", request, safe=True)
        return result

    async def list_artifacts(
        self, options: ListOptions, artifact_type: ArtifactType | None = None
    ) -> Page[Artifact]:
        """List artifacts of every kind, or of one kind."""
        request = pb.GetArtifactsRequest(
            artifact_type=_artifact_type(artifact_type), **_list_fields(options)
        )
        return await self._page("GetArtifacts", request, options)

    async def upsert_model_version_artifact(
        self, artifact: Artifact, model_version_id: str
    ) -> Artifact:
        """Create an artifact in a model version, or link an existing one."""
        request = pb.UpsertModelVersionArtifactRequest(
            artifact=conv.domain_to_artifact(artifact), model_version_id=model_version_id
        )
        result: Artifact = await self._entity("UpsertModelVersionArtifact", request, safe=False)
        return result

    async def list_model_version_artifacts(
        self,
        model_version_id: str,
        options: ListOptions,
        artifact_type: ArtifactType | None = None,
    ) -> Page[Artifact]:
        """List the artifacts of a model version."""
        request = pb.GetModelVersionArtifactsRequest(
            model_version_id=model_version_id,
            artifact_type=_artifact_type(artifact_type),
            **_list_fields(options),
        )
        return await self._page("GetModelVersionArtifacts", request, options)

    # -- model artifacts -----------------------------------------------------------------

    async def create_model_artifact(self, ma: ModelArtifact) -> ModelArtifact:
        """Create a model artifact not linked to a version."""
        request = pb.UpsertModelArtifactRequest(model_artifact=conv.domain_to_message(ma))
        result: ModelArtifact = await self._entity("UpsertModelArtifact", request, safe=False)
        return result

    async def update_model_artifact(self, ma: ModelArtifact) -> ModelArtifact:
        """Update a model artifact (``ma.id`` is set)."""
        return await self.create_model_artifact(ma)

    async def get_model_artifact(self, id: str) -> ModelArtifact:
        """Get a model artifact by id."""
        request = pb.GetModelArtifactByIdRequest(id=id)
        result: ModelArtifact = await self._entity("GetModelArtifactById", request, safe=True)
        return result

    async def find_model_artifact(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        model_version_id: str | None = None,
    ) -> ModelArtifact:
        """Find a model artifact by name within a version, or by external id."""
        request = pb.GetModelArtifactByParamsRequest(
            name=name, external_id=external_id, model_version_id=model_version_id
        )
        result: ModelArtifact = await self._entity("GetModelArtifactByParams", request, safe=True)
        return result

    async def list_model_artifacts(self, options: ListOptions) -> Page[ModelArtifact]:
        """List every model artifact."""
        request = pb.GetModelArtifactsRequest(**_list_fields(options))
        return await self._page("GetModelArtifacts", request, options)

    async def get_inference_service_model_artifact(
        self, inference_service_id: str
    ) -> ModelArtifact:
        """Get the model artifact of the version an inference service serves."""
        request = pb.GetModelArtifactByInferenceServiceRequest(
            inference_service_id=inference_service_id
        )
        result: ModelArtifact = await self._entity(
            "GetModelArtifactByInferenceService", request, safe=True
        )
        return result

    # -- serving environments ------------------------------------------------------------

    async def create_serving_environment(self, se: ServingEnvironment) -> ServingEnvironment:
        """Create a serving environment."""
        request = pb.UpsertServingEnvironmentRequest(serving_environment=conv.domain_to_message(se))
        result: ServingEnvironment = await self._entity(
            "UpsertServingEnvironment", request, safe=False
        )
        return result

    async def update_serving_environment(self, se: ServingEnvironment) -> ServingEnvironment:
        """Update a serving environment (``se.id`` is set)."""
        return await self.create_serving_environment(se)

    async def get_serving_environment(self, id: str) -> ServingEnvironment:
        """Get a serving environment by id."""
        request = pb.GetServingEnvironmentByIdRequest(id=id)
        result: ServingEnvironment = await self._entity(
            "GetServingEnvironmentById", request, safe=True
        )
        return result

    async def find_serving_environment(
        self, *, name: str | None = None, external_id: str | None = None
    ) -> ServingEnvironment:
        """Find a serving environment by name or external id."""
        request = pb.GetServingEnvironmentByParamsRequest(name=name, external_id=external_id)
        result: ServingEnvironment = await self._entity(
            "GetServingEnvironmentByParams", request, safe=True
        )
        return result

    async def list_serving_environments(self, options: ListOptions) -> Page[ServingEnvironment]:
        """List serving environments."""
        request = pb.GetServingEnvironmentsRequest(**_list_fields(options))
        return await self._page("GetServingEnvironments", request, options)

    # -- inference services --------------------------------------------------------------

    async def create_inference_service(self, isvc: InferenceService) -> InferenceService:
        """Create an inference service."""
        request = pb.UpsertInferenceServiceRequest(inference_service=conv.domain_to_message(isvc))
        result: InferenceService = await self._entity("UpsertInferenceService", request, safe=False)
        return result

    async def update_inference_service(self, isvc: InferenceService) -> InferenceService:
        """Update an inference service (``isvc.id`` is set)."""
        return await self.create_inference_service(isvc)

    async def get_inference_service(self, id: str) -> InferenceService:
        """Get an inference service by id."""
        request = pb.GetInferenceServiceByIdRequest(id=id)
        result: InferenceService = await self._entity("GetInferenceServiceById", request, safe=True)
        return result

    async def find_inference_service(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        serving_environment_id: str | None = None,
    ) -> InferenceService:
        """Find an inference service by name within an environment, or by external id."""
        request = pb.GetInferenceServiceByParamsRequest(
            name=name, external_id=external_id, serving_environment_id=serving_environment_id
        )
        result: InferenceService = await self._entity(
            "GetInferenceServiceByParams", request, safe=True
        )
        return result

    async def list_inference_services(
        self, options: ListOptions, serving_environment_id: str | None = None
    ) -> Page[InferenceService]:
        """List inference services, of one environment when ``serving_environment_id`` is set."""
        request = pb.GetInferenceServicesRequest(
            serving_environment_id=serving_environment_id, **_list_fields(options)
        )
        return await self._page("GetInferenceServices", request, options)

    # -- serve models --------------------------------------------------------------------

    async def create_serve_model(self, sm: ServeModel, inference_service_id: str) -> ServeModel:
        """Create a serve model in an inference service."""
        request = pb.UpsertServeModelRequest(
            serve_model=conv.domain_to_message(sm), inference_service_id=inference_service_id
        )
        result: ServeModel = await self._entity("UpsertServeModel", request, safe=False)
        return result

    async def update_serve_model(self, sm: ServeModel, inference_service_id: str) -> ServeModel:
        """Update a serve model (``sm.id`` is set)."""
        return await self.create_serve_model(sm, inference_service_id)

    async def get_serve_model(self, id: str, inference_service_id: str | None = None) -> ServeModel:
        """Get a serve model by id (one direct RPC)."""
        request = pb.GetServeModelByIdRequest(id=id)
        result: ServeModel = await self._entity("GetServeModelById", request, safe=True)
        return result

    async def list_serve_models(
        self, options: ListOptions, inference_service_id: str | None = None
    ) -> Page[ServeModel]:
        """List serve models, of one inference service when ``inference_service_id`` is set."""
        request = pb.GetServeModelsRequest(
            inference_service_id=inference_service_id, **_list_fields(options)
        )
        return await self._page("GetServeModels", request, options)

    # -- experiments ---------------------------------------------------------------------

    async def create_experiment(self, exp: Experiment) -> Experiment:
        """Create an experiment."""
        request = pb.UpsertExperimentRequest(experiment=conv.domain_to_message(exp))
        result: Experiment = await self._entity("UpsertExperiment", request, safe=False)
        return result

    async def update_experiment(self, exp: Experiment) -> Experiment:
        """Update an experiment (``exp.id`` is set)."""
        return await self.create_experiment(exp)

    async def get_experiment(self, id: str) -> Experiment:
        """Get an experiment by id."""
        request = pb.GetExperimentByIdRequest(id=id)
        result: Experiment = await self._entity("GetExperimentById", request, safe=True)
        return result

    async def find_experiment(
        self, *, name: str | None = None, external_id: str | None = None
    ) -> Experiment:
        """Find an experiment by name or external id."""
        request = pb.GetExperimentByParamsRequest(name=name, external_id=external_id)
        result: Experiment = await self._entity("GetExperimentByParams", request, safe=True)
        return result

    async def list_experiments(self, options: ListOptions) -> Page[Experiment]:
        """List experiments."""
        request = pb.GetExperimentsRequest(**_list_fields(options))
        return await self._page("GetExperiments", request, options)

    # -- experiment runs -----------------------------------------------------------------

    async def create_experiment_run(self, run: ExperimentRun) -> ExperimentRun:
        """Create an experiment run (``run.experiment_id`` is set)."""
        request = pb.UpsertExperimentRunRequest(experiment_run=conv.domain_to_message(run))
        result: ExperimentRun = await self._entity("UpsertExperimentRun", request, safe=False)
        return result

    async def update_experiment_run(self, run: ExperimentRun) -> ExperimentRun:
        """Update an experiment run (``run.id`` is set)."""
        return await self.create_experiment_run(run)

    async def get_experiment_run(self, id: str) -> ExperimentRun:
        """Get an experiment run by id."""
        request = pb.GetExperimentRunByIdRequest(id=id)
        result: ExperimentRun = await self._entity("GetExperimentRunById", request, safe=True)
        return result

    async def find_experiment_run(
        self,
        *,
        name: str | None = None,
        external_id: str | None = None,
        experiment_id: str | None = None,
    ) -> ExperimentRun:
        """Find an experiment run by name within an experiment, or by external id."""
        request = pb.GetExperimentRunByParamsRequest(
            name=name, external_id=external_id, experiment_id=experiment_id
        )
        result: ExperimentRun = await self._entity("GetExperimentRunByParams", request, safe=True)
        return result

    async def list_experiment_runs(
        self, options: ListOptions, experiment_id: str | None = None
    ) -> Page[ExperimentRun]:
        """List experiment runs, of one experiment when ``experiment_id`` is set."""
        request = pb.GetExperimentRunsRequest(experiment_id=experiment_id, **_list_fields(options))
        return await self._page("GetExperimentRuns", request, options)

    async def upsert_experiment_run_artifact(
        self, artifact: Artifact, experiment_run_id: str
    ) -> Artifact:
        """Create an artifact in a run, or link an existing one."""
        request = pb.UpsertExperimentRunArtifactRequest(
            artifact=conv.domain_to_artifact(artifact), experiment_run_id=experiment_run_id
        )
        result: Artifact = await self._entity("UpsertExperimentRunArtifact", request, safe=False)
        return result

    async def list_experiment_run_artifacts(
        self,
        experiment_run_id: str,
        options: ListOptions,
        artifact_type: ArtifactType | None = None,
    ) -> Page[Artifact]:
        """List the artifacts of an experiment run."""
        request = pb.GetExperimentRunArtifactsRequest(
            experiment_run_id=experiment_run_id,
            artifact_type=_artifact_type(artifact_type),
            **_list_fields(options),
        )
        return await self._page("GetExperimentRunArtifacts", request, options)

    async def list_metric_history(
        self,
        options: ListOptions,
        *,
        experiment_run_id: str | None = None,
        name: str | None = None,
        step_ids: Sequence[int] | None = None,
    ) -> Page[Metric]:
        """List metric history entries of one run, or across runs."""
        request = pb.GetExperimentRunMetricHistoryRequest(
            experiment_run_id=experiment_run_id,
            name=name,
            step_ids=None if step_ids is None else ",".join(str(int(s)) for s in step_ids),
            **_list_fields(options),
        )
        return await self._page("GetExperimentRunMetricHistory", request, options)


def _list_fields(options: ListOptions) -> dict[str, Any]:
    """The paging fields every list request shares, from ``ListOptions``."""
    fields: dict[str, Any] = {}
    if options.wire_page_size is not None:
        fields["page_size"] = options.wire_page_size
    if options.order_by is not None:
        fields["order_by"] = enum_from_wire("OrderByField", str(options.order_by))
    if not options.is_asc:
        fields["sort_order"] = pb.SORT_ORDER_DESC
    if options.next_page_token:
        fields["next_page_token"] = options.next_page_token
    if options.filter_query:
        fields["filter_query"] = options.filter_query
    return fields


def _artifact_type(artifact_type: ArtifactType | str | None) -> Any:
    if artifact_type is None:
        return None
    return enum_from_wire("ArtifactType", str(artifact_type))


def _never_sent(exc: grpc.aio.AioRpcError) -> bool:
    """Whether a connection-level failure happened before the request left (no connection)."""
    details = (exc.details() or "").lower()
    return "failed to connect" in details or "connection refused" in details


def _map_error(exc: grpc.aio.AioRpcError, code: str, rpc: str) -> ModelRegistryError:
    """Map a failed RPC to the client's exceptions (the one mapping point of this transport).

    An UNAVAILABLE the registry answered itself (it marks its errors) is
    :class:`~model_registry.exceptions.Unavailable`; one from the channel (no server reached,
    connection broken) is :class:`~model_registry.exceptions.ConnectionFailed`, as on REST.
    A registry error carries the server's error ``code`` (e.g. ``"Not Found"``) as the REST
    error body does, and has the class REST gives the same error (the server sends the HTTP
    status too: 400 and 422 share INVALID_ARGUMENT but are BadRequest and
    UnprocessableEntity).
    """
    details = exc.details() or ""
    marks = _server_marks(exc)
    server_code = marks.get(wire_errors.ERROR_MARK)
    if code == "UNAVAILABLE" and server_code is None:
        return ConnectionFailed(details or "connection failed", method="gRPC", path=rpc)
    error = from_grpc_status(code, details, path=rpc)
    if server_code is None or not isinstance(error, StatusError):
        return error
    http_status = marks.get(wire_errors.ERROR_HTTP_STATUS, "")
    cls = error_class_for_http_status(int(http_status)) if http_status.isdigit() else type(error)
    return cls(details or code, status=code, code=server_code, method="gRPC", path=rpc)


def _server_marks(exc: grpc.aio.AioRpcError) -> dict[str, str]:
    """The registry's error marks from the trailing metadata (empty when it did not answer)."""
    marks: dict[str, str] = {}
    for key, value in exc.trailing_metadata() or ():
        if key in (wire_errors.ERROR_MARK, wire_errors.ERROR_HTTP_STATUS):
            marks[key] = (
                value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            )
    return marks
