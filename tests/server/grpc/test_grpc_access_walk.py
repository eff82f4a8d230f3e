"""A walk over EVERY RPC of every gRPC service the server serves, with no token and with
tokens of another project: the gRPC twin of the REST walk in tests/server/test_tokens.py.

The services are the ones the server itself lists through reflection, and their RPCs come from
the service descriptors, so a new RPC or a new service is walked without editing this file.
Only the services that are open or hold no project data are named here, explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2
from test_projects import V1, Rest, build_graph

# Imported for their descriptors: the registry's services land in the default pool.
from model_registry._generated.grpc.model_registry.v1 import model_registry_pb2 as _pb_v1
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as _pb
from model_registry.server import RunningServer, run_server
from model_registry.server.grpc import PROJECT_FREE_RPCS

assert _pb and _pb_v1 and health_pb2

ADMIN = "admin-secret"
MARK = "Zq9"  # in the name of every entity of project a: must never reach the foreign caller

#: Open to anyone, as /healthz and /readyz are over REST (docs/security.md).
PUBLIC_SERVICES = {health.SERVICE_NAME}
#: Needs a token (any valid one), and tells the API's shape, no project's data.
SHAPE_ONLY_SERVICES = {reflection.SERVICE_NAME}

#: Codes a foreign caller may get: nothing there, not allowed, or a malformed request.
HIDDEN = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED}


def _is_id(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_STRING and (
        field.name == "id" or field.name.endswith("_id")
    )


def _has_id(descriptor: Any, depth: int = 0) -> bool:
    for field in descriptor.fields:
        if field.is_repeated:
            continue
        if _is_id(field):
            return True
        if field.message_type is not None and depth < 2 and _has_id(field.message_type, depth + 1):
            return True
    return False


def _fill(message: Message, ident: str, depth: int = 0) -> None:
    """Put ``ident`` in every id field of ``message`` and of its messages (an update, a link,
    a lookup: each points at the entity ``ident`` names)."""
    for field in message.DESCRIPTOR.fields:
        if field.is_repeated:
            continue
        if _is_id(field):
            setattr(message, field.name, ident)
        elif field.message_type is not None and depth < 2 and _has_id(field.message_type):
            _fill(getattr(message, field.name), ident, depth + 1)


def _request(method: MethodDescriptor, ident: str | None) -> Message:
    request: Message = message_factory.GetMessageClass(method.input_type)()
    if ident is not None:
        _fill(request, ident)
    fields = method.input_type.fields_by_name
    if "since" in fields:
        request.since = "0"  # type: ignore[attr-defined]  # a stream: replay the backlog
    if "alias" in fields:
        request.alias = "champion"  # type: ignore[attr-defined]  # valid: the id decides
    return request


def _metadata(token: str | None, project: str | None = None) -> tuple[tuple[str, str], ...]:
    out = [("authorization", f"Bearer {token}")] if token is not None else []
    if project is not None:
        out.append(("x-model-registry-project", project))
    return tuple(out)


async def _invoke(
    channel: grpc.aio.Channel,
    service: ServiceDescriptor,
    method: MethodDescriptor,
    request: Message,
    metadata: tuple[tuple[str, str], ...],
) -> tuple[grpc.StatusCode, str]:
    """Call one RPC of any shape; its status and the text of what it answered (a stream's
    first half second)."""
    path = f"/{service.full_name}/{method.name}"
    output = message_factory.GetMessageClass(method.output_type)
    kwargs: dict[str, Any] = {
        "request_serializer": type(request).SerializeToString,
        "response_deserializer": output.FromString,
    }
    answers: list[Message] = []
    try:
        if not method.server_streaming:
            if method.client_streaming:
                call: Any = channel.stream_unary(path, **kwargs)(iter([request]), metadata=metadata)
            else:
                call = channel.unary_unary(path, **kwargs)(request, metadata=metadata)
            answers.append(await asyncio.wait_for(call, 10))
        else:
            if method.client_streaming:
                stream = channel.stream_stream(path, **kwargs)(iter([request]), metadata=metadata)
            else:
                stream = channel.unary_stream(path, **kwargs)(request, metadata=metadata)

            async def drain() -> None:
                async for answer in stream:
                    answers.append(answer)

            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(drain(), 0.5)
            stream.cancel()
    except grpc.aio.AioRpcError as err:
        return err.code(), f"{err.details()} {err.trailing_metadata()}"
    return grpc.StatusCode.OK, " ".join(str(a) for a in answers)


async def _served_services(channel: grpc.aio.Channel) -> list[ServiceDescriptor]:
    """The services the server lists (reflection, with the admin token)."""
    stub_call = channel.stream_stream(
        f"/{reflection.SERVICE_NAME}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names = [
        service.name
        async for answer in stub_call(iter([request]), metadata=_metadata(ADMIN), timeout=10)
        for service in answer.list_services_response.service
    ]
    pool = descriptor_pool.Default()
    return [pool.FindServiceByName(name) for name in names]


def _rpcs(
    services: list[ServiceDescriptor],
) -> Iterator[tuple[ServiceDescriptor, MethodDescriptor]]:
    for service in services:
        for method in service.methods:
            yield service, method


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    async with run_server(database_url, grpc_port=0, auth_tokens=[ADMIN]) as srv:
        yield srv


async def test_every_rpc_refuses_no_token_and_hides_other_projects(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        rest = Rest(session, server.url)
        for name in ("a", "b"):
            await rest.ok("POST", f"{V1}/projects", {"name": name}, token=ADMIN)
        a = await build_graph(rest, "a", MARK, ADMIN)
        a_project = (await rest.ok("GET", f"{V1}/project?name=a", token=ADMIN))["id"]
        victim = await rest.ok(
            "POST", f"{V1}/tokens", {"subject": "victim", "roles": {"a": "editor"}}, token=ADMIN
        )

        async def issued(subject: str, role: str) -> str:
            body = {"subject": subject, "roles": {"b": role}}
            return str((await rest.ok("POST", f"{V1}/tokens", body, token=ADMIN))["token"])

        # A reader of b (its writes are refused before anything is looked up) and an editor
        # of b (its writes run: each must find nothing of a's).
        foreigners = {"reader": await issued("mallory", "reader")}
        foreigners["editor"] = await issued("trudy", "editor")
        ids = sorted({*a.values(), a_project, str(victim["id"])})

        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            services = await _served_services(channel)
            names = {service.full_name for service in services}
            # Both registry services, artifact content, health and reflection at least.
            assert {
                "model_registry.v1.ModelRegistryService",
                "model_registry.v1alpha3.ModelRegistryService",
                "model_registry.v1alpha3.ArtifactContentService",
            } | PUBLIC_SERVICES | SHAPE_ONLY_SERVICES <= names
            walked = 0
            for service, method in _rpcs(services):
                if service.full_name in PUBLIC_SERVICES:
                    # Open: never refused for want of a token (grpcio's servicer leaves the
                    # newer Health.List UNIMPLEMENTED).
                    code, _ = await _invoke(channel, service, method, _request(method, None), ())
                    assert code != grpc.StatusCode.UNAUTHENTICATED, method.full_name
                    continue
                code, text = await _invoke(channel, service, method, _request(method, ids[0]), ())
                assert code == grpc.StatusCode.UNAUTHENTICATED, (method.full_name, code, text)
                if service.full_name in SHAPE_ONLY_SERVICES:
                    for token in foreigners.values():
                        request = reflection_pb2.ServerReflectionRequest(list_services="")
                        code, _ = await _invoke(channel, service, method, request, _metadata(token))
                        assert code == grpc.StatusCode.OK, (method.full_name, code)
                    continue
                with_ids = _has_id(method.input_type)
                for role, token in foreigners.items():
                    for ident in ids if with_ids else [None]:
                        request = _request(method, ident)
                        code, text = await _invoke(
                            channel, service, method, request, _metadata(token)
                        )
                        where = (method.full_name, role, ident, code, text)
                        assert MARK not in text and "victim" not in text, where
                        if ident != a_project:  # an error message may quote the id it got
                            assert a_project not in text, where
                        assert code != grpc.StatusCode.UNKNOWN, where
                        assert code != grpc.StatusCode.INTERNAL, where
                        if with_ids:
                            # As if a's entity did not exist, or refused whatever the id.
                            assert code in HIDDEN | {grpc.StatusCode.INVALID_ARGUMENT}, where
                        walked += 1
                    # The header naming a: as if the project did not exist.
                    request = _request(method, ids[0] if with_ids else None)
                    code, text = await _invoke(
                        channel, service, method, request, _metadata(token, "a")
                    )
                    where = (method.full_name, role, "project a", code, text)
                    assert MARK not in text, where
                    if method.name not in PROJECT_FREE_RPCS:
                        assert code == grpc.StatusCode.NOT_FOUND, where
            assert walked > 500
        # Nothing of a's changed: its model, its token.
        model = await rest.ok(
            "GET", f"{V1}/registered_models/{a['registered_model']}", project="a", token=ADMIN
        )
        assert model["name"] == f"{MARK}-m" and "description" not in model
        await rest.ok("GET", f"{V1}/registered_models", token=victim["token"])
