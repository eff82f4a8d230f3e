"""Artifacts over REST: every artifact type, model artifacts, version links, find, patch rules."""

from __future__ import annotations

import uuid
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


async def new_version(api: RestApi) -> dict[str, Any]:
    """Create a registered model with one version and return the version."""
    model = await entities.registered_model(api)
    version: dict[str, Any] = await entities.model_version(api, model["id"])
    return version


# One create body per artifact type, with the fields particular to that type.
TYPED_BODIES: dict[str, dict[str, Any]] = {
    "model-artifact": {
        "uri": "s3://bucket/model",
        "modelFormatName": "onnx",
        "modelFormatVersion": "1",
        "storageKey": "secret",
        "storagePath": "/models",
        "serviceAccountName": "sa",
        "modelSourceKind": "kfp",
        "modelSourceClass": "pipelinerun",
        "modelSourceGroup": "ns",
        "modelSourceId": "run-1",
        "modelSourceName": "my-run",
        "state": "LIVE",
    },
    "doc-artifact": {"uri": "https://example.com/README.md", "state": "PENDING"},
    "dataset-artifact": {
        "uri": "s3://bucket/data.csv",
        "digest": "sha256:abc",
        "sourceType": "s3",
        "source": "bucket",
        "schema": '{"cols": ["a"]}',
        "profile": '{"rows": 3}',
    },
    "metric": {"value": 0.93, "timestamp": "1700000000000", "step": 3},
    "parameter": {"value": "0.01", "parameterType": "number"},
}


@pytest.mark.parametrize("artifact_type", sorted(TYPED_BODIES))
async def test_generic_create_stores_every_artifact_type(api: RestApi, artifact_type: str) -> None:
    fields = TYPED_BODIES[artifact_type]
    created = await entities.artifact(
        api,
        artifact_type,
        name="art",
        description="d",
        externalId=f"ext-{artifact_type}",
        customProperties={"k": string_prop("v")},
        **fields,
    )

    assert_stored(created)
    assert created["artifactType"] == artifact_type
    assert created["name"] == "art"
    assert created["description"] == "d"
    assert created["externalId"] == f"ext-{artifact_type}"
    assert created["customProperties"] == {"k": string_prop("v")}
    for key, value in fields.items():
        assert created[key] == value, key
    assert await api.fetch(f"/artifacts/{created['id']}") == created


async def test_generic_list_filters_by_artifact_type(api: RestApi) -> None:
    created = {
        kind: await entities.artifact(api, kind, **TYPED_BODIES[kind]) for kind in TYPED_BODIES
    }

    everything = assert_list(await api.fetch("/artifacts"))
    assert sorted(ids_of(everything), key=int) == sorted(
        (item["id"] for item in created.values()), key=int
    )
    for kind, item in created.items():
        only = assert_list(await api.fetch("/artifacts", {"artifactType": kind}))
        assert ids_of(only) == [item["id"]], kind
        assert {entry["artifactType"] for entry in only} == {kind}


async def test_generic_list_refuses_an_unknown_artifact_type(api: RestApi) -> None:
    await api.fails("GET", "/artifacts", 400, params={"artifactType": "photo"})


async def test_generic_create_refuses_an_unknown_artifact_type(api: RestApi) -> None:
    await api.fails("POST", "/artifacts", 400, body={"artifactType": "photo", "name": "x"})


async def test_artifact_state_defaults_to_unknown(api: RestApi) -> None:
    created = await entities.artifact(api, "doc-artifact", uri="file:///doc")

    assert created["state"] == "UNKNOWN"


async def test_model_artifact_create_answers_with_its_type(api: RestApi) -> None:
    created = await entities.model_artifact(api, name="weights", modelFormatName="onnx")

    assert_stored(created)
    assert created["artifactType"] == "model-artifact"
    assert created["name"] == "weights"
    assert created["modelFormatName"] == "onnx"
    assert await api.fetch(f"/model_artifacts/{created['id']}") == created


async def test_model_artifact_without_a_name_gets_a_uuid(api: RestApi) -> None:
    first = await entities.model_artifact(api)
    second = await entities.model_artifact(api)

    assert str(uuid.UUID(first["name"])) == first["name"].lower()
    assert first["name"] != second["name"]


async def test_model_artifact_list_holds_only_model_artifacts(api: RestApi) -> None:
    model_artifact = await entities.model_artifact(api)
    await entities.artifact(api, "doc-artifact")

    items = assert_list(await api.fetch("/model_artifacts"))

    assert ids_of(items) == [model_artifact["id"]]
    assert items[0]["artifactType"] == "model-artifact"


