"""Projects through the async client against the real server: managing them (REST v1 and
gRPC; REST v1alpha3 has no project endpoints) and working in one (every wire)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import BadRequest, Conflict, NotFound, Unsupported
from model_registry.server import RunningServer
from model_registry.types import MODEL_TASKS, ListOptions, Pager, Project, RegisteredModel


def port_for(server: RunningServer, transport: str) -> int:
    port = server.grpc_port if transport == "grpc" else server.port
    assert port is not None
    return port


@pytest.fixture
async def manager(registry: RunningServer) -> AsyncIterator[ModelRegistryAPIClient]:
    """A client that can manage projects on the registry under test (REST v1)."""
    async with ModelRegistryAPIClient.insecure_connection("127.0.0.1", registry.port) as api:
        yield api


@pytest.fixture(params=["rest", "grpc"])
async def projects_client(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[ModelRegistryAPIClient]:
    """A client over each wire with project calls: REST v1 and gRPC."""
    from model_registry.server import run_server

    transport = str(request.param)
    async with (
        run_server(database_url, grpc_port=0 if transport == "grpc" else None) as srv,
        ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            port_for(srv, transport),
            transport=transport,  # type: ignore[arg-type]
        ) as api,
    ):
        yield api


async def test_upsert_project_creates_then_updates_a_project(
    projects_client: ModelRegistryAPIClient,
) -> None:
    client = projects_client
    created = await client.upsert_project(
        Project(
            "fraud",
            description="fraud models",
            model_task="MODEL_TASK_BINARY_CLASSIFICATION",
            custom_properties={"team": "risk"},
        )
    )
    assert created.id is not None and str(uuid.UUID(created.id)) == created.id
    assert (created.name, created.model_task) == ("fraud", "MODEL_TASK_BINARY_CLASSIFICATION")
    assert created.custom_properties == {"team": "risk"}
    assert created.create_time_since_epoch is not None

    created.description = "changed"
    created.model_task = "MODEL_TASK_RANKING"
    updated = await client.upsert_project(created)
    assert (updated.id, updated.description, updated.model_task) == (
        created.id,
        "changed",
        "MODEL_TASK_RANKING",
    )
    assert await client.get_project_by_id(created.id) == updated
    assert await client.get_project_by_id(created.id.upper()) == updated
    assert await client.get_project_by_params(name="fraud") == updated


async def test_project_lookups_answer_none_when_nothing_matches(
    projects_client: ModelRegistryAPIClient,
) -> None:
    client = projects_client
    assert await client.get_project_by_id(str(uuid.uuid4())) is None
    assert await client.get_project_by_id("7") is None  # a registry id is no project id
    assert await client.get_project_by_params(name="absent") is None
    with pytest.raises(ValueError, match="name or external_id"):
        await client.get_project_by_params()


async def test_projects_are_listed_and_paged_with_the_default_one(
    projects_client: ModelRegistryAPIClient,
) -> None:
    client = projects_client
    for name in ("a", "b", "c"):
        await client.upsert_project(Project(name))
    options = ListOptions(limit=2)
    first = await client.get_projects(options)
    assert len(first) == 2 and options.next_page_token
    names = [p.name async for p in Pager(lambda o: client.get_projects(o)).page_size(2)]
    assert sorted(names) == ["a", "b", "c", "default"]


async def test_a_duplicate_name_is_a_conflict_and_an_unknown_task_a_bad_request(
    projects_client: ModelRegistryAPIClient,
) -> None:
    client = projects_client
    await client.upsert_project(Project("twice"))
    with pytest.raises(Conflict):
        await client.upsert_project(Project("twice"))
    with pytest.raises(BadRequest) as info:
        await client.upsert_project(Project("odd", model_task="MODEL_TASK_ASTROLOGY"))
    assert all(task in info.value.message for task in MODEL_TASKS)


async def test_delete_project_refuses_a_held_project_unless_cascade(
    projects_client: ModelRegistryAPIClient,
) -> None:
    client = projects_client
    held = await client.upsert_project(Project("held"))
    empty = await client.upsert_project(Project("empty"))
    assert held.id is not None and empty.id is not None
    with client.call_options(project="held"):
        await client.upsert_registered_model(RegisteredModel("m"))
    with pytest.raises(Conflict, match="1 registered model"):
        await client.delete_project(held.id)
    await client.delete_project(empty.id)
    await client.delete_project(held.id, cascade=True)
    assert await client.get_project_by_id(held.id) is None
    with pytest.raises(NotFound):
        await client.delete_project(held.id)
    with pytest.raises(NotFound):
        await client.delete_project("not-a-uuid")
    assert [p.name for p in await client.get_projects()] == ["default"]


async def test_rest_v1alpha3_has_no_project_endpoints(registry: RunningServer) -> None:
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", registry.port, api_version="v1alpha3"
    ) as alpha:
        with pytest.raises(Unsupported, match="v1alpha3 has no endpoint to create a project"):
            await alpha.upsert_project(Project("fraud"))
        with pytest.raises(Unsupported, match="v1alpha3 has no endpoint to list a project"):
            await alpha.get_projects()
        with pytest.raises(Unsupported, match="v1alpha3 has no endpoint to get a project"):
            await alpha.get_project_by_id(str(uuid.uuid4()))


async def test_a_v1alpha3_only_server_says_projects_need_v1(database_url: str) -> None:
    from model_registry.server import run_server

    async with (
        run_server(database_url, api_versions=["v1alpha3"]) as old,
        ModelRegistryAPIClient.insecure_connection("127.0.0.1", old.port) as client,
    ):
        with pytest.raises(Unsupported, match="serves only the REST API v1alpha3"):
            await client.get_project_by_params(name="default")


async def test_the_chosen_project_scopes_every_call_on_every_wire(
    registry: RunningServer,
    client: ModelRegistryAPIClient,
    manager: ModelRegistryAPIClient,
    transport: str,
    api_version: str,
) -> None:
    fraud = await manager.upsert_project(Project("fraud"))
    assert fraud.id is not None
    port = port_for(registry, transport)

    def connect(project: str | None) -> ModelRegistryAPIClient:
        return ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            port,
            transport=transport,  # type: ignore[arg-type]
            api_version=api_version,  # type: ignore[arg-type]
            project=project,
        )

    async with connect("fraud") as by_name, connect(fraud.id) as by_id:
        # Names are unique per project: both projects may hold an HAL.
        in_fraud = await by_name.upsert_registered_model(RegisteredModel("HAL", owner="fraud"))
        in_default = await client.upsert_registered_model(RegisteredModel("HAL", owner="dflt"))
        assert in_fraud.id != in_default.id
        assert [m.owner for m in await by_id.get_registered_models()] == ["fraud"]
        assert [m.owner for m in await client.get_registered_models()] == ["dflt"]
        assert await by_name.get_registered_model_by_id(in_default.id) is None
        assert await client.get_registered_model_by_id(in_fraud.id) is None
        assert (await by_id.get_registered_model_by_params(name="HAL")) == in_fraud
        with client.call_options(project="fraud"):
            assert await client.get_registered_model_by_params(name="HAL") == in_fraud
        with by_name.call_options(project="default"):
            assert await by_name.get_registered_model_by_params(name="HAL") == in_default


async def test_a_project_that_does_not_exist_is_not_found(
    registry: RunningServer, transport: str, api_version: str
) -> None:
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        port_for(registry, transport),
        transport=transport,  # type: ignore[arg-type]
        api_version=api_version,  # type: ignore[arg-type]
        project="nowhere",
    ) as lost:
        with pytest.raises(NotFound, match="nowhere"):
            await lost.get_registered_models()
        with pytest.raises(NotFound, match="nowhere"):
            await lost.upsert_registered_model(RegisteredModel("HAL"))
        assert await lost.get_registered_model_by_params(name="HAL") is None
