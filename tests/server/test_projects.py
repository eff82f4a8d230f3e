"""Projects over REST: a real scope. Names per project, CRUD, and no way from one project's
caller to another project's entities (by id, find, list, filter, page token, link, the
inference-service lookups, metric history)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from model_registry.server import RunningServer, run_server
from model_registry.server.projects import MODEL_TASKS

V1 = "/api/model_registry/v1"
ALPHA = "/api/model_registry/v1alpha3"


class Rest:
    """A raw REST caller bound to one server, with optional token and project."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        project: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if project is not None:
            sent["X-Model-Registry-Project"] = project
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.url + path, json=body, headers=sent
        ) as response:
            text = await response.text()
            if not text or response.content_type != "application/json":
                return response.status, text or None
            return response.status, await response.json()

    async def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, answer = await self.call(method, path, body, **kw)
        assert status in (200, 201), (method, path, status, answer)
        return answer


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    async with run_server(database_url) as srv:
        yield srv


@pytest.fixture
async def rest(server: RunningServer) -> AsyncIterator[Rest]:
    async with aiohttp.ClientSession() as session:
        yield Rest(session, server.url)


async def build_graph(
    rest: Rest, project: str, tag: str, token: str | None = None
) -> dict[str, str]:
    """One entity of every kind in ``project``, named after ``tag``; their ids by kind."""
    p = {"project": project, "token": token}
    ids: dict[str, str] = {}
    model = await rest.ok("POST", f"{ALPHA}/registered_models", {"name": f"{tag}-m"}, **p)
    ids["registered_model"] = model["id"]
    version = await rest.ok(
        "POST",
        f"{ALPHA}/model_versions",
        {"name": f"{tag}-v", "registeredModelId": model["id"], "externalId": f"{tag}-vx"},
        **p,
    )
    ids["model_version"] = version["id"]
    art = await rest.ok(
        "POST",
        f"{ALPHA}/model_versions/{version['id']}/artifacts",
        {"artifactType": "model-artifact", "name": f"{tag}-a", "uri": "s3://b/k"},
        **p,
    )
    ids["artifact"] = art["id"]
    doc = await rest.ok(
        "POST",
        f"{ALPHA}/artifacts",
        {"artifactType": "doc-artifact", "name": f"{tag}-doc", "uri": "s3://b/d"},
        **p,
    )
    ids["doc"] = doc["id"]
    exp = await rest.ok("POST", f"{ALPHA}/experiments", {"name": f"{tag}-e"}, **p)
    ids["experiment"] = exp["id"]
    run = await rest.ok(
        "POST", f"{ALPHA}/experiment_runs", {"name": f"{tag}-r", "experimentId": exp["id"]}, **p
    )
    ids["experiment_run"] = run["id"]
    metric = await rest.ok(
        "POST",
        f"{ALPHA}/experiment_runs/{run['id']}/artifacts",
        {"artifactType": "metric", "name": f"{tag}-acc", "value": 0.5, "step": 1},
        **p,
    )
    ids["metric"] = metric["id"]
    env = await rest.ok("POST", f"{ALPHA}/serving_environments", {"name": f"{tag}-env"}, **p)
    ids["serving_environment"] = env["id"]
    isvc = await rest.ok(
        "POST",
        f"{ALPHA}/inference_services",
        {
            "name": f"{tag}-isvc",
            "servingEnvironmentId": env["id"],
            "registeredModelId": model["id"],
        },
        **p,
    )
    ids["inference_service"] = isvc["id"]
    serve = await rest.ok(
        "POST",
        f"{ALPHA}/inference_services/{isvc['id']}/serves",
        {"modelVersionId": version["id"], "name": f"{tag}-serve"},
        **p,
    )
    ids["serve_model"] = serve["id"]
    return ids


