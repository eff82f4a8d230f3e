"""Model versions over REST: create (flat and nested), patch, nested lists, find, names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from conformance import entities
from conformance.checks import assert_list, assert_ms_time, assert_stored, ids_of, string_prop
from conformance.http import RestApi, rest_api


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


async def test_create_answers_201_with_the_stored_version(api: RestApi) -> None:
    model = await entities.registered_model(api)

    version = await api.create(
        "/model_versions",
        {
            "name": "v1",
            "registeredModelId": model["id"],
            "author": "bob",
            "description": "first cut",
            "externalId": "ext-v1",
            "customProperties": {"framework": string_prop("onnx")},
        },
    )

    assert_stored(version)
    assert version["name"] == "v1"
    assert version["registeredModelId"] == model["id"]
    assert version["author"] == "bob"
    assert version["description"] == "first cut"
    assert version["externalId"] == "ext-v1"
    assert version["state"] == "LIVE"
    assert version["customProperties"] == {"framework": string_prop("onnx")}
    assert await api.fetch(f"/model_versions/{version['id']}") == version


async def test_nested_create_puts_the_version_under_the_path_model(api: RestApi) -> None:
    model = await entities.registered_model(api)

    version = await api.create(
        f"/registered_models/{model['id']}/versions",
        {"name": "nested", "registeredModelId": model["id"]},
    )

    assert version["registeredModelId"] == model["id"]
    listed = assert_list(await api.fetch(f"/registered_models/{model['id']}/versions"))
    assert ids_of(listed) == [version["id"]]


async def test_nested_create_under_an_unknown_model_is_a_404(api: RestApi) -> None:
    await api.fails(
        "POST",
        "/registered_models/4242/versions",
        404,
        body={"name": "orphan", "registeredModelId": "4242"},
    )


async def test_create_for_an_unknown_model_is_refused(api: RestApi) -> None:
    reply = await api.post("/model_versions", {"name": "orphan", "registeredModelId": "4242"})

    assert reply.status in (400, 404, 422), reply.describe()
    assert assert_list(await api.fetch("/model_versions")) == []


async def test_create_without_a_model_id_is_a_422(api: RestApi) -> None:
    message = await api.fails("POST", "/model_versions", 422, body={"name": "v1"})

    assert "registeredModelId" in message


async def test_create_without_a_name_is_a_422(api: RestApi) -> None:
    model = await entities.registered_model(api)

    await api.fails(
        "POST",
        "/model_versions",
        422,
        body={"registeredModelId": model["id"]},
        message="required field 'name' is zero value.",
    )


async def test_version_names_are_unique_within_their_model_only(api: RestApi) -> None:
    first = await entities.registered_model(api)
    second = await entities.registered_model(api)
    await entities.model_version(api, first["id"], name="v1")

    other = await entities.model_version(api, second["id"], name="v1")
    await api.fails(
        "POST", "/model_versions", 409, body={"name": "v1", "registeredModelId": first["id"]}
    )

    assert other["registeredModelId"] == second["id"]


async def test_duplicate_external_id_is_a_409(api: RestApi) -> None:
    model = await entities.registered_model(api)
    await entities.model_version(api, model["id"], externalId="ext-dup")

    await api.fails(
        "POST",
        "/model_versions",
        409,
        body={"name": "v2", "registeredModelId": model["id"], "externalId": "ext-dup"},
    )


async def test_250_character_name_is_accepted(api: RestApi) -> None:
    model = await entities.registered_model(api)
    name = "v" * 250

    version = await entities.model_version(api, model["id"], name=name)

    assert version["name"] == name
    assert (await api.fetch(f"/model_versions/{version['id']}"))["name"] == name


async def test_255_character_name_is_refused_with_a_4xx(api: RestApi) -> None:
    model = await entities.registered_model(api)

    reply = await api.post("/model_versions", {"name": "v" * 255, "registeredModelId": model["id"]})

    assert 400 <= reply.status < 500, reply.describe()
    assert assert_list(await api.fetch("/model_versions")) == []


async def test_patch_merges_and_bumps_the_update_time(api: RestApi) -> None:
    model = await entities.registered_model(api)
    version = await entities.model_version(
        api, model["id"], author="bob", customProperties={"k": string_prop("v")}
    )
    path = f"/model_versions/{version['id']}"

    first = await api.update(path, {"state": "ARCHIVED"})
    second = await api.update(path, {"description": "retired"})

    assert second["state"] == "ARCHIVED"
    assert second["description"] == "retired"
    assert second["author"] == "bob"
    assert second["name"] == version["name"]
    assert second["registeredModelId"] == model["id"]
    assert second["customProperties"] == {"k": string_prop("v")}
    assert (
        assert_ms_time(version["lastUpdateTimeSinceEpoch"])
        < assert_ms_time(first["lastUpdateTimeSinceEpoch"])
        < assert_ms_time(second["lastUpdateTimeSinceEpoch"])
    )


async def test_patch_cannot_move_a_version_to_another_model(api: RestApi) -> None:
    model = await entities.registered_model(api)
    other = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"])

    await api.fails(
        "PATCH",
        f"/model_versions/{version['id']}",
        400,
        body={"registeredModelId": other["id"]},
    )

    fetched = await api.fetch(f"/model_versions/{version['id']}")
    assert fetched["registeredModelId"] == model["id"]


async def test_patch_cannot_rename_a_version(api: RestApi) -> None:
    model = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"], name="v1")

    await api.fails("PATCH", f"/model_versions/{version['id']}", 400, body={"name": "v2"})

    assert (await api.fetch(f"/model_versions/{version['id']}"))["name"] == "v1"


async def test_flat_list_holds_versions_of_every_model(api: RestApi) -> None:
    first = await entities.registered_model(api)
    second = await entities.registered_model(api)
    created = [
        await entities.model_version(api, first["id"]),
        await entities.model_version(api, second["id"]),
    ]

    items = assert_list(await api.fetch("/model_versions"))

    assert sorted(ids_of(items), key=int) == sorted(ids_of(created), key=int)


async def test_nested_list_holds_only_that_models_versions(api: RestApi) -> None:
    model = await entities.registered_model(api)
    other = await entities.registered_model(api)
    mine = [await entities.model_version(api, model["id"]) for _ in range(2)]
    await entities.model_version(api, other["id"])

    items = assert_list(await api.fetch(f"/registered_models/{model['id']}/versions"))

    assert sorted(ids_of(items), key=int) == sorted(ids_of(mine), key=int)


async def test_nested_list_filters_by_name_and_external_id(api: RestApi) -> None:
    model = await entities.registered_model(api)
    wanted = await entities.model_version(api, model["id"], name="wanted", externalId="ext-w")
    await entities.model_version(api, model["id"], name="other", externalId="ext-o")
    path = f"/registered_models/{model['id']}/versions"

    by_name = assert_list(await api.fetch(path, {"name": "wanted"}))
    by_external_id = assert_list(await api.fetch(path, {"externalId": "ext-w"}))
    no_match = assert_list(await api.fetch(path, {"name": "missing"}))

    assert ids_of(by_name) == [wanted["id"]]
    assert ids_of(by_external_id) == [wanted["id"]]
    assert no_match == []


async def test_nested_list_of_an_unknown_model_is_a_404(api: RestApi) -> None:
    await api.fails("GET", "/registered_models/4242/versions", 404)


async def test_find_by_name_and_parent(api: RestApi) -> None:
    model = await entities.registered_model(api)
    other = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"], name="v1")
    await entities.model_version(api, other["id"], name="v1")

    found = await api.fetch("/model_version", {"name": "v1", "parentResourceId": model["id"]})

    assert found == version


async def test_find_by_external_id(api: RestApi) -> None:
    model = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"], externalId="ext-mv")

    assert await api.fetch("/model_version", {"externalId": "ext-mv"}) == version


async def test_find_by_name_alone_is_a_400(api: RestApi) -> None:
    model = await entities.registered_model(api)
    await entities.model_version(api, model["id"], name="v1")

    await api.fails("GET", "/model_version", 400, params={"name": "v1"})


async def test_find_without_criteria_is_a_400(api: RestApi) -> None:
    await api.fails("GET", "/model_version", 400)


async def test_find_without_a_match_is_a_404(api: RestApi) -> None:
    model = await entities.registered_model(api)
    other = await entities.registered_model(api)
    await entities.model_version(api, model["id"], name="v1")

    await api.fails(
        "GET", "/model_version", 404, params={"name": "v1", "parentResourceId": other["id"]}
    )
    await api.fails("GET", "/model_version", 404, params={"externalId": "nobody"})


async def test_32_concurrent_creates_of_one_version_name_give_one_201(api: RestApi) -> None:
    model = await entities.registered_model(api)
    body = {"name": "v1", "registeredModelId": model["id"]}

    replies = await asyncio.gather(*(api.post("/model_versions", body) for _ in range(32)))

    assert sorted(reply.status for reply in replies) == [201] + [409] * 31
