"""Aliases over REST v1 (our extension): set, move, remove, look up, inline on every answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conformance import entities
from conformance.checks import assert_list, ids_of
from conformance.http import RestApi, rest_api

from model_registry.server import RunningServer
from model_registry.server.versions import API_VERSIONS

V1_BASE = API_VERSIONS["v1"].base_path
ALPHA_BASE = API_VERSIONS["v1alpha3"].base_path


@pytest.fixture
async def v1(server: RunningServer) -> AsyncIterator[RestApi]:
    async with rest_api(server.url + V1_BASE) as client:
        yield client


@pytest.fixture
async def alpha(server: RunningServer) -> AsyncIterator[RestApi]:
    async with rest_api(server.url + ALPHA_BASE) as client:
        yield client


async def _model_with_versions(api: RestApi, count: int = 2) -> tuple[str, list[str]]:
    model = await entities.registered_model(api)
    versions = [(await entities.model_version(api, model["id"]))["id"] for _ in range(count)]
    return model["id"], versions


def _alias_path(model: str, alias: str) -> str:
    return f"/registered_models/{model}/aliases/{alias}"


async def test_an_alias_points_at_a_version_and_moves(v1: RestApi) -> None:
    model, (first, second) = await _model_with_versions(v1)

    pointed = await v1.ok("PUT", _alias_path(model, "champion"), body={"modelVersionId": first})
    assert pointed["id"] == first and pointed["aliases"] == ["champion"]
    moved = await v1.ok("PUT", _alias_path(model, "champion"), body={"modelVersionId": second})

    assert moved["id"] == second and moved["aliases"] == ["champion"]
    assert (await v1.fetch(f"/model_versions/{first}"))["aliases"] == []
    found = await v1.fetch(f"/registered_models/{model}/versions/by_alias/champion")
    assert found["id"] == second
    assert (await v1.fetch(f"/registered_models/{model}"))["aliases"] == {"champion": second}


async def test_a_version_carries_several_aliases_in_name_order_in_every_answer(
    v1: RestApi,
) -> None:
    model, (first, second) = await _model_with_versions(v1)
    for alias in ("staging", "champion", "blue-1"):
        await v1.ok("PUT", _alias_path(model, alias), body={"modelVersionId": first})

    expected = ["blue-1", "champion", "staging"]
    assert (await v1.fetch(f"/model_versions/{first}"))["aliases"] == expected
    listed = assert_list(await v1.fetch("/model_versions"))
    assert [item["aliases"] for item in listed] == [expected, []]
    nested = assert_list(await v1.fetch(f"/registered_models/{model}/versions"))
    assert [item["aliases"] for item in nested] == [expected, []]
    name = (await v1.fetch(f"/model_versions/{first}"))["name"]
    found = await v1.fetch("/model_version", {"name": name, "parentResourceId": model})
    assert found["aliases"] == expected
    models = assert_list(await v1.fetch("/registered_models"))
    assert models[0]["aliases"] == {alias: first for alias in expected}
    assert (await v1.update(f"/model_versions/{second}", {"description": "d"}))["aliases"] == []


async def test_filter_query_finds_versions_by_alias(v1: RestApi) -> None:
    model, (first, second) = await _model_with_versions(v1)
    await v1.ok("PUT", _alias_path(model, "champion"), body={"modelVersionId": second})
    await v1.ok("PUT", _alias_path(model, "staging"), body={"modelVersionId": first})

    by_alias = await v1.fetch("/model_versions", {"filterQuery": "alias = 'champion'"})
    assert ids_of(assert_list(by_alias)) == [second]
    either = await v1.fetch(
        f"/registered_models/{model}/versions", {"filterQuery": "alias IN ('champion', 'staging')"}
    )
    assert ids_of(assert_list(either)) == [first, second]
    none = await v1.fetch("/model_versions", {"filterQuery": "alias LIKE 'prod%'"})
    assert ids_of(assert_list(none)) == []


async def test_an_alias_is_unique_per_model_not_across_models(v1: RestApi) -> None:
    model_a, (version_a, _) = await _model_with_versions(v1)
    model_b, (version_b, _) = await _model_with_versions(v1)

    await v1.ok("PUT", _alias_path(model_a, "champion"), body={"modelVersionId": version_a})
    await v1.ok("PUT", _alias_path(model_b, "champion"), body={"modelVersionId": version_b})

    assert (await v1.fetch(f"/registered_models/{model_a}"))["aliases"] == {"champion": version_a}
    assert (await v1.fetch(f"/registered_models/{model_b}"))["aliases"] == {"champion": version_b}


async def test_removing_an_alias_leaves_the_version_and_a_second_removal_is_a_404(
    v1: RestApi,
) -> None:
    model, (first, _) = await _model_with_versions(v1)
    await v1.ok("PUT", _alias_path(model, "champion"), body={"modelVersionId": first})

    reply = await v1.request("DELETE", _alias_path(model, "champion"))
    assert reply.status == 204

    assert (await v1.fetch(f"/model_versions/{first}"))["aliases"] == []
    message = await v1.fails("GET", f"/registered_models/{model}/versions/by_alias/champion", 404)
    assert "champion" in message
    await v1.fails("DELETE", _alias_path(model, "champion"), 404)


@pytest.mark.parametrize(
    ("alias", "complaint"),
    [
        ("latest", "reserved"),
        ("LATEST", "reserved"),
        ("v3", "reserved"),
        ("V12", "reserved"),
        ("has.dot", "A-Z"),
        ("x" * 256, "A-Z"),
        ("caf%C3%A9", "A-Z"),
    ],
)
async def test_an_alias_outside_the_documented_names_is_a_400_writing_nothing(
    v1: RestApi, alias: str, complaint: str
) -> None:
    model, (first, _) = await _model_with_versions(v1)

    message = await v1.fails("PUT", _alias_path(model, alias), 400, body={"modelVersionId": first})

    assert complaint in message
    assert (await v1.fetch(f"/registered_models/{model}"))["aliases"] == {}


async def test_an_alias_cannot_point_at_another_models_version(v1: RestApi) -> None:
    model_a, _ = await _model_with_versions(v1)
    _, (foreign, _) = await _model_with_versions(v1)

    message = await v1.fails(
        "PUT", _alias_path(model_a, "champion"), 400, body={"modelVersionId": foreign}
    )
    assert f"not a version of registered model {model_a}" in message
    await v1.fails("PUT", _alias_path(model_a, "champion"), 404, body={"modelVersionId": "999"})
    await v1.fails("PUT", _alias_path("999", "champion"), 404, body={"modelVersionId": foreign})
    await v1.fails("PUT", _alias_path(model_a, "champion"), 422, body={})
    await v1.fails("PUT", _alias_path(model_a, "champion"), 400, body={"version": foreign})


async def test_v1alpha3_answers_stay_the_references_without_aliases_or_alias_routes(
    v1: RestApi, alpha: RestApi
) -> None:
    model, (first, _) = await _model_with_versions(v1)
    await v1.ok("PUT", _alias_path(model, "champion"), body={"modelVersionId": first})

    assert "aliases" not in await alpha.fetch(f"/model_versions/{first}")
    assert "aliases" not in await alpha.fetch(f"/registered_models/{model}")
    page = assert_list(await alpha.fetch(f"/registered_models/{model}/versions"))
    assert all("aliases" not in item for item in page)
    await alpha.fails("GET", f"/registered_models/{model}/versions/by_alias/champion", 404)
    await alpha.fails("PUT", _alias_path(model, "staging"), 404, body={"modelVersionId": first})
