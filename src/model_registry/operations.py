"""The client's operation table: each entity kind described once, for every wire.

A :class:`Kind` names the kind's domain class and, for each operation (create, update, get,
find, list, the list of a parent's children, linking into a parent, the lookup through an
inference service), an :class:`Op`: the generated REST endpoint module of each API version and
the gRPC RPC with the request field that carries the entity or the parent id. The transports
(``model_registry.transport``) are generic over this table and ``core.py`` names a kind per
public method, so a new operation is a row here, not a method in four files.

REST endpoints are a column per API version (:data:`REST_APIS`): an operation that a version
lacks has no entry for it, and the transport raises
:class:`~model_registry.exceptions.Unsupported` (or composes it from other operations, see
``Transport.get``). Adding an API version is adding its package to :data:`REST_APIS` and its
endpoint module names to the ``rest`` maps below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from model_registry.types import (
    Artifact,
    CreatedToken,
    Event,
    Experiment,
    ExperimentRun,
    InferenceService,
    Metric,
    ModelArtifact,
    ModelVersion,
    Project,
    RegisteredModel,
    ServeModel,
    ServingEnvironment,
    Token,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "ARTIFACT",
    "EVENT",
    "EXPERIMENT",
    "EXPERIMENT_RUN",
    "INFERENCE_SERVICE",
    "KINDS",
    "METRIC_HISTORY",
    "MODEL_ARTIFACT",
    "MODEL_VERSION",
    "PROJECT",
    "REGISTERED_MODEL",
    "REST_APIS",
    "SERVE_MODEL",
    "SERVING_ENVIRONMENT",
    "TOKEN",
    "WEBHOOK",
    "WEBHOOK_DELIVERY",
    "Kind",
    "Op",
    "endpoint_module",
    "extension",
]

E = TypeVar("E")

V1 = "v1"
V1ALPHA3 = "v1alpha3"

#: REST API version -> the generated package of its stubs (``api.model_registry_service.<op>``
#: endpoint modules and ``models`` with the ``<Class>Create`` / ``<Class>Update`` bodies). Both
#: versions name an operation's module alike (the same operationIds), so one table row serves
#: both.
REST_APIS: Mapping[str, str] = {
    V1: "model_registry._generated.openapi_v1",
    V1ALPHA3: "model_registry._generated.openapi",
}

#: The generated module group (``api.<group>``) of our extension operations: the stubs of the
#: operations tagged ``extensions`` in ``openapi/extensions-v1.yaml``.
EXTENSIONS_GROUP = "extensions"
#: The generated module group of the reference's operations.
REFERENCE_GROUP = "model_registry_service"


def endpoint_module(name: str) -> str:
    """The module of an ``Op.rest`` entry below a stubs package's ``api``: a bare name is a
    reference operation (``model_registry_service.<name>``), ``extensions.<name>`` ours."""
    return name if "." in name else f"{REFERENCE_GROUP}.{name}"


#: Our extensions, as the server names them (``GET /api/model_registry/v1/extensions``).
ALIASES = "aliases"
DELETE = "delete"
CONTENT = "artifact-content"
EVENTS = "events"
PROJECTS = "projects"
TOKENS = "tokens"
WEBHOOKS = "webhooks"

#: The API versions serving the reference's model, artifact and serving operations.
COMMON: tuple[str, ...] = (V1, V1ALPHA3)
#: The API versions serving experiments, runs and metric history.
EXPERIMENTS: tuple[str, ...] = (V1ALPHA3,)


@dataclass(frozen=True)
class Op:
    """One operation on each wire.

    Attributes:
        rest: API version -> generated endpoint module name (path ids are its positional
            arguments); a version without the operation has no entry.
        rpc: The gRPC method name, or ``None`` when gRPC has no such call.
        field: The gRPC request field holding the entity (upserts, links) or, for a list of
            children, the parent id.
        parent_field: The gRPC request field holding the parent id of an upsert or link.
        extension: For one of our extensions, its name as the server lists it (``GET
            /extensions``: ``"aliases"``, ``"delete"``); a server without it (the reference)
            makes the call :class:`~model_registry.exceptions.Unsupported`.
        answer: The domain class of the answer when it is not the kind's (``CreatedToken``).
    """

    rest: Mapping[str, str] = field(default_factory=dict)
    rpc: str | None = None
    field: str | None = None
    parent_field: str | None = None
    extension: str | None = None
    answer: type | None = None


def _op(
    rest: str | None,
    rpc: str | None,
    field: str | None = None,
    parent: str | None = None,
    versions: tuple[str, ...] = COMMON,
) -> Op:
    """An operation whose REST endpoint has the same module name in each of ``versions``."""
    return Op({version: rest for version in versions} if rest else {}, rpc, field, parent)


def extension(
    name: str,
    rest: str | None,
    rpc: str | None,
    field: str | None = None,
    parent: str | None = None,
    answer: type | None = None,
) -> Op:
    """One of our extension operations: served on REST v1 only (never on the reference's
    routes), its stubs in the ``extensions`` group.

    Args:
        name: The extension's name as ``GET /extensions`` lists it (``"delete"``).
        rest: The operationId's snake_case module name (``None``: no REST endpoint).
        rpc: The gRPC method name.
        field: As :attr:`Op.field`.
        parent: As :attr:`Op.parent_field`.
        answer: As :attr:`Op.answer`.
    """
    rest_map = {V1: f"{EXTENSIONS_GROUP}.{rest}"} if rest else {}
    return Op(rest_map, rpc, field, parent, name, answer)


@dataclass(frozen=True)
class Kind(Generic[E]):
    """One entity kind of the client API.

    Attributes:
        name: The snake_case name used in the public method names (``model_version``).
        domain: The domain class (``Artifact``: any kind, by ``artifactType``).
        create, update, get, find, list: The kind's operations (``None``: no such operation on
            any wire).
        children: Parent kind name -> the list of that parent's children of this kind.
        links: Parent kind name -> create-or-link of an entity of this kind into that parent.
        by_inference_service: The entity an inference service serves.
        find_keys: The find keys (name, external id, parent id): the public
            ``get_x_by_params`` parameter names, which are also the gRPC request fields (REST
            always sends ``name``, ``externalId`` and ``parentResourceId``).
        parent_attr: The domain attribute holding the parent id on create, if any.
        delete: Delete by id (our extension ``delete``); path ids as REST names them.
        special: The kind's other operations by name (the aliases of model versions:
            ``set_alias``, ``delete_alias``, ``by_alias``; the content streams of artifacts).
        uuid_ids: The kind's ids are UUID strings (projects), not decimal numbers.
        child_filters: Request fields of every list of one parent's children (a kind listed
            among the children of another kind: model artifacts among artifacts).
        scoped: Calls work in a project (sent with each call); tokens work across projects.
    """

    name: str
    domain: type[E]
    create: Op | None = None
    update: Op | None = None
    get: Op | None = None
    find: Op | None = None
    list: Op | None = None
    children: Mapping[str, Op] = field(default_factory=dict)
    links: Mapping[str, Op] = field(default_factory=dict)
    by_inference_service: Op | None = None
    find_keys: tuple[str, str, str | None] = ("name", "external_id", None)
    parent_attr: str | None = None
    delete: Op | None = None
    special: Mapping[str, Op] = field(default_factory=dict)
    uuid_ids: bool = False
    scoped: bool = True
    child_filters: Mapping[str, str] = field(default_factory=dict)

    @property
    def ops(self) -> tuple[Op, ...]:
        """Every operation of the kind."""
        named = (self.create, self.update, self.get, self.find, self.list, self.delete)
        ops = (
            *named,
            self.by_inference_service,
            *self.children.values(),
            *self.links.values(),
            *self.special.values(),
        )
        return tuple(op for op in ops if op is not None)

    @property
    def label(self) -> str:
        """How messages name one entity (``"model version"``)."""
        return self.name.replace("_", " ")


def _standard(
    name: str,
    domain: type[E],
    plural: str,
    versions: tuple[str, ...] = COMMON,
    ext: str | None = None,
    **more: Any,
) -> Kind[E]:
    """A kind whose operations follow the common naming of both APIs: REST ``create_x``,
    ``update_x``, ``get_x``, ``find_x``, ``get_xs``; gRPC ``UpsertX`` (the entity in field
    ``x``), ``GetXById``, ``GetXByParams``, ``GetXs``; and our extension ``delete``: REST
    ``extensions.delete_x`` on v1 (on v1alpha3 for the kinds v1 lacks), gRPC ``DeleteX``.
    ``ext``: every operation is one of our extensions, by that name (projects)."""
    camel = "".join(part.capitalize() for part in name.split("_"))

    def op(rest: str, rpc: str, field: str | None = None) -> Op:
        return extension(ext, rest, rpc, field) if ext else _op(rest, rpc, field, versions=versions)

    on = V1 if V1 in versions else V1ALPHA3  # our extensions are v1's, where the kind is
    more.setdefault(
        "delete",
        Op({on: f"{EXTENSIONS_GROUP}.delete_{name}"}, f"Delete{camel}", extension=ext or DELETE),
    )
    return Kind(
        name,
        domain,
        create=op(f"create_{name}", f"Upsert{camel}", name),
        update=op(f"update_{name}", f"Upsert{camel}", name),
        get=op(f"get_{name}", f"Get{camel}ById"),
        find=op(f"find_{name}", f"Get{camel}ByParams"),
        list=op(f"get_{plural}", f"Get{camel}s"),
        **more,
    )


REGISTERED_MODEL: Kind[RegisteredModel] = _standard(
    "registered_model",
    RegisteredModel,
    "registered_models",
    by_inference_service=_op("get_inference_service_model", "GetRegisteredModelByInferenceService"),
)
MODEL_VERSION: Kind[ModelVersion] = _standard(
    "model_version",
    ModelVersion,
    "model_versions",
    children={
        "registered_model": _op(
            "get_registered_model_versions", "GetModelVersions", "registered_model_id"
        )
    },
    by_inference_service=_op("get_inference_service_version", "GetModelVersionByInferenceService"),
    find_keys=("version", "external_id", "registered_model_id"),
    parent_attr="registered_model_id",
    special={
        "set_alias": extension(ALIASES, "set_model_version_alias", "SetModelVersionAlias"),
        "delete_alias": extension(ALIASES, "delete_model_version_alias", "DeleteModelVersionAlias"),
        "by_alias": extension(ALIASES, "get_model_version_by_alias", "GetModelVersionByAlias"),
    },
)
ARTIFACT: Kind[Artifact] = _standard(
    "artifact",
    Artifact,
    "artifacts",
    children={
        "model_version": _op(
            "get_model_version_artifacts", "GetModelVersionArtifacts", "model_version_id"
        ),
        "experiment_run": _op(
            "get_experiment_run_artifacts",
            "GetExperimentRunArtifacts",
            "experiment_run_id",
            versions=EXPERIMENTS,
        ),
    },
    links={
        "model_version": _op(
            "upsert_model_version_artifact",
            "UpsertModelVersionArtifact",
            "artifact",
            "model_version_id",
        ),
        "experiment_run": _op(
            "upsert_experiment_run_artifact",
            "UpsertExperimentRunArtifact",
            "artifact",
            "experiment_run_id",
            EXPERIMENTS,
        ),
    },
    find_keys=("name", "external_id", "parent_resource_id"),
    # Streams (one connection each, never repeated): the registry's artifact store.
    special={
        "upload_content": extension(CONTENT, "upload_artifact_content", "UploadArtifactContent"),
        "download_content": extension(
            CONTENT, "download_artifact_content", "DownloadArtifactContent"
        ),
    },
)
MODEL_ARTIFACT: Kind[ModelArtifact] = _standard(
    "model_artifact",
    ModelArtifact,
    "model_artifacts",
    # REST has no endpoint: the transport reads the served version's first model artifact.
    by_inference_service=_op(None, "GetModelArtifactByInferenceService"),
    children={"model_version": ARTIFACT.children["model_version"]},
    child_filters={"artifact_type": "model-artifact"},
    find_keys=("name", "external_id", "model_version_id"),
    # gRPC deletes an artifact of any kind with DeleteArtifact.
    delete=extension(DELETE, "delete_model_artifact", "DeleteArtifact"),
)
SERVING_ENVIRONMENT: Kind[ServingEnvironment] = _standard(
    "serving_environment",
    ServingEnvironment,
    "serving_environments",
)
INFERENCE_SERVICE: Kind[InferenceService] = _standard(
    "inference_service",
    InferenceService,
    "inference_services",
    children={
        "serving_environment": _op(
            "get_environment_inference_services",
            "GetInferenceServices",
            "serving_environment_id",
        )
    },
    find_keys=("name", "external_id", "serving_environment_id"),
)
SERVE_MODEL: Kind[ServeModel] = Kind(
    "serve_model",
    ServeModel,
    # REST v1alpha3 has no endpoint to update one, get one, or list them across services.
    create=_op(
        "create_inference_service_serve", "UpsertServeModel", "serve_model", "inference_service_id"
    ),
    update=_op(None, "UpsertServeModel", "serve_model", "inference_service_id"),
    get=_op(None, "GetServeModelById"),
    list=_op(None, "GetServeModels"),
    children={
        "inference_service": _op(
            "get_inference_service_serves", "GetServeModels", "inference_service_id"
        )
    },
    # REST names the serve model under its inference service (the path's first id).
    delete=extension(DELETE, "delete_inference_service_serve", "DeleteServeModel"),
)
EXPERIMENT: Kind[Experiment] = _standard(
    "experiment",
    Experiment,
    "experiments",
    EXPERIMENTS,
)
EXPERIMENT_RUN: Kind[ExperimentRun] = _standard(
    "experiment_run",
    ExperimentRun,
    "experiment_runs",
    EXPERIMENTS,
    children={
        "experiment": _op(
            "get_experiment_experiment_runs",
            "GetExperimentRuns",
            "experiment_id",
            versions=EXPERIMENTS,
        )
    },
    find_keys=("name", "external_id", "experiment_id"),
    parent_attr="experiment_id",
)
#: Projects: every entity of the other kinds belongs to one, selected per call by a header
#: (REST) or metadata (gRPC), never by a field. Managed through our REST v1 extension
#: ``projects`` (REST v1alpha3 has no endpoint for them: Unsupported) and the gRPC service.
PROJECT: Kind[Project] = _standard("project", Project, "projects", ext=PROJECTS, uuid_ids=True)
#: Tokens (our v1 extension): issued (the answer holds the secret), listed and revoked, across
#: projects; no entity of the others' kind (no update, no find).
TOKEN: Kind[Token] = Kind(
    "token",
    Token,
    list=extension(TOKENS, "get_tokens", "GetTokens"),
    special={
        "create": extension(TOKENS, "create_token", "CreateToken", answer=CreatedToken),
        "revoke": extension(TOKENS, "revoke_token", "RevokeToken"),
    },
    scoped=False,
)
#: Webhooks (our v1 extension), for the server's admin token only: registered, listed, got
#: and removed across projects; no update.
WEBHOOK: Kind[Webhook] = Kind(
    "webhook",
    Webhook,
    list=extension(WEBHOOKS, "get_webhooks", "GetWebhooks"),
    delete=extension(WEBHOOKS, "delete_webhook", "DeleteWebhook"),
    special={
        "create": extension(WEBHOOKS, "create_webhook", "CreateWebhook"),
        "get": extension(WEBHOOKS, "get_webhook", "GetWebhookById"),
    },
    scoped=False,
)
#: A webhook's delivery log, newest first: a list of one webhook's children.
WEBHOOK_DELIVERY: Kind[WebhookDelivery] = Kind(
    "webhook_delivery",
    WebhookDelivery,
    children={
        "webhook": extension(
            WEBHOOKS, "get_webhook_deliveries", "GetWebhookDeliveries", "webhook_id"
        )
    },
    scoped=False,
)
#: The change events: one stream (server-sent events on REST, server streaming on gRPC).
EVENT: Kind[Event] = Kind(
    "event", Event, special={"watch": extension(EVENTS, "watch_events", "WatchEvents")}
)

#: The metric history of runs: a list only (entries are appended by linking a ``Metric``).
METRIC_HISTORY: Kind[Metric] = Kind(
    "metric_history",
    Metric,
    list=_op(
        "get_experiment_runs_metric_history",
        "GetExperimentRunMetricHistory",
        versions=EXPERIMENTS,
    ),
    children={
        "experiment_run": _op(
            "get_experiment_run_metric_history",
            "GetExperimentRunMetricHistory",
            "experiment_run_id",
            versions=EXPERIMENTS,
        )
    },
)

#: Every kind by name.
KINDS: Mapping[str, Kind[Any]] = {
    k.name: k for k in list(globals().values()) if isinstance(k, Kind)
}
