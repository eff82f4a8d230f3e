"""Serving environments, inference services and serve models against the real server."""

from __future__ import annotations

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unsupported
from model_registry.types import (
    ExecutionState,
    InferenceService,
    InferenceServiceState,
    ListOptions,
    ModelArtifact,
    ModelVersion,
    RegisteredModel,
    ServeModel,
    ServingEnvironment,
)


async def _setup(client: ModelRegistryAPIClient) -> tuple[str, str, str, str]:
    rm = await client.upsert_registered_model(RegisteredModel("served"))
    assert rm.id is not None
    mv = await client.upsert_model_version(ModelVersion("v1"), rm.id)
    assert mv.id is not None
    ma = await client.upsert_model_artifact(ModelArtifact("weights", uri="s3://b/w"), mv.id)
    assert ma.id is not None
    se = await client.upsert_serving_environment(ServingEnvironment("prod", external_id="se-1"))
    assert se.id is not None
    return rm.id, mv.id, ma.id, se.id


async def test_serving_environments(client: ModelRegistryAPIClient) -> None:
    se = await client.upsert_serving_environment(ServingEnvironment("ns-a", description="x"))
    assert se.id is not None
    se.description = "y"
    assert (await client.upsert_serving_environment(se)).description == "y"
    assert await client.get_serving_environment_by_id(
        se.id
    ) == await client.get_serving_environment_by_params(name="ns-a")
    await client.upsert_serving_environment(ServingEnvironment("ns-b", external_id="nb"))
    assert (await client.get_serving_environment_by_params(external_id="nb")).name == "ns-b"  # type: ignore[union-attr]
    assert await client.get_serving_environment_by_id("55555") is None
    assert await client.get_serving_environment_by_params(name="absent") is None
    names = [s.name for s in await client.get_serving_environments(ListOptions(limit=10))]
    assert names == ["ns-a", "ns-b"]


async def test_inference_services_and_what_they_serve(client: ModelRegistryAPIClient) -> None:
    rm_id, mv_id, ma_id, se_id = await _setup(client)
    isvc = await client.upsert_inference_service(
        InferenceService(
            "svc",
            serving_environment_id=se_id,
            registered_model_id=rm_id,
            runtime="kserve",
            desired_state=InferenceServiceState.DEPLOYED,
        )
    )
    assert isvc.id is not None
    assert isvc.desired_state is InferenceServiceState.DEPLOYED
    other = await client.upsert_inference_service(
        InferenceService(
            "svc2",
            serving_environment_id=se_id,
            registered_model_id=rm_id,
            runtime="vllm",
            external_id="is-2",
        )
    )

    assert await client.get_inference_service_by_id(isvc.id) == isvc
    assert (
        await client.get_inference_service_by_params(name="svc", serving_environment_id=se_id)
        == isvc
    )
    assert await client.get_inference_service_by_params(external_id="is-2") == other
    assert (
        await client.get_inference_service_by_params(name="svc", serving_environment_id="x") is None
    )
    assert [s.name for s in await client.get_inference_services()] == ["svc", "svc2"]
    assert [s.name for s in await client.get_inference_services(serving_environment_id=se_id)] == [
        "svc",
        "svc2",
    ]
    assert [s.name for s in await client.get_inference_services(runtime="vllm")] == ["svc2"]
    options = ListOptions(limit=1, filter_query="name = 'svc' OR name = 'svc2'")
    page = await client.get_inference_services(options, runtime="kserve")
    assert [s.name for s in page] == ["svc"]
    assert options.filter_query == "name = 'svc' OR name = 'svc2'"
    assert await client.get_inference_services(serving_environment_id="99999") == []

    served_model = await client.get_registered_model_by_inference_service(isvc.id)
    assert served_model is not None and served_model.id == rm_id
    served_version = await client.get_model_version_by_inference_service(isvc.id)
    assert served_version is not None and served_version.id == mv_id
    served_artifact = await client.get_model_artifact_by_inference_service(isvc.id)
    assert served_artifact is not None and served_artifact.id == ma_id
    assert await client.get_registered_model_by_inference_service("99999") is None
    assert await client.get_model_version_by_inference_service("99999") is None
    assert await client.get_model_artifact_by_inference_service("99999") is None

    isvc.desired_state = InferenceServiceState.UNDEPLOYED
    isvc.model_version_id = mv_id
    updated = await client.upsert_inference_service(isvc)
    assert updated.desired_state is InferenceServiceState.UNDEPLOYED
    assert updated.model_version_id == mv_id


async def test_serve_models(client: ModelRegistryAPIClient, transport: str) -> None:
    rm_id, mv_id, _, se_id = await _setup(client)
    isvc = await client.upsert_inference_service(
        InferenceService("svc", serving_environment_id=se_id, registered_model_id=rm_id)
    )
    assert isvc.id is not None
    sm = await client.upsert_serve_model(
        ServeModel("run-1", model_version_id=mv_id, last_known_state=ExecutionState.RUNNING),
        isvc.id,
    )
    assert sm.id is not None and sm.last_known_state is ExecutionState.RUNNING
    sm2 = await client.upsert_serve_model(ServeModel(model_version_id=mv_id), isvc.id)

    assert await client.get_serve_model_by_id(sm.id) == sm
    assert await client.get_serve_model_by_id(sm.id, isvc.id) == sm
    assert await client.get_serve_model_by_id("88888") is None
    assert [s.id for s in await client.get_serve_models(inference_service_id=isvc.id)] == [
        sm.id,
        sm2.id,
    ]
    assert len(await client.get_serve_models(ListOptions(limit=1), isvc.id)) == 1
    if transport == "rest":
        # REST lists serve models per inference service only.
        with pytest.raises(ValueError):
            await client.get_serve_models()
        with pytest.raises(Unsupported):
            await client.upsert_serve_model(sm, isvc.id)
    else:
        assert len(await client.get_serve_models()) == 2
        sm.last_known_state = ExecutionState.COMPLETE
        updated = await client.upsert_serve_model(sm, isvc.id)
        assert updated.last_known_state is ExecutionState.COMPLETE
