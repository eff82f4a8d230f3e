"""The scenarios our client (and the bare-aiohttp floor) run inside the bench process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Literal

import aiohttp

from bench.server import API_PATH, ServerProcess
from bench.timing import Recorder, Result
from model_registry.core import ModelRegistryAPIClient
from model_registry.types import ModelVersion, Pager, RegisteredModel

Transport = Literal["rest", "grpc"]
GetFn = Callable[[str], Awaitable[object]]

MODEL_PROPERTIES: dict[str, object] = {"team": "bench", "stage_rank": 3}
"""Custom properties of the models the get scenarios read (a small, realistic payload)."""


def connect(
    server: ServerProcess, transport: Transport, token: str | None = None
) -> ModelRegistryAPIClient:
    """Our client on the server's REST or gRPC port (``token``: the bearer token to send)."""
    port = server.port if transport == "rest" else server.grpc_port
    return ModelRegistryAPIClient.insecure_connection(
        server.host, port, transport=transport, user_token=token
    )


async def seed_models(server: ServerProcess, count: int, token: str | None = None) -> list[str]:
    """Create ``count`` registered models (with a description, owner and custom properties)."""
    async with connect(server, "rest", token) as client:
        ids: list[str] = []
        for i in range(count):
            model = await client.upsert_registered_model(
                RegisteredModel(
                    f"get-model-{i}",
                    owner="bench",
                    description="read by the sequential get scenarios",
                    custom_properties=dict(MODEL_PROPERTIES),
                )
            )
            assert model.id is not None
            ids.append(model.id)
        return ids


async def _expect(call: Awaitable[object]) -> None:
    if await call is None:
        raise LookupError("the model was not found")


async def interleaved_gets(
    runners: dict[str, GetFn],
    ids: Sequence[str],
    count: int,
    rounds: int,
    warmup: int,
    *,
    rotate: bool = False,
) -> dict[str, Recorder]:
    """Gets by id through each runner in turn, ``count`` each over ``rounds`` rounds, after
    ``warmup`` untimed ones; ``rotate``: each round starts with another runner, so none always
    follows the same one."""
    recorders = {key: Recorder() for key in runners}
    for get in runners.values():
        for n in range(warmup):
            await get(ids[n % len(ids)])
    per_round = max(1, count // rounds)
    order = list(runners.items())
    for r in range(rounds):
        shift = r % len(order) if rotate else 0
        for key, get in order[shift:] + order[:shift]:
            rec = recorders[key]
            with rec:
                for n in range(r * per_round, (r + 1) * per_round):
                    await rec.timed(partial(get, ids[n % len(ids)]))
    return recorders


async def sequential_gets(
    server: ServerProcess, ids: Sequence[str], count: int, rounds: int, warmup: int
) -> list[Result]:
    """(a), (e) get and (g): sequential gets by id with our REST client, our gRPC client and
    a bare aiohttp session, interleaved in ``rounds`` rounds on one server.

    Interleaving makes the three see the same server state and the same machine noise, so
    their ratios hold even on a busy machine.
    """
    async with (
        connect(server, "rest") as rest,
        connect(server, "grpc") as grpc,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session,
    ):
        base = f"{server.url}{API_PATH}/registered_models/"

        async def floor_get(model_id: str) -> None:
            async with session.get(base + model_id) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}")

        runners: dict[str, GetFn] = {
            "a_get_rest": lambda i: _expect(rest.get_registered_model_by_id(i)),
            "e_get_grpc": lambda i: _expect(grpc.get_registered_model_by_id(i)),
            "g_get_floor": floor_get,
        }
        recorders = await interleaved_gets(runners, ids, count, rounds, warmup)
    title = "sequential get_registered_model_by_id"
    return [
        recorders["a_get_rest"].result("a_get_rest", title, "ours-rest", "get"),
        recorders["e_get_grpc"].result("e_get_grpc", title, "ours-grpc", "get"),
        recorders["g_get_floor"].result(
            "g_get_floor", "same GET, bare aiohttp session (kept alive)", "floor", "get"
        ),
    ]


async def sequential_creates(
    server: ServerProcess, count: int, transport: Transport, prefix: str = "seq-model"
) -> Result:
    """(b): ``count`` times, create a registered model (``prefix-i``) then a version of it, one
    at a time. The result keeps its raw latencies (rounds are merged by the caller)."""
    async with connect(server, transport) as client:

        async def pair(i: int) -> None:
            model = await client.upsert_registered_model(RegisteredModel(f"{prefix}-{i}"))
            await client.upsert_model_version(ModelVersion("v1", author="bench"), model.id)

        await pair(-1)  # warm-up: connection, first statements
        rec = Recorder()
        with rec:
            for i in range(count):
                await rec.timed(partial(pair, i))
    return rec.result(
        f"b_create_{transport}",
        "sequential create model + version",
        f"ours-{transport}",
        "model+version",
        keep_latencies=True,
    )


async def concurrent_creates(
    server: ServerProcess, count: int, in_flight: int, transport: Transport
) -> Result:
    """(c): ``count`` registered-model creates, ``in_flight`` at a time (gather + semaphore)."""
    async with connect(server, transport) as client:
        await client.upsert_registered_model(RegisteredModel("warm-up"))
        gate = asyncio.Semaphore(in_flight)
        rec = Recorder()

        async def one(i: int) -> None:
            async with gate:
                await rec.timed(
                    lambda: client.upsert_registered_model(RegisteredModel(f"conc-model-{i}"))
                )

        with rec:
            await asyncio.gather(*(one(i) for i in range(count)))
        # Every create must have landed: count them back through the API.
        stored = 0
        async for _model in _all_models(client):
            stored += 1
    return rec.result(
        f"c_concurrent_{transport}",
        f"create registered model, {in_flight} in flight",
        f"ours-{transport}",
        "create",
        in_flight=in_flight,
        stored=stored - 1,  # minus the warm-up model
    )


def _all_models(client: ModelRegistryAPIClient) -> Pager[RegisteredModel]:
    return Pager(lambda o: client.get_registered_models(o)).page_size(1000)