async def test_patch_of_only_the_model_format_name_succeeds(api: RestApi) -> None:
    created = await entities.model_artifact(
        api, name="w", modelFormatName="onnx", modelFormatVersion="1"
    )

    patched = await api.update(
        f"/model_artifacts/{created['id']}", {"modelFormatName": "tensorflow"}
    )

    assert patched["modelFormatName"] == "tensorflow"
    assert patched["modelFormatVersion"] == "1"
    assert patched["uri"] == created["uri"]
    assert patched["name"] == "w"
    assert patched["artifactType"] == "model-artifact"
    assert assert_ms_time(patched["lastUpdateTimeSinceEpoch"]) > assert_ms_time(
        created["lastUpdateTimeSinceEpoch"]
    )


async def test_generic_patch_with_the_same_type_merges(api: RestApi) -> None:
    created = await entities.artifact(api, "metric", value=1.0, step=1)

    patched = await api.update(
        f"/artifacts/{created['id']}", {"artifactType": "metric", "value": 2.5}
    )

    assert patched["value"] == 2.5
    assert patched["step"] == 1
    assert patched["name"] == created["name"]


async def test_generic_patch_changing_the_type_is_a_400_naming_both(api: RestApi) -> None:
    created = await entities.artifact(api, "model-artifact", uri="s3://b/m")

    message = await api.fails(
        "PATCH",
        f"/artifacts/{created['id']}",
        400,
        body={"artifactType": "doc-artifact", "uri": "s3://b/d"},
    )

    assert "model-artifact" in message
    assert "doc-artifact" in message
    fetched = await api.fetch(f"/artifacts/{created['id']}")
    assert fetched["artifactType"] == "model-artifact"
    assert fetched["uri"] == "s3://b/m"


async def test_patch_cannot_rename_an_artifact(api: RestApi) -> None:
    created = await entities.model_artifact(api, name="w")

    await api.fails("PATCH", f"/model_artifacts/{created['id']}", 400, body={"name": "other"})

    assert (await api.fetch(f"/model_artifacts/{created['id']}"))["name"] == "w"


async def test_duplicate_artifact_external_id_is_a_409(api: RestApi) -> None:
    await entities.artifact(api, "doc-artifact", externalId="ext-art")

    await api.fails(
        "POST",
        "/artifacts",
        409,
        body={"artifactType": "metric", "name": "m", "externalId": "ext-art"},
    )


async def test_posting_a_new_artifact_to_a_version_creates_and_links_it(api: RestApi) -> None:
    version = await new_version(api)

    created = await entities.version_artifact(
        api,
        version["id"],
        {"artifactType": "model-artifact", "name": "weights", "uri": "s3://b/w"},
    )

    assert_stored(created)
    assert created["artifactType"] == "model-artifact"
    listed = assert_list(await api.fetch(f"/model_versions/{version['id']}/artifacts"))
    assert ids_of(listed) == [created["id"]]


async def test_posting_an_existing_artifact_id_links_it_with_200(api: RestApi) -> None:
    version = await new_version(api)
    standalone = await entities.artifact(api, "doc-artifact", uri="https://example.com/d")

    reply = await api.post(
        f"/model_versions/{version['id']}/artifacts",
        {"artifactType": "doc-artifact", "id": standalone["id"]},
    )

    assert reply.status == 200, reply.describe()
    assert reply.body["id"] == standalone["id"]
    assert reply.body["uri"] == "https://example.com/d"
    listed = assert_list(await api.fetch(f"/model_versions/{version['id']}/artifacts"))
    assert ids_of(listed) == [standalone["id"]]
    assert len(assert_list(await api.fetch("/artifacts"))) == 1


async def test_one_artifact_can_be_linked_to_two_versions(api: RestApi) -> None:
    first = await new_version(api)
    second = await new_version(api)
    created = await entities.version_artifact(
        api, first["id"], {"artifactType": "doc-artifact", "uri": "https://e.com/x"}
    )

    reply = await api.post(f"/model_versions/{second['id']}/artifacts", created)

    assert reply.status == 200, reply.describe()
    assert reply.body["id"] == created["id"]
    for version in (first, second):
        listed = assert_list(await api.fetch(f"/model_versions/{version['id']}/artifacts"))
        assert ids_of(listed) == [created["id"]]


async def test_linking_an_unknown_artifact_id_is_a_404(api: RestApi) -> None:
    version = await new_version(api)

    await api.fails(
        "POST",
        f"/model_versions/{version['id']}/artifacts",
        404,
        body={"artifactType": "doc-artifact", "id": "4242"},
    )


async def test_posting_to_an_unknown_version_is_a_404(api: RestApi) -> None:
    await api.fails(
        "POST",
        "/model_versions/4242/artifacts",
        404,
        body={"artifactType": "doc-artifact", "uri": "x"},
    )


