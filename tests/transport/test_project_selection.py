"""The project a call works in travels with every call: REST header, gRPC metadata.

Small real servers on free ports record what arrives; the registry server's scoping by that
project is tested in ``tests/client/test_client_projects.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from aiohttp import web

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry.core import ModelRegistryAPIClient
from model_registry.server.grpc import SERVICE_NAME
from model_registry.transport.policy import (
    PROJECT_HEADER,
    PROJECT_METADATA,
    call_options,
    check_project,
)
from model_registry.types import RegisteredModel

REST_PAGE = {"items": [], "size": 0, "pageSize": 1, "nextPageToken": ""}


@pytest.fixture
async def rest_recorder() -> AsyncIterator[tuple[int, list[tuple[str, str | None]]]]:
    """A REST server answering every GET with an empty page and every POST with the body it
    got; it records (path, project header) of each request."""
    seen: list[tuple[str, str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get(PROJECT_HEADER)))
        if request.method == "POST":
            body = await request.json()
            return web.json_response({**body, "id": "7"}, status=201)
        return web.json_response(REST_PAGE)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1], seen
    finally:
        await runner.cleanup()


@pytest.fixture
async def grpc_recorder() -> AsyncIterator[tuple[int, list[tuple[str, str | None]]]]:
    """A gRPC server answering GetRegisteredModels (empty) and UpsertRegisteredModel; it
    records (RPC, project metadata) of each call."""
    seen: list[tuple[str, str | None]] = []

    def project_of(context: grpc.aio.ServicerContext) -> str | None:
        found = [str(v) for k, v in context.invocation_metadata() or () if k == PROJECT_METADATA]
        assert len(found) <= 1
        return found[0] if found else None

    async def get_models(request: Any, context: grpc.aio.ServicerContext) -> Any:
        seen.append(("GetRegisteredModels", project_of(context)))
        return pb.RegisteredModelList()

    async def upsert(request: Any, context: grpc.aio.ServicerContext) -> Any:
        seen.append(("UpsertRegisteredModel", project_of(context)))
        stored = pb.RegisteredModel()
        stored.CopyFrom(request.registered_model)
        stored.id = "7"
        return stored

    methods = {"GetRegisteredModels": get_models, "UpsertRegisteredModel": upsert}
    rpcs = pb.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=getattr(pb, rpcs[name].input_type.name).FromString,
            response_serializer=getattr(pb, rpcs[name].output_type.name).SerializeToString,
        )
        for name, behavior in methods.items()
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port, seen
    finally:
        await server.stop(None)


async def test_rest_sends_the_clients_project_on_every_call_but_the_version_probe(
    rest_recorder: tuple[int, list[tuple[str, str | None]]],
) -> None:
    port, seen = rest_recorder
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port, project="fraud"
    ) as client:
        assert client.project == "fraud"
        await client.get_registered_models()
        await client.upsert_registered_model(RegisteredModel("scorer"))
    probe, listed, created = seen
    # The probe asks whether v1 exists: a 404 for an unknown project must not answer it.
    assert probe == ("/api/model_registry/v1/registered_models", None)
    assert listed == ("/api/model_registry/v1/registered_models", "fraud")
    assert created == ("/api/model_registry/v1/registered_models", "fraud")


@pytest.mark.parametrize("api_version", ["v1", "v1alpha3"])
async def test_rest_sends_the_project_over_each_api_version(
    rest_recorder: tuple[int, list[tuple[str, str | None]]], api_version: str
) -> None:
    port, seen = rest_recorder
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        port,
        project="3f2b8c1e-0000-4000-8000-000000000001",
        api_version=api_version,  # type: ignore[arg-type]
    ) as client:
        await client.get_registered_models()
    assert seen == [
        (
            f"/api/model_registry/{api_version}/registered_models",
            "3f2b8c1e-0000-4000-8000-000000000001",
        )
    ]


async def test_rest_sends_no_project_when_none_is_chosen(
    rest_recorder: tuple[int, list[tuple[str, str | None]]],
) -> None:
    port, seen = rest_recorder
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port, api_version="v1"
    ) as client:
        assert client.project is None
        await client.get_registered_models()
    assert seen == [("/api/model_registry/v1/registered_models", None)]


async def test_call_options_choose_the_project_of_the_calls_in_their_block_only(
    rest_recorder: tuple[int, list[tuple[str, str | None]]],
) -> None:
    port, seen = rest_recorder
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port, api_version="v1", project="fraud"
    ) as client:

        async def in_other() -> None:
            with client.call_options(project="churn"):
                await asyncio.sleep(0)  # let the concurrent call run inside this block
                await client.get_registered_models()

        await asyncio.gather(in_other(), client.get_registered_models())
        # An inner block that sets no project keeps the outer one.
        with call_options(project="default"), call_options(timeout=5):
            await client.get_registered_models()
        await client.get_registered_models()
    assert sorted(project or "" for _, project in seen[:2]) == ["churn", "fraud"]
    assert [project for _, project in seen[2:]] == ["default", "fraud"]


async def test_grpc_sends_the_project_as_metadata_with_every_call(
    grpc_recorder: tuple[int, list[tuple[str, str | None]]],
) -> None:
    port, seen = grpc_recorder
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port, transport="grpc", project="fraud"
    ) as client:
        await client.get_registered_models()
        await client.upsert_registered_model(RegisteredModel("scorer"))
        with client.call_options(project="churn"):
            await client.get_registered_models()
    assert seen == [
        ("GetRegisteredModels", "fraud"),
        ("UpsertRegisteredModel", "fraud"),
        ("GetRegisteredModels", "churn"),
    ]


async def test_grpc_sends_no_project_metadata_when_none_is_chosen(
    grpc_recorder: tuple[int, list[tuple[str, str | None]]],
) -> None:
    port, seen = grpc_recorder
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port, transport="grpc"
    ) as client:
        await client.get_registered_models()
    assert seen == [("GetRegisteredModels", None)]


@pytest.mark.parametrize(
    ("project", "why"),
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        (" fraud", "spaces around it"),
        ("fraud\r\nX-Admin: 1", "printable ASCII"),
        ("détection", "printable ASCII"),
        (7, "a string"),
    ],
)
def test_a_project_that_cannot_travel_in_a_header_is_refused_up_front(
    project: Any, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        check_project(project)
    with pytest.raises(ValueError, match=why):
        ModelRegistryAPIClient.insecure_connection("127.0.0.1", 1, project=project)
    with pytest.raises(ValueError, match=why), call_options(project=project):
        pass
