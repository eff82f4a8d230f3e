"""The gRPC front door: ``ModelRegistryService`` over the same service layer as REST.

Each RPC only translates: the request message becomes the wire dicts and query parameters
REST would hand the service (:mod:`model_registry._wire.proto`), the service method REST
calls is called, and its answer becomes the response message. Every rule stays in
:class:`~model_registry.server.service.RegistryService`.

Every registry call passes through :func:`_dispatch`, which resolves the caller's principal
once (:class:`~model_registry.server.auth.RequestAuth`: the ``authorization`` bearer token and
the ``x-model-registry-project`` metadata) and runs the handler on the service view of that
principal and project. With auth on, :class:`_BearerInterceptor` guards the other services
(reflection) the same way; health stays open. :func:`_dispatch` is also the one place that maps
:class:`~model_registry.server.errors.ServiceError` to a gRPC status (its ``grpc_code``, with
the REST error message as details, and the REST error code and HTTP status as trailing
metadata :data:`~model_registry._wire.errors.ERROR_MARK` and ``ERROR_HTTP_STATUS``; an error
worth retrying, such as a database out of reach, also carries ``RETRY_AFTER`` in seconds).
The standard health (``grpc.health.v1.Health``) and reflection services are served beside it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from typing import Any

import grpc
import orjson
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from model_registry._generated.grpc.model_registry.v1 import model_registry_pb2 as pb_v1
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._wire.errors import ERROR_HTTP_STATUS, ERROR_MARK, RETRY_AFTER
from model_registry._wire.proto import message_to_wire, query_params, wire_to_message
from model_registry.server.artifacts import SHA256_PROPERTY
from model_registry.server.auth import (
    PROJECT_METADATA,
    RequestAuth,
    TokenAuthenticator,
    bearer_token,
)
from model_registry.server.connections import ConnectionLimits
from model_registry.server.entities import ANY_ARTIFACT, ARTIFACT_KINDS, KINDS
from model_registry.server.errors import (
    MAX_RESPONSE_BYTES,
    BadRequest,
    EntityTooLarge,
    NotFound,
    ServiceError,
    Unauthorized,
    Unavailable,
)
from model_registry.server.observability import CallObserver
from model_registry.server.paging import PageRequest, encode_token
from model_registry.server.ratelimit import RateLimiter
from model_registry.server.service import MessagePage, RegistryService, lists_as_text

__all__ = [
    "CONTENT_SERVICE_NAME",
    "RPC_HANDLERS",
    "SERVICE_NAME",
    "SERVICE_NAMES",
    "V1_SERVICE_NAME",
    "CallsPerAddress",
    "start_grpc_server",
]

log = logging.getLogger("model_registry.server.grpc")

#: Full name of the registry service of API v1alpha3 (every RPC).
SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["ModelRegistryService"].full_name
#: Full name of the stable registry service (API v1: the same RPCs and messages but those of
#: experiments, runs and metric history; ``proto/model_registry/v1`` is derived by
#: ``make generate``).
V1_SERVICE_NAME: str = pb_v1.DESCRIPTOR.services_by_name["ModelRegistryService"].full_name
#: The registry service's full name by API version: ``serve --api-versions`` chooses which
#: are served, for gRPC as for REST.
SERVICE_NAMES: Mapping[str, str] = {"v1": V1_SERVICE_NAME, "v1alpha3": SERVICE_NAME}
_V1_METHODS = frozenset(pb_v1.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name)

Handler = Callable[[RegistryService, Any], Awaitable[Message | bytes]]
"""An RPC's handler: the answer as a message, or already serialized (a spliced list page)."""

# Request fields of the "find by params" RPCs that name the parent: the service takes them as
# ``parentResourceId`` (as REST does), and a model version's name (``version``) as ``name``.
_FIND_RENAMES: Mapping[str, str] = {
    "version": "name",
    "registeredModelId": "parentResourceId",
    "modelVersionId": "parentResourceId",
    "servingEnvironmentId": "parentResourceId",
    "experimentId": "parentResourceId",
}


def _find_params(request: Message) -> dict[str, str]:
    return {_FIND_RENAMES.get(k, k): v for k, v in query_params(request).items()}


def _opt(request: Message, field: str) -> str | None:
    """The value of an optional string field, or None when unset or empty."""
    value: str = getattr(request, field)
    return value if value else None


# ---------------------------------------------------------------------------------------------
# Handler builders for the shapes that repeat across entity kinds.


def _upsert(kind: str, field: str, out: type[Message], parent: str | None = None) -> Handler:
    """Upsert: update when the entity has an id, else create (under ``parent`` if given)."""

    async def handler(service: RegistryService, request: Any) -> Message:
        body = message_to_wire(getattr(request, field))
        entity_id = body.pop("id", None)
        if entity_id:
            result = await service.update(kind, entity_id, _update_body(kind, body))
        else:
            parent_id = _opt(request, parent) if parent is not None else None
            result = await service.create(kind, body, parent_id=parent_id, full=True)
        return wire_to_message(result, out)

    return handler


