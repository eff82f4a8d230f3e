"""Issued tokens over REST: roles per project, 403 naming the role, 404 outside the token's
projects, revocation within a second, the seed's ``rime-api-key`` header, and a walk over
EVERY route of the app with no token and with another project's token."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from test_projects import ALPHA, V1, Rest, build_graph

from model_registry.server import RunningServer, run_server
from model_registry.server.app import create_app, public_paths
from model_registry.server.service import RegistryService

ADMIN = "admin-secret"


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    async with run_server(database_url, auth_tokens=[ADMIN]) as srv:
        yield srv


@pytest.fixture
async def rest(server: RunningServer) -> AsyncIterator[Rest]:
    async with aiohttp.ClientSession() as session:
        yield Rest(session, server.url)


async def issue(rest: Rest, subject: str, roles: dict[str, str], token: str = ADMIN) -> str:
    created = await rest.ok(
        "POST", f"{V1}/tokens", {"subject": subject, "roles": roles}, token=token
    )
    assert created["subject"] == subject and created["token"]
    return str(created["token"])


async def test_a_token_reads_its_projects_and_nothing_else(rest: Rest) -> None:
    await rest.ok("POST", f"{V1}/projects", {"name": "fraud"}, token=ADMIN)
    await rest.ok("POST", f"{V1}/registered_models", {"name": "secret"}, token=ADMIN)
    alice = await issue(rest, "alice", {"fraud": "editor", "default": "reader"})
    bob = await issue(rest, "bob", {"fraud": "reader"})
    # No header: the token's first project (fraud).
    created = await rest.ok("POST", f"{V1}/registered_models", {"name": "m"}, token=alice)
    page = await rest.ok("GET", f"{V1}/registered_models", token=bob)
    assert [m["id"] for m in page["items"]] == [created["id"]]
    # alice reads default, bob has no role there: as if it did not exist.
    page = await rest.ok("GET", f"{V1}/registered_models", token=alice, project="default")
    assert [m["name"] for m in page["items"]] == ["secret"]
    status, answer = await rest.call("GET", f"{V1}/registered_models", token=bob, project="default")
    assert status == 404 and answer["message"] == "project 'default' not found"
    # Projects listed: only those with a role.
    listed = await rest.ok("GET", f"{V1}/projects", token=bob)
    assert [p["name"] for p in listed["items"]] == ["fraud"]
    default_id = (await rest.ok("GET", f"{V1}/project?name=default", token=ADMIN))["id"]
    status, _ = await rest.call("GET", f"{V1}/projects/{default_id}", token=bob)
    assert status == 404


async def test_each_write_needs_its_role_and_the_403_names_it(rest: Rest) -> None:
    await rest.ok("POST", f"{V1}/projects", {"name": "fraud"}, token=ADMIN)
    ids = await build_graph(rest, "fraud", "F", ADMIN)
    reader = await issue(rest, "reader", {"fraud": "reader"})
    editor = await issue(rest, "editor", {"fraud": "editor"})
    writes = [
        ("POST", f"{ALPHA}/registered_models", {"name": "n"}),
        ("PATCH", f"{ALPHA}/registered_models/{ids['registered_model']}", {"description": "d"}),
        ("POST", f"{ALPHA}/registered_models/{ids['registered_model']}/versions", {"name": "v2"}),
        ("PATCH", f"{ALPHA}/model_versions/{ids['model_version']}", {"description": "d"}),
        (
            "POST",
            f"{ALPHA}/model_versions/{ids['model_version']}/artifacts",
            {"artifactType": "doc-artifact", "name": "d2"},
        ),
        ("PATCH", f"{ALPHA}/artifacts/{ids['doc']}", {"description": "d"}),
        ("POST", f"{ALPHA}/experiments", {"name": "e2"}),
        (
            "POST",
            f"{ALPHA}/experiment_runs/{ids['experiment_run']}/artifacts",
            {"artifactType": "parameter", "name": "p", "value": "1"},
        ),
        ("PATCH", f"{ALPHA}/inference_services/{ids['inference_service']}", {"description": "d"}),
        ("POST", f"{ALPHA}/serving_environments", {"name": "env2"}),
    ]
    for method, path, body in writes:
        status, answer = await rest.call(method, path, body, token=reader)
        assert status == 403, (method, path, status, answer)
        assert "'editor'" in answer["message"] and "'fraud'" in answer["message"], answer
        status, answer = await rest.call(method, path, body, token=editor)
        assert status in (200, 201), (method, path, status, answer)
    # Managing the project needs admin.
    fraud = await rest.ok("GET", f"{V1}/project?name=fraud", token=editor)
    status, answer = await rest.call(
        "PATCH", f"{V1}/projects/{fraud['id']}", {"description": "x"}, token=editor
    )
    assert status == 403 and "'admin'" in answer["message"]
    status, answer = await rest.call(
        "POST", f"{V1}/tokens", {"subject": "x", "roles": {"fraud": "reader"}}, token=editor
    )
    assert status == 403 and "'admin'" in answer["message"]
    status, answer = await rest.call("POST", f"{V1}/projects", {"name": "mine"}, token=editor)
    assert status == 403
    # A project admin manages its project and issues tokens for it, not for others.
    owner = await issue(rest, "owner", {"fraud": "admin"})
    await rest.ok("PATCH", f"{V1}/projects/{fraud['id']}", {"description": "x"}, token=owner)
    await issue(rest, "carol", {"fraud": "reader"}, token=owner)
    status, _ = await rest.call(
        "POST", f"{V1}/tokens", {"subject": "x", "roles": {"default": "reader"}}, token=owner
    )
    assert status == 404  # owner has no role in default: it does not exist for it


async def test_a_revoked_token_stops_working_within_a_second(
    rest: Rest, server: RunningServer
) -> None:
    token = await issue(rest, "alice", {"default": "reader"})
    await rest.ok("GET", f"{V1}/registered_models", token=token)
    listed = await rest.ok("GET", f"{V1}/tokens", token=ADMIN)
    assert [(t["subject"], t["roles"]) for t in listed["items"]] == [
        ("alice", {"default": "reader"})
    ]
    assert all("token" not in t for t in listed["items"])
    status, _ = await rest.call("DELETE", f"{V1}/tokens/{listed['items'][0]['id']}", token=ADMIN)
    assert status == 204
    start = time.monotonic()
    while True:
        status, _ = await rest.call("GET", f"{V1}/registered_models", token=token)
        if status == 401:
            break
        assert time.monotonic() - start < 1.0, "revoked token still accepted after 1 s"
        await asyncio.sleep(0.05)
    assert (await rest.ok("GET", f"{V1}/tokens", token=ADMIN))["items"] == []


async def test_an_expired_token_is_refused(rest: Rest) -> None:
    expires = int(time.time() * 1000) + 300
    created = await rest.ok(
        "POST",
        f"{V1}/tokens",
        {"subject": "t", "roles": {"default": "reader"}, "expiresTimeSinceEpoch": str(expires)},
        token=ADMIN,
    )
    assert created["expiresTimeSinceEpoch"] == str(expires)
    await rest.ok("GET", f"{V1}/registered_models", token=created["token"])
    await asyncio.sleep(0.4)
    status, _ = await rest.call("GET", f"{V1}/registered_models", token=created["token"])
    assert status == 401


async def test_bad_token_requests_are_400s(rest: Rest) -> None:
    for body in (
        {"subject": "a", "roles": {"default": "owner"}},
        {"subject": "a", "roles": {}},
        {"subject": "", "roles": {"default": "reader"}},
        {"subject": "a", "roles": {"default": "reader"}, "expiresTimeSinceEpoch": "1"},
        {"subject": "a", "roles": {"default": "reader"}, "extra": 1},
    ):
        status, answer = await rest.call("POST", f"{V1}/tokens", body, token=ADMIN)
        assert status == 400, (body, answer)
    status, _ = await rest.call(
        "POST", f"{V1}/tokens", {"subject": "a", "roles": {"nope": "reader"}}, token=ADMIN
    )
    assert status == 404


async def test_the_rime_api_key_header_carries_a_token(rest: Rest) -> None:
    token = await issue(rest, "alice", {"default": "editor"})
    await rest.ok("POST", f"{V1}/registered_models", {"name": "m"}, headers={"rime-api-key": token})
    status, _ = await rest.call("GET", f"{V1}/registered_models", headers={"rime-api-key": "x"})
    assert status == 401


async def test_the_server_logs_the_subject_of_each_write_never_the_token(
    rest: Rest, caplog: pytest.LogCaptureFixture
) -> None:
    token = await issue(rest, "alice", {"default": "editor"})
    with caplog.at_level(logging.INFO, logger="model_registry.server.audit"):
        await rest.ok("POST", f"{V1}/registered_models", {"name": "m"}, token=token)
    records = [r.getMessage() for r in caplog.records if r.name == "model_registry.server.audit"]
    assert any("'alice'" in m and "registered model" in m for m in records), records
    assert all(token not in m for m in caplog.messages)


def _routes() -> list[tuple[str, str]]:
    """Every (method, path template) the REST app serves: the table itself, so a route added
    later is walked too."""
    # Building the app only registers routes: no service call is made.
    app = create_app(RegistryService.__new__(RegistryService))
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "*" and route.method != "HEAD":
            found.append((route.method, path))
    return found


async def _stream_head(
    rest: Rest, path: str, token: str | None, project: str | None = None
) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if project is not None:
        headers["X-Model-Registry-Project"] = project
    async with rest.session.get(rest.url + path, headers=headers) as response:
        chunks: list[bytes] = []
        if response.status == 200:
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(0.5):
                    async for chunk in response.content.iter_any():
                        chunks.append(chunk)
        else:
            chunks.append(await response.read())
        return response.status, b"".join(chunks).decode()


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


async def test_every_route_refuses_no_token_and_hides_other_projects(rest: Rest) -> None:
    await rest.ok("POST", f"{V1}/projects", {"name": "a"}, token=ADMIN)
    await rest.ok("POST", f"{V1}/projects", {"name": "b"}, token=ADMIN)
    a = await build_graph(rest, "a", "Zq9", ADMIN)
    a_project = await rest.ok("GET", f"{V1}/project?name=a", token=ADMIN)
    # A reader: its writes are refused before they look anything up, and create nothing in b
    # (b stays empty, so every id the walk tries is one of a's).
    foreign = await issue(rest, "mallory", {"b": "reader"})
    routes = _routes()
    assert len(routes) > 100
    # The webhook routes, the delivery log's included, are the server's admin's alone.
    admin_only = {
        ("GET", f"{V1}/webhooks"),
        ("POST", f"{V1}/webhooks"),
        ("GET", f"{V1}/webhooks/{{id}}"),
        ("DELETE", f"{V1}/webhooks/{{id}}"),
        ("GET", f"{V1}/webhooks/{{id}}/deliveries"),
    }
    assert {r for r in routes if "/webhooks" in r[1]} == admin_only
    open_paths = public_paths(("v1", "v1alpha3"))
    ids = sorted(set(a.values()) | {a_project["id"]})
    for method, template in routes:
        body: dict[str, Any] | None = {} if method in ("POST", "PATCH") else None
        if template in open_paths or template.startswith("/ui"):
            # The probes are open; the UI signs in through its own page, on the same
            # principals (tests/server/ui/test_ui_projects.py walks it with a project token).
            continue
        if template.endswith("/events"):
            # A stream: what it sends in its first half second (the backlog from cursor 0).
            assert (await _stream_head(rest, template + "?since=0", None))[0] == 401
            st, text = await _stream_head(rest, template + "?since=0", foreign)
            assert st == 200 and "Zq9-" not in text and '"project":"a"' not in text, text
            st, text = await _stream_head(rest, template + "?since=0", ADMIN, "a")
            assert st == 200 and "Zq9-" in text  # the same stream in a shows a's events
            continue
        status, _ = await rest.call(method, _fill(template, ids[0]), body)
        assert status == 401, (method, template, status)
        for ident in ids if "{" in template else ids[:1]:
            path = _fill(template, ident)
            status, answer = await rest.call(method, path, body, token=foreign)
            assert status < 500, (method, path, status, answer)
            if (method, template) in admin_only:
                assert status == 403, (method, path, status, answer)
            text = str(answer)
            assert "Zq9-" not in text, (method, path, answer)
            if a_project["id"] not in path:  # an error message may quote the path's id
                assert a_project["id"] not in text, (method, path, answer)
            if method == "GET" and "{" in template and status != 400:
                # 404: as if a's entity did not exist; 403: a route for the server's admin
                # only (webhooks), refused whatever the id, so it tells nothing either.
                assert status in (403, 404), (method, path, status, answer)


async def test_only_the_admin_token_deletes_a_project_and_its_roles_go_with_it(
    rest: Rest,
) -> None:
    await rest.ok("POST", f"{V1}/projects", {"name": "fraud"}, token=ADMIN)
    await rest.ok("POST", f"{V1}/registered_models", {"name": "m"}, project="fraud", token=ADMIN)
    owner = await issue(rest, "owner", {"fraud": "admin"})
    both = await issue(rest, "both", {"fraud": "editor", "default": "reader"})
    outsider = await issue(rest, "outsider", {"default": "editor"})
    status, answer = await rest.call("DELETE", f"{V1}/projects/fraud?cascade=true", token=owner)
    assert status == 403 and "admin token" in answer["message"], answer
    status, _ = await rest.call("DELETE", f"{V1}/projects/fraud?cascade=true", token=outsider)
    assert status == 404  # no role there: as if it did not exist
    status, _ = await rest.call("DELETE", f"{V1}/projects/fraud?cascade=true")
    assert status == 401
    status, _ = await rest.call("DELETE", f"{V1}/projects/fraud?cascade=true", token=ADMIN)
    assert status == 204
    # A token whose only project went is revoked; one with another project keeps it.
    status, _ = await rest.call("GET", f"{V1}/registered_models", token=owner)
    assert status == 401
    await rest.ok("GET", f"{V1}/registered_models", token=both, project="default")
    listed = await rest.ok("GET", f"{V1}/tokens", token=ADMIN)
    assert {t["subject"]: t["roles"] for t in listed["items"]} == {
        "both": {"default": "reader"},
        "outsider": {"default": "editor"},
    }
