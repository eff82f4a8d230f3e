"""Which REST API version the client speaks: chosen, or asked of the server once (``auto``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from model_registry.client import ModelRegistry
from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import NotFound
from model_registry.server import run_server
from model_registry.types import Metric, ModelVersion, RegisteredModel


@pytest.mark.parametrize("served", [["v1"], ["v1alpha3"], ["v1", "v1alpha3"]])
async def test_auto_works_against_a_server_serving_either_or_both(
    database_url: str, served: list[str]
) -> None:
    async with (
        run_server(database_url, api_versions=served) as server,
        ModelRegistryAPIClient.insecure_connection("127.0.0.1", server.port) as client,
    ):
        model = await client.upsert_registered_model(RegisteredModel("auto"))
        assert model.id is not None
        version = await client.upsert_model_version(ModelVersion("v1"), model.id)
        assert version.id is not None
        metric = await client.upsert_model_version_artifact(
            Metric("f1", value=0.5, step=12), version.id
        )
        assert await client.get_registered_model_by_id("424242") is None
        assert await client.get_registered_model_by_params(name="auto") == model
        negotiated = client.transport.api_versions_served  # type: ignore[attr-defined]

    assert isinstance(metric, Metric) and metric.step == 12
    # Asked once; a server without v1 is taken to serve v1alpha3 without a second question.
    assert negotiated == ({"v1": True} if "v1" in served else {"v1": False, "v1alpha3": True})


@pytest.mark.parametrize("api_version", ["v1", "v1alpha3"])
async def test_a_chosen_version_against_a_server_without_it_fails_with_not_found(
    database_url: str, api_version: str
) -> None:
    other = "v1alpha3" if api_version == "v1" else "v1"
    async with (
        run_server(database_url, api_versions=[other]) as server,
        ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            server.port,
            api_version=api_version,  # type: ignore[arg-type]
        ) as client,
    ):
        assert await client.get_registered_model_by_id("1") is None  # a 404 is a 404
        with pytest.raises(NotFound):
            await client.get_registered_models()


class _CountingServer:
    """A fake registry answering like a v1alpha3-only server, counting what it is asked."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if request.path.startswith("/api/model_registry/v1/"):
            return web.json_response({"code": "Not Found", "message": "not found"}, status=404)
        if request.path.endswith("/registered_models"):
            page = {"items": [], "nextPageToken": "", "pageSize": 0, "size": 0}
            return web.json_response(page)
        # An entity of the API the server does serve that does not exist.
        message = "registered model with id 5 not found"
        return web.json_response({"code": "Not Found", "message": message}, status=404)


@pytest.fixture
async def counting() -> AsyncIterator[tuple[_CountingServer, int]]:
    fake = _CountingServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield fake, runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_auto_probes_once_with_the_reference_request_and_remembers(
    counting: tuple[_CountingServer, int],
) -> None:
    fake, port = counting
    async with ModelRegistryAPIClient.insecure_connection("127.0.0.1", port) as client:
        await client.get_registered_models()
        await client.get_registered_models()
        assert await client.get_registered_model_by_id("5") is None

    probe = "/api/model_registry/v1/registered_models"
    alpha = "/api/model_registry/v1alpha3"
    assert fake.paths == [
        probe,
        f"{alpha}/registered_models",
        f"{alpha}/registered_models",
        f"{alpha}/registered_models/5",
    ]


def test_api_version_must_be_one_of_the_three() -> None:
    with pytest.raises(ValueError, match="api_version"):
        ModelRegistryAPIClient.insecure_connection("h", 1, api_version="v2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_version"):
        ModelRegistryAPIClient.insecure_connection("h", 1, transport="grpc", api_version="v2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_version"):
        ModelRegistry("http://h", 1, author="a", is_secure=False, api_version="v9")  # type: ignore[arg-type]


async def test_the_facade_speaks_the_api_version_it_is_given(database_url: str) -> None:
    def register(port: int) -> RegisteredModel:
        registry = ModelRegistry(
            "http://127.0.0.1", port, author="me", is_secure=False, api_version="v1"
        )
        try:
            registry.register_model(
                "facade",
                "s3://b/m",
                model_format_name="onnx",
                model_format_version="1",
                version="1",
            )
            found = registry.get_registered_model("facade")
            assert found is not None
            return found
        finally:
            registry.close()

    # The facade blocks its caller: it runs on a thread so this loop keeps serving.
    async with run_server(database_url, api_versions=["v1"]) as server:
        model = await asyncio.to_thread(register, server.port)

    assert model.name == "facade"
