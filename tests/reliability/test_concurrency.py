"""Concurrent writers through our client: uniqueness holds under races, no 5xx, nothing lost.

Runs on every backend of the ``database_url`` fixture (SQLite, and PostgreSQL when
``MR_TEST_DATABASE_URL`` is set). Clients never retry here, so a 5xx would surface as an error.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from typing import Literal

import aiohttp
import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Conflict
from model_registry.server import RunningServer, run_server
from model_registry.transport.policy import RetryPolicy
from model_registry.types import ListOptions, ModelVersion, Pager, RegisteredModel

Transport = Literal["rest", "grpc"]
RACERS = 64


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[RunningServer]:
    """REST and gRPC over the backend under test."""
    async with run_server(database_url, grpc_port=0) as srv:
        yield srv


def connect(srv: RunningServer, transport: Transport) -> ModelRegistryAPIClient:
    """A client that never retries (a server error must show, not be papered over)."""
    port = srv.grpc_port if transport == "grpc" else srv.port
    assert port is not None
    return ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port, transport=transport, timeout=60.0, retry=RetryPolicy.none()
    )


async def assert_ready(srv: RunningServer) -> None:
    """``/readyz`` still says ready."""
    async with aiohttp.ClientSession() as http, http.get(srv.url + "/readyz") as resp:
        assert resp.status == 200


def split(results: Sequence[object]) -> tuple[list[object], list[BaseException]]:
    """Successes and exceptions of a ``gather(..., return_exceptions=True)``."""
    ok = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    return ok, errors


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_racing_creates_of_one_name_give_one_model_and_conflicts(
    registry: RunningServer, transport: Transport
) -> None:
    async with connect(registry, transport) as client:
        results = await asyncio.gather(
            *(client.upsert_registered_model(RegisteredModel("contested")) for _ in range(RACERS)),
            return_exceptions=True,
        )
        created, errors = split(results)
        assert len(created) == 1, errors[:3]
        assert len(errors) == RACERS - 1
        assert all(isinstance(e, Conflict) for e in errors), {type(e) for e in errors}
        stored = await client.get_registered_models(ListOptions(limit=100))
    assert [m.name for m in stored] == ["contested"]
    await assert_ready(registry)


@pytest.mark.slow
async def test_racing_creates_of_one_version_name_across_transports_give_one_version(
    registry: RunningServer,
) -> None:
    async with connect(registry, "rest") as rest, connect(registry, "grpc") as grpc_client:
        model = await rest.upsert_registered_model(RegisteredModel("parent"))
        assert model.id is not None
        clients = [rest, grpc_client]
        results = await asyncio.gather(
            *(
                clients[i % 2].upsert_model_version(ModelVersion("v1"), model.id)
                for i in range(RACERS)
            ),
            return_exceptions=True,
        )
        created, errors = split(results)
        assert len(created) == 1, errors[:3]
        assert all(isinstance(e, Conflict) for e in errors), {type(e) for e in errors}
        versions = await rest.get_model_versions(model.id, ListOptions(limit=100))
    assert [v.name for v in versions] == ["v1"]
    await assert_ready(registry)


WORKERS = 32
OPS_PER_WORKER = 80  # ~2600 requests in all (each op is one request)


@pytest.mark.slow
async def test_a_mixed_load_leaves_every_acknowledged_write_readable_once(
    registry: RunningServer,
) -> None:
    rng = random.Random(20261125)
    acknowledged: dict[str, str] = {}  # model name -> id the server returned
    versions: dict[str, set[str]] = {}  # model id -> version names acknowledged
    requests = 0

    async def worker(number: int, client: ModelRegistryAPIClient) -> None:
        nonlocal requests
        mine: list[RegisteredModel] = []
        for op in range(OPS_PER_WORKER):
            choice = rng.random()
            requests += 1
            if not mine or choice < 0.3:
                name = f"w{number}-m{op}"
                model = await client.upsert_registered_model(RegisteredModel(name))
                assert model.id is not None and model.name == name
                acknowledged[name] = model.id
                versions[model.id] = set()
                mine.append(model)
            elif choice < 0.5:
                parent = rng.choice(mine)
                assert parent.id is not None
                version = await client.upsert_model_version(ModelVersion(f"v{op}"), parent.id)
                assert version.registered_model_id == parent.id
                versions[parent.id].add(version.name)
            elif choice < 0.6:
                target = rng.choice(mine)
                target.description = f"updated by {number} at {op}"
                await client.upsert_registered_model(target)
            elif choice < 0.8:
                target = rng.choice(mine)
                assert target.id is not None
                fetched = await client.get_registered_model_by_id(target.id)
                assert fetched is not None and fetched.name == target.name
            elif choice < 0.9:
                target = rng.choice(mine)
                found = await client.get_registered_model_by_params(name=target.name)
                assert found is not None and found.id == target.id
            else:
                page = await client.get_registered_models(ListOptions(limit=20))
                assert len(page) <= 20

    async with connect(registry, "rest") as rest, connect(registry, "grpc") as grpc_client:
        clients = [rest, grpc_client]
        await asyncio.gather(*(worker(n, clients[n % 2]) for n in range(WORKERS)))

        # Every acknowledged write is there, once, as acknowledged.
        listed = [m async for m in Pager(rest.get_registered_models, ListOptions(limit=500))]
        by_name = {m.name: m.id for m in listed}
        assert len(by_name) == len(listed), "duplicate names"
        assert len({m.id for m in listed}) == len(listed), "duplicate ids"
        assert by_name == acknowledged
        for model_id, names in versions.items():
            if not names:
                continue
            stored = await rest.get_model_versions(model_id, ListOptions(limit=500))
            stored_names = [v.name for v in stored]
            assert sorted(stored_names) == sorted(names)
    assert requests >= WORKERS * OPS_PER_WORKER
    await assert_ready(registry)
