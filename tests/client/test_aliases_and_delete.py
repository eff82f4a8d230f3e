"""The client's aliases and delete (our extensions) over every wire, and Unsupported against a
server without them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Conflict, NotFound, Unsupported
from model_registry.server import run_server
from model_registry.types import (
    DocArtifact,
    Experiment,
    ExperimentRun,
    InferenceService,
    ListOptions,
    Metric,
    ModelArtifact,
    ModelVersion,
    RegisteredModel,
    ServeModel,
    ServingEnvironment,
)


async def _model(client: ModelRegistryAPIClient, versions: int = 2) -> tuple[str, list[str]]:
    model = await client.upsert_registered_model(RegisteredModel("model"))
    assert model.id is not None
    ids = []
    for n in range(versions):
        version = await client.upsert_model_version(ModelVersion(f"v{n}"), model.id)
        assert version.id is not None
        ids.append(version.id)
    return model.id, ids


async def test_aliases_are_set_moved_read_inline_and_removed(
    client: ModelRegistryAPIClient, wire: str
) -> None:
    model, (first, second) = await _model(client)
    if wire == "rest-v1alpha3":  # the reference's API version: no aliases
        with pytest.raises(Unsupported):
            await client.set_model_version_alias(model, "champion", first)
        return

    pointed = await client.set_model_version_alias(model, "champion", first)
    assert pointed.id == first and pointed.aliases == ["champion"]
    await client.set_model_version_alias(model, "staging", first)
    moved = await client.set_model_version_alias(model, "champion", second)

    assert moved.aliases == ["champion"]
    by_id = await client.get_model_version_by_id(first)
    assert by_id is not None and by_id.aliases == ["staging"]
    found = await client.get_model_version_by_alias(model, "champion")
    assert found is not None and found.id == second
    page = await client.get_model_versions(model)
    assert [v.aliases for v in page] == [["staging"], ["champion"]]
    filtered = await client.get_model_versions(model, ListOptions(filter_query="alias = 'staging'"))
    assert [v.id for v in filtered] == [first]
    registered = await client.get_registered_model_by_id(model)
    assert registered is not None and registered.aliases == {"champion": second, "staging": first}

    await client.delete_model_version_alias(model, "champion")

    assert await client.get_model_version_by_alias(model, "champion") is None
    with pytest.raises(NotFound):
        await client.delete_model_version_alias(model, "champion")
    # Upserting a version read with its aliases sends none back (the server sets them).
    assert by_id is not None
    by_id.description = "still staged"
    assert (await client.upsert_model_version(by_id)).aliases == ["staging"]


async def test_delete_refuses_children_then_cascades_and_the_name_is_free_again(
    client: ModelRegistryAPIClient, wire: str
) -> None:
    model, (first, _) = await _model(client)
    if wire == "rest-v1alpha3":  # the reference's API version: no delete
        with pytest.raises(Unsupported):
            await client.delete_registered_model(model, cascade=True)
        return
    artifact = await client.upsert_model_version_artifact(DocArtifact(uri="s3://d"), first)
    assert artifact.id is not None

    with pytest.raises(Conflict, match="2 model versions"):
        await client.delete_registered_model(model)
    await client.delete_registered_model(model, cascade=True)

    assert await client.get_registered_model_by_id(model) is None
    assert await client.get_model_version_by_id(first) is None
    assert await client.get_artifact_by_id(artifact.id) is None
    with pytest.raises(NotFound):
        await client.delete_registered_model(model)
    again = await client.upsert_registered_model(RegisteredModel("model"))
    assert again.id != model


async def test_every_kind_is_deleted_and_serving_references_block(
    client: ModelRegistryAPIClient, wire: str
) -> None:
    model, (version, _) = await _model(client)
    if wire == "rest-v1alpha3":  # the reference's API version: no delete
        with pytest.raises(Unsupported):
            await client.delete_model_version(version)
        return
    weights = await client.upsert_model_artifact(ModelArtifact("w", uri="s3://w"), version)
    environment = await client.upsert_serving_environment(ServingEnvironment("prod"))
    assert environment.id is not None and weights.id is not None
    service = await client.upsert_inference_service(
        InferenceService(
            serving_environment_id=environment.id,
            registered_model_id=model,
            model_version_id=version,
        )
    )
    assert service.id is not None
    serve = await client.upsert_serve_model(ServeModel(model_version_id=version), service.id)
    assert serve.id is not None

    with pytest.raises(Conflict, match=f"inference service {service.id}"):
        await client.delete_model_version(version, cascade=True)
    with pytest.raises(Conflict, match="serve model"):
        await client.delete_inference_service(service.id)

    await client.delete_serve_model(serve.id, service.id)
    await client.delete_inference_service(service.id)
    await client.delete_serving_environment(environment.id)
    await client.delete_model_artifact(weights.id)
    await client.delete_model_version(version)

    assert await client.get_inference_service_by_id(service.id) is None
    assert await client.get_serving_environment_by_id(environment.id) is None
    assert await client.get_model_version_by_id(version) is None


@pytest.mark.parametrize("transport", ["grpc", "rest"])
async def test_experiments_and_runs_are_deleted_over_both_wires(
    database_url: str, transport: str
) -> None:
    # REST: our extension of the v1alpha3 routes (v1 has no experiments).
    async with (
        run_server(database_url, grpc_port=0) as srv,
        ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            (srv.grpc_port or 0) if transport == "grpc" else srv.port,
            transport=transport,
        ) as client,
    ):
        experiment = await client.upsert_experiment(Experiment("exp"))
        assert experiment.id is not None
        run = await client.upsert_experiment_run(ExperimentRun(), experiment.id)
        assert run.id is not None
        await client.upsert_experiment_run_artifact(Metric("loss", value=0.5, step=1), run.id)

        with pytest.raises(Conflict, match="1 experiment run"):
            await client.delete_experiment(experiment.id)
        with pytest.raises(Conflict, match="1 metric history entry"):
            await client.delete_experiment_run(run.id)
        await client.delete_experiment(experiment.id, cascade=True)

        assert await client.get_experiment_run_by_id(run.id) is None
        assert await client.get_experiment_by_id(experiment.id) is None
        with pytest.raises(NotFound):
            await client.delete_experiment(experiment.id)
        with pytest.raises(NotFound):
            await client.delete_experiment_run(run.id)


async def test_experiment_delete_over_rest_needs_the_v1_extensions_probe(database_url: str) -> None:
    # A server of ours serving v1alpha3 alone answers 404 to GET /api/model_registry/v1/
    # extensions, like the reference: the client cannot tell it has the extension.
    async with (
        run_server(database_url, api_versions=["v1alpha3"]) as srv,
        ModelRegistryAPIClient.insecure_connection("127.0.0.1", srv.port) as client,
    ):
        experiment = await client.upsert_experiment(Experiment("exp"))
        assert experiment.id is not None
        with pytest.raises(Unsupported, match="'delete' extension"):
            await client.delete_experiment(experiment.id, cascade=True)
        assert await client.get_experiment_by_id(experiment.id) is not None


@pytest.fixture
async def reference_like_v1() -> AsyncIterator[str]:
    """A server answering like the reference's v1: models listed, every other path a 404."""

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"items": [], "size": 0, "pageSize": 1, "nextPageToken": ""})

    async def nothing(request: web.Request) -> web.Response:
        return web.json_response({"code": "5", "message": "Not Found"}, status=404)

    app = web.Application()
    app.router.add_get("/api/model_registry/v1/registered_models", models)
    app.router.add_route("*", "/{tail:.*}", nothing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_a_v1_server_without_the_extensions_makes_them_unsupported(
    reference_like_v1: str,
) -> None:
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", int(reference_like_v1)
    ) as client:
        with pytest.raises(Unsupported, match="'aliases' extension"):
            await client.get_model_version_by_alias("1", "champion")
        with pytest.raises(Unsupported, match="'delete' extension"):
            await client.delete_registered_model("1")


async def test_a_v1alpha3_only_server_makes_them_unsupported(database_url: str) -> None:
    async with (
        run_server(database_url, api_versions=["v1alpha3"]) as srv,
        ModelRegistryAPIClient.insecure_connection("127.0.0.1", srv.port) as client,
    ):
        model = await client.upsert_registered_model(RegisteredModel("m"))
        assert model.id is not None
        with pytest.raises(Unsupported):
            await client.delete_registered_model(model.id)
        with pytest.raises(Unsupported):
            await client.set_model_version_alias(model.id, "champion", "1")
