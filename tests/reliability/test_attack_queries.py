"""Attacks through the API itself, on loopback, on SQLite and PostgreSQL: entities too large to
be listed, and gRPC pages that would exceed a default client's receive limit. Bounded in time
and count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2_grpc
from model_registry.server import RunningServer, run_server
from model_registry.server.errors import MAX_ENTITY_BYTES, MAX_RESPONSE_BYTES
from model_registry.server.rest import BASE_PATH

MIB = 1024 * 1024


@pytest.fixture
async def srv(database_url: str) -> AsyncIterator[RunningServer]:
    """REST and gRPC with the default limits."""
    async with run_server(database_url, grpc_port=0) as server:
        yield server


@pytest.fixture
async def stub(
    srv: RunningServer,
) -> AsyncIterator[model_registry_pb2_grpc.ModelRegistryServiceStub]:
    """A gRPC stub on a channel with gRPC's default limits (4 MiB to receive)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        yield model_registry_pb2_grpc.ModelRegistryServiceStub(channel)


async def test_an_entity_too_large_for_a_grpc_answer_is_refused_at_write_time_over_rest(
    srv: RunningServer,
) -> None:
    url = srv.url + BASE_PATH + "/registered_models"
    description = "d" * (4 * MIB - 200)  # the body fits the 4 MiB body limit
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"name": "huge", "description": description}) as resp:
            assert resp.status == 413
            body = await resp.json()
        assert body["code"] == "Request Entity Too Large"
        assert str(MAX_ENTITY_BYTES) in body["message"] and "description" in body["message"]
        async with http.get(url) as resp:
            assert (await resp.json())["items"] == []  # nothing was stored
        # An update that would make it too large is refused the same way, and changes nothing.
        async with http.post(url, json={"name": "small", "description": "s"}) as resp:
            assert resp.status == 201
            model_id = (await resp.json())["id"]
        async with http.patch(f"{url}/{model_id}", json={"description": description}) as resp:
            assert resp.status == 413
        async with http.get(f"{url}/{model_id}") as resp:
            assert (await resp.json())["description"] == "s"


async def test_an_entity_too_large_for_a_grpc_answer_is_refused_at_write_time_over_grpc(
    database_url: str,
) -> None:
    # With a body limit raised past the answer limit, the entity limit still holds.
    async with (
        run_server(database_url, grpc_port=0, max_body_bytes=8 * MIB) as srv,
        grpc.aio.insecure_channel(
            f"127.0.0.1:{srv.grpc_port}", options=[("grpc.max_send_message_length", 8 * MIB)]
        ) as channel,
    ):
        stub = model_registry_pb2_grpc.ModelRegistryServiceStub(channel)
        model = pb.RegisteredModel(name="huge", description="d" * (MAX_ENTITY_BYTES + 1))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.UpsertRegisteredModel(
                pb.UpsertRegisteredModelRequest(registered_model=model), timeout=30
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert str(MAX_ENTITY_BYTES) in (info.value.details() or "")


async def test_a_grpc_page_is_cut_short_to_fit_the_default_receive_limit_and_pages_on(
    srv: RunningServer, stub: model_registry_pb2_grpc.ModelRegistryServiceStub
) -> None:
    url = srv.url + BASE_PATH + "/registered_models"
    async with aiohttp.ClientSession() as http:
        for i in range(5):
            body = {"name": f"big-{i}", "description": str(i) * (3 * MIB // 2)}
            async with http.post(url, json=body) as resp:
                assert resp.status == 201, await resp.text()
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        pages += 1
        assert pages <= 5
        reply = await stub.GetRegisteredModels(
            pb.GetRegisteredModelsRequest(page_size=10, next_page_token=token), timeout=30
        )
        assert reply.ByteSize() <= MAX_RESPONSE_BYTES
        assert reply.size == len(reply.items) and reply.page_size == 10
        seen.extend(m.name for m in reply.items)
        token = reply.next_page_token
        if not token:
            break
        assert len(reply.items) < 10  # cut short by size, not by the page size
    assert seen == [f"big-{i}" for i in range(5)]
    assert pages == 3  # two 1.5 MiB items fit a 4 MiB answer, three do not


async def test_a_grpc_page_cut_by_size_keeps_a_descending_order(
    srv: RunningServer, stub: model_registry_pb2_grpc.ModelRegistryServiceStub
) -> None:
    url = srv.url + BASE_PATH + "/registered_models"
    async with aiohttp.ClientSession() as http:
        for i in range(3):
            body = {"name": f"big-{i}", "description": "x" * (3 * MIB // 2)}
            async with http.post(url, json=body) as resp:
                assert resp.status == 201
    first = await stub.GetRegisteredModels(
        pb.GetRegisteredModelsRequest(
            order_by=pb.ORDER_BY_FIELD_CREATE_TIME, sort_order=pb.SORT_ORDER_DESC
        ),
        timeout=30,
    )
    rest = await stub.GetRegisteredModels(
        pb.GetRegisteredModelsRequest(
            order_by=pb.ORDER_BY_FIELD_CREATE_TIME,
            sort_order=pb.SORT_ORDER_DESC,
            next_page_token=first.next_page_token,
        ),
        timeout=30,
    )
    names = [m.name for m in first.items] + [m.name for m in rest.items]
    assert names == ["big-2", "big-1", "big-0"] and not rest.next_page_token


async def test_concurrent_posts_of_one_metric_to_one_run_all_succeed_and_keep_every_value(
    srv: RunningServer,
) -> None:
    api = srv.url + BASE_PATH
    async with aiohttp.ClientSession() as http:
        async with http.post(api + "/experiments", json={"name": "e"}) as resp:
            experiment = await resp.json()
        async with http.post(
            api + "/experiment_runs", json={"name": "r", "experimentId": experiment["id"]}
        ) as resp:
            run = await resp.json()

        async def post(step: int) -> int:
            metric = {"artifactType": "metric", "name": "loss", "value": step / 10, "step": step}
            async with http.post(
                f"{api}/experiment_runs/{run['id']}/artifacts", json=metric
            ) as resp:
                return resp.status

        statuses = await asyncio.gather(*(post(step) for step in range(20)))
        assert sorted(statuses) == [200] * 19 + [201], statuses
        async with http.get(f"{api}/experiment_runs/{run['id']}/metric_history") as resp:
            history = (await resp.json())["items"]
        assert sorted(int(m["step"]) for m in history) == list(range(20))
        async with http.get(f"{api}/experiment_runs/{run['id']}/artifacts") as resp:
            assert [a["name"] for a in (await resp.json())["items"]] == ["loss"]