def _update_body(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Shape a full entity into a PATCH body: drop the fields only the server sets.

    Which fields those are comes from the entity descriptions the service itself uses.
    """
    if kind == ANY_ARTIFACT:
        desc = ARTIFACT_KINDS.get(str(body.get("artifactType")))
    else:
        desc = KINDS.get(kind)
    body.pop("createTimeSinceEpoch", None)
    body.pop("lastUpdateTimeSinceEpoch", None)
    body.pop("aliases", None)
    if desc is not None:
        for field in desc.fields:
            if field.mode == "ro":
                body.pop(field.wire, None)
    return body


def _get(kind: str, out: type[Message]) -> Handler:
    async def handler(service: RegistryService, request: Any) -> Message:
        return wire_to_message(await service.get(kind, request.id), out)

    return handler


def _find(kind: str, out: type[Message]) -> Handler:
    async def handler(service: RegistryService, request: Any) -> Message:
        return wire_to_message(await service.find(kind, _find_params(request)), out)

    return handler


# Room a list answer needs beside its items: the token, the sizes and their field tags.
_LIST_FRAME_BYTES = 1024
_ORDER_FIELDS: Mapping[str, str] = {
    "ID": "id",
    "CREATE_TIME": "createTimeSinceEpoch",
    "LAST_UPDATE_TIME": "lastUpdateTimeSinceEpoch",
    "NAME": "name",
}


def _page_message(page: dict[str, Any], out: type[Message], params: Mapping[str, str]) -> Message:
    """A list answer that fits :data:`MAX_RESPONSE_BYTES`: cut short when the page's items do
    not (fewer items than the page size, with the token of the last one sent), so a client
    with gRPC's default receive limit can always read it and page on.

    Raises:
        EntityTooLarge: Not even the first item fits (stored before entity sizes were
            checked at write time); REST can still read it.
    """
    message = wire_to_message(page, out)
    if message.ByteSize() <= MAX_RESPONSE_BYTES:
        return message
    items: Any = message.items  # type: ignore[attr-defined]  # every list message has items
    budget = MAX_RESPONSE_BYTES - _LIST_FRAME_BYTES
    used = keep = 0
    for item in items:
        size = item.ByteSize()
        used += size + 1 + _varint_size(size)
        if used > budget:
            break
        keep += 1
    if keep == 0:
        first = page["items"][0]
        raise EntityTooLarge(
            f"item {first.get('id')} alone is larger than the {MAX_RESPONSE_BYTES} bytes a gRPC "
            "answer may have: read it over REST"
        )
    request = PageRequest.from_query(params)
    last = page["items"][keep - 1]
    del items[keep:]
    message.size = keep  # type: ignore[attr-defined]
    value = last.get(_ORDER_FIELDS[request.order_by])
    message.next_page_token = encode_token(  # type: ignore[attr-defined]
        value if request.order_by == "NAME" else int(value),
        int(last["id"]),
        order_by=request.order_by,
        desc=request.desc,
    )
    return message


def _varint_size(value: int) -> int:
    """How many bytes the varint encoding of ``value`` takes."""
    return max(1, (value.bit_length() + 6) // 7)


def _list(kind: str, out: type[Message], parent: str | None = None) -> Handler:
    spliced = lists_as_text(kind)

    async def handler(service: RegistryService, request: Any) -> Message | bytes:
        parent_id = _opt(request, parent) if parent is not None else None
        params = query_params(request)
        if spliced:
            page = await service.list_messages(kind, params, parent_id=parent_id)
            return _page_bytes(page, out, params)
        result = await service.list(kind, params, parent_id=parent_id)
        return _page_message(result, out, params)

    return handler


def _page_bytes(page: MessagePage, out: type[Message], params: Mapping[str, str]) -> bytes:
    """A list answer serialized from its items' serialized messages, no message per item:
    parsed, the message :func:`_page_message` gives (the items field first, then the rest),
    and cut short the same way when it does not fit :data:`MAX_RESPONSE_BYTES`.

    Raises:
        EntityTooLarge: Not even the first item fits.
    """
    tag = _ITEMS_TAGS.get(out)
    if tag is None:
        tag = _ITEMS_TAGS[out] = _varint((out.DESCRIPTOR.fields_by_name["items"].number << 3) | 2)
    framed = [tag + _varint(len(item)) + item for item in page.items]
    keep = len(framed)
    token = page.next_page_token
    if sum(map(len, framed)) + _LIST_FRAME_BYTES > MAX_RESPONSE_BYTES:
        budget = MAX_RESPONSE_BYTES - _LIST_FRAME_BYTES
        used = keep = 0
        for item in framed:
            used += len(item)
            if used > budget:
                break
            keep += 1
        if keep == 0:
            raise EntityTooLarge(
                f"item {page.ids[0]} alone is larger than the {MAX_RESPONSE_BYTES} bytes a gRPC "
                "answer may have: read it over REST"
            )
        request = PageRequest.from_query(params)
        token = encode_token(
            page.order_values[keep - 1],
            page.ids[keep - 1],
            order_by=request.order_by,
            desc=request.desc,
        )
    rest = {"nextPageToken": token, "pageSize": page.page_size, "size": keep}
    return b"".join(framed[:keep]) + wire_to_message(rest, out).SerializeToString()


_ITEMS_TAGS: dict[type[Message], bytes] = {}


def _varint(value: int) -> bytes:
    """The protobuf varint encoding of a non-negative ``value``."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _serializer(cls: type[Message]) -> Callable[[Message | bytes], bytes]:
    """The response serializer of an RPC answering ``cls``: an answer already serialized (a
    spliced list page) goes out as it is."""
    serialize = cls.SerializeToString

    def serializer(answer: Message | bytes) -> bytes:
        return answer if isinstance(answer, bytes) else serialize(answer)

    return serializer


def _list_context_artifacts(context_kind: str, field: str) -> Handler:
    async def handler(service: RegistryService, request: Any) -> Message:
        context_id: str = getattr(request, field)
        params = query_params(request)
        result = await service.list_context_artifacts(context_kind, context_id, params)
        return _page_message(result, pb.ArtifactList, params)

    return handler


def _upsert_context_artifact(context_kind: str, field: str) -> Handler:
    async def handler(service: RegistryService, request: Any) -> Message:
        context_id: str = getattr(request, field)
        result, _created = await service.upsert_context_artifact(
            context_kind, context_id, message_to_wire(request.artifact)
        )
        return wire_to_message(result, pb.Artifact)

    return handler


# ---------------------------------------------------------------------------------------------
# RPCs that are not one of the repeated shapes.


async def _get_artifacts(service: RegistryService, request: Any) -> Message:
    params = query_params(request)
    parent = _opt(request, "parent_resource_id")
    if parent is not None:
        result = await service.list_context_artifacts("model-version", parent, params)
    else:
        result = await service.list("artifact", params)
    return _page_message(result, pb.ArtifactList, params)


async def _upsert_model_artifact(service: RegistryService, request: Any) -> Message:
    body = message_to_wire(request.model_artifact)
    entity_id = body.pop("id", None)
    version_id = _opt(request, "model_version_id")
    if entity_id:
        result = await service.update(
            "model-artifact", entity_id, _update_body("model-artifact", body)
        )
    elif version_id is not None:
        result, _created = await service.upsert_context_artifact("model-version", version_id, body)
    else:
        result = await service.create("model-artifact", body, full=True)
    return wire_to_message(result, pb.ModelArtifact)


async def _get_model_artifacts(service: RegistryService, request: Any) -> Message:
    params = query_params(request)
    version_id = _opt(request, "model_version_id")
    if version_id is not None:
        params["artifactType"] = "model-artifact"
        result = await service.list_context_artifacts("model-version", version_id, params)
    else:
        result = await service.list("model-artifact", params)
    return _page_message(result, pb.ModelArtifactList, params)


async def _model_artifact_by_inference_service(service: RegistryService, request: Any) -> Message:
    # The model artifact of the version the inference service serves (the first by id).
    version = await service.get_inference_service_version(request.inference_service_id)
    page = await service.list_context_artifacts(
        "model-version", version["id"], {"artifactType": "model-artifact", "pageSize": "1"}
    )
    if not page["items"]:
        raise NotFound(f"model version {version['id']} has no model artifact")
    return wire_to_message(page["items"][0], pb.ModelArtifact)


async def _registered_model_by_inference_service(service: RegistryService, request: Any) -> Message:
    result = await service.get_inference_service_model(request.inference_service_id)
    return wire_to_message(result, pb.RegisteredModel)


async def _model_version_by_inference_service(service: RegistryService, request: Any) -> Message:
    result = await service.get_inference_service_version(request.inference_service_id)
    return wire_to_message(result, pb.ModelVersion)


async def _metric_history(service: RegistryService, request: Any) -> Message:
    params = query_params(request)
    result = await service.list_metric_history(params, run_id=_opt(request, "experiment_run_id"))
    return _page_message(result, pb.MetricList, params)


# ---------------------------------------------------------------------------------------------
# Our extensions: aliases and delete.


def _delete(kind: str) -> Handler:
    async def handler(service: RegistryService, request: Any) -> Message:
        await service.delete(kind, request.id, cascade=request.cascade)
        return pb.Deleted()

    return handler


async def _set_alias(service: RegistryService, request: Any) -> Message:
    result = await service.set_alias(
        request.registered_model_id, request.alias, {"modelVersionId": request.model_version_id}
    )
    return wire_to_message(result, pb.ModelVersion)


async def _delete_alias(service: RegistryService, request: Any) -> Message:
    await service.delete_alias(request.registered_model_id, request.alias)
    return pb.Deleted()


async def _version_by_alias(service: RegistryService, request: Any) -> Message:
    result = await service.get_version_by_alias(request.registered_model_id, request.alias)
    return wire_to_message(result, pb.ModelVersion)


# Projects and tokens: they work across projects (PROJECT_FREE_RPCS), on a view of the
# caller's principal alone.

_PROJECT_READ_ONLY = ("id", "createTimeSinceEpoch", "lastUpdateTimeSinceEpoch")


async def _upsert_project(service: RegistryService, request: Any) -> Message:
    body = message_to_wire(request.project)
    project_id = body.get("id")
    for key in _PROJECT_READ_ONLY:
        body.pop(key, None)
    if project_id:
        result = await service.update_project(str(project_id), body)
    else:
        result = await service.create_project(body)
    return wire_to_message(result, pb.Project)


async def _get_project(service: RegistryService, request: Any) -> Message:
    return wire_to_message(await service.get_project(request.id), pb.Project)


async def _find_project(service: RegistryService, request: Any) -> Message:
    return wire_to_message(await service.find_project(query_params(request)), pb.Project)


async def _delete_project(service: RegistryService, request: Any) -> Message:
    await service.delete_project(request.id, cascade=request.cascade)
    return pb.Deleted()


async def _list_projects(service: RegistryService, request: Any) -> Message:
    params = query_params(request)
    return _page_message(await service.list_projects(params), pb.ProjectList, params)


def _token_message(wire: Mapping[str, Any]) -> Any:
    expires = wire.get("expiresTimeSinceEpoch")
    return pb.Token(
        id=wire["id"],
        subject=wire["subject"],
        roles=wire["roles"],
        create_time_since_epoch=int(wire["createTimeSinceEpoch"]),
        expires_time_since_epoch=int(expires) if expires is not None else None,
    )


async def _create_token(service: RegistryService, request: Any) -> Message:
    roles = dict(request.roles)
    if request.HasField("default_project"):
        if request.default_project not in roles:
            raise BadRequest(
                f"default_project {request.default_project!r} is not one of the token's projects"
            )
        # The REST body's first project is the token's default: put the named one first.
        roles = {request.default_project: roles.pop(request.default_project), **roles}
    body: dict[str, Any] = {"subject": request.subject, "roles": roles}
    if request.HasField("expires_time_since_epoch"):
        body["expiresTimeSinceEpoch"] = str(request.expires_time_since_epoch)
    created = await service.create_token(body)
    return pb.CreatedToken(token=_token_message(created), secret=created["token"])


def _page_params(request: Any) -> dict[str, str]:
    """The paging fields of a list request as the REST query parameters."""
    params: dict[str, str] = {}
    if request.HasField("page_size"):
        params["pageSize"] = str(request.page_size)
    if request.next_page_token:
        params["nextPageToken"] = request.next_page_token
    return params


async def _list_tokens(service: RegistryService, request: Any) -> Message:
    page = await service.list_tokens(_page_params(request))
    return pb.TokenList(
        items=[_token_message(t) for t in page["items"]],
        next_page_token=page["nextPageToken"],
        page_size=page["pageSize"],
        size=page["size"],
    )


async def _revoke_token(service: RegistryService, request: Any) -> Message:
    return _token_message(await service.revoke_token(request.id))  # type: ignore[no-any-return]


_PROJECT_RPCS: Mapping[str, Handler] = {
    "UpsertProject": _upsert_project,
    "GetProjectById": _get_project,
    "GetProjectByParams": _find_project,
    "GetProjects": _list_projects,
    "DeleteProject": _delete_project,
    "CreateToken": _create_token,
    "GetTokens": _list_tokens,
    "RevokeToken": _revoke_token,
}


#: Every RPC of ``ModelRegistryService`` -> its handler. A test checks this covers the
#: generated service descriptor.
RPC_HANDLERS: Mapping[str, Handler] = {
    "UpsertRegisteredModel": _upsert("registered-model", "registered_model", pb.RegisteredModel),
    "GetRegisteredModelById": _get("registered-model", pb.RegisteredModel),
    "GetRegisteredModelByInferenceService": _registered_model_by_inference_service,
    "GetRegisteredModelByParams": _find("registered-model", pb.RegisteredModel),
    "GetRegisteredModels": _list("registered-model", pb.RegisteredModelList),
    "UpsertModelVersion": _upsert(
        "model-version", "model_version", pb.ModelVersion, parent="registered_model_id"
    ),
    "GetModelVersionById": _get("model-version", pb.ModelVersion),
    "GetModelVersionByInferenceService": _model_version_by_inference_service,
    "GetModelVersionByParams": _find("model-version", pb.ModelVersion),
    "GetModelVersions": _list("model-version", pb.ModelVersionList, parent="registered_model_id"),
    "UpsertModelVersionArtifact": _upsert_context_artifact("model-version", "model_version_id"),
    "UpsertArtifact": _upsert(ANY_ARTIFACT, "artifact", pb.Artifact),
    "GetArtifactById": _get("artifact", pb.Artifact),
    "GetArtifactByParams": _find("artifact", pb.Artifact),
    "GetArtifacts": _get_artifacts,
    "GetModelVersionArtifacts": _list_context_artifacts("model-version", "model_version_id"),
    "UpsertModelArtifact": _upsert_model_artifact,
    "GetModelArtifactById": _get("model-artifact", pb.ModelArtifact),
    "GetModelArtifactByInferenceService": _model_artifact_by_inference_service,
    "GetModelArtifactByParams": _find("model-artifact", pb.ModelArtifact),
    "GetModelArtifacts": _get_model_artifacts,
    "UpsertServingEnvironment": _upsert(
        "serving-environment", "serving_environment", pb.ServingEnvironment
    ),
    "GetServingEnvironmentById": _get("serving-environment", pb.ServingEnvironment),
    "GetServingEnvironmentByParams": _find("serving-environment", pb.ServingEnvironment),
    "GetServingEnvironments": _list("serving-environment", pb.ServingEnvironmentList),
    "UpsertInferenceService": _upsert(
        "inference-service", "inference_service", pb.InferenceService
    ),
    "GetInferenceServiceById": _get("inference-service", pb.InferenceService),
    "GetInferenceServiceByParams": _find("inference-service", pb.InferenceService),
    "GetInferenceServices": _list(
        "inference-service", pb.InferenceServiceList, parent="serving_environment_id"
    ),
    "UpsertServeModel": _upsert(
        "serve-model", "serve_model", pb.ServeModel, parent="inference_service_id"
    ),
    "GetServeModelById": _get("serve-model", pb.ServeModel),
    "GetServeModels": _list("serve-model", pb.ServeModelList, parent="inference_service_id"),
    "UpsertExperiment": _upsert("experiment", "experiment", pb.Experiment),
    "GetExperimentById": _get("experiment", pb.Experiment),
    "GetExperimentByParams": _find("experiment", pb.Experiment),
    "GetExperiments": _list("experiment", pb.ExperimentList),
    "UpsertExperimentRun": _upsert(
        "experiment-run", "experiment_run", pb.ExperimentRun, parent="experiment_id"
    ),
    "GetExperimentRunById": _get("experiment-run", pb.ExperimentRun),
    "GetExperimentRunByParams": _find("experiment-run", pb.ExperimentRun),
    "GetExperimentRuns": _list("experiment-run", pb.ExperimentRunList, parent="experiment_id"),
    "UpsertExperimentRunArtifact": _upsert_context_artifact("experiment-run", "experiment_run_id"),
    "GetExperimentRunArtifacts": _list_context_artifacts("experiment-run", "experiment_run_id"),
    "GetExperimentRunMetricHistory": _metric_history,
    "SetModelVersionAlias": _set_alias,
    "DeleteModelVersionAlias": _delete_alias,
    "GetModelVersionByAlias": _version_by_alias,
    "DeleteRegisteredModel": _delete("registered-model"),
    "DeleteModelVersion": _delete("model-version"),
    "DeleteArtifact": _delete(ANY_ARTIFACT),
    "DeleteServingEnvironment": _delete("serving-environment"),
    "DeleteInferenceService": _delete("inference-service"),
    "DeleteServeModel": _delete("serve-model"),
    "DeleteExperiment": _delete("experiment"),
    "DeleteExperimentRun": _delete("experiment-run"),
    **_PROJECT_RPCS,
}


PROJECT_FREE_RPCS: frozenset[str] = frozenset(_PROJECT_RPCS)
"""RPCs that work across projects (project and token management): they run on a view of the
caller's principal alone, whatever project the metadata names."""


StreamHandler = Callable[[RegistryService, Any], AsyncIterator[Message]]


async def _watch_events(service: RegistryService, request: Any) -> AsyncIterator[Message]:
    """The change events: a ``ready`` message with the starting cursor, then one per event
    (the REST stream's, with the entity as its JSON text)."""
    params: dict[str, str] = {}
    if request.HasField("since"):
        params["since"] = request.since
    if request.kinds:
        params["kinds"] = ",".join(request.kinds)
    if request.actions:
        params["actions"] = ",".join(request.actions)
    watch = await service.watch(params)
    yield pb.Event(cursor=str(watch.start), ready=True)
    async for event in watch:
        if event is None:
            continue  # a heartbeat: gRPC keepalive pings do that job here
        yield pb.Event(
            cursor=event["cursor"],
            type=event["type"],
            kind=event["kind"],
            action=event["action"],
            entity_id=event["entityId"],
            time_since_epoch=int(event["timeSinceEpoch"]),
            project=event.get("project"),
            subject=event.get("subject"),
            entity_json=orjson.dumps(event["entity"]).decode(),
        )


def _webhook_message(hook: Mapping[str, Any]) -> pb.Webhook:
    last = hook.get("lastDelivery") or {}
    return pb.Webhook(
        id=hook["id"],
        url=hook["url"],
        events=hook["events"],
        description=hook.get("description"),
        create_time_since_epoch=int(hook["createTimeSinceEpoch"]),
        cursor=hook["cursor"],
        last_status=last.get("status"),
        last_time_since_epoch=int(last["timeSinceEpoch"]) if "timeSinceEpoch" in last else None,
        last_error=last.get("error"),
    )


async def _create_webhook(service: RegistryService, request: Any) -> Message:
    body: dict[str, Any] = {
        "url": request.url,
        "secret": request.secret,
        "events": list(request.events),
    }
    if request.HasField("description"):
        body["description"] = request.description
    return _webhook_message(await service.managed_webhooks().create(body))


async def _get_webhooks(service: RegistryService, request: Any) -> Message:
    page = await service.managed_webhooks().list(_page_params(request))
    return pb.WebhookList(
        items=[_webhook_message(h) for h in page["items"]],
        next_page_token=page["nextPageToken"],
        page_size=page["pageSize"],
        size=page["size"],
    )


async def _get_webhook_deliveries(service: RegistryService, request: Any) -> Message:
    page = await service.managed_webhooks().deliveries(request.webhook_id, _page_params(request))
    return pb.WebhookDeliveryList(
        items=[
            pb.WebhookDeliveryRecord(
                id=d["id"],
                webhook_id=d["webhookId"],
                cursor=d["cursor"],
                event_type=d["eventType"],
                time_since_epoch=int(d["timeSinceEpoch"]),
                attempts=d["attempts"],
                status=d["status"],
                http_status=d.get("httpStatus"),
                error=d.get("error"),
            )
            for d in page["items"]
        ],
        next_page_token=page["nextPageToken"],
        page_size=page["pageSize"],
        size=page["size"],
    )


async def _get_webhook(service: RegistryService, request: Any) -> Message:
    return _webhook_message(await service.managed_webhooks().get(request.id))


async def _delete_webhook(service: RegistryService, request: Any) -> Message:
    await service.managed_webhooks().delete(request.id)
    return pb.Deleted()


WEBHOOK_HANDLERS: Mapping[str, Handler] = {
    "CreateWebhook": _create_webhook,
    "GetWebhooks": _get_webhooks,
    "GetWebhookById": _get_webhook,
    "DeleteWebhook": _delete_webhook,
    "GetWebhookDeliveries": _get_webhook_deliveries,
}
"""The webhook RPCs (administration, the server's admin token only)."""

STREAM_HANDLERS: Mapping[str, StreamHandler] = {"WatchEvents": _watch_events}
"""The server-streaming RPCs (the others are in :data:`RPC_HANDLERS`)."""


# ---------------------------------------------------------------------------------------------
# Artifact content (ArtifactContentService): a client-streaming upload, a server-streaming
# download, over the service methods REST's content routes call.

#: Full name of the artifact content service.
CONTENT_SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["ArtifactContentService"].full_name


def _decode(raw: bytes, cls: type[Message]) -> Any:
    try:
        return cls.FromString(raw)
    except DecodeError:
        raise BadRequest(f"request is not a valid {cls.__name__}") from None


async def _upload_content(service: RegistryService, requests: AsyncIterator[bytes]) -> Message:
    first = None
    async for raw in requests:
        first = _decode(raw, pb.UploadArtifactContentRequest)
        break
    if first is None or first.WhichOneof("part") != "header":
        raise BadRequest("an upload starts with a header message naming the artifact")
    header = first.header

    async def chunks() -> AsyncIterator[bytes]:
        async for raw in requests:
            message = _decode(raw, pb.UploadArtifactContentRequest)
            if message.WhichOneof("part") == "header":
                raise BadRequest("an upload has one header message, first")
            yield message.chunk

    artifact = await service.upload_content(
        header.artifact_id,
        chunks(),
        sha256=header.sha256 if header.HasField("sha256") else None,
        size=header.size if header.HasField("size") else None,
    )
    return wire_to_message(artifact, pb.Artifact)


async def _download_content(service: RegistryService, request: Any) -> AsyncIterator[Message]:
    artifact, blob = await service.open_content(request.artifact_id)
    try:
        digest = artifact["customProperties"][SHA256_PROPERTY]["string_value"]
        yield pb.DownloadArtifactContentResponse(
            header=pb.ArtifactContentHeader(
                artifact_id=artifact["id"], sha256=digest, size=blob.size
            )
        )
        async for chunk in blob.chunks():
            yield pb.DownloadArtifactContentResponse(chunk=chunk)
    finally:
        await blob.close()


def _content_method_handlers(
    access: RequestAuth,
    limiter: RateLimiter | None = None,
    by_token: bool = False,
    calls: CallsPerAddress | None = None,
) -> dict[str, grpc.RpcMethodHandler]:
    """The streaming handlers of ArtifactContentService, with the same error mapping, rate
    limit and cap on calls per address as every other RPC."""

    def admit(context: grpc.aio.ServicerContext) -> str | None:
        if limiter is not None:
            limiter.check(_caller_key(context, by_token))
        if calls is None:
            return None
        address = _peer_address(context.peer() or "")
        calls.enter(address)
        return address

    def leave(address: str | None) -> None:
        if calls is not None and address is not None:
            calls.leave(address)

    async def upload(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> Message:
        address = None
        try:
            address = admit(context)
            return await _upload_content(await _call_view(access, context), requests)
        except ServiceError as err:
            await _abort(context, err)
        except Exception:
            log.exception("gRPC UploadArtifactContent failed")
            await _abort(context, ServiceError(500, "internal error"))
        finally:
            leave(address)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    async def download(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Message]:
        address = None
        try:
            address = admit(context)
            request = _decode(raw, pb.DownloadArtifactContentRequest)
            view = await _call_view(access, context)
            async for message in _download_content(view, request):
                yield message
        except ServiceError as err:
            await _abort(context, err)
        except Exception:
            log.exception("gRPC DownloadArtifactContent failed")
            await _abort(context, ServiceError(500, "internal error"))
        finally:
            leave(address)

    return {
        "UploadArtifactContent": grpc.stream_unary_rpc_method_handler(
            upload, response_serializer=pb.Artifact.SerializeToString
        ),
        "DownloadArtifactContent": grpc.unary_stream_rpc_method_handler(
            download, response_serializer=pb.DownloadArtifactContentResponse.SerializeToString
        ),
    }


# ---------------------------------------------------------------------------------------------
# The one call path: auth and error mapping.


def _authorization(metadata: Any) -> str | bytes | None:
    """The ``authorization`` metadata value of a call, or None."""
    return _metadata(metadata, "authorization")


def _metadata(metadata: Any, name: str) -> str | bytes | None:
    """The value of the metadata key ``name`` of a call, or None."""
    for key, value in metadata or ():
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


async def _call_view(access: RequestAuth, context: grpc.aio.ServicerContext) -> RegistryService:
    """The service view of a call: its principal (bearer token), in the project its metadata
    names (raises Unauthorized or NotFound as the unary RPCs do)."""
    metadata = context.invocation_metadata()
    principal = await access.principal(bearer_token(_authorization(metadata)))
    return await access.service.acting_as(principal, _project(metadata))


def _project(metadata: Any) -> str | None:
    value = _metadata(metadata, PROJECT_METADATA)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


class _BearerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """The token check of the services beside the registry (reflection): with auth on, only
    token holders learn the API's shape. Health stays open; the registry's own RPCs are
    checked by :func:`_dispatch`, which also selects the project.
    """

    def __init__(self, access: RequestAuth) -> None:
        self._access = access

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if (
            handler is None
            or details.method.startswith(_HEALTH_PREFIX)
            or details.method.startswith(_REGISTRY_PREFIXES)
        ):
            return handler
        token = bearer_token(_authorization(details.invocation_metadata))
        try:
            await self._access.principal(token)
        except ServiceError:
            return _refusal(handler)
        return handler


_HEALTH_PREFIX = f"/{health.SERVICE_NAME}/"
# The method label of a health check in the metrics and the access log (the registry's calls
# are labelled by their bare RPC name, the same under both service versions).
_HEALTH_CHECK = f"{health.SERVICE_NAME}/Check"
_REGISTRY_PREFIXES = tuple(f"/{name}/" for name in (*SERVICE_NAMES.values(), CONTENT_SERVICE_NAME))


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same shape as ``handler`` that ends the call UNAUTHENTICATED."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        await _abort(context, Unauthorized("missing or invalid bearer token"))

    kind = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return kind(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _peer_address(peer: str) -> str:
    """The client address of a gRPC peer (``ipv4:127.0.0.1:5000`` -> ``127.0.0.1``), the
    rate limit's caller key with auth off, as REST's client address is."""
    address = peer.partition(":")[2] or peer
    address = address.rpartition(":")[0] or address
    return address.strip("[]")


def _caller_key(context: grpc.aio.ServicerContext, by_token: bool) -> str:
    if by_token:
        value = _authorization(context.invocation_metadata())
        text = value.decode("latin-1") if isinstance(value, bytes) else value or ""
        return text.partition(" ")[2].strip()
    return _peer_address(context.peer() or "")


class CallsPerAddress:
    """Counts the registry calls being handled per client address and refuses those over a cap.

    grpcio gives Python no hook on its connections (no accept, no close; an interceptor sees
    a call's method and metadata, not even its peer), so a cap on *connections* per address,
    as REST has, cannot be enforced here. What can be, honestly, is the cap on what one address
    holds of the server: calls in its handlers (a coroutine each, and a database connection or
    reader thread while they query). Over the cap a call is refused at once with
    ``UNAVAILABLE`` and ``retry-after``, as REST refuses a connection over its cap with a 503.
    A stream whose request message is still arriving is grpcio's, bounded per connection by
    ``grpc.max_concurrent_streams`` and in time by the caller's deadline, never by this cap.
    A content stream (upload, download) is counted for its life, as it holds a file or
    object and a database connection all along. Event watches are counted by an instance of
    their own (``serve --grpc-max-watches-per-address``): a watch is meant to stay open for
    hours, so, counted among the calls, a few watchers would starve their address's calls.

    Args:
        limit: Most calls at once from one address.
        what: What is counted, as the refusal names it.
    """

    __slots__ = ("_by_address", "limit", "what")

    def __init__(self, limit: int, what: str = "calls in flight") -> None:
        self.limit = limit
        self.what = what
        self._by_address: dict[str, int] = {}

    def enter(self, address: str) -> None:
        """Count a call in.

        Raises:
            Unavailable: ``address`` has :attr:`limit` calls in the server's hands already.
        """
        count = self._by_address.get(address, 0)
        if count >= self.limit:
            raise Unavailable(f"too many {self.what} from this address (at most {self.limit})")
        self._by_address[address] = count + 1

    def leave(self, address: str) -> None:
        """Count a finished call out."""
        left = self._by_address.get(address, 1) - 1
        if left > 0:
            self._by_address[address] = left
        else:
            self._by_address.pop(address, None)

    def in_flight(self, address: str) -> int:
        """How many calls of ``address`` are being handled now."""
        return self._by_address.get(address, 0)


def _dispatch(
    name: str,
    handler: Handler,
    access: RequestAuth,
    request_cls: type[Message],
    limiter: RateLimiter | None = None,
    by_token: bool = False,
    calls: CallsPerAddress | None = None,
    observer: CallObserver | None = None,
) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[Message | bytes]]:
    async def behavior(raw: bytes, context: grpc.aio.ServicerContext) -> Message | bytes:
        started = observer.start() if observer is not None else 0.0
        code = "CANCELLED"  # unless the call ends otherwise: its client went away
        address = _peer_address(context.peer() or "") if calls is not None else ""
        try:
            if calls is not None:
                try:
                    calls.enter(address)
                except ServiceError as err:
                    code = err.grpc_code
                    await _abort(context, err)
            try:
                result = await run(raw, context)
            finally:
                if calls is not None:
                    calls.leave(address)
            if isinstance(result, ServiceError):
                code = result.grpc_code
                await _abort(context, result)
            code = "OK"
            return result  # type: ignore[return-value]  # not an error, so the answer
        finally:
            if observer is not None:
                observer.done(name, code, started, address or None)

    async def run(raw: bytes, context: grpc.aio.ServicerContext) -> Message | bytes | ServiceError:
        """The answer, or the error to end the call with."""
        try:
            if limiter is not None:
                limiter.check(_caller_key(context, by_token))
            # Decoded here, not by gRPC: an undecodable message (e.g. invalid UTF-8 in a
            # string) is then INVALID_ARGUMENT with the error mark, not UNKNOWN.
            metadata = context.invocation_metadata()
            principal = await access.principal(bearer_token(_authorization(metadata)))
            try:
                request = request_cls.FromString(raw)
            except DecodeError:
                raise BadRequest(f"request is not a valid {request_cls.__name__}") from None
            if name in PROJECT_FREE_RPCS:
                view = access.service.as_principal(principal)
            else:
                view = await access.service.acting_as(principal, _project(metadata))
            return await handler(view, request)
        except ServiceError as err:
            return err
        except ValueError as err:
            # A request value with no wire form (the converter names it): a client mistake.
            return BadRequest(str(err))
        except Exception:
            log.exception("gRPC %s failed", name)
            return ServiceError(500, "internal error")

    return behavior


def _dispatch_stream(
    name: str,
    handler: StreamHandler,
    access: RequestAuth,
    request_cls: type[Message],
    limiter: RateLimiter | None = None,
    by_token: bool = False,
    watches: CallsPerAddress | None = None,
) -> Callable[[bytes, grpc.aio.ServicerContext], AsyncIterator[Message]]:
    """A server-streaming RPC on the same error mapping as :func:`_dispatch`. A stream is
    long-lived, so it holds a slot of ``watches`` (not of the calls) for its life; it takes
    one token of the rate limit when it starts."""

    async def behavior(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Message]:
        address: str | None = None
        try:
            if watches is not None:
                peer = _peer_address(context.peer() or "")
                watches.enter(peer)
                address = peer
            if limiter is not None:
                limiter.check(_caller_key(context, by_token))
            try:
                request = request_cls.FromString(raw)
            except DecodeError:
                raise BadRequest(f"request is not a valid {request_cls.__name__}") from None
            view = await _call_view(access, context)
            async for message in handler(view, request):
                yield message
        except ServiceError as err:
            await _abort(context, err)
        except ValueError as err:
            await _abort(context, BadRequest(str(err)))
        except Exception:
            log.exception("gRPC %s failed", name)
            await _abort(context, ServiceError(500, "internal error"))
        finally:
            if watches is not None and address is not None:
                watches.leave(address)

    return behavior


async def _abort(context: grpc.aio.ServicerContext, err: ServiceError) -> None:
    """End the call with the error's gRPC code (the one error mapping of this front door)."""
    code = getattr(grpc.StatusCode, err.grpc_code, grpc.StatusCode.UNKNOWN)
    trailing: tuple[tuple[str, str], ...] = (
        (ERROR_MARK, err.code),
        (ERROR_HTTP_STATUS, str(err.http_status)),
    )
    retry_after = err.retry_after_header()
    if retry_after is not None:
        trailing += ((RETRY_AFTER, retry_after),)
    await context.abort(code, err.message, trailing_metadata=trailing)


def _registry_method_handlers(
    access: RequestAuth,
    limiter: RateLimiter | None = None,
    by_token: bool = False,
    calls: CallsPerAddress | None = None,
    observer: CallObserver | None = None,
    watches: CallsPerAddress | None = None,
) -> dict[str, grpc.RpcMethodHandler]:
    """The handler of every RPC of the registry service, by method name."""
    methods = pb.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for name, method in methods.items():
        request_cls = getattr(pb, method.input_type.name)
        response_cls = getattr(pb, method.output_type.name)
        if method.server_streaming:
            handlers[name] = grpc.unary_stream_rpc_method_handler(
                _dispatch_stream(
                    name, STREAM_HANDLERS[name], access, request_cls, limiter, by_token, watches
                ),
                response_serializer=response_cls.SerializeToString,
            )
            continue
        handlers[name] = grpc.unary_unary_rpc_method_handler(
            _dispatch(
                name,
                RPC_HANDLERS.get(name) or WEBHOOK_HANDLERS[name],
                access,
                request_cls,
                limiter,
                by_token,
                calls,
                observer,
            ),
            response_serializer=_serializer(response_cls),
        )
    return handlers


class _ReadinessHealth(health.aio.HealthServicer):  # type: ignore[misc]
    """The standard health service; the registry (and the server as a whole, service "")
    is SERVING while its database answers, like REST's ``/readyz``."""

    def __init__(
        self, service: RegistryService, served: Collection[str], observer: CallObserver | None
    ) -> None:
        super().__init__()
        self._service = service
        self._ready_names = {"", *served}
        self._observer = observer

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        observer = self._observer
        started = observer.start() if observer is not None else 0.0
        code = "CANCELLED"  # unless the call ends otherwise: its client went away
        try:
            if request.service in self._ready_names:
                ready = await self._service.ready()
                response = health_pb2.HealthCheckResponse
                status = response.SERVING if ready else response.NOT_SERVING
                answer = health_pb2.HealthCheckResponse(status=status)
            else:
                answer = await super().Check(request, context)
            code = "OK"
            return answer
        except grpc.aio.AbortError:  # an unknown service: NOT_FOUND
            status_code = context.code()
            code = status_code.name if status_code is not None else "UNKNOWN"
            raise
        finally:
            if observer is not None:
                observer.done(_HEALTH_CHECK, code, started, context.peer())


def _check_free(host: str, port: int, address: str) -> None:
    """Raise a one-line OSError naming ``address`` when something listens there already.

    gRPC's core would log its own multi-line error first, and with SO_REUSEPORT (its default,
    turned off below) a second server could even share a busy port unnoticed.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As a listener does: a closed connection's TIME_WAIT is no obstacle.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot listen for gRPC on {address}: {exc.strerror or exc}"
            ) from None


async def start_grpc_server(
    service: RegistryService,
    host: str,
    port: int,
    *,
    tls: tuple[bytes, bytes] | None = None,
    auth_tokens: Collection[str] | None = None,
    auth: TokenAuthenticator | None = None,
    max_message_bytes: int | None = None,
    limits: ConnectionLimits | None = None,
    rate_limiter: RateLimiter | None = None,
    api_versions: Collection[str] = tuple(SERVICE_NAMES),
    observer: CallObserver | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Start the gRPC server (registry, health and reflection services).

    Args:
        service: The service layer REST uses too.
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one.
        tls: ``(certificate_chain_pem, private_key_pem)`` to serve TLS, or None for plaintext.
        auth_tokens: When given, every RPC but health needs ``authorization: Bearer <token>``
            metadata with one of these (health stays open, as ``/healthz`` does).
        auth: An authenticator to use instead of ``auth_tokens`` (shared with REST, e.g. one
            re-reading a token file).
        max_message_bytes: The largest request message accepted (gRPC's default: 4 MiB).
        limits: Handshake deadline, idle timeout, keepalive, connection age, the cap on
            concurrent calls per connection and per client address, and on event watches per
            client address (:class:`CallsPerAddress`; defaults when None).
        rate_limiter: Limit each caller's call rate (by token with auth on, else by client
            address; health is never limited); None: no limit.
        api_versions: The API versions whose registry service is served (``"v1"``:
            :data:`V1_SERVICE_NAME`, ``"v1alpha3"``: :data:`SERVICE_NAME`), as for REST.
        observer: Counts, times and logs every registry call (metrics, access log).

    Returns:
        The started server (stop it with ``await server.stop(grace)``) and the bound port.

    Raises:
        OSError: The address could not be bound.
    """
    if auth is None and auth_tokens:
        auth = TokenAuthenticator(auth_tokens)
    if auth is not None:
        service.auth_on = True
    access = RequestAuth(service, auth)
    interceptors = [_BearerInterceptor(access)] if auth is not None else []
    limits = limits or ConnectionLimits()
    options: list[tuple[str, Any]] = [("grpc.so_reuseport", 0), *limits.grpc_options()]
    if max_message_bytes is not None:
        options.append(("grpc.max_receive_message_length", max_message_bytes))
    options.append(("grpc.max_send_message_length", MAX_RESPONSE_BYTES))
    server = grpc.aio.server(interceptors=interceptors, options=options)
    # Registered methods: gRPC's core matches the method path itself, with no generic handler
    # lookup in Python on each call (the generated health service registers the same way).
    calls = CallsPerAddress(limits.grpc_max_calls_per_address)
    watches = CallsPerAddress(limits.grpc_max_watches_per_address, "event watches open")
    handlers = _registry_method_handlers(
        access, rate_limiter, auth is not None, calls, observer, watches
    )
    served = [SERVICE_NAMES[version] for version in SERVICE_NAMES if version in api_versions]
    for name in served:
        # One handler per RPC, registered under each served name: the stable service is the
        # same calls (the v1alpha3 ones but experiments') under its own name.
        methods = (
            handlers
            if name == SERVICE_NAME
            else {method: handler for method, handler in handlers.items() if method in _V1_METHODS}
        )
        server.add_registered_method_handlers(name, methods)
    # Our extension, whatever the API versions: content is not part of either reference API.
    server.add_registered_method_handlers(
        CONTENT_SERVICE_NAME,
        _content_method_handlers(access, rate_limiter, auth is not None, calls),
    )

    health_servicer = _ReadinessHealth(service, served, observer)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*served, CONTENT_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )

    address = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    _check_free(host, port, address)
    try:
        if tls is not None:
            cert_chain, private_key = tls
            credentials = grpc.ssl_server_credentials(((private_key, cert_chain),))
            bound = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise OSError(f"cannot listen for gRPC on {address}: {exc}") from None
    if not bound:
        raise OSError(f"cannot listen for gRPC on {address}")
    await server.start()
    for name in ("", *served):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound
