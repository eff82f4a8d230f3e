"""Service rules, transport-neutral: defaults, PATCH merging, names, linking, history, serving."""

from __future__ import annotations

from typing import Any

import pytest

from model_registry.server.errors import BadRequest, Conflict, NotFound, UnprocessableEntity
from model_registry.server.service import RegistryService


def sprop(value: str) -> dict[str, Any]:
    return {"metadataType": "MetadataStringValue", "string_value": value}


async def _model_and_version(service: RegistryService) -> tuple[dict[str, Any], dict[str, Any]]:
    model = await service.create("registered-model", {"name": "m"})
    version = await service.create("model-version", {"name": "v1"}, parent_id=model["id"])
    return model, version


async def test_create_sets_defaults_and_string_times(service: RegistryService) -> None:
    model = await service.create("registered-model", {"name": "m"})
    assert model["state"] == "LIVE"
    assert model["customProperties"] == {}
    assert model["createTimeSinceEpoch"] == model["lastUpdateTimeSinceEpoch"]
    assert model["createTimeSinceEpoch"].isdigit()
    run_exp = await service.create("experiment", {"name": "e"})
    run = await service.create("experiment-run", {"experimentId": run_exp["id"]})
    assert run["status"] == "RUNNING" and run["state"] == "LIVE"
    assert len(run["name"]) == 36  # a generated UUID


async def test_unknown_field_and_missing_name_use_the_reference_messages(
    service: RegistryService,
) -> None:
    with pytest.raises(BadRequest) as bad:
        await service.create("registered-model", {"name": "m", "ext_id": "x"})
    assert bad.value.message == 'json: unknown field "ext_id"'
    with pytest.raises(UnprocessableEntity) as missing:
        await service.create("registered-model", {"description": "no name"})
    assert missing.value.http_status == 422
    assert missing.value.code == "Bad Request"
    assert missing.value.message == "required field 'name' is zero value."


async def test_a_250_character_version_name_fits_and_255_does_not(
    service: RegistryService,
) -> None:
    model = await service.create("registered-model", {"name": "m"})
    ok = await service.create("model-version", {"name": "x" * 250}, parent_id=model["id"])
    assert ok["name"] == "x" * 250
    with pytest.raises(BadRequest):
        await service.create("model-version", {"name": "y" * 255}, parent_id=model["id"])
    top = await service.create("registered-model", {"name": "z" * 255})
    assert len(top["name"]) == 255


async def test_version_names_are_unique_per_model_only(service: RegistryService) -> None:
    first, _ = await _model_and_version(service)
    second = await service.create("registered-model", {"name": "other"})
    await service.create("model-version", {"name": "v1"}, parent_id=second["id"])
    with pytest.raises(Conflict):
        await service.create("model-version", {"name": "v1"}, parent_id=first["id"])


async def test_external_ids_are_unique_across_context_kinds(service: RegistryService) -> None:
    await service.create("registered-model", {"name": "m", "externalId": "ext"})
    with pytest.raises(Conflict):
        await service.create("serving-environment", {"name": "env", "externalId": "ext"})
    # Artifacts are another namespace.
    artifact = await service.create("model-artifact", {"externalId": "ext"})
    assert artifact["externalId"] == "ext"


async def test_patch_merges_replaces_custom_properties_and_bumps_update_time(
    service: RegistryService,
) -> None:
    model = await service.create(
        "registered-model",
        {"name": "m", "owner": "me", "customProperties": {"a": sprop("1"), "b": sprop("2")}},
    )
    patched = await service.update(
        "registered-model", model["id"], {"description": "d", "customProperties": {"c": sprop("3")}}
    )
    assert patched["owner"] == "me" and patched["description"] == "d"
    assert patched["customProperties"] == {"c": sprop("3")}
    assert int(patched["lastUpdateTimeSinceEpoch"]) > int(model["lastUpdateTimeSinceEpoch"])
    cleared = await service.update("registered-model", model["id"], {"customProperties": {}})
    assert cleared["customProperties"] == {}
    assert int(cleared["lastUpdateTimeSinceEpoch"]) > int(patched["lastUpdateTimeSinceEpoch"])


async def test_patch_cannot_change_name_parent_or_artifact_type(
    service: RegistryService,
) -> None:
    model, version = await _model_and_version(service)
    other = await service.create("registered-model", {"name": "other"})
    with pytest.raises(BadRequest):
        await service.update("registered-model", model["id"], {"name": "renamed"})
    with pytest.raises(BadRequest):
        await service.update("model-version", version["id"], {"registeredModelId": other["id"]})
    same = await service.update("registered-model", model["id"], {"name": "m"})
    assert same["name"] == "m"
    artifact = await service.create("artifact", {"artifactType": "model-artifact", "uri": "u"})
    with pytest.raises(BadRequest) as changed:
        await service.update("artifact", artifact["id"], {"artifactType": "doc-artifact"})
    assert "model-artifact" in changed.value.message and "doc-artifact" in changed.value.message


async def test_model_artifact_patch_with_only_model_format_name(service: RegistryService) -> None:
    artifact = await service.create("model-artifact", {"uri": "s3://b/m"})
    assert artifact["name"]  # a generated name
    patched = await service.update("model-artifact", artifact["id"], {"modelFormatName": "onnx"})
    assert patched["modelFormatName"] == "onnx" and patched["uri"] == "s3://b/m"


async def test_posting_an_existing_artifact_id_links_it_and_a_new_one_is_created(
    service: RegistryService,
) -> None:
    _, version = await _model_and_version(service)
    _, second = await _second_version(service)
    doc, created = await service.upsert_context_artifact(
        "model-version", version["id"], {"artifactType": "doc-artifact", "name": "README"}
    )
    assert created
    linked, created_again = await service.upsert_context_artifact(
        "model-version", second["id"], {"artifactType": "doc-artifact", "id": doc["id"]}
    )
    assert not created_again and linked["id"] == doc["id"]
    page = await service.list_context_artifacts("model-version", second["id"], {})
    assert [a["id"] for a in page["items"]] == [doc["id"]]


async def _second_version(service: RegistryService) -> tuple[dict[str, Any], dict[str, Any]]:
    model = await service.create("registered-model", {"name": "m2"})
    version = await service.create("model-version", {"name": "v"}, parent_id=model["id"])
    return model, version


async def test_metrics_posted_to_a_run_update_in_place_and_append_history(
    service: RegistryService,
) -> None:
    experiment = await service.create("experiment", {"name": "e"})
    run = await service.create("experiment-run", {"name": "r"}, parent_id=experiment["id"])
    for step, value in enumerate((0.5, 0.7, 0.9)):
        metric, created = await service.upsert_context_artifact(
            "experiment-run",
            run["id"],
            {"artifactType": "metric", "name": "acc", "value": value, "step": step},
        )
        assert created == (step == 0)
        assert metric["experimentRunId"] == run["id"]
        assert metric["experimentId"] == experiment["id"]
    artifacts = await service.list_context_artifacts("experiment-run", run["id"], {})
    assert [(a["name"], a["value"]) for a in artifacts["items"]] == [("acc", 0.9)]
    history = await service.list_metric_history({"name": "acc"}, run_id=run["id"])
    assert [(h["step"], h["value"]) for h in history["items"]] == [(0, 0.5), (1, 0.7), (2, 0.9)]
    assert all(h["artifactType"] == "metric" for h in history["items"])
    steps = await service.list_metric_history({"stepIds": "0,2"})
    assert [h["step"] for h in steps["items"]] == [0, 2]
    with pytest.raises(BadRequest):
        await service.list_metric_history({"stepIds": "1,,2"})


async def test_inference_service_version_falls_back_to_the_newest_version(
    service: RegistryService,
) -> None:
    model, first = await _model_and_version(service)
    env = await service.create("serving-environment", {"name": "env"})
    isvc = await service.create(
        "inference-service",
        {"name": "svc", "registeredModelId": model["id"]},
        parent_id=env["id"],
    )
    assert isvc["desiredState"] == "DEPLOYED"
    assert (await service.get_inference_service_model(isvc["id"]))["id"] == model["id"]
    assert (await service.get_inference_service_version(isvc["id"]))["id"] == first["id"]
    newer = await service.create("model-version", {"name": "v2"}, parent_id=model["id"])
    assert (await service.get_inference_service_version(isvc["id"]))["id"] == newer["id"]
    await service.update("inference-service", isvc["id"], {"modelVersionId": first["id"]})
    assert (await service.get_inference_service_version(isvc["id"]))["id"] == first["id"]


async def test_inference_service_references_must_exist(service: RegistryService) -> None:
    env = await service.create("serving-environment", {"name": "env"})
    with pytest.raises(NotFound):
        await service.create("inference-service", {"registeredModelId": "999"}, parent_id=env["id"])
    with pytest.raises(UnprocessableEntity):
        await service.create("inference-service", {"name": "x"}, parent_id=env["id"])


async def test_serve_models_live_under_their_inference_service(service: RegistryService) -> None:
    model, version = await _model_and_version(service)
    env = await service.create("serving-environment", {"name": "env"})
    isvc = await service.create(
        "inference-service", {"registeredModelId": model["id"]}, parent_id=env["id"]
    )
    serve = await service.create(
        "serve-model", {"modelVersionId": version["id"]}, parent_id=isvc["id"]
    )
    assert serve["lastKnownState"] == "UNKNOWN"
    page = await service.list("serve-model", {}, parent_id=isvc["id"])
    assert [s["id"] for s in page["items"]] == [serve["id"]]
    with pytest.raises(NotFound):
        await service.list("serve-model", {}, parent_id="999")


async def test_find_needs_a_parent_for_child_names(service: RegistryService) -> None:
    model, version = await _model_and_version(service)
    with pytest.raises(BadRequest):
        await service.find("model-version", {"name": "v1"})
    with pytest.raises(BadRequest):
        await service.find("registered-model", {})
    found = await service.find("model-version", {"name": "v1", "parentResourceId": model["id"]})
    assert found["id"] == version["id"]
    with pytest.raises(NotFound):
        await service.find("registered-model", {"name": "absent"})


async def test_custom_property_values_of_the_wrong_form_are_refused(
    service: RegistryService,
) -> None:
    bad_values: list[Any] = [
        {"metadataType": "MetadataIntValue", "int_value": 5},
        {"metadataType": "MetadataIntValue", "int_value": "012"},
        {"metadataType": "MetadataBoolValue", "bool_value": "true"},
        {"metadataType": "MetadataStructValue", "struct_value": "not base64!"},
        {"metadataType": "Nope", "string_value": "x"},
        {"string_value": "untagged"},
        "plain",
    ]
    for value in bad_values:
        with pytest.raises(BadRequest):
            await service.create(
                "registered-model", {"name": "m", "customProperties": {"p": value}}
            )


async def test_strings_a_database_cannot_store_are_refused(service: RegistryService) -> None:
    with pytest.raises(BadRequest):
        await service.create("registered-model", {"name": "nul\x00name"})
    with pytest.raises(BadRequest):
        await service.create("registered-model", {"name": "m", "description": "\ud800"})
