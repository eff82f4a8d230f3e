"""Forms the reference client's own suite relies on, on both API versions.

COMPAT.md: every artifact created without a name gets a generated UUID name; a find that matches
nothing is a 404 whose message has the reference's form, ending in ``: not found``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from conformance import entities
from conformance.http import RestApi, rest_api

from model_registry.server import RunningServer
from model_registry.server.versions import API_VERSIONS

ARTIFACT_TYPES = ["model-artifact", "doc-artifact", "dataset-artifact", "metric", "parameter"]


@pytest.fixture(params=["v1", "v1alpha3"])
async def api(request: pytest.FixtureRequest, server: RunningServer) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to one API version of the test server."""
    async with rest_api(server.url + API_VERSIONS[request.param].base_path) as client:
        yield client


def _is_uuid(name: str) -> bool:
    return str(uuid.UUID(name)) == name.lower()


@pytest.mark.parametrize("artifact_type", ARTIFACT_TYPES)
async def test_every_artifact_kind_created_without_a_name_gets_a_uuid_name(
    api: RestApi, artifact_type: str
) -> None:
    model = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"])

    standalone = await api.create("/artifacts", {"artifactType": artifact_type})
    in_version = await entities.version_artifact(
        api, version["id"], {"artifactType": artifact_type}
    )

    assert _is_uuid(standalone["name"]) and _is_uuid(in_version["name"])
    assert standalone["name"] != in_version["name"]
    assert (await api.fetch(f"/artifacts/{standalone['id']}"))["name"] == standalone["name"]


async def test_a_registered_model_find_without_a_match_has_the_reference_message(
    api: RestApi,
) -> None:
    by_name = await api.fails("GET", "/registered_model", 404, params={"name": "HAL"})
    by_external_id = await api.fails("GET", "/registered_model", 404, params={"externalId": "x"})

    assert by_name == "no registered models found for name=HAL, externalId=: not found"
    assert by_external_id == "no registered models found for name=, externalId=x: not found"


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        (
            "/model_version",
            {"name": "v9", "parentResourceId": "1"},
            "no model versions found for name=v9, parentResourceId=1, externalId=: not found",
        ),
        (
            "/model_artifact",
            {"externalId": "e"},
            "no model artifacts found for name=, parentResourceId=, externalId=e: not found",
        ),
        (
            "/artifact",
            {"name": "a", "parentResourceId": "1"},
            "no artifacts found for name=a, parentResourceId=1, externalId=: not found",
        ),
        (
            "/serving_environment",
            {"name": "prod"},
            "no serving environments found for name=prod, externalId=: not found",
        ),
        (
            "/inference_service",
            {"name": "svc", "parentResourceId": "1"},
            "no inference services found for name=svc, parentResourceId=1, externalId=: not found",
        ),
    ],
)
async def test_every_find_without_a_match_ends_in_not_found(
    api: RestApi, path: str, params: dict[str, str], message: str
) -> None:
    assert await api.fails("GET", path, 404, params=params) == message


async def test_experiment_finds_without_a_match_end_in_not_found(server: RunningServer) -> None:
    async with rest_api(server.url + API_VERSIONS["v1alpha3"].base_path) as alpha:
        experiment = await alpha.fails("GET", "/experiment", 404, params={"name": "x"})
        run = await alpha.fails(
            "GET", "/experiment_run", 404, params={"name": "r", "parentResourceId": "3"}
        )

    assert experiment == "no experiments found for name=x, externalId=: not found"
    assert run == "no experiment runs found for name=r, parentResourceId=3, externalId=: not found"
