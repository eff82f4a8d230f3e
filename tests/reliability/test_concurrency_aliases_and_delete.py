"""Aliases and delete under races, through the REST front door of a real server (SQLite, and
PostgreSQL when ``MR_TEST_DATABASE_URL`` is set): an alias moved by two writers ends on one of
the two versions and never on a deleted one; a delete racing a child's create refuses or
removes both, and never leaves an orphan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from model_registry.server import run_server
from model_registry.server.versions import API_VERSIONS

ROUNDS = 12
V1 = API_VERSIONS["v1"].base_path


@pytest.fixture
async def http(database_url: str) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    async with run_server(database_url) as srv, aiohttp.ClientSession() as session:
        yield session, srv.url + V1


async def _json(
    session: aiohttp.ClientSession, method: str, url: str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    async with session.request(method, url, **kw) as reply:
        assert reply.status < 500, await reply.text()
        body = await reply.json() if reply.status != 204 else {}
        return reply.status, body


async def _model(session: aiohttp.ClientSession, base: str, name: str) -> str:
    status, model = await _json(session, "POST", f"{base}/registered_models", json={"name": name})
    assert status == 201
    return str(model["id"])


async def _version(session: aiohttp.ClientSession, base: str, model: str, name: str) -> str:
    status, version = await _json(
        session, "POST", f"{base}/registered_models/{model}/versions", json={"name": name}
    )
    assert status == 201, version
    return str(version["id"])


async def test_two_writers_moving_one_alias_end_on_one_of_the_two_versions(
    http: tuple[aiohttp.ClientSession, str],
) -> None:
    session, base = http
    model = await _model(session, base, "m")
    first = await _version(session, base, model, "a")
    second = await _version(session, base, model, "b")
    alias = f"{base}/registered_models/{model}/aliases/champion"

    for _ in range(ROUNDS):
        answers = await asyncio.gather(
            _json(session, "PUT", alias, json={"modelVersionId": first}),
            _json(session, "PUT", alias, json={"modelVersionId": second}),
        )
        assert [status for status, _ in answers] == [200, 200]
        status, found = await _json(
            session, "GET", f"{base}/registered_models/{model}/versions/by_alias/champion"
        )
        assert status == 200 and found["id"] in (first, second)
        _, registered = await _json(session, "GET", f"{base}/registered_models/{model}")
        assert registered["aliases"] == {"champion": found["id"]}


async def test_an_alias_never_ends_on_a_version_deleted_at_the_same_time(
    http: tuple[aiohttp.ClientSession, str],
) -> None:
    session, base = http
    model = await _model(session, base, "m")
    keeper = await _version(session, base, model, "keeper")
    alias = f"{base}/registered_models/{model}/aliases/champion"

    for n in range(ROUNDS):
        doomed = await _version(session, base, model, f"doomed-{n}")
        (set_status, _), (delete_status, _) = await asyncio.gather(
            _json(session, "PUT", alias, json={"modelVersionId": doomed}),
            _json(session, "DELETE", f"{base}/model_versions/{doomed}", params={"cascade": "true"}),
        )
        assert (set_status, delete_status) in ((200, 204), (404, 204))
        status, found = await _json(
            session, "GET", f"{base}/registered_models/{model}/versions/by_alias/champion"
        )
        if status == 200:  # the alias exists only on a version that exists
            assert (await _json(session, "GET", f"{base}/model_versions/{found['id']}"))[0] == 200
        else:
            assert status == 404
        await _json(session, "PUT", alias, json={"modelVersionId": keeper})


@pytest.mark.parametrize("cascade", ["false", "true"])
async def test_a_delete_racing_a_childs_create_never_leaves_an_orphan(
    http: tuple[aiohttp.ClientSession, str], cascade: str
) -> None:
    session, base = http
    for n in range(ROUNDS):
        model = await _model(session, base, f"m{n}")
        (delete_status, _), (create_status, created) = await asyncio.gather(
            _json(
                session, "DELETE", f"{base}/registered_models/{model}", params={"cascade": cascade}
            ),
            _json(
                session, "POST", f"{base}/registered_models/{model}/versions", json={"name": "v"}
            ),
        )
        model_status, _ = await _json(session, "GET", f"{base}/registered_models/{model}")
        if create_status == 201:
            version_status, _ = await _json(
                session, "GET", f"{base}/model_versions/{created['id']}"
            )
            # The version was created first: the delete refused it, or (cascade) took it too.
            assert (delete_status, model_status, version_status) in (
                (409, 200, 200),
                (204, 404, 404),
            )
            if cascade == "false":
                assert delete_status == 409
        else:
            # The delete came first: the create found no model.
            assert (create_status, delete_status, model_status) == (404, 204, 404)
    _, versions = await _json(session, "GET", f"{base}/model_versions")
    _, models = await _json(session, "GET", f"{base}/registered_models")
    live = {m["id"] for m in models["items"]}
    assert all(v["registeredModelId"] in live for v in versions["items"])