async def test_with_auth_off_entities_live_in_default_and_names_are_unique_per_project(
    rest: Rest,
) -> None:
    await rest.ok("POST", f"{V1}/projects", {"name": "fraud"})
    in_default = await rest.ok("POST", f"{V1}/registered_models", {"name": "HAL"})
    in_fraud = await rest.ok("POST", f"{V1}/registered_models", {"name": "HAL"}, project="fraud")
    assert in_default["id"] != in_fraud["id"]
    again, answer = await rest.call("POST", f"{V1}/registered_models", {"name": "HAL"})
    assert again == 409, answer
    explicit = await rest.ok("GET", f"{V1}/registered_model?name=HAL", project="default")
    assert explicit["id"] == in_default["id"]
    # The same external id in two projects: unique per project, too.
    await rest.ok("POST", f"{ALPHA}/experiments", {"name": "e", "externalId": "x"}, project="fraud")
    await rest.ok("POST", f"{ALPHA}/experiments", {"name": "e", "externalId": "x"})


async def test_a_header_naming_an_unknown_project_is_a_404(rest: Rest) -> None:
    status, answer = await rest.call("GET", f"{V1}/registered_models", project="nope")
    assert status == 404 and answer["message"] == "project 'nope' not found"


async def test_every_way_of_reaching_an_entity_of_another_project_finds_nothing(
    rest: Rest,
) -> None:
    await rest.ok("POST", f"{V1}/projects", {"name": "a"})
    await rest.ok("POST", f"{V1}/projects", {"name": "b"})
    a = await build_graph(rest, "a", "A")
    b = await build_graph(rest, "b", "B")
    q = {"project": "b"}
    by_id = {
        "registered_model": "registered_models",
        "model_version": "model_versions",
        "artifact": "artifacts",
        "doc": "artifacts",
        "metric": "artifacts",
        "experiment": "experiments",
        "experiment_run": "experiment_runs",
        "serving_environment": "serving_environments",
        "inference_service": "inference_services",
    }
    for kind, collection in by_id.items():
        for method, body in (("GET", None), ("PATCH", {"description": "stolen"})):
            status, answer = await rest.call(method, f"{ALPHA}/{collection}/{a[kind]}", body, **q)
            assert status == 404, (kind, method, status, answer)
    finds = [
        "registered_model?name=A-m",
        f"model_version?name=A-v&parentResourceId={a['registered_model']}",
        "model_version?externalId=A-vx",
        f"artifact?name=A-a&parentResourceId={a['model_version']}",
        "experiment?name=A-e",
        f"experiment_run?name=A-r&parentResourceId={a['experiment']}",
        "serving_environment?name=A-env",
        f"inference_service?name=A-isvc&parentResourceId={a['serving_environment']}",
    ]
    for find in finds:
        status, answer = await rest.call("GET", f"{ALPHA}/{find}", **q)
        assert status == 404, (find, status, answer)
    children = [
        f"registered_models/{a['registered_model']}/versions",
        f"model_versions/{a['model_version']}/artifacts",
        f"experiments/{a['experiment']}/experiment_runs",
        f"experiment_runs/{a['experiment_run']}/artifacts",
        f"experiment_runs/{a['experiment_run']}/metric_history",
        f"serving_environments/{a['serving_environment']}/inference_services",
        f"inference_services/{a['inference_service']}/serves",
        f"inference_services/{a['inference_service']}/model",
        f"inference_services/{a['inference_service']}/version",
    ]
    for child in children:
        status, answer = await rest.call("GET", f"{ALPHA}/{child}", **q)
        assert status == 404, (child, status, answer)
    collections = [
        "registered_models",
        "model_versions",
        "model_artifacts",
        "artifacts",
        "experiments",
        "experiment_runs",
        "serving_environments",
        "inference_services",
        "experiment_runs/metric_history",
    ]
    for collection in collections:
        page = await rest.ok("GET", f"{ALPHA}/{collection}?pageSize=100", **q)
        assert page["items"], collection  # b's own entities are there
        assert all(not item.get("name", "").startswith("A-") for item in page["items"])
        # A filter naming A's ids or names finds nothing either.
        for flt in (f"id={a['registered_model']}", "name='A-m'", "name LIKE 'A-%'"):
            page = await rest.ok("GET", f"{ALPHA}/{collection}?filterQuery={quote(flt)}", **q)
            assert all(not item.get("name", "").startswith("A-") for item in page["items"]), (
                collection,
                flt,
            )
    # A page token of project a, replayed in project b, reaches no row of a.
    first = await rest.ok("GET", f"{ALPHA}/artifacts?pageSize=1", project="a")
    assert first["nextPageToken"]
    replay = await rest.ok(
        "GET", f"{ALPHA}/artifacts?pageSize=100&nextPageToken={first['nextPageToken']}", **q
    )
    assert all(not item["name"].startswith("A-") for item in replay["items"])
    # Linking a's artifact into b's version: as if the artifact did not exist.
    status, answer = await rest.call(
        "POST",
        f"{ALPHA}/model_versions/{b['model_version']}/artifacts",
        {"id": a["artifact"], "artifactType": "model-artifact"},
        **q,
    )
    assert status == 404, answer
    # Creating a child under a's parent, or pointing at a's model: 404.
    status, answer = await rest.call(
        "POST",
        f"{ALPHA}/model_versions",
        {"name": "v", "registeredModelId": a["registered_model"]},
        **q,
    )
    assert status == 404, answer
    status, answer = await rest.call(
        "POST",
        f"{ALPHA}/inference_services",
        {
            "name": "i",
            "servingEnvironmentId": b["serving_environment"],
            "registeredModelId": a["registered_model"],
        },
        **q,
    )
    assert status == 404, answer
    # And a's entities are all still there, unchanged, in a.
    model = await rest.ok("GET", f"{ALPHA}/registered_models/{a['registered_model']}", project="a")
    assert model["name"] == "A-m" and "description" not in model


