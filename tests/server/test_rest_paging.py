"""Paging over REST: ordering, keyset tokens, page sizes, on top-level and nested lists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from conformance import entities
from conformance.checks import assert_list, ids_of
from conformance.http import RestApi, rest_api
from conformance.lists import LIST_ENDPOINTS

ORDER_KEYS: dict[str, Callable[[dict[str, Any]], int]] = {
    "ID": lambda item: int(item["id"]),
    "CREATE_TIME": lambda item: int(item["createTimeSinceEpoch"]),
    "LAST_UPDATE_TIME": lambda item: int(item["lastUpdateTimeSinceEpoch"]),
}


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


async def walk(
    api: RestApi, path: str, params: dict[str, str], *, max_pages: int = 50
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow ``nextPageToken`` from the first page to the last.

    Returns:
        Every item in the order served, and every page body.
    """
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    token = ""
    for _ in range(max_pages):
        query = dict(params, nextPageToken=token) if token else dict(params)
        body = await api.fetch(path, query)
        items.extend(assert_list(body))
        pages.append(body)
        token = body["nextPageToken"]
        if not token:
            return items, pages
    raise AssertionError(f"{path} did not reach its last page in {max_pages} pages")


async def scrambled_models(api: RestApi, count: int) -> list[dict[str, Any]]:
    """Create ``count`` models, then patch some so update order differs from id order."""
    created = [await entities.registered_model(api) for _ in range(count)]
    for model in created[::3]:
        await api.update(f"/registered_models/{model['id']}", {"description": "touched"})
    listed = assert_list(await api.fetch("/registered_models"))
    assert len(listed) == count
    return listed


def assert_ordered(items: list[dict[str, Any]], order_by: str, descending: bool) -> None:
    """Assert that ``items`` follow ``order_by`` (ties broken by id) in the given direction."""
    key = ORDER_KEYS[order_by]
    keys = [(key(item), int(item["id"])) for item in items]
    assert keys == sorted(keys, reverse=descending), keys


@pytest.mark.parametrize("order_by", sorted(ORDER_KEYS))
@pytest.mark.parametrize("sort_order", ["ASC", "DESC"])
async def test_walking_every_page_visits_each_model_exactly_once_in_order(
    api: RestApi, order_by: str, sort_order: str
) -> None:
    models = await scrambled_models(api, 7)

    items, pages = await walk(
        api,
        "/registered_models",
        {"pageSize": "3", "orderBy": order_by, "sortOrder": sort_order},
    )

    assert sorted(ids_of(items), key=int) == sorted(ids_of(models), key=int)
    assert len(set(ids_of(items))) == len(items) == 7
    assert [page["size"] for page in pages] == [3, 3, 1]
    assert all(page["pageSize"] == 3 for page in pages)
    assert pages[-1]["nextPageToken"] == ""
    assert_ordered(items, order_by, sort_order == "DESC")


async def test_default_order_is_ascending_id(api: RestApi) -> None:
    await scrambled_models(api, 5)

    items, _ = await walk(api, "/registered_models", {"pageSize": "2"})

    assert_ordered(items, "ID", descending=False)
    assert len(items) == 5


async def test_same_query_at_the_same_state_gives_the_same_token(api: RestApi) -> None:
    await scrambled_models(api, 5)
    params = {"pageSize": "2", "orderBy": "LAST_UPDATE_TIME", "sortOrder": "DESC"}

    first = await api.fetch("/registered_models", params)
    again = await api.fetch("/registered_models", params)
    second = await api.fetch(
        "/registered_models", dict(params, nextPageToken=first["nextPageToken"])
    )
    second_again = await api.fetch(
        "/registered_models", dict(params, nextPageToken=first["nextPageToken"])
    )

    assert first["nextPageToken"]
    assert first["nextPageToken"] == again["nextPageToken"]
    assert first["items"] == again["items"]
    assert second["nextPageToken"] == second_again["nextPageToken"]
    assert second["nextPageToken"] != first["nextPageToken"]


async def test_a_page_that_holds_the_rest_has_an_empty_token(api: RestApi) -> None:
    await scrambled_models(api, 3)

    body = await api.fetch("/registered_models", {"pageSize": "3"})

    assert body["size"] == 3
    assert body["nextPageToken"] == ""


async def test_an_empty_token_means_the_first_page(api: RestApi) -> None:
    await scrambled_models(api, 4)

    first = await api.fetch("/registered_models", {"pageSize": "2"})
    empty = await api.fetch("/registered_models", {"pageSize": "2", "nextPageToken": ""})

    assert empty == first


async def test_without_a_page_size_every_row_comes_back(api: RestApi) -> None:
    models = await scrambled_models(api, 12)

    body = await api.fetch("/registered_models")

    assert sorted(ids_of(assert_list(body)), key=int) == sorted(ids_of(models), key=int)
    assert body["nextPageToken"] == ""


