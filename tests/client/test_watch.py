"""``client.watch()``: the registry's changes as an async iterator, resumable, reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator

import pytest

from model_registry import CursorExpired, Event, ModelRegistry
from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import BadRequest
from model_registry.server import RunningServer, run_server
from model_registry.types import ModelVersion, ModelVersionState, RegisteredModel

PG_URL = os.environ.get("MR_TEST_DATABASE_URL", "")
WAIT = 30.0  # generous: a loaded machine is slow, a fast one never waits this long


def connect(port: int, transport: str = "rest") -> ModelRegistryAPIClient:
    return ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        port,
        transport=transport,  # type: ignore[arg-type]
        api_version="v1",
    )


async def take(stream: AsyncIterator[Event], count: int) -> list[Event]:
    """The next ``count`` events (a failure, not a hang, when they do not come)."""

    async def collect() -> list[Event]:
        return [await anext(stream) for _ in range(count)]

    return await asyncio.wait_for(collect(), WAIT)


async def test_watch_yields_the_changes_in_commit_order_with_their_entities(
    server: RunningServer,
) -> None:
    async with connect(server.port) as api:
        model = await api.upsert_registered_model(RegisteredModel("m"))
        assert model.id is not None
        async with contextlib.aclosing(api.watch(since=0)) as stream:
            first = await take(stream, 1)
            version = await api.upsert_model_version(ModelVersion("v1"), model.id)
            version.state = ModelVersionState.ARCHIVED
            await api.upsert_model_version(version, model.id)
            rest = await take(stream, 2)
    events = first + rest
    assert [e.cursor for e in events] == [1, 2, 3]
    assert [e.type for e in events] == [
        "registered_model.created",
        "model_version.created",
        "model_version.state_changed",
    ]
    assert events[0].entity["name"] == "m"
    assert events[2].entity["state"] == "ARCHIVED"
    assert events[2].entity_id == version.id
    assert (events[1].kind, events[1].action) == ("model_version", "created")


async def test_watch_filters_by_kind_and_action(server: RunningServer) -> None:
    async with (
        connect(server.port) as api,
        contextlib.aclosing(api.watch(kinds=["model_version"], actions="created")) as stream,
    ):
        pending = asyncio.ensure_future(take(stream, 2))
        await asyncio.sleep(0)  # the watch may start after the writes: since=None is "now"
        model = await api.upsert_registered_model(RegisteredModel("m"))
        assert model.id is not None
        # A watch from now starts when the server accepted it; write until both arrive.
        names = iter(f"v{i}" for i in range(1000))
        while not pending.done():
            await api.upsert_model_version(ModelVersion(next(names)), model.id)
            await asyncio.wait({pending}, timeout=0.2)
        events = pending.result()
    assert {e.type for e in events} == {"model_version.created"}
    assert events[1].cursor > events[0].cursor


async def test_a_watch_resumes_from_a_cursor_without_loss_or_repeat(
    server: RunningServer,
) -> None:
    async with connect(server.port) as api:
        for i in range(5):
            await api.upsert_registered_model(RegisteredModel(f"m{i}"))
        async with contextlib.aclosing(api.watch(since=0)) as stream:
            seen = await take(stream, 2)
        async with contextlib.aclosing(api.watch(since=seen[-1].cursor)) as stream:
            seen += await take(stream, 3)
    assert [e.entity["name"] for e in seen] == [f"m{i}" for i in range(5)]


async def test_a_watch_reconnects_by_itself_across_a_server_restart(database_url: str) -> None:
    # The same port twice: the client reconnects to where it was.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with run_server(database_url, port=port) as srv:
        await srv.service.create("registered-model", {"name": "before"})
    async with connect(port) as api:
        async with contextlib.aclosing(api.watch(since=0)) as stream:
            with pytest.raises(TimeoutError):
                # Nobody serves: the watch keeps trying rather than failing.
                await asyncio.wait_for(anext(stream), 0.5)
        async with contextlib.aclosing(api.watch(since=0)) as stream:
            async with run_server(database_url, port=port) as srv:
                first = await take(stream, 1)
                await srv.service.create("registered-model", {"name": "during"})
                second = await take(stream, 1)
            # Stopped: the stream ends, the client retries; started again, it resumes.
            async with run_server(database_url, port=port) as srv:
                await srv.service.create("registered-model", {"name": "after"})
                third = await take(stream, 1)
    assert [e.entity["name"] for e in first + second + third] == ["before", "during", "after"]
    assert [e.cursor for e in first + second + third] == [1, 2, 3]


async def test_an_expired_cursor_raises_cursor_expired(server: RunningServer) -> None:
    await server.service.create("registered-model", {"name": "old"})
    await asyncio.sleep(0.01)
    await server.service.events.prune(0.001)
    async with connect(server.port) as api:
        with pytest.raises(CursorExpired, match="older than the events kept") as caught:
            await anext(api.watch(since=0))
    assert caught.value.status == 410


async def test_a_bad_filter_raises_bad_request(server: RunningServer) -> None:
    async with connect(server.port) as api:
        with pytest.raises(BadRequest, match="unknown kinds"):
            await anext(api.watch(kinds="models"))
        with pytest.raises(ValueError, match="since must be an event cursor"):
            api.watch(since="yesterday")


@pytest.mark.skipif(not PG_URL, reason="two replicas share a PostgreSQL database")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_watcher_on_one_replica_sees_changes_made_through_another(
    database_url: str,
) -> None:
    async with (
        run_server(database_url) as one,
        run_server(database_url) as two,
        connect(one.port) as watcher,
        connect(two.port) as writer,
        contextlib.aclosing(watcher.watch(since=0)) as stream,
    ):
        await writer.upsert_registered_model(RegisteredModel("through-two"))
        (event,) = await take(stream, 1)
    assert event.entity["name"] == "through-two"


def test_the_sync_facade_iterates_the_same_stream(threaded_server: RunningServer) -> None:
    registry = ModelRegistry("http://127.0.0.1", threaded_server.port, author="me", is_secure=False)
    with registry:
        registry.register_model(
            "m", "s3://b/m", version="v1", model_format_name="onnx", model_format_version="1"
        )
        seen: list[Event] = []
        for event in registry.watch(since=0):
            seen.append(event)
            if len(seen) == 3:
                break
    assert [e.type for e in seen] == [
        "registered_model.created",
        "model_version.created",
        "model_artifact.created",
    ]


async def test_watch_over_grpc_streams_the_same_events_and_resumes(
    grpc_server: RunningServer,
) -> None:
    assert grpc_server.grpc_port is not None
    async with connect(grpc_server.grpc_port, "grpc") as api:
        model = await api.upsert_registered_model(RegisteredModel("m"))
        assert model.id is not None
        await api.upsert_model_version(ModelVersion("v1"), model.id)
        async with contextlib.aclosing(api.watch(since=0)) as stream:
            events = await take(stream, 2)
        async with contextlib.aclosing(
            api.watch(since=events[0].cursor, kinds="model_version")
        ) as stream:
            resumed = await take(stream, 1)
            await api.upsert_model_version(ModelVersion("v2"), model.id)
            resumed += await take(stream, 1)
        with pytest.raises(BadRequest, match="unknown actions"):
            await anext(api.watch(actions="exploded"))
    assert [e.type for e in events] == ["registered_model.created", "model_version.created"]
    assert events[0].entity["name"] == "m"
    assert [e.entity["name"] for e in resumed] == ["v1", "v2"]
    assert [e.cursor for e in resumed] == [2, 3]


async def test_an_expired_cursor_raises_cursor_expired_over_grpc(
    grpc_server: RunningServer,
) -> None:
    assert grpc_server.grpc_port is not None
    await grpc_server.service.create("registered-model", {"name": "old"})
    await asyncio.sleep(0.01)
    await grpc_server.service.events.prune(0.001)
    async with connect(grpc_server.grpc_port, "grpc") as api:
        with pytest.raises(CursorExpired, match="older than the events kept"):
            await anext(api.watch(since=0))


async def test_a_watcher_tailing_concurrent_writers_sees_every_cursor_in_order(
    server: RunningServer,
) -> None:
    # Were a lower cursor able to commit after a higher one was read, the watcher (reading
    # as they commit) would skip it: the cursors it gets would have a gap.
    count = 120
    async with connect(server.port) as api, contextlib.aclosing(api.watch(since=0)) as stream:
        gate = asyncio.Semaphore(32)

        async def create(i: int) -> None:
            async with gate:
                await server.service.create("registered-model", {"name": f"m{i}"})

        writers = asyncio.gather(*(create(i) for i in range(count)))
        events = await take(stream, count)
        await writers
    assert [e.cursor for e in events] == list(range(1, count + 1))
    assert len({e.entity_id for e in events}) == count
