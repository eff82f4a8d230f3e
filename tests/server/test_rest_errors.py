"""The exact error forms of the REST API: strict bodies, ids, methods, unknown paths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conformance import entities
from conformance.checks import assert_list
from conformance.http import RestApi, check_error_body, rest_api


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


# A GET path per single-entity endpoint, with "{id}" where the id goes.
ENTITY_PATHS = [
    "/registered_models/{id}",
    "/model_versions/{id}",
    "/model_artifacts/{id}",
    "/artifacts/{id}",
    "/registered_models/{id}/versions",
    "/model_versions/{id}/artifacts",
]


async def test_unknown_field_is_a_400_with_the_exact_message(api: RestApi) -> None:
    reply = await api.post("/registered_models", {"name": "m", "ext_id": "x"})

    assert reply.status == 400, reply.describe()
    assert reply.body == {"code": "Bad Request", "message": 'json: unknown field "ext_id"'}
    assert assert_list(await api.fetch("/registered_models")) == []


async def test_unknown_field_in_a_patch_is_a_400_with_the_exact_message(api: RestApi) -> None:
    model = await entities.registered_model(api)

    await api.fails(
        "PATCH",
        f"/registered_models/{model['id']}",
        400,
        body={"descripton": "typo"},
        message='json: unknown field "descripton"',
    )


async def test_missing_name_is_a_422_with_code_bad_request(api: RestApi) -> None:
    reply = await api.post("/registered_models", {"description": "no name"})

    assert reply.status == 422, reply.describe()
    assert reply.body == {
        "code": "Bad Request",
        "message": "required field 'name' is zero value.",
    }


async def test_empty_name_counts_as_missing(api: RestApi) -> None:
    await api.fails(
        "POST",
        "/registered_models",
        422,
        body={"name": ""},
        message="required field 'name' is zero value.",
    )


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"name"', id="string"),
        pytest.param(b"", id="empty"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_a_400(api: RestApi, raw: bytes) -> None:
    reply = await api.request(
        "POST", "/registered_models", data=raw, headers={"Content-Type": "application/json"}
    )

    assert reply.status == 400, reply.describe()
    check_error_body(reply, 400)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": 5}, id="name-number"),
        pytest.param({"name": "m", "description": ["x"]}, id="description-list"),
        pytest.param({"name": "m", "state": "DEAD"}, id="bad-enum"),
        pytest.param({"name": "m", "customProperties": []}, id="props-list"),
        pytest.param({"name": "m", "language": "en"}, id="language-string"),
    ],
)
async def test_a_field_of_the_wrong_type_is_a_400(api: RestApi, body: dict[str, Any]) -> None:
    await api.fails("POST", "/registered_models", 400, body=body)


@pytest.mark.parametrize("bad_id", ["abc", "0", "007", "-1", "1.5", "1234567890"])
@pytest.mark.parametrize("template", ENTITY_PATHS)
async def test_an_id_off_the_pattern_is_a_400(api: RestApi, template: str, bad_id: str) -> None:
    await api.fails("GET", template.format(id=bad_id), 400)


@pytest.mark.parametrize("template", ENTITY_PATHS)
async def test_an_unknown_id_is_a_404(api: RestApi, template: str) -> None:
    await api.fails("GET", template.format(id="999999999"), 404)


async def test_a_patch_to_an_id_off_the_pattern_is_a_400(api: RestApi) -> None:
    await api.fails("PATCH", "/registered_models/abc", 400, body={"description": "x"})


async def test_a_body_id_off_the_pattern_is_a_400(api: RestApi) -> None:
    await api.fails("POST", "/model_versions", 400, body={"name": "v", "registeredModelId": "abc"})


async def test_name_clash_is_a_409_with_an_error_body(api: RestApi) -> None:
    await entities.registered_model(api, name="taken")

    message = await api.fails("POST", "/registered_models", 409, body={"name": "taken"})

    assert message


async def test_the_server_root_is_a_404(api: RestApi, server: Any) -> None:
    reply = await api.request("GET", f"{server.url}/", absolute=True)

    assert reply.status == 404, reply.describe()


async def test_an_unknown_path_under_the_base_is_a_404(api: RestApi) -> None:
    reply = await api.get("/no_such_collection")

    assert reply.status == 404, reply.describe()


@pytest.mark.parametrize("method", ["DELETE", "PUT"])
async def test_an_undefined_method_on_an_entity_is_a_405_with_an_error_body(
    api: RestApi, method: str
) -> None:
    model = await entities.registered_model(api)

    reply = await api.request(method, f"/registered_models/{model['id']}")

    assert reply.status == 405, reply.describe()
    check_error_body(reply, 405)
    assert await api.fetch(f"/registered_models/{model['id']}") == model


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/registered_models"),
        ("PATCH", "/registered_models"),
        ("POST", "/registered_model"),
        ("DELETE", "/artifacts/1"),
    ],
)
async def test_an_undefined_method_is_a_405_never_a_5xx(
    api: RestApi, method: str, path: str
) -> None:
    reply = await api.request(method, path, json_body={})

    assert reply.status == 405, reply.describe()
    check_error_body(reply, 405)


@pytest.mark.parametrize(
    "params",
    [
        {"orderBy": "NAME"},
        {"sortOrder": "UP"},
        {"pageSize": "0"},
        {"pageSize": "-3"},
        {"pageSize": "ten"},
        {"nextPageToken": "%%%not-a-token%%%"},
        {"filterQuery": "name ="},
    ],
)
async def test_bad_list_parameters_are_a_400(api: RestApi, params: dict[str, str]) -> None:
    await entities.registered_model(api)

    await api.fails("GET", "/registered_models", 400, params=params)


async def test_not_found_errors_carry_the_not_found_code(api: RestApi) -> None:
    reply = await api.get("/registered_models/4242")

    assert reply.status == 404
    assert reply.body["code"] == "Not Found"
