"""Domain types of the registry, ``ListOptions`` and ``Pager``.

These types know nothing about the wire: converting them to and from REST or gRPC messages is
the transports' job (``model_registry._convert`` and ``model_registry._convert_grpc``).
"""

from model_registry.types.artifacts import (
    Artifact,
    DataSet,
    DocArtifact,
    Metric,
    ModelArtifact,
    Parameter,
)
from model_registry.types.base import BaseResource
from model_registry.types.contexts import (
    Experiment,
    ExperimentRun,
    InferenceService,
    ModelVersion,
    RegisteredModel,
    ServeModel,
    ServingEnvironment,
)
from model_registry.types.custom_properties import CustomValue
from model_registry.types.enums import (
    ArtifactState,
    ArtifactType,
    ExecutionState,
    ExperimentRunState,
    ExperimentRunStatus,
    ExperimentState,
    InferenceServiceState,
    ModelVersionState,
    OrderByField,
    ParameterType,
    RegisteredModelState,
    SortOrder,
)
from model_registry.types.events import Event
from model_registry.types.options import ListOptions, Page, PageCall, RawPage
from model_registry.types.pager import Pager
from model_registry.types.projects import MODEL_TASKS, ROLES, CreatedToken, Project, Token
from model_registry.types.webhooks import Webhook, WebhookDelivery

__all__ = [
    "MODEL_TASKS",
    "ROLES",
    "Artifact",
    "ArtifactState",
    "ArtifactType",
    "BaseResource",
    "CreatedToken",
    "CustomValue",
    "DataSet",
    "DocArtifact",
    "Event",
    "ExecutionState",
    "Experiment",
    "ExperimentRun",
    "ExperimentRunState",
    "ExperimentRunStatus",
    "ExperimentState",
    "InferenceService",
    "InferenceServiceState",
    "ListOptions",
    "Metric",
    "ModelArtifact",
    "ModelVersion",
    "ModelVersionState",
    "OrderByField",
    "Page",
    "PageCall",
    "Pager",
    "Parameter",
    "ParameterType",
    "Project",
    "RawPage",
    "RegisteredModel",
    "RegisteredModelState",
    "ServeModel",
    "ServingEnvironment",
    "SortOrder",
    "Token",
    "Webhook",
    "WebhookDelivery",
]