async def test_version_artifact_list_filters_by_name_external_id_and_type(
    api: RestApi,
) -> None:
    version = await new_version(api)
    path = f"/model_versions/{version['id']}/artifacts"
    weights = await entities.version_artifact(
        api,
        version["id"],
        {"artifactType": "model-artifact", "name": "weights", "externalId": "ext-w"},
    )
    readme = await entities.version_artifact(
        api, version["id"], {"artifactType": "doc-artifact", "name": "readme"}
    )

    assert ids_of(assert_list(await api.fetch(path, {"name": "weights"}))) == [weights["id"]]
    assert ids_of(assert_list(await api.fetch(path, {"externalId": "ext-w"}))) == [weights["id"]]
    assert ids_of(assert_list(await api.fetch(path, {"artifactType": "doc-artifact"}))) == [
        readme["id"]
    ]
    assert assert_list(await api.fetch(path, {"name": "nothing"})) == []


async def test_version_artifact_list_of_an_unknown_version_is_a_404(api: RestApi) -> None:
    await api.fails("GET", "/model_versions/4242/artifacts", 404)


async def test_find_model_artifact_by_name_and_parent(api: RestApi) -> None:
    version = await new_version(api)
    other = await new_version(api)
    mine = await entities.version_artifact(
        api, version["id"], {"artifactType": "model-artifact", "name": "weights"}
    )
    await entities.version_artifact(
        api, other["id"], {"artifactType": "model-artifact", "name": "weights"}
    )

    found = await api.fetch(
        "/model_artifact", {"name": "weights", "parentResourceId": version["id"]}
    )

    assert found["id"] == mine["id"]
    assert found["artifactType"] == "model-artifact"


async def test_find_artifact_by_name_and_parent(api: RestApi) -> None:
    version = await new_version(api)
    readme = await entities.version_artifact(
        api, version["id"], {"artifactType": "doc-artifact", "name": "readme"}
    )

    found = await api.fetch("/artifact", {"name": "readme", "parentResourceId": version["id"]})

    assert found["id"] == readme["id"]
    assert found["artifactType"] == "doc-artifact"


async def test_find_artifacts_by_external_id(api: RestApi) -> None:
    model_artifact = await entities.model_artifact(api, externalId="ext-ma")
    doc = await entities.artifact(api, "doc-artifact", externalId="ext-doc")

    assert (await api.fetch("/model_artifact", {"externalId": "ext-ma"}))["id"] == model_artifact[
        "id"
    ]
    assert (await api.fetch("/artifact", {"externalId": "ext-doc"}))["id"] == doc["id"]


@pytest.mark.parametrize("path", ["/artifact", "/model_artifact"])
async def test_find_artifact_without_enough_criteria_is_a_400(api: RestApi, path: str) -> None:
    version = await new_version(api)
    await entities.version_artifact(
        api, version["id"], {"artifactType": "model-artifact", "name": "weights"}
    )

    await api.fails("GET", path, 400)
    await api.fails("GET", path, 400, params={"parentResourceId": version["id"]})


@pytest.mark.parametrize("path", ["/artifact", "/model_artifact"])
async def test_find_artifact_without_a_match_is_a_404(api: RestApi, path: str) -> None:
    version = await new_version(api)

    await api.fails("GET", path, 404, params={"name": "none", "parentResourceId": version["id"]})
    await api.fails("GET", path, 404, params={"externalId": "none"})


ARTIFACT_STATES = [
    "UNKNOWN",
    "PENDING",
    "LIVE",
    "MARKED_FOR_DELETION",
    "DELETED",
    "ABANDONED",
    "REFERENCE",
]


async def test_every_artifact_state_round_trips(api: RestApi) -> None:
    created = await entities.artifact(api, "doc-artifact")
    path = f"/artifacts/{created['id']}"

    for state in ARTIFACT_STATES:
        patched = await api.update(path, {"artifactType": "doc-artifact", "state": state})
        assert patched["state"] == state
        assert (await api.fetch(path))["state"] == state
    await api.fails("PATCH", path, 400, body={"artifactType": "doc-artifact", "state": "GONE"})


async def test_every_listed_artifact_carries_its_type(api: RestApi) -> None:
    version = await new_version(api)
    for kind in TYPED_BODIES:
        await entities.version_artifact(api, version["id"], {"artifactType": kind})

    listed = assert_list(await api.fetch(f"/model_versions/{version['id']}/artifacts"))

    assert sorted(item["artifactType"] for item in listed) == sorted(TYPED_BODIES)


@pytest.mark.parametrize(
    ("field", "value"),
    [("registeredModelId", "abc"), ("registeredModelId", "0")],
)
async def test_a_body_id_off_the_pattern_is_a_400(api: RestApi, field: str, value: str) -> None:
    await api.fails("POST", "/model_versions", 400, body={"name": "v", field: value})
