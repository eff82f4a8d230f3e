"""The event log: each change commits with its event; GET /events streams them (SSE)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from model_registry.server import RunningServer, run_server
from model_registry.server.events import parse_duration
from model_registry.server.store.events import append_events

V1 = "/api/model_registry/v1"
PG_URL = os.environ.get("MR_TEST_DATABASE_URL", "")


async def read_sse(
    response: aiohttp.ClientResponse,
) -> AsyncIterator[tuple[str | None, str | None, Any]]:
    """(event name, id, data) of each server-sent event of a response."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "data" in fields:
            yield fields.get("event"), fields.get("id"), json.loads(fields["data"])
        fields = {}


async def events_after(
    http: aiohttp.ClientSession, server: RunningServer, since: int, count: int, **params: str
) -> list[dict[str, Any]]:
    """The first ``count`` events after ``since`` (the ready event not counted)."""
    got: list[dict[str, Any]] = []
    query = {"since": str(since), **params}
    async with http.get(f"{server.url}{V1}/events", params=query) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for name, ident, data in read_sse(response):
            if name == "ready":
                assert ident == str(since)
                continue
            assert name == data["type"]
            assert ident == data["cursor"]
            got.append(data)
            if len(got) == count:
                return got
    raise AssertionError(f"the stream ended after {len(got)} events")


