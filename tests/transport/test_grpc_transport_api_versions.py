"""The gRPC transport's ``api_version``: ``auto`` speaks the stable service and falls back to
v1alpha3 on a server that predates it, experiments always go to v1alpha3, and a service the
server does not have is an ``Unsupported`` that says so, on real servers."""

from __future__ import annotations

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unsupported
from model_registry.server import RunningServer, run_server
from model_registry.server.grpc import SERVICE_NAME, V1_SERVICE_NAME
from model_registry.types import Experiment, RegisteredModel


def _client(srv: RunningServer, api_version: str) -> ModelRegistryAPIClient:
    assert srv.grpc_port is not None
    return ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        srv.grpc_port,
        transport="grpc",
        api_version=api_version,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("versions", [("v1", "v1alpha3"), ("v1alpha3",), ("v1",)])
async def test_auto_registers_models_on_any_server_and_experiments_where_they_exist(
    database_url: str, versions: tuple[str, ...]
) -> None:
    async with (
        run_server(database_url, grpc_port=0, api_versions=versions) as srv,
        _client(srv, "auto") as client,
    ):
        for i in range(3):  # the first call finds out which service answers; the others use it
            created = await client.upsert_registered_model(RegisteredModel(name=f"m{i}"))
            assert (await client.get_registered_model_by_id(created.id)).name == f"m{i}"
        if "v1alpha3" in versions:
            assert (await client.upsert_experiment(Experiment(name="e"))).name == "e"
        else:
            with pytest.raises(Unsupported, match=r"only the gRPC API v1.*no experiments"):
                await client.upsert_experiment(Experiment(name="e"))


async def test_auto_remembers_a_server_without_the_stable_service(database_url: str) -> None:
    async with (
        run_server(database_url, grpc_port=0, api_versions=("v1alpha3",)) as srv,
        _client(srv, "auto") as client,
    ):
        transport = client.transport
        await client.get_registered_models()
        assert transport._v1_served is False
        await client.upsert_registered_model(RegisteredModel(name="after"))
        assert transport._v1_served is False


async def test_auto_keeps_the_stable_service_after_an_error_of_its_own(
    database_url: str,
) -> None:
    async with (
        run_server(database_url, grpc_port=0) as srv,
        _client(srv, "auto") as client,
    ):
        assert await client.get_registered_model_by_id("404") is None  # NOT_FOUND from v1
        assert client.transport._v1_served is True


async def test_v1_chosen_refuses_experiments_without_a_call_and_a_server_without_v1(
    database_url: str,
) -> None:
    async with run_server(database_url, grpc_port=0, api_versions=("v1alpha3",)) as srv:
        async with _client(srv, "v1") as client:
            with pytest.raises(
                Unsupported, match="gRPC API v1 has no call to create an experiment"
            ):
                await client.upsert_experiment(Experiment(name="e"))
            with pytest.raises(Unsupported, match=r"no gRPC service model_registry\.v1 "):
                await client.upsert_registered_model(RegisteredModel(name="m"))
        async with _client(srv, "v1alpha3") as client:
            assert (await client.upsert_registered_model(RegisteredModel(name="m"))).name == "m"


async def test_v1alpha3_chosen_on_a_v1_only_server_is_unsupported(database_url: str) -> None:
    async with (
        run_server(database_url, grpc_port=0, api_versions=("v1",)) as srv,
        _client(srv, "v1alpha3") as client,
    ):
        with pytest.raises(Unsupported, match="does not serve the gRPC API v1alpha3"):
            await client.upsert_registered_model(RegisteredModel(name="m"))


def test_the_service_names_are_the_proto_packages() -> None:
    assert V1_SERVICE_NAME == "model_registry.v1.ModelRegistryService"
    assert SERVICE_NAME == "model_registry.v1alpha3.ModelRegistryService"