async def test_projects_are_created_found_listed_and_patched(rest: Rest) -> None:
    created = await rest.ok(
        "POST",
        f"{V1}/projects",
        {
            "name": "NLP Example",
            "description": "d",
            "modelTask": "MODEL_TASK_NATURAL_LANGUAGE_INFERENCE",
            "externalId": "ext-1",
            "customProperties": {"k": {"metadataType": "MetadataStringValue", "string_value": "v"}},
        },
    )
    assert created["name"] == "NLP Example" and len(created["id"]) == 36
    assert created["modelTask"] == "MODEL_TASK_NATURAL_LANGUAGE_INFERENCE"
    assert created["customProperties"]["k"]["string_value"] == "v"
    assert await rest.ok("GET", f"{V1}/projects/{created['id']}") == created
    assert await rest.ok("GET", f"{V1}/project?name=NLP%20Example") == created
    assert await rest.ok("GET", f"{V1}/project?externalId=ext-1") == created
    listed = await rest.ok("GET", f"{V1}/projects?pageSize=1")
    assert listed["items"][0]["name"] == "default" and listed["nextPageToken"]
    rest_page = await rest.ok(
        "GET", f"{V1}/projects?pageSize=5&nextPageToken={listed['nextPageToken']}"
    )
    assert [p["name"] for p in rest_page["items"]] == ["NLP Example"]
    patched = await rest.ok(
        "PATCH",
        f"{V1}/projects/{created['id']}",
        {"description": "new", "modelTask": "MODEL_TASK_RANKING"},
    )
    assert patched["description"] == "new" and patched["modelTask"] == "MODEL_TASK_RANKING"
    assert int(patched["lastUpdateTimeSinceEpoch"]) > int(created["lastUpdateTimeSinceEpoch"])
    # The project is selectable by its id too.
    await rest.ok("POST", f"{V1}/registered_models", {"name": "m"}, project=created["id"])
    page = await rest.ok("GET", f"{V1}/registered_models", project="NLP Example")
    assert [m["name"] for m in page["items"]] == ["m"]


async def test_bad_project_bodies_are_4xx(rest: Rest) -> None:
    status, answer = await rest.call("POST", f"{V1}/projects", {"name": "p", "modelTask": "X"})
    assert status == 400 and all(task in answer["message"] for task in MODEL_TASKS)
    status, _ = await rest.call("POST", f"{V1}/projects", {"name": "default"})
    assert status == 409
    status, _ = await rest.call("POST", f"{V1}/projects", {"description": "no name"})
    assert status == 400
    status, _ = await rest.call("POST", f"{V1}/projects", {"name": "p", "bogus": 1})
    assert status == 400
    status, _ = await rest.call("GET", f"{V1}/projects/00000000-0000-0000-0000-000000000000")
    assert status == 404
    status, _ = await rest.call("PATCH", f"{V1}/projects/default", {"name": "other"})
    assert status == 400
    status, _ = await rest.call("GET", f"{V1}/project")
    assert status == 400


