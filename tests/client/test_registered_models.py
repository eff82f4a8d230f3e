"""Registered models and model versions against the real server."""

from __future__ import annotations

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import BadRequest, Conflict
from model_registry.types import (
    ListOptions,
    ModelVersion,
    ModelVersionState,
    RegisteredModel,
    RegisteredModelState,
)


async def test_upsert_creates_then_updates_a_registered_model(
    client: ModelRegistryAPIClient,
) -> None:
    created = await client.upsert_registered_model(
        RegisteredModel("m", owner="me", custom_properties={"n": 1, "tag": ""})
    )
    assert created.id is not None
    assert created.state is RegisteredModelState.LIVE
    assert created.create_time_since_epoch is not None
    assert created.custom_properties == {"n": 1, "tag": ""}

    created.description = "changed"
    created.state = RegisteredModelState.ARCHIVED
    updated = await client.upsert_registered_model(created)
    assert updated.id == created.id
    assert updated.description == "changed"
    assert updated.state is RegisteredModelState.ARCHIVED
    assert updated.last_update_time_since_epoch is not None
    assert await client.get_registered_model_by_id(created.id) == updated


async def test_get_registered_model_by_id_and_params(client: ModelRegistryAPIClient) -> None:
    rm = await client.upsert_registered_model(RegisteredModel("by-params", external_id="ext-1"))
    assert rm.id is not None
    assert await client.get_registered_model_by_id(rm.id) == rm
    assert await client.get_registered_model_by_params(name="by-params") == rm
    assert await client.get_registered_model_by_params(external_id="ext-1") == rm
    assert await client.get_registered_model_by_id("999999") is None
    assert await client.get_registered_model_by_id("not-an-id") is None
    assert await client.get_registered_model_by_params(name="absent") is None
    with pytest.raises(ValueError, match="name or external_id"):
        await client.get_registered_model_by_params()


async def test_duplicate_name_is_a_conflict(client: ModelRegistryAPIClient) -> None:
    await client.upsert_registered_model(RegisteredModel("twice"))
    with pytest.raises(Conflict) as info:
        await client.upsert_registered_model(RegisteredModel("twice"))
    assert info.value.status in (409, "ALREADY_EXISTS")


async def test_list_registered_models_pages_and_updates_options(
    client: ModelRegistryAPIClient,
) -> None:
    for i in range(5):
        await client.upsert_registered_model(RegisteredModel(f"m{i}"))
    options = ListOptions(limit=2)
    first = await client.get_registered_models(options)
    assert [m.name for m in first] == ["m0", "m1"]
    assert first.next_page_token
    assert options.next_page_token == first.next_page_token
    second = await client.get_registered_models(options)
    assert [m.name for m in second] == ["m2", "m3"]
    third = await client.get_registered_models(options)
    assert [m.name for m in third] == ["m4"]
    assert third.next_page_token == "" and options.next_page_token == ""

    newest_first = await client.get_registered_models(
        ListOptions.order_by_creation_time(is_asc=False)
    )
    assert [m.name for m in newest_first] == ["m4", "m3", "m2", "m1", "m0"]
    everything = await client.get_registered_models()
    assert len(everything) == 5


async def test_a_limit_past_the_wire_range_lists_everything(
    client: ModelRegistryAPIClient,
) -> None:
    for i in range(3):
        await client.upsert_registered_model(RegisteredModel(f"m{i}"))
    page = await client.get_registered_models(ListOptions(limit=10**12))
    assert [m.name for m in page] == ["m0", "m1", "m2"]
    assert page.next_page_token == ""


async def test_list_with_filter_query(client: ModelRegistryAPIClient) -> None:
    await client.upsert_registered_model(RegisteredModel("a", custom_properties={"acc": 0.9}))
    await client.upsert_registered_model(RegisteredModel("b", custom_properties={"acc": 0.99}))
    page = await client.get_registered_models(ListOptions(filter_query="acc > 0.95"))
    assert [m.name for m in page] == ["b"]
    with pytest.raises(BadRequest):
        await client.get_registered_models(ListOptions(filter_query="name = = 'x'"))


async def test_model_versions(client: ModelRegistryAPIClient) -> None:
    rm = await client.upsert_registered_model(RegisteredModel("with-versions"))
    assert rm.id is not None
    v1 = await client.upsert_model_version(ModelVersion("v1", author="a"), rm.id)
    v2 = await client.upsert_model_version(
        ModelVersion("v2", registered_model_id=rm.id, external_id="mv-ext")
    )
    assert v1.registered_model_id == rm.id and v2.registered_model_id == rm.id
    assert v1.state is ModelVersionState.LIVE
    assert v1.id is not None and v2.id is not None

    v1.author = "b"
    v1.custom_properties = {"accuracy": 0.5}
    updated = await client.upsert_model_version(v1)
    assert updated.author == "b" and updated.custom_properties == {"accuracy": 0.5}

    assert await client.get_model_version_by_id(v2.id) == v2
    assert await client.get_model_version_by_id("424242") is None
    assert await client.get_model_version_by_params(rm.id, "v2") == v2
    assert await client.get_model_version_by_params(external_id="mv-ext") == v2
    assert await client.get_model_version_by_params(rm.id, "v9") is None
    assert await client.get_model_version_by_params("x", "v1") is None
    with pytest.raises(ValueError):
        await client.get_model_version_by_params(version="v1")

    versions = await client.get_model_versions(rm.id)
    assert [v.name for v in versions] == ["v1", "v2"]
    assert [v.name for v in await client.get_model_versions(rm.id, ListOptions(limit=1))] == ["v1"]
    assert await client.get_model_versions("123456") == []
    assert await client.get_model_versions("registered_model_id") == []

    with pytest.raises(ValueError, match="registered_model_id"):
        await client.upsert_model_version(ModelVersion("orphan"))


async def test_upsert_does_not_change_the_object_given(client: ModelRegistryAPIClient) -> None:
    rm = await client.upsert_registered_model(RegisteredModel("keep"))
    assert rm.id is not None
    mv = ModelVersion("v1")
    await client.upsert_model_version(mv, rm.id)
    assert mv == ModelVersion("v1")


async def test_every_custom_property_form_survives_the_server(
    client: ModelRegistryAPIClient,
) -> None:
    props = {
        "text": "x",
        "label": "",
        "int": -999_999_999,
        "float": 0.125,
        "flag": False,
        "struct": {"layers": [64, 32], "activation": "relu"},
        "raw": b"\x00\xff",
    }
    created = await client.upsert_registered_model(
        RegisteredModel("props", custom_properties=props)
    )
    assert created.custom_properties == props
    assert created.id is not None
    fetched = await client.get_registered_model_by_id(created.id)
    assert fetched is not None and fetched.custom_properties == props
    assert {k: type(v) for k, v in fetched.custom_properties.items()} == {
        k: type(v) for k, v in props.items()
    }
    created.custom_properties = {}
    cleared = await client.upsert_registered_model(created)
    assert cleared.custom_properties == {}


async def test_int_out_of_range_is_refused_before_sending(client: ModelRegistryAPIClient) -> None:
    with pytest.raises(ValueError, match="'big'"):
        await client.upsert_registered_model(
            RegisteredModel("never-sent", custom_properties={"big": 2**40})
        )
    assert await client.get_registered_model_by_params(name="never-sent") is None
