"""Async client for the Model Registry REST/gRPC API, with an embedded registry server.

The public names: the async client :class:`ModelRegistryAPIClient`, the sync facade
:class:`ModelRegistry`, the domain types,
``ListOptions`` and ``Pager`` (also in :mod:`model_registry.types`), the exceptions (also in
:mod:`model_registry.exceptions`) and :func:`s3_uri_from`.

The names load on first use (PEP 562): ``import model_registry`` alone imports none of the
client, so ``import model_registry.server`` stays free of client modules and the CLI starts
fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_registry._version import __version__
    from model_registry.client import ModelRegistry
    from model_registry.core import ModelRegistryAPIClient
    from model_registry.exceptions import (
        BadRequest,
        ClientClosed,
        Conflict,
        ConnectionFailed,
        CursorExpired,
        Forbidden,
        InvalidResponse,
        ModelRegistryError,
        NotFound,
        PagerLoopError,
        ResponseTooLarge,
        ServerError,
        StatusError,
        Timeout,
        TransportError,
        Unauthorized,
        Unavailable,
        UnprocessableEntity,
    )
    from model_registry.transport.policy import RetryPolicy, call_options
    from model_registry.types import (
        Artifact,
        ArtifactState,
        DataSet,
        DocArtifact,
        Event,
        ExecutionState,
        Experiment,
        ExperimentRun,
        ExperimentRunState,
        ExperimentRunStatus,
        ExperimentState,
        InferenceService,
        InferenceServiceState,
        ListOptions,
        Metric,
        ModelArtifact,
        ModelVersion,
        ModelVersionState,
        OrderByField,
        Page,
        Pager,
        Parameter,
        ParameterType,
        Project,
        RegisteredModel,
        RegisteredModelState,
        ServeModel,
        ServingEnvironment,
    )
    from model_registry.utils import s3_uri_from

# Public name -> the module that defines it.
_SOURCES: dict[str, str] = {
    "__version__": "model_registry._version",  # written once, there
    "Artifact": "model_registry.types",
    "ArtifactState": "model_registry.types",
    "BadRequest": "model_registry.exceptions",
    "ClientClosed": "model_registry.exceptions",
    "Conflict": "model_registry.exceptions",
    "ConnectionFailed": "model_registry.exceptions",
    "CursorExpired": "model_registry.exceptions",
    "DataSet": "model_registry.types",
    "DocArtifact": "model_registry.types",
    "Event": "model_registry.types",
    "ExecutionState": "model_registry.types",
    "Experiment": "model_registry.types",
    "ExperimentRun": "model_registry.types",
    "ExperimentRunState": "model_registry.types",
    "ExperimentRunStatus": "model_registry.types",
    "ExperimentState": "model_registry.types",
    "Forbidden": "model_registry.exceptions",
    "InferenceService": "model_registry.types",
    "InferenceServiceState": "model_registry.types",
    "InvalidResponse": "model_registry.exceptions",
    "ListOptions": "model_registry.types",
    "Metric": "model_registry.types",
    "ModelArtifact": "model_registry.types",
    "ModelRegistry": "model_registry.client",
    "ModelRegistryAPIClient": "model_registry.core",
    "ModelRegistryError": "model_registry.exceptions",
    "ModelVersion": "model_registry.types",
    "ModelVersionState": "model_registry.types",
    "NotFound": "model_registry.exceptions",
    "ResponseTooLarge": "model_registry.exceptions",
    "OrderByField": "model_registry.types",
    "Page": "model_registry.types",
    "Pager": "model_registry.types",
    "PagerLoopError": "model_registry.exceptions",
    "Parameter": "model_registry.types",
    "ParameterType": "model_registry.types",
    "Project": "model_registry.types",
    "RegisteredModel": "model_registry.types",
    "RegisteredModelState": "model_registry.types",
    "RetryPolicy": "model_registry.transport.policy",
    "ServeModel": "model_registry.types",
    "ServerError": "model_registry.exceptions",
    "ServingEnvironment": "model_registry.types",
    "StatusError": "model_registry.exceptions",
    "Timeout": "model_registry.exceptions",
    "TransportError": "model_registry.exceptions",
    "Unauthorized": "model_registry.exceptions",
    "Unavailable": "model_registry.exceptions",
    "UnprocessableEntity": "model_registry.exceptions",
    "call_options": "model_registry.transport.policy",
    "s3_uri_from": "model_registry.utils",
}

__all__ = [
    "Artifact",
    "ArtifactState",
    "BadRequest",
    "ClientClosed",
    "Conflict",
    "ConnectionFailed",
    "CursorExpired",
    "DataSet",
    "DocArtifact",
    "Event",
    "ExecutionState",
    "Experiment",
    "ExperimentRun",
    "ExperimentRunState",
    "ExperimentRunStatus",
    "ExperimentState",
    "Forbidden",
    "InferenceService",
    "InferenceServiceState",
    "InvalidResponse",
    "ListOptions",
    "Metric",
    "ModelArtifact",
    "ModelRegistry",
    "ModelRegistryAPIClient",
    "ModelRegistryError",
    "ModelVersion",
    "ModelVersionState",
    "NotFound",
    "OrderByField",
    "Page",
    "Pager",
    "PagerLoopError",
    "Parameter",
    "ParameterType",
    "Project",
    "RegisteredModel",
    "RegisteredModelState",
    "ResponseTooLarge",
    "RetryPolicy",
    "ServeModel",
    "ServerError",
    "ServingEnvironment",
    "StatusError",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "UnprocessableEntity",
    "__version__",
    "call_options",
    "s3_uri_from",
]


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
