"""Serving environments, inference services and serve models over REST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conformance import entities
from conformance.checks import assert_list, assert_ms_time, assert_stored, ids_of, string_prop
from conformance.http import RestApi, rest_api


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


async def serving_setup(api: RestApi) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create a serving environment and a registered model; return both."""
    environment = await entities.serving_environment(api)
    model = await entities.registered_model(api)
    return environment, model


async def test_environment_create_get_patch_find_list(api: RestApi) -> None:
    created = await api.create(
        "/serving_environments",
        {
            "name": "prod",
            "description": "production",
            "externalId": "ext-prod",
            "customProperties": {"region": string_prop("eu")},
        },
    )

    assert_stored(created)
    assert created["name"] == "prod"
    assert created["description"] == "production"
    assert created["customProperties"] == {"region": string_prop("eu")}
    assert await api.fetch(f"/serving_environments/{created['id']}") == created
    patched = await api.update(f"/serving_environments/{created['id']}", {"description": "p2"})
    assert patched["description"] == "p2"
    assert patched["externalId"] == "ext-prod"
    assert patched["customProperties"] == {"region": string_prop("eu")}
    assert assert_ms_time(patched["lastUpdateTimeSinceEpoch"]) > assert_ms_time(
        created["lastUpdateTimeSinceEpoch"]
    )
    assert await api.fetch("/serving_environment", {"name": "prod"}) == patched
    assert await api.fetch("/serving_environment", {"externalId": "ext-prod"}) == patched
    assert ids_of(assert_list(await api.fetch("/serving_environments"))) == [created["id"]]


async def test_environment_errors(api: RestApi) -> None:
    await entities.serving_environment(api, name="prod", externalId="ext-prod")

    await api.fails("POST", "/serving_environments", 409, body={"name": "prod"})
    await api.fails(
        "POST", "/serving_environments", 409, body={"name": "dev", "externalId": "ext-prod"}
    )
    await api.fails(
        "POST",
        "/serving_environments",
        422,
        body={"description": "nameless"},
        message="required field 'name' is zero value.",
    )
    await api.fails("GET", "/serving_environment", 404, params={"name": "dev"})
    await api.fails("GET", "/serving_environment", 400)
    await api.fails("GET", "/serving_environments/4242", 404)


async def test_inference_service_create_answers_201_with_defaults(api: RestApi) -> None:
    environment, model = await serving_setup(api)

    service = await api.create(
        "/inference_services",
        {
            "name": "fraud-svc",
            "servingEnvironmentId": environment["id"],
            "registeredModelId": model["id"],
            "runtime": "kserve",
        },
    )

    assert_stored(service)
    assert service["name"] == "fraud-svc"
    assert service["servingEnvironmentId"] == environment["id"]
    assert service["registeredModelId"] == model["id"]
    assert service["runtime"] == "kserve"
    assert service["desiredState"] == "DEPLOYED"
    assert "modelVersionId" not in service or service["modelVersionId"] in (None, "")
    assert await api.fetch(f"/inference_services/{service['id']}") == service


async def test_inference_service_names_are_unique_within_their_environment(
    api: RestApi,
) -> None:
    environment, model = await serving_setup(api)
    other_environment = await entities.serving_environment(api)
    await entities.inference_service(api, environment["id"], model["id"], name="svc")

    elsewhere = await entities.inference_service(
        api, other_environment["id"], model["id"], name="svc"
    )
    await api.fails(
        "POST",
        "/inference_services",
        409,
        body={
            "name": "svc",
            "servingEnvironmentId": environment["id"],
            "registeredModelId": model["id"],
        },
    )

    assert elsewhere["servingEnvironmentId"] == other_environment["id"]


@pytest.mark.parametrize("missing", ["registeredModelId", "servingEnvironmentId"])
async def test_inference_service_parents_must_exist(api: RestApi, missing: str) -> None:
    environment, model = await serving_setup(api)
    body = {
        "name": "svc",
        "servingEnvironmentId": environment["id"],
        "registeredModelId": model["id"],
        missing: "4242",
    }

    reply = await api.post("/inference_services", body)

    assert 400 <= reply.status < 500, reply.describe()
    assert assert_list(await api.fetch("/inference_services")) == []


