"""Registered models over REST: create, get, patch, list, find, custom properties."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conformance import entities
from conformance.checks import (
    assert_id,
    assert_list,
    assert_ms_time,
    assert_stored,
    bool_prop,
    custom_props,
    double_prop,
    ids_of,
    int_prop,
    string_prop,
)
from conformance.http import RestApi, rest_api


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


EVERY_METADATA_TYPE: dict[str, dict[str, Any]] = {
    "a_string": string_prop("hello"),
    "an_int": int_prop(-42),
    "a_double": double_prop(0.125),
    "a_bool": bool_prop(True),
    "a_struct": {
        "metadataType": "MetadataStructValue",
        "struct_value": base64.b64encode(b'{"k": [1, 2]}').decode(),
    },
    "a_proto": {
        "metadataType": "MetadataProtoValue",
        "type": "type.googleapis.com/google.protobuf.StringValue",
        "proto_value": base64.b64encode(b"\n\x03abc").decode(),
    },
    "a_label": string_prop(""),
}


async def test_create_answers_201_with_the_stored_model(api: RestApi) -> None:
    body = {
        "name": "fraud-detector",
        "description": "flags odd payments",
        "owner": "alice",
        "externalId": "ext-fraud",
        "customProperties": {"team": string_prop("risk")},
    }
    model = await api.create("/registered_models", body)

    assert_stored(model)
    assert model["name"] == "fraud-detector"
    assert model["description"] == "flags odd payments"
    assert model["owner"] == "alice"
    assert model["externalId"] == "ext-fraud"
    assert model["state"] == "LIVE"
    assert model["customProperties"] == {"team": string_prop("risk")}


async def test_create_keeps_the_descriptive_model_fields(api: RestApi) -> None:
    fields: dict[str, Any] = {
        "readme": "# Fraud\n",
        "maturity": "Generally Available",
        "language": ["en", "es"],
        "tasks": ["classification"],
        "provider": "ACME",
        "logo": "https://example.com/logo.png",
        "license": "apache-2.0",
        "licenseLink": "https://www.apache.org/licenses/LICENSE-2.0",
        "libraryName": "sklearn",
    }
    model = await entities.registered_model(api, **fields)

    fetched = await api.fetch(f"/registered_models/{model['id']}")
    for key, value in fields.items():
        assert fetched[key] == value, key


async def test_get_returns_what_create_returned(api: RestApi) -> None:
    model = await entities.registered_model(api, description="d", state="ARCHIVED")

    fetched = await api.fetch(f"/registered_models/{model['id']}")

    assert fetched == model
    assert fetched["state"] == "ARCHIVED"


async def test_ids_are_distinct_decimal_strings(api: RestApi) -> None:
    first = await entities.registered_model(api)
    second = await entities.registered_model(api)

    assert assert_id(first["id"]) != assert_id(second["id"])


async def test_every_metadata_type_round_trips(api: RestApi) -> None:
    model = await entities.registered_model(api, customProperties=EVERY_METADATA_TYPE)

    assert model["customProperties"] == EVERY_METADATA_TYPE
    fetched = await api.fetch(f"/registered_models/{model['id']}")
    assert fetched["customProperties"] == EVERY_METADATA_TYPE
    assert fetched["customProperties"]["an_int"]["int_value"] == "-42"


MALFORMED_VALUES: list[Any] = [
    {"metadataType": "MetadataIntValue", "int_value": 42},
    {"metadataType": "MetadataIntValue", "int_value": "1.5"},
    {"metadataType": "MetadataIntValue", "int_value": "abc"},
    {"metadataType": "MetadataStringValue", "string_value": 5},
    {"metadataType": "MetadataBoolValue", "bool_value": "yes"},
    {"metadataType": "MetadataDoubleValue", "double_value": "x"},
    {"metadataType": "MetadataTextValue", "string_value": "x"},
    {"string_value": "x"},
    {"metadataType": "MetadataStringValue"},
    {"metadataType": "MetadataStringValue", "string_value": "x", "int_value": "1"},
    "plain",
]


async def test_malformed_custom_property_is_a_400(api: RestApi) -> None:
    for value in MALFORMED_VALUES:
        body = {"name": entities.unique("model"), "customProperties": {"p": value}}
        await api.fails("POST", "/registered_models", 400, body=body)

    listed = assert_list(await api.fetch("/registered_models"))
    assert listed == []


async def test_patch_changes_only_the_fields_it_carries(api: RestApi) -> None:
    model = await entities.registered_model(
        api,
        description="old",
        owner="alice",
        externalId="ext-1",
        customProperties={"team": string_prop("risk")},
    )

    patched = await api.update(f"/registered_models/{model['id']}", {"description": "new"})

    assert patched["description"] == "new"
    assert patched["owner"] == "alice"
    assert patched["externalId"] == "ext-1"
    assert patched["name"] == model["name"]
    assert patched["state"] == "LIVE"
    assert patched["customProperties"] == {"team": string_prop("risk")}
    assert patched["createTimeSinceEpoch"] == model["createTimeSinceEpoch"]
    assert await api.fetch(f"/registered_models/{model['id']}") == patched


async def test_patch_with_custom_properties_replaces_the_whole_map(api: RestApi) -> None:
    model = await entities.registered_model(
        api, customProperties={"a": string_prop("1"), "b": int_prop(2)}
    )

    patched = await api.update(
        f"/registered_models/{model['id']}", {"customProperties": {"c": bool_prop(False)}}
    )

    assert patched["customProperties"] == {"c": bool_prop(False)}


async def test_patch_with_empty_custom_properties_clears_them(api: RestApi) -> None:
    model = await entities.registered_model(api, customProperties={"a": string_prop("1")})

    patched = await api.update(f"/registered_models/{model['id']}", {"customProperties": {}})

    assert custom_props(patched) == {}
    assert custom_props(await api.fetch(f"/registered_models/{model['id']}")) == {}


async def test_patch_without_custom_properties_keeps_them(api: RestApi) -> None:
    model = await entities.registered_model(api, customProperties={"a": string_prop("1")})

    patched = await api.update(f"/registered_models/{model['id']}", {"state": "ARCHIVED"})

    assert patched["state"] == "ARCHIVED"
    assert patched["customProperties"] == {"a": string_prop("1")}


async def test_last_update_time_strictly_increases_on_back_to_back_patches(
    api: RestApi,
) -> None:
    model = await entities.registered_model(api)
    path = f"/registered_models/{model['id']}"

    first = await api.update(path, {"description": "one"})
    second = await api.update(path, {"description": "two"})

    created = assert_ms_time(model["lastUpdateTimeSinceEpoch"])
    assert created < assert_ms_time(first["lastUpdateTimeSinceEpoch"])
    assert assert_ms_time(first["lastUpdateTimeSinceEpoch"]) < assert_ms_time(
        second["lastUpdateTimeSinceEpoch"]
    )
    assert second["createTimeSinceEpoch"] == model["createTimeSinceEpoch"]


async def test_patch_cannot_rename_a_model(api: RestApi) -> None:
    model = await entities.registered_model(api, name="keep-me")

    await api.fails("PATCH", f"/registered_models/{model['id']}", 400, body={"name": "other"})

    assert (await api.fetch(f"/registered_models/{model['id']}"))["name"] == "keep-me"


async def test_patch_of_an_unknown_model_is_a_404(api: RestApi) -> None:
    await api.fails("PATCH", "/registered_models/4242", 404, body={"description": "x"})


async def test_patch_with_a_bad_state_is_a_400(api: RestApi) -> None:
    model = await entities.registered_model(api)

    await api.fails("PATCH", f"/registered_models/{model['id']}", 400, body={"state": "GONE"})


async def test_duplicate_name_is_a_409(api: RestApi) -> None:
    await entities.registered_model(api, name="twin")

    await api.fails("POST", "/registered_models", 409, body={"name": "twin"})

    assert len(assert_list(await api.fetch("/registered_models"))) == 1


async def test_duplicate_external_id_is_a_409(api: RestApi) -> None:
    await entities.registered_model(api, externalId="ext-same")

    await api.fails(
        "POST", "/registered_models", 409, body={"name": "other", "externalId": "ext-same"}
    )


async def test_patch_to_a_taken_external_id_is_a_409(api: RestApi) -> None:
    await entities.registered_model(api, externalId="ext-a")
    second = await entities.registered_model(api, externalId="ext-b")

    await api.fails(
        "PATCH", f"/registered_models/{second['id']}", 409, body={"externalId": "ext-a"}
    )


async def test_32_concurrent_creates_of_one_name_give_one_201_and_31_409s(
    api: RestApi,
) -> None:
    replies = await asyncio.gather(
        *(api.post("/registered_models", {"name": "race"}) for _ in range(32))
    )

    statuses = sorted(reply.status for reply in replies)
    assert statuses == [201] + [409] * 31
    assert len(assert_list(await api.fetch("/registered_models"))) == 1


async def test_names_up_to_255_characters_are_kept_and_longer_ones_refused(
    api: RestApi,
) -> None:
    created = await entities.registered_model(api, name="m" * 255)
    oversized = await api.post("/registered_models", {"name": "m" * 5000})

    assert created["name"] == "m" * 255
    assert 400 <= oversized.status < 500, oversized.describe()


async def test_list_has_all_four_keys_and_every_model(api: RestApi) -> None:
    created = [await entities.registered_model(api) for _ in range(3)]

    body = await api.fetch("/registered_models")

    items = assert_list(body)
    assert sorted(ids_of(items), key=int) == sorted(ids_of(created), key=int)
    assert body["nextPageToken"] == ""
    assert body["size"] == 3


async def test_list_of_an_empty_registry_is_an_empty_page(api: RestApi) -> None:
    body = await api.fetch("/registered_models")

    assert assert_list(body) == []
    assert body["size"] == 0
    assert body["nextPageToken"] == ""


async def test_find_by_name(api: RestApi) -> None:
    model = await entities.registered_model(api, name="findable")
    await entities.registered_model(api)

    found = await api.fetch("/registered_model", {"name": "findable"})

    assert found == model


async def test_find_by_external_id(api: RestApi) -> None:
    model = await entities.registered_model(api, externalId="ext-find")

    found = await api.fetch("/registered_model", {"externalId": "ext-find"})

    assert found == model


async def test_find_without_a_match_is_a_404(api: RestApi) -> None:
    await entities.registered_model(api)

    await api.fails("GET", "/registered_model", 404, params={"name": "nobody"})
    await api.fails("GET", "/registered_model", 404, params={"externalId": "nobody"})


async def test_find_without_criteria_is_a_400(api: RestApi) -> None:
    await entities.registered_model(api)

    await api.fails("GET", "/registered_model", 400)


async def test_find_by_parent_alone_is_a_400(api: RestApi) -> None:
    model = await entities.registered_model(api)

    await api.fails("GET", "/registered_model", 400, params={"parentResourceId": model["id"]})


async def test_any_printable_name_round_trips_and_is_findable(api: RestApi) -> None:
    names = ["naïve-模型-🙂", "with space", "slash/and?query&amp=1", 'quote\'s "double"', "%41"]

    for name in names:
        model = await entities.registered_model(api, name=name)
        assert model["name"] == name
        assert (await api.fetch(f"/registered_models/{model['id']}"))["name"] == name
        assert (await api.fetch("/registered_model", {"name": name}))["id"] == model["id"]
