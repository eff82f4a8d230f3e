"""Builders that create registry entities through the REST API and return them as stored."""

from __future__ import annotations

import uuid
from typing import Any

from .http import RestApi


def unique(prefix: str) -> str:
    """Return a name no other call returns, so tests never clash by accident."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def registered_model(api: RestApi, name: str | None = None, **fields: Any) -> Any:
    """Create a registered model."""
    return await api.create("/registered_models", {"name": name or unique("model"), **fields})


async def model_version(api: RestApi, model_id: str, name: str | None = None, **fields: Any) -> Any:
    """Create a model version of ``model_id`` through ``POST /model_versions``."""
    body = {"name": name or unique("version"), "registeredModelId": model_id, **fields}
    return await api.create("/model_versions", body)


async def model_artifact(api: RestApi, name: str | None = None, **fields: Any) -> Any:
    """Create a standalone model artifact through ``POST /model_artifacts``."""
    body: dict[str, Any] = {"uri": "s3://bucket/model.onnx", **fields}
    if name is not None:
        body["name"] = name
    return await api.create("/model_artifacts", body)


async def version_artifact(api: RestApi, version_id: str, body: dict[str, Any]) -> Any:
    """Create a new artifact under a model version (201)."""
    return await api.create(f"/model_versions/{version_id}/artifacts", body)


async def artifact(api: RestApi, artifact_type: str, name: str | None = None, **fields: Any) -> Any:
    """Create an artifact of any type through the generic ``POST /artifacts``."""
    body = {"artifactType": artifact_type, "name": name or unique(artifact_type), **fields}
    return await api.create("/artifacts", body)


async def experiment(api: RestApi, name: str | None = None, **fields: Any) -> Any:
    """Create an experiment."""
    return await api.create("/experiments", {"name": name or unique("experiment"), **fields})


async def experiment_run(
    api: RestApi, experiment_id: str, name: str | None = None, **fields: Any
) -> Any:
    """Create an experiment run of ``experiment_id`` through ``POST /experiment_runs``."""
    body = {"name": name or unique("run"), "experimentId": experiment_id, **fields}
    return await api.create("/experiment_runs", body)


async def run_artifact(api: RestApi, run_id: str, body: dict[str, Any]) -> Any:
    """Create a new artifact under an experiment run (201)."""
    return await api.create(f"/experiment_runs/{run_id}/artifacts", body)


async def serving_environment(api: RestApi, name: str | None = None, **fields: Any) -> Any:
    """Create a serving environment."""
    body = {"name": name or unique("environment"), **fields}
    return await api.create("/serving_environments", body)


async def inference_service(
    api: RestApi,
    environment_id: str,
    model_id: str,
    name: str | None = None,
    **fields: Any,
) -> Any:
    """Create an inference service through ``POST /inference_services``."""
    body = {
        "name": name or unique("isvc"),
        "servingEnvironmentId": environment_id,
        "registeredModelId": model_id,
        **fields,
    }
    return await api.create("/inference_services", body)