async def test_inference_service_version_must_exist(api: RestApi) -> None:
    environment, model = await serving_setup(api)

    reply = await api.post(
        "/inference_services",
        {
            "name": "svc",
            "servingEnvironmentId": environment["id"],
            "registeredModelId": model["id"],
            "modelVersionId": "4242",
        },
    )

    assert 400 <= reply.status < 500, reply.describe()


@pytest.mark.parametrize("missing", ["registeredModelId", "servingEnvironmentId"])
async def test_inference_service_without_a_parent_is_a_422(api: RestApi, missing: str) -> None:
    environment, model = await serving_setup(api)
    body = {
        "name": "svc",
        "servingEnvironmentId": environment["id"],
        "registeredModelId": model["id"],
    }
    del body[missing]

    message = await api.fails("POST", "/inference_services", 422, body=body)

    assert missing in message


async def test_model_endpoint_returns_the_served_registered_model(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    service = await entities.inference_service(api, environment["id"], model["id"])

    assert await api.fetch(f"/inference_services/{service['id']}/model") == model


async def test_version_endpoint_returns_the_set_version(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    chosen = await entities.model_version(api, model["id"])
    await entities.model_version(api, model["id"])
    service = await entities.inference_service(
        api, environment["id"], model["id"], modelVersionId=chosen["id"]
    )

    assert await api.fetch(f"/inference_services/{service['id']}/version") == chosen


async def test_version_endpoint_falls_back_to_the_newest_version(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    await entities.model_version(api, model["id"])
    service = await entities.inference_service(api, environment["id"], model["id"])
    newest = await entities.model_version(api, model["id"])

    assert await api.fetch(f"/inference_services/{service['id']}/version") == newest


async def test_version_endpoint_follows_a_patched_version(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    first = await entities.model_version(api, model["id"])
    await entities.model_version(api, model["id"])
    service = await entities.inference_service(api, environment["id"], model["id"])

    patched = await api.update(
        f"/inference_services/{service['id']}",
        {"modelVersionId": first["id"], "desiredState": "UNDEPLOYED"},
    )

    assert patched["modelVersionId"] == first["id"]
    assert patched["desiredState"] == "UNDEPLOYED"
    assert patched["registeredModelId"] == model["id"]
    assert await api.fetch(f"/inference_services/{service['id']}/version") == first


async def test_version_endpoint_without_any_version_is_a_404(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    service = await entities.inference_service(api, environment["id"], model["id"])

    await api.fails("GET", f"/inference_services/{service['id']}/version", 404)


async def test_nested_inference_services_create_list_and_find(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    other_environment = await entities.serving_environment(api)
    await entities.inference_service(api, other_environment["id"], model["id"], name="svc")
    path = f"/serving_environments/{environment['id']}/inference_services"

    service = await api.create(
        path,
        {
            "name": "svc",
            "servingEnvironmentId": environment["id"],
            "registeredModelId": model["id"],
            "externalId": "ext-svc",
        },
    )

    assert service["servingEnvironmentId"] == environment["id"]
    assert ids_of(assert_list(await api.fetch(path))) == [service["id"]]
    assert ids_of(assert_list(await api.fetch(path, {"name": "svc"}))) == [service["id"]]
    assert ids_of(assert_list(await api.fetch(path, {"externalId": "ext-svc"}))) == [service["id"]]
    assert (
        await api.fetch(
            "/inference_service", {"name": "svc", "parentResourceId": environment["id"]}
        )
        == service
    )
    assert await api.fetch("/inference_service", {"externalId": "ext-svc"}) == service
    await api.fails("GET", "/inference_service", 400, params={"name": "svc"})
    await api.fails("GET", "/inference_service", 400)
    assert len(assert_list(await api.fetch("/inference_services"))) == 2


async def test_inference_service_lists_of_unknown_parents_are_404s(api: RestApi) -> None:
    await api.fails("GET", "/serving_environments/4242/inference_services", 404)
    await api.fails("GET", "/inference_services/4242/serves", 404)
    await api.fails("GET", "/inference_services/4242/model", 404)
    await api.fails("GET", "/inference_services/4242/version", 404)


async def test_inference_service_patch_cannot_move_it(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    other_model = await entities.registered_model(api)
    service = await entities.inference_service(api, environment["id"], model["id"])

    reply = await api.patch(
        f"/inference_services/{service['id']}", {"registeredModelId": other_model["id"]}
    )

    assert reply.status == 400, reply.describe()
    fetched = await api.fetch(f"/inference_services/{service['id']}")
    assert fetched["registeredModelId"] == model["id"]


async def test_serve_models_are_created_and_listed_under_their_service(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    version = await entities.model_version(api, model["id"])
    service = await entities.inference_service(api, environment["id"], model["id"])
    path = f"/inference_services/{service['id']}/serves"

    served = await api.create(path, {"modelVersionId": version["id"], "name": "serve-1"})

    assert_stored(served)
    assert served["modelVersionId"] == version["id"]
    assert served["name"] == "serve-1"
    assert served["lastKnownState"] == "UNKNOWN"
    assert ids_of(assert_list(await api.fetch(path))) == [served["id"]]
    assert ids_of(assert_list(await api.fetch(path, {"name": "serve-1"}))) == [served["id"]]


async def test_serve_model_states_round_trip(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    version = await entities.model_version(api, model["id"])
    service = await entities.inference_service(api, environment["id"], model["id"])

    served = await api.create(
        f"/inference_services/{service['id']}/serves",
        {"modelVersionId": version["id"], "lastKnownState": "RUNNING"},
    )

    assert served["lastKnownState"] == "RUNNING"


async def test_serve_model_needs_an_existing_version(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    service = await entities.inference_service(api, environment["id"], model["id"])
    path = f"/inference_services/{service['id']}/serves"

    missing = await api.post(path, {"modelVersionId": "4242"})
    await api.fails("POST", path, 422, body={"name": "no-version"})

    assert 400 <= missing.status < 500, missing.describe()
    assert assert_list(await api.fetch(path)) == []


async def test_inference_service_names_fit_in_the_reference_column(api: RestApi) -> None:
    environment, model = await serving_setup(api)

    long_name = await entities.inference_service(
        api, environment["id"], model["id"], name="s" * 250
    )
    too_long = await api.post(
        "/inference_services",
        {
            "name": "s" * 255,
            "servingEnvironmentId": environment["id"],
            "registeredModelId": model["id"],
        },
    )

    assert long_name["name"] == "s" * 250
    assert 400 <= too_long.status < 500, too_long.describe()


async def test_serve_model_list_filters_by_external_id(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    version = await entities.model_version(api, model["id"])
    service = await entities.inference_service(api, environment["id"], model["id"])
    path = f"/inference_services/{service['id']}/serves"
    served = await api.create(
        path, {"name": "s", "modelVersionId": version["id"], "externalId": "ext-s"}
    )
    await api.create(path, {"name": "t", "modelVersionId": version["id"]})

    by_external_id = assert_list(await api.fetch(path, {"externalId": "ext-s"}))

    assert ids_of(by_external_id) == [served["id"]]


async def test_every_desired_state_round_trips(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    service = await entities.inference_service(api, environment["id"], model["id"])
    path = f"/inference_services/{service['id']}"

    for state in ("UNDEPLOYED", "DEPLOYED"):
        assert (await api.update(path, {"desiredState": state}))["desiredState"] == state
    await api.fails("PATCH", path, 400, body={"desiredState": "PAUSED"})


async def test_every_serve_model_state_round_trips(api: RestApi) -> None:
    environment, model = await serving_setup(api)
    version = await entities.model_version(api, model["id"])
    service = await entities.inference_service(api, environment["id"], model["id"])
    path = f"/inference_services/{service['id']}/serves"
    states = ["UNKNOWN", "NEW", "RUNNING", "COMPLETE", "FAILED", "CACHED", "CANCELED"]

    for state in states:
        served = await api.create(path, {"modelVersionId": version["id"], "lastKnownState": state})
        assert served["lastKnownState"] == state
    await api.fails(
        "POST", path, 400, body={"modelVersionId": version["id"], "lastKnownState": "DONE"}
    )

    listed = assert_list(await api.fetch(path))
    assert sorted(item["lastKnownState"] for item in listed) == sorted(states)


@pytest.mark.parametrize("field", ["registeredModelId", "servingEnvironmentId", "modelVersionId"])
async def test_a_body_id_off_the_pattern_is_a_400(api: RestApi, field: str) -> None:
    environment, model = await serving_setup(api)
    body = {
        "name": "svc",
        "servingEnvironmentId": environment["id"],
        "registeredModelId": model["id"],
        field: "007",
    }

    await api.fails("POST", "/inference_services", 400, body=body)
