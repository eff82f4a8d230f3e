"""PATCH semantics, the same for every kind of entity that can be updated.

Fields present and non-null replace, absent (or null) ones stay; ``customProperties`` replaces
the whole map and ``{}`` clears it; the update time moves on every PATCH, even two in one
millisecond; names and parents cannot change; an ``externalId`` taken elsewhere is a 409.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from conformance import entities
from conformance.checks import (
    assert_ms_time,
    bool_prop,
    custom_props,
    double_prop,
    int_prop,
    string_prop,
)
from conformance.http import RestApi, rest_api


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


# Creates one entity of a kind with the given extra fields; returns (its PATCH path, entity).
Create = Callable[[RestApi, dict[str, Any]], Awaitable[tuple[str, dict[str, Any]]]]


async def _model(api: RestApi, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    model = await entities.registered_model(api, **fields)
    return f"/registered_models/{model['id']}", model


async def _version(api: RestApi, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    model = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"], **fields)
    return f"/model_versions/{version['id']}", version


async def _model_artifact(api: RestApi, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = await entities.model_artifact(api, name=entities.unique("ma"), **fields)
    return f"/model_artifacts/{created['id']}", created


async def _experiment(api: RestApi, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = await entities.experiment(api, **fields)
    return f"/experiments/{created['id']}", created


async def _run(api: RestApi, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    experiment = await entities.experiment(api)
    run = await entities.experiment_run(api, experiment["id"], **fields)
    return f"/experiment_runs/{run['id']}", run


async def _environment(api: RestApi, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = await entities.serving_environment(api, **fields)
    return f"/serving_environments/{created['id']}", created


async def _service(api: RestApi, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    environment = await entities.serving_environment(api)
    model = await entities.registered_model(api)
    service = await entities.inference_service(api, environment["id"], model["id"], **fields)
    return f"/inference_services/{service['id']}", service


def _generic(artifact_type: str) -> Create:
    async def create(api: RestApi, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        created = await entities.artifact(api, artifact_type, **fields)
        return f"/artifacts/{created['id']}", created

    return create


KINDS: dict[str, Create] = {
    "registered-model": _model,
    "model-version": _version,
    "model-artifact": _model_artifact,
    "experiment": _experiment,
    "experiment-run": _run,
    "serving-environment": _environment,
    "inference-service": _service,
    "generic-doc-artifact": _generic("doc-artifact"),
    "generic-dataset-artifact": _generic("dataset-artifact"),
    "generic-metric": _generic("metric"),
    "generic-parameter": _generic("parameter"),
}

# Fields a PATCH may not carry, per kind: the name, and the parent where there is one.
IMMUTABLE: dict[str, dict[str, str]] = {
    "registered-model": {"name": "renamed"},
    "model-version": {"name": "renamed", "registeredModelId": "999999"},
    "model-artifact": {"name": "renamed"},
    "experiment": {"name": "renamed"},
    "experiment-run": {"name": "renamed", "experimentId": "999999"},
    "serving-environment": {"name": "renamed"},
    "inference-service": {
        "name": "renamed",
        "registeredModelId": "999999",
        "servingEnvironmentId": "999999",
    },
    "generic-doc-artifact": {"name": "renamed"},
    "generic-dataset-artifact": {"name": "renamed"},
    "generic-metric": {"name": "renamed"},
    "generic-parameter": {"name": "renamed"},
}


def patch_body(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A PATCH body; the generic artifact endpoint needs the artifact type in every body."""
    if kind.startswith("generic-"):
        return {"artifactType": kind.removeprefix("generic-"), **fields}
    return fields


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_patch_merges_replaces_and_clears(api: RestApi, kind: str) -> None:
    original = {"a": string_prop("1"), "b": int_prop(2)}
    path, created = await KINDS[kind](
        api,
        {"description": "before", "externalId": f"ext-{kind}", "customProperties": original},
    )

    merged = await api.update(path, patch_body(kind, {"description": "after"}))
    kept = await api.update(path, patch_body(kind, {"description": None}))
    replaced = await api.update(
        path, patch_body(kind, {"customProperties": {"c": double_prop(0.5)}})
    )
    cleared = await api.update(path, patch_body(kind, {"customProperties": {}}))

    assert merged["description"] == "after"
    assert merged["externalId"] == f"ext-{kind}"
    assert merged["customProperties"] == original
    assert merged["name"] == created["name"]
    assert kept["description"] == "after"
    assert replaced["customProperties"] == {"c": double_prop(0.5)}
    assert replaced["description"] == "after"
    assert custom_props(cleared) == {}
    assert cleared["externalId"] == f"ext-{kind}"
    assert await api.fetch(path) == cleared


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_every_patch_moves_the_update_time_forward(api: RestApi, kind: str) -> None:
    path, created = await KINDS[kind](api, {})

    stamps = [assert_ms_time(created["lastUpdateTimeSinceEpoch"])]
    for index in range(3):
        patched = await api.update(path, patch_body(kind, {"description": f"d{index}"}))
        stamps.append(assert_ms_time(patched["lastUpdateTimeSinceEpoch"]))
        assert patched["createTimeSinceEpoch"] == created["createTimeSinceEpoch"]

    assert stamps == sorted(set(stamps)), stamps


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_names_and_parents_cannot_change(api: RestApi, kind: str) -> None:
    path, created = await KINDS[kind](api, {})

    for field, value in IMMUTABLE[kind].items():
        await api.fails("PATCH", path, 400, body=patch_body(kind, {field: value}))

    assert await api.fetch(path) == created


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_patch_to_a_taken_external_id_is_a_409(api: RestApi, kind: str) -> None:
    await KINDS[kind](api, {"externalId": "ext-taken"})
    path, _ = await KINDS[kind](api, {"externalId": "ext-mine"})

    await api.fails("PATCH", path, 409, body=patch_body(kind, {"externalId": "ext-taken"}))

    assert (await api.fetch(path))["externalId"] == "ext-mine"


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_patch_with_malformed_custom_properties_is_a_400(api: RestApi, kind: str) -> None:
    path, _ = await KINDS[kind](api, {"customProperties": {"k": bool_prop(True)}})

    await api.fails(
        "PATCH",
        path,
        400,
        body=patch_body(
            kind, {"customProperties": {"k": {"metadataType": "MetadataIntValue", "int_value": 1}}}
        ),
    )

    assert (await api.fetch(path))["customProperties"] == {"k": bool_prop(True)}


async def test_external_ids_are_shared_by_every_context_kind(api: RestApi) -> None:
    model = await entities.registered_model(api, externalId="shared")

    await api.fails(
        "POST",
        "/model_versions",
        409,
        body={"name": "v", "registeredModelId": model["id"], "externalId": "shared"},
    )
    await api.fails("POST", "/experiments", 409, body={"name": "e", "externalId": "shared"})
    await api.fails(
        "POST", "/serving_environments", 409, body={"name": "s", "externalId": "shared"}
    )
    # Artifacts are a family of their own: the same external id is free there.
    artifact = await entities.artifact(api, "doc-artifact", externalId="shared")
    assert artifact["externalId"] == "shared"
