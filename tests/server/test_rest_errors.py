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


# Every GET path that takes an id, with "{id}" where the id goes.
ENTITY_PATHS = [
    "/registered_models/{id}",
    "/registered_models/{id}/versions",
    "/model_versions/{id}",
    "/model_versions/{id}/artifacts",
    "/model_artifacts/{id}",
    "/artifacts/{id}",
    "/experiments/{id}",
    "/experiments/{id}/experiment_runs",
    "/experiment_runs/{id}",
    "/experiment_runs/{id}/artifacts",
    "/experiment_runs/{id}/metric_history",
    "/serving_environments/{id}",
    "/serving_environments/{id}/inference_services",
    "/inference_services/{id}",
    "/inference_services/{id}/model",
    "/inference_services/{id}/version",
    "/inference_services/{id}/serves",
]
# Every PATCH path, with a body that would be a valid update of an existing entity.
PATCH_PATHS = {
    "/registered_models/{id}": {"description": "x"},
    "/model_versions/{id}": {"description": "x"},
    "/model_artifacts/{id}": {"description": "x"},
    "/artifacts/{id}": {"artifactType": "doc-artifact", "description": "x"},
    "/experiments/{id}": {"description": "x"},
    "/experiment_runs/{id}": {"description": "x"},
    "/serving_environments/{id}": {"description": "x"},
    "/inference_services/{id}": {"description": "x"},
}
BAD_IDS = ["abc", "0", "007", "-1", "1.5", "1234567890", "1e3"]


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


async def test_a_body_that_is_not_a_json_object_is_a_400(api: RestApi) -> None:
    for raw in (b"{", b"not json", b"[]", b'"name"', b""):
        reply = await api.request(
            "POST", "/registered_models", data=raw, headers={"Content-Type": "application/json"}
        )
        assert reply.status == 400, reply.describe()
        check_error_body(reply, 400)

    assert assert_list(await api.fetch("/registered_models")) == []


async def test_a_field_of_the_wrong_type_is_a_400(api: RestApi) -> None:
    bodies: list[dict[str, Any]] = [
        {"name": 5},
        {"name": "m", "description": ["x"]},
        {"name": "m", "state": "DEAD"},
        {"name": "m", "customProperties": []},
        {"name": "m", "language": "en"},
    ]

    for body in bodies:
        await api.fails("POST", "/registered_models", 400, body=body)


async def test_a_path_id_off_the_pattern_is_a_400_and_an_unknown_one_a_404(
    api: RestApi,
) -> None:
    for template in ENTITY_PATHS:
        for bad_id in BAD_IDS:
            await api.fails("GET", template.format(id=bad_id), 400)
        await api.fails("GET", template.format(id="999999999"), 404)


async def test_a_patch_to_a_bad_or_unknown_id_is_a_400_or_404(api: RestApi) -> None:
    for template, body in PATCH_PATHS.items():
        for bad_id in BAD_IDS:
            await api.fails("PATCH", template.format(id=bad_id), 400, body=body)
        await api.fails("PATCH", template.format(id="999999999"), 404, body=body)


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


async def test_bad_list_parameters_are_a_400(api: RestApi) -> None:
    await entities.registered_model(api)
    bad: list[dict[str, str]] = [
        {"orderBy": "NAME"},
        {"sortOrder": "UP"},
        {"pageSize": "0"},
        {"pageSize": "-3"},
        {"pageSize": "ten"},
        {"nextPageToken": "%%%not-a-token%%%"},
        {"filterQuery": "name ="},
    ]

    for params in bad:
        await api.fails("GET", "/registered_models", 400, params=params)


async def test_not_found_errors_carry_the_not_found_code(api: RestApi) -> None:
    reply = await api.get("/registered_models/4242")

    assert reply.status == 404
    assert reply.body["code"] == "Not Found"


async def test_an_unknown_artifact_type_filter_is_a_400_on_every_artifact_list(
    api: RestApi,
) -> None:
    model = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"])
    experiment = await entities.experiment(api)
    run = await entities.experiment_run(api, experiment["id"])

    for path in (
        "/artifacts",
        f"/model_versions/{version['id']}/artifacts",
        f"/experiment_runs/{run['id']}/artifacts",
    ):
        await api.fails("GET", path, 400, params={"artifactType": "photo"})


async def test_a_patch_body_that_is_not_a_json_object_is_a_400(api: RestApi) -> None:
    model = await entities.registered_model(api, description="kept")

    for raw in (b"[]", b"null", b"42", b"{"):
        reply = await api.request(
            "PATCH",
            f"/registered_models/{model['id']}",
            data=raw,
            headers={"Content-Type": "application/json"},
        )
        assert reply.status == 400, reply.describe()
        check_error_body(reply, 400)

    assert await api.fetch(f"/registered_models/{model['id']}") == model