async def test_with_auth_off_token_management_is_a_400_saying_so(rest: Rest) -> None:
    for method, path, body in (
        ("GET", f"{V1}/tokens", None),
        ("POST", f"{V1}/tokens", {"subject": "alice", "roles": {"default": "reader"}}),
        ("DELETE", f"{V1}/tokens/1", None),
    ):
        status, answer = await rest.call(method, path, body)
        assert status == 400 and "authentication is off" in answer["message"], (method, answer)


async def _events_of(rest: Rest, project: str) -> str:
    """What the change-event stream of ``project`` sends from cursor 0 in half a second."""
    chunks: list[bytes] = []

    async def read(response: aiohttp.ClientResponse) -> None:
        async for chunk in response.content.iter_any():
            chunks.append(chunk)

    headers = {"X-Model-Registry-Project": project}
    async with rest.session.get(f"{rest.url}{V1}/events?since=0", headers=headers) as response:
        assert response.status == 200
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(read(response), 0.5)
    return b"".join(chunks).decode()


async def test_a_project_is_deleted_when_empty_or_with_cascade_and_default_never(
    rest: Rest,
) -> None:
    created = await rest.ok("POST", f"{V1}/projects", {"name": "p"})
    ids = await build_graph(rest, "p", "P")
    status, answer = await rest.call("DELETE", f"{V1}/projects/p")
    assert status == 409, answer
    for held in ("1 registered model,", "1 model version", "1 experiment,", "1 metric,"):
        assert held in answer["message"], answer
    assert "cascade=true" in answer["message"]
    # Refused: nothing went.
    await rest.ok("GET", f"{ALPHA}/registered_models/{ids['registered_model']}", project="p")
    assert "P-m" in await _events_of(rest, "p")
    status, _ = await rest.call("DELETE", f"{V1}/projects/p?cascade=maybe")
    assert status == 400
    status, _ = await rest.call("DELETE", f"{V1}/projects/{created['id']}?cascade=true")
    assert status == 204
    for path in (f"{V1}/projects/{created['id']}", f"{V1}/project?name=p"):
        status, _ = await rest.call("GET", path)
        assert status == 404, path
    status, _ = await rest.call("GET", f"{V1}/registered_models", project="p")
    assert status == 404
    # The name is free, and the new project inherits nothing (not its entities, not its
    # change events).
    await rest.ok("POST", f"{V1}/projects", {"name": "p"})
    for collection in ("registered_models", "artifacts", "experiments", "inference_services"):
        page = await rest.ok("GET", f"{ALPHA}/{collection}", project="p")
        assert page["items"] == [], collection
    assert "P-" not in await _events_of(rest, "p")
    # The new, empty project goes without cascade; default never; unknown ones are a 404.
    status, _ = await rest.call("DELETE", f"{V1}/projects/p")
    assert status == 204
    status, answer = await rest.call("DELETE", f"{V1}/projects/default?cascade=true")
    assert status == 400 and "default" in answer["message"]
    status, _ = await rest.call("DELETE", f"{V1}/projects/nope")
    assert status == 404
    # The other projects are untouched.
    page = await rest.ok("GET", f"{V1}/projects")
    assert [p["name"] for p in page["items"]] == ["default"]


async def test_a_renamed_project_keeps_its_events_and_its_old_name_passes_on_none(
    rest: Rest,
) -> None:
    created = await rest.ok("POST", f"{V1}/projects", {"name": "old"})
    await rest.ok("POST", f"{V1}/registered_models", {"name": "R-m"}, project="old")
    await rest.ok("PATCH", f"{V1}/projects/{created['id']}", {"name": "new"})
    assert "R-m" in await _events_of(rest, "new")
    await rest.ok("POST", f"{V1}/projects", {"name": "old"})
    assert "R-m" not in await _events_of(rest, "old")