async def test_a_malformed_token_is_a_400(api: RestApi) -> None:
    await scrambled_models(api, 3)

    for token in ("garbage", "AAAA", "eyJ9", "!!", "a" * 300):
        await api.fails(
            "GET", "/registered_models", 400, params={"pageSize": "1", "nextPageToken": token}
        )


async def test_a_bad_page_size_is_a_400(api: RestApi) -> None:
    for size in ("0", "-1", "abc", "1.5"):
        await api.fails("GET", "/registered_models", 400, params={"pageSize": size})


async def test_a_token_keeps_working_after_a_create_between_pages(api: RestApi) -> None:
    models = await scrambled_models(api, 4)
    first = await api.fetch("/registered_models", {"pageSize": "2"})

    late = await entities.registered_model(api)
    rest, _ = await walk(
        api, "/registered_models", {"pageSize": "2", "nextPageToken": first["nextPageToken"]}
    )

    seen = ids_of(first["items"]) + ids_of(rest)
    assert seen == sorted([*ids_of(models), late["id"]], key=int)


async def test_nested_version_list_pages_through_every_version_once(api: RestApi) -> None:
    model = await entities.registered_model(api)
    other = await entities.registered_model(api)
    versions = [await entities.model_version(api, model["id"]) for _ in range(5)]
    await entities.model_version(api, other["id"])

    items, pages = await walk(
        api,
        f"/registered_models/{model['id']}/versions",
        {"pageSize": "2", "orderBy": "CREATE_TIME", "sortOrder": "DESC"},
    )

    assert sorted(ids_of(items), key=int) == sorted(ids_of(versions), key=int)
    assert len(pages) == 3
    assert_ordered(items, "CREATE_TIME", descending=True)


async def test_version_artifact_list_pages_through_every_artifact_once(api: RestApi) -> None:
    model = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"])
    created = [
        await entities.version_artifact(
            api, version["id"], {"artifactType": "doc-artifact", "uri": f"u{index}"}
        )
        for index in range(5)
    ]

    items, _ = await walk(
        api, f"/model_versions/{version['id']}/artifacts", {"pageSize": "2", "sortOrder": "DESC"}
    )

    assert ids_of(items) == sorted(ids_of(created), key=int, reverse=True)


@pytest.mark.parametrize("path", ["/model_versions", "/artifacts", "/model_artifacts"])
async def test_flat_lists_page_through_every_row_once(api: RestApi, path: str) -> None:
    model = await entities.registered_model(api)
    for _ in range(5):
        version = await entities.model_version(api, model["id"])
        await entities.version_artifact(
            api, version["id"], {"artifactType": "model-artifact", "uri": "s3://b/m"}
        )

    items, pages = await walk(api, path, {"pageSize": "2", "orderBy": "LAST_UPDATE_TIME"})

    assert len(items) == len(set(ids_of(items))) == 5
    assert [page["size"] for page in pages] == [2, 2, 1]
    assert_ordered(items, "LAST_UPDATE_TIME", descending=False)


@pytest.mark.parametrize("endpoint", sorted(LIST_ENDPOINTS))
async def test_every_list_endpoint_pages_in_both_directions(api: RestApi, endpoint: str) -> None:
    path, ids = await LIST_ENDPOINTS[endpoint](api)
    ascending = sorted(ids.values(), key=int)

    up, up_pages = await walk(api, path, {"pageSize": "1"})
    down, _ = await walk(api, path, {"pageSize": "1", "sortOrder": "DESC"})
    first = await api.fetch(path, {"pageSize": "1"})
    again = await api.fetch(path, {"pageSize": "1"})

    assert ids_of(up) == ascending
    assert ids_of(down) == ascending[::-1]
    assert [page["size"] for page in up_pages] == [1, 1]
    assert up_pages[-1]["nextPageToken"] == ""
    assert first["nextPageToken"] == again["nextPageToken"] != ""
    await api.fails("GET", path, 400, params={"pageSize": "1", "nextPageToken": "garbage"})
    await api.fails("GET", path, 400, params={"pageSize": "0"})
    await api.fails("GET", path, 400, params={"orderBy": "NAME"})


@pytest.mark.parametrize("scope", ["run", "all-runs"])
async def test_metric_history_pages_through_every_entry_once(api: RestApi, scope: str) -> None:
    experiment = await entities.experiment(api)
    run = await entities.experiment_run(api, experiment["id"])
    for step in range(1, 6):
        await entities.run_artifact(
            api,
            run["id"],
            {"artifactType": "metric", "name": f"m{step}", "value": float(step), "step": step},
        )
    path = (
        f"/experiment_runs/{run['id']}/metric_history"
        if scope == "run"
        else "/experiment_runs/metric_history"
    )

    items, pages = await walk(api, path, {"pageSize": "2", "sortOrder": "DESC"})

    assert sorted(item["name"] for item in items) == ["m1", "m2", "m3", "m4", "m5"]
    assert [page["size"] for page in pages] == [2, 2, 1]
    assert_ordered(items, "ID", descending=True)