async def post(http: aiohttp.ClientSession, server: RunningServer, path: str, body: Any) -> Any:
    async with http.post(f"{server.url}{V1}{path}", json=body) as response:
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def patch(http: aiohttp.ClientSession, server: RunningServer, path: str, body: Any) -> Any:
    async with http.patch(f"{server.url}{V1}{path}", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def event_count(server: RunningServer) -> int:
    async with server.service.store.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM events"))).scalar_one())


async def test_each_create_update_and_state_change_has_its_event_with_the_entity_after_it(
    server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        model = await post(http, server, "/registered_models", {"name": "m"})
        version = await post(
            http, server, "/model_versions", {"name": "v1", "registeredModelId": model["id"]}
        )
        artifact = await post(
            http,
            server,
            f"/model_versions/{version['id']}/artifacts",
            {"artifactType": "model-artifact", "name": "a", "uri": "s3://b/a"},
        )
        updated = await patch(
            http, server, f"/registered_models/{model['id']}", {"description": "d"}
        )
        archived = await patch(
            http, server, f"/model_versions/{version['id']}", {"state": "ARCHIVED"}
        )

        events = await events_after(http, server, 0, 5)

    assert [e["cursor"] for e in events] == ["1", "2", "3", "4", "5"]
    assert [e["type"] for e in events] == [
        "registered_model.created",
        "model_version.created",
        "model_artifact.created",
        "registered_model.updated",
        "model_version.state_changed",
    ]
    assert [e["entityId"] for e in events] == [
        model["id"],
        version["id"],
        artifact["id"],
        model["id"],
        version["id"],
    ]
    assert [e["entity"] for e in events] == [model, version, artifact, updated, archived]
    assert all(int(e["timeSinceEpoch"]) > 0 for e in events)
    assert "subject" not in events[0]  # auth off: nobody to name


async def test_a_refused_write_leaves_no_event(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        await post(http, server, "/registered_models", {"name": "taken"})
        async with http.post(f"{server.url}{V1}/registered_models", json={"name": "taken"}) as r:
            assert r.status == 409
        async with http.patch(
            f"{server.url}{V1}/registered_models/1", json={"name": "renamed"}
        ) as r:
            assert r.status == 400
        await post(http, server, "/registered_models", {"name": "next"})
        events = await events_after(http, server, 0, 2)
    assert [e["entity"]["name"] for e in events] == ["taken", "next"]
    assert [e["cursor"] for e in events] == ["1", "2"]  # no cursor taken by the refusals
    assert await event_count(server) == 2


async def test_concurrent_writes_get_cursors_in_commit_order_without_gaps(
    server: RunningServer,
) -> None:
    service = server.service
    models = await asyncio.gather(
        *(service.create("registered-model", {"name": f"m{i}"}) for i in range(40))
    )
    async with aiohttp.ClientSession() as http:
        events = await events_after(http, server, 0, 40)
    assert [int(e["cursor"]) for e in events] == list(range(1, 41))
    assert sorted(e["entityId"] for e in events) == sorted(m["id"] for m in models)


async def test_a_watch_without_since_starts_from_now(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        await post(http, server, "/registered_models", {"name": "before"})
        async with http.get(f"{server.url}{V1}/events") as response:
            stream = read_sse(response)
            name, ident, _data = await anext(stream)
            assert (name, ident) == ("ready", "1")
            await post(http, server, "/registered_models", {"name": "after"})
            name, ident, data = await asyncio.wait_for(anext(stream), 30)
    assert (name, ident) == ("registered_model.created", "2")
    assert data["entity"]["name"] == "after"


async def test_kinds_and_actions_filter_the_stream(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        model = await post(http, server, "/registered_models", {"name": "m"})
        await post(
            http, server, "/model_versions", {"name": "v1", "registeredModelId": model["id"]}
        )
        await patch(http, server, f"/registered_models/{model['id']}", {"description": "x"})
        await post(
            http, server, "/model_versions", {"name": "v2", "registeredModelId": model["id"]}
        )
        versions = await events_after(http, server, 0, 2, kinds="model_version")
        updates = await events_after(http, server, 0, 1, actions="updated")
        both = await events_after(
            http, server, 0, 3, kinds="registered_model,model_version", actions="created"
        )
    assert [e["entity"]["name"] for e in versions] == ["v1", "v2"]
    assert [e["type"] for e in updates] == ["registered_model.updated"]
    assert [e["cursor"] for e in both] == ["1", "2", "4"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "x"}, "since must be an event cursor"),
        ({"since": "-1"}, "since must be an event cursor"),
        ({"kinds": "model_version,nope"}, "unknown kinds nope"),
        ({"actions": "exploded"}, "unknown actions exploded"),
        ({"since": "7"}, "cursor 7 is beyond the newest event (0)"),
    ],
)
async def test_a_bad_watch_is_a_400_naming_what_is_wrong(
    server: RunningServer, query: dict[str, str], message: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}{V1}/events", params=query) as response,
    ):
        assert response.status == 400
        body = await response.json()
    assert body["code"] == "Bad Request"
    assert message in body["message"]


async def test_a_cursor_older_than_the_retention_is_a_410(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        for name in ("a", "b"):
            await post(http, server, "/registered_models", {"name": name})
        await asyncio.sleep(0.01)  # the events are older than "now" by at least a millisecond
        assert await server.service.events.prune(0.001) == 2
        await post(http, server, "/registered_models", {"name": "c"})
        async with http.get(f"{server.url}{V1}/events", params={"since": "1"}) as response:
            assert response.status == 410
            body = await response.json()
        assert body["code"] == "Gone"
        assert "older than the events kept" in body["message"]
        # From the pruned-through cursor on, nothing is missing.
        events = await events_after(http, server, 2, 1)
    assert events[0]["entity"]["name"] == "c"
    assert await event_count(server) == 1


async def test_the_server_prunes_events_past_the_retention_by_itself(database_url: str) -> None:
    async with run_server(database_url, event_retention=0.2) as srv:
        await srv.service.create("registered-model", {"name": "old"})
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                async with http.get(f"{srv.url}{V1}/events", params={"since": "0"}) as r:
                    if r.status == 410:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the event was never pruned")
        assert await event_count(srv) == 0


async def test_last_event_id_resumes_like_since(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        for name in ("a", "b"):
            await post(http, server, "/registered_models", {"name": name})
        async with http.get(f"{server.url}{V1}/events", headers={"Last-Event-ID": "1"}) as response:
            stream = read_sse(response)
            assert (await anext(stream))[:2] == ("ready", "1")
            name, ident, data = await asyncio.wait_for(anext(stream), 30)
    assert (ident, data["entity"]["name"]) == ("2", "b")


async def test_the_events_route_is_v1_only(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/api/model_registry/v1alpha3/events") as response,
    ):
        assert response.status == 404


async def test_stopping_the_server_ends_open_streams(database_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with run_server(database_url) as srv:
            response = await http.get(f"{srv.url}{V1}/events")
            stream = read_sse(response)
            assert (await anext(stream))[0] == "ready"
        # The stop did not wait for the watch: the stream is over.
        with pytest.raises((StopAsyncIteration, aiohttp.ClientError)):
            await asyncio.wait_for(anext(stream), 10)
        response.close()


@pytest.mark.parametrize(
    ("text_", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45), ("45", 45), ("500ms", 0.5)],
)
def test_retention_durations(text_: str, seconds: float) -> None:
    assert parse_duration(text_) == seconds


@pytest.mark.parametrize("text_", ["", "0", "-1d", "3 weeks", "d"])
def test_bad_retention_durations_are_refused(text_: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text_)


async def test_uploading_artifact_content_is_an_uploaded_event(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        artifact = await post(
            http, server, "/artifacts", {"artifactType": "model-artifact", "name": "weights"}
        )
        async with http.put(
            f"{server.url}{V1}/artifacts/{artifact['id']}/content",
            data=b"bytes of a model",
            headers={"Content-Type": "application/octet-stream"},
        ) as response:
            assert response.status in (200, 201), await response.text()
        events = await events_after(http, server, 0, 2)
    assert [e["type"] for e in events] == ["model_artifact.created", "model_artifact.uploaded"]
    assert events[1]["entityId"] == artifact["id"]
    props = events[1]["entity"]["customProperties"]
    assert "registry.sha256" in props


async def test_a_delete_is_a_deleted_event_naming_the_entity(
    server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        model = await post(http, server, "/registered_models", {"name": "gone"})
        async with http.delete(f"{server.url}{V1}/registered_models/{model['id']}") as response:
            assert response.status == 204
        events = await events_after(http, server, 0, 2)
    assert [e["type"] for e in events] == ["registered_model.created", "registered_model.deleted"]
    assert events[1]["entityId"] == model["id"]
    assert events[1]["entity"] == {"id": model["id"]}  # gone: only its id remains


async def test_setting_and_removing_an_alias_are_alias_events(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        model = await post(http, server, "/registered_models", {"name": "m"})
        version = await post(
            http, server, "/model_versions", {"name": "v1", "registeredModelId": model["id"]}
        )
        path = f"{server.url}{V1}/registered_models/{model['id']}/aliases/champion"
        async with http.put(path, json={"modelVersionId": version["id"]}) as response:
            assert response.status == 200, await response.text()
        async with http.delete(path) as response:
            assert response.status == 204
        events = await events_after(http, server, 2, 2, kinds="model_version_alias")
    assert [e["type"] for e in events] == [
        "model_version_alias.created",
        "model_version_alias.deleted",
    ]


async def test_writes_refused_inside_a_batch_leave_no_event_and_no_gap(
    server: RunningServer,
) -> None:
    # Concurrent creates, a third of them clashing by name: on SQLite they share writer
    # batches, each in its own savepoint; the refused ones must take neither event nor cursor.
    names = [f"m{i % 20}" for i in range(30)]
    outcomes = await asyncio.gather(
        *(server.service.create("registered-model", {"name": n}) for n in names),
        return_exceptions=True,
    )
    created = [o for o in outcomes if isinstance(o, dict)]
    assert len(created) == 20
    async with aiohttp.ClientSession() as http:
        events = await events_after(http, server, 0, 20)
    assert [int(e["cursor"]) for e in events] == list(range(1, 21))
    assert sorted(e["entityId"] for e in events) == sorted(m["id"] for m in created)
    assert await event_count(server) == 20


@pytest.mark.skipif(not PG_URL, reason="concurrent write transactions need PostgreSQL")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_event_committed_after_a_later_one_is_never_handed_out_behind_it(
    database_url: str,
) -> None:
    # A transaction that appended its event first but commits last: a plain sequence would
    # give it the lower number after the higher one was handed out (a gap a watcher never
    # fills). Held open here, it holds the later write's event back until it commits.
    async with run_server(database_url) as srv, aiohttp.ClientSession() as http:
        first = await post(http, srv, "/registered_models", {"name": "first"})
        got: list[dict[str, Any]] = []
        arrived = asyncio.Event()

        async def watch() -> None:
            async with http.get(f"{srv.url}{V1}/events", params={"since": "0"}) as response:
                async for name, _ident, data in read_sse(response):
                    if name != "ready":
                        got.append(data)
                        arrived.set()

        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait_for(arrived.wait(), 30)
            project = got[0]["project"]
            async with srv.service.store.engine.connect() as held:
                transaction = await held.begin()
                held_row = {
                    "time": 1, "kind": "registered_model", "action": "updated",
                    "entity_id": first["id"], "project": project, "subject": None,
                    "entity": json.dumps({"name": "held"}),
                }  # fmt: skip
                await append_events(held, [held_row])
                later = await post(http, srv, "/registered_models", {"name": "later"})
                await asyncio.sleep(1.0)  # the poller and the assigner had their turns
                assert [e["entity"]["name"] for e in got] == ["first"]
                await transaction.commit()
            for _ in range(200):
                if len(got) == 3:
                    break
                await asyncio.sleep(0.05)
        finally:
            watcher.cancel()
    assert [(e["cursor"], e["entity"]["name"]) for e in got] == [
        ("1", "first"),
        ("2", "held"),
        ("3", "later"),
    ]
    assert got[2]["entityId"] == later["id"]


async def test_a_watcher_following_concurrent_writes_sees_every_cursor_once_in_order(
    server: RunningServer,
) -> None:
    # Reads interleave with commits in flight: on PostgreSQL a watcher is handed only the
    # events the assigner numbered, never one that a lower, still pending cursor may precede.
    count = 120
    async with aiohttp.ClientSession() as http:
        watched = asyncio.ensure_future(events_after(http, server, 0, count))

        async def writer(first: int) -> None:
            for i in range(first, count, 8):
                await server.service.create("registered-model", {"name": f"m{i}"})

        await asyncio.gather(*(writer(w) for w in range(8)))
        events = await asyncio.wait_for(watched, 60)
    assert [int(e["cursor"]) for e in events] == list(range(1, count + 1))
    assert sorted(e["entity"]["name"] for e in events) == sorted(f"m{i}" for i in range(count))
