"""The event log across a SIGKILL of the server mid-burst: every acknowledged change has its
event, in commit order, and a watcher resuming from its last cursor after the restart neither
misses nor repeats one."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from reliability.serving import serve_process

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import ModelRegistryError
from model_registry.transport.policy import RetryPolicy
from model_registry.types import Event, RegisteredModel

WRITERS = 6
KILL_AFTER = 150  # acknowledged creates before the kill (the writers keep going until it lands)
WAIT = 120.0


def connect(port: int) -> ModelRegistryAPIClient:
    """A client that never retries a write: a write counts only when its own answer came."""
    return ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port, api_version="v1", timeout=20.0, retry=RetryPolicy.none()
    )


async def writer(
    number: int, api: ModelRegistryAPIClient, acked: set[str], enough: asyncio.Event
) -> None:
    try:
        for step in range(100_000):
            model = await api.upsert_registered_model(RegisteredModel(f"w{number}-{step}"))
            assert model.id is not None
            acked.add(model.id)
            if len(acked) >= KILL_AFTER:
                enough.set()
    except (ModelRegistryError, OSError):
        return  # the server died under us


async def watch_into(api: ModelRegistryAPIClient, since: int, seen: list[Event]) -> None:
    async with contextlib.aclosing(api.watch(since=since)) as stream:
        async for event in stream:
            seen.append(event)


@pytest.mark.slow
async def test_no_event_is_lost_or_repeated_across_a_sigkill_mid_burst(database_url: str) -> None:
    args = ["--database-url", database_url]
    acked: set[str] = set()
    seen: list[Event] = []
    enough = asyncio.Event()

    async with serve_process(args, grpc=False) as srv:
        async with connect(srv.port) as api, connect(srv.port) as watcher:
            watching = asyncio.ensure_future(watch_into(watcher, 0, seen))
            writers = [asyncio.ensure_future(writer(n, api, acked, enough)) for n in range(WRITERS)]
            await asyncio.wait_for(enough.wait(), WAIT)
            srv.kill()
            await asyncio.wait_for(asyncio.gather(*writers), WAIT)
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
        assert await srv.wait() == -9

    before_kill = list(seen)
    resume_from = before_kill[-1].cursor if before_kill else 0
    async with serve_process(args, grpc=False) as srv, connect(srv.port) as api:
        # Everything committed is in the log: read it all from the last cursor seen.
        await api.upsert_registered_model(RegisteredModel("after-the-restart"))
        async with contextlib.aclosing(api.watch(since=resume_from)) as stream:
            while True:
                event = await asyncio.wait_for(anext(stream), WAIT)
                seen.append(event)
                if event.entity.get("name") == "after-the-restart":
                    break

    cursors = [e.cursor for e in seen]
    assert cursors == list(range(1, len(seen) + 1)), "a cursor was skipped or repeated"
    ids = [e.entity_id for e in seen if e.entity.get("name") != "after-the-restart"]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert acked <= set(ids), f"acknowledged creates without an event: {sorted(acked - set(ids))}"
    assert all(e.type == "registered_model.created" for e in seen)
    assert len(before_kill) > 0
