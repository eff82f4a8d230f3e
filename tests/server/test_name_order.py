"""``orderBy=NAME`` (our extension) over REST and gRPC: every page once, in name order, ties
(the same version name under many models) broken by id in both directions; the page token
carries the name. The SQL half (rows without a name, any data) is in test_paging.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from test_projects import ALPHA, V1, Rest

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry.server import RunningServer, run_server

# Lower-case letters only: every collation orders them alike.
MODEL_NAMES = ["kilo", "alpha", "echo", "bravo", "juliet", "charlie", "delta", "alp"]


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    async with run_server(database_url, grpc_port=0) as srv:
        yield srv


@pytest.fixture
async def rest(server: RunningServer) -> AsyncIterator[Rest]:
    async with aiohttp.ClientSession() as session:
        yield Rest(session, server.url)


async def walk(rest: Rest, path: str, size: int, desc: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = ""
    order = f"orderBy=NAME&sortOrder={'DESC' if desc else 'ASC'}&pageSize={size}"
    for _ in range(100):
        sep = "&" if "?" in path else "?"
        page = await rest.ok("GET", f"{path}{sep}{order}&nextPageToken={token}")
        assert len(page["items"]) <= size
        items.extend(page["items"])
        token = page["nextPageToken"]
        if not token:
            return items
    raise AssertionError("paging did not end")


def keys(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(item["name"], int(item["id"])) for item in items]


async def test_models_and_versions_page_by_name_with_ties_broken_by_id(rest: Rest) -> None:
    models = []
    for name in MODEL_NAMES:
        models.append(await rest.ok("POST", f"{V1}/registered_models", {"name": name}))
    # Versions named alike under every model: many ties on the name.
    for version in ("v2", "v1"):
        for model in models[::-1]:
            await rest.ok(
                "POST", f"{V1}/model_versions", {"name": version, "registeredModelId": model["id"]}
            )
    for desc in (False, True):
        for size in (1, 2, 3, 5, 100):
            listed = await walk(rest, f"{V1}/registered_models", size, desc)
            assert [m["name"] for m in listed] == sorted(MODEL_NAMES, reverse=desc)
            versions = await walk(rest, f"{V1}/model_versions", size, desc)
            assert len(versions) == 2 * len(MODEL_NAMES)
            assert keys(versions) == sorted(keys(versions), reverse=desc), (size, desc)
            assert len({v["id"] for v in versions}) == len(versions)
    # A nested list and a filtered one order by name too.
    nested = await walk(rest, f"{V1}/registered_models/{models[0]['id']}/versions", 1, False)
    assert [v["name"] for v in nested] == ["v1", "v2"]
    filtered = await walk(
        rest, f"{V1}/registered_models?filterQuery=name%20LIKE%20'al%25'", 1, True
    )
    assert [m["name"] for m in filtered] == ["alpha", "alp"]


async def test_a_name_token_is_bound_to_its_ordering(rest: Rest) -> None:
    for name in ("b", "a", "c"):
        await rest.ok("POST", f"{V1}/registered_models", {"name": name})
    page = await rest.ok("GET", f"{V1}/registered_models?orderBy=NAME&pageSize=1")
    token = page["nextPageToken"]
    status, answer = await rest.call(
        "GET", f"{V1}/registered_models?orderBy=ID&pageSize=1&nextPageToken={token}"
    )
    assert status == 400 and "another orderBy" in answer["message"]
    status, answer = await rest.call("GET", f"{V1}/registered_models?orderBy=TITLE")
    assert status == 400 and "NAME" in answer["message"]
    # An extension of v1: v1alpha3 stays the reference's, which knows no NAME.
    status, answer = await rest.call("GET", f"{ALPHA}/registered_models?orderBy=NAME")
    assert status == 400 and "invalid orderBy 'NAME'" in answer["message"]


async def test_projects_list_by_name(rest: Rest) -> None:
    for name in ("zulu", "mike", "bravo"):
        await rest.ok("POST", f"{V1}/projects", {"name": name})
    listed = await walk(rest, f"{V1}/projects", 2, False)
    assert [p["name"] for p in listed] == ["bravo", "default", "mike", "zulu"]


async def test_grpc_pages_by_name(server: RunningServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = pb_grpc.ModelRegistryServiceStub(channel)
        for name in MODEL_NAMES:
            await stub.UpsertRegisteredModel(
                pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name=name))
            )
        seen: list[str] = []
        token = ""
        for _ in range(20):
            page = await stub.GetRegisteredModels(
                pb.GetRegisteredModelsRequest(
                    page_size=3,
                    order_by=pb.ORDER_BY_FIELD_NAME,
                    sort_order=pb.SORT_ORDER_DESC,
                    next_page_token=token or None,
                )
            )
            seen.extend(m.name for m in page.items)
            token = page.next_page_token
            if not token:
                break
    assert seen == sorted(MODEL_NAMES, reverse=True)
