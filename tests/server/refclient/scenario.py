"""Drive a registry server with the reference Python client and print what it saw as JSON.

Run by ``tests/server/test_reference_client.py`` inside a virtual environment that holds the
reference client (``model-registry`` 0.3.9 or 0.3.14 from PyPI, which speak v1alpha3, or 0.3.18,
which speaks v1), never ours: both distributions are called ``model_registry``, so the reference
package is imported by name at run time.

Usage: ``python scenario.py PORT {models,archive,experiments,serving,token}``; the ``token``
scenario reads the bearer token from ``MR_TEST_TOKEN``. ``serving`` needs a v1 client (0.3.18):
its facade has no serving or metric methods, so it drives the reference's own generated v1 API
(``mr_openapi``) through the client's ``ModelRegistryAPIClient.get_client()``. The last line of
stdout is one JSON object; everything the test asserts on is in it.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

# The reference client warns about the missing token of an insecure connection; noise here.
warnings.simplefilter("ignore")

# A pager that never stops would hang the test; stop reading well past any sane total.
_PAGER_LIMIT = 200


def connect(port: int, token: str | None = None) -> Any:
    """Open a reference ``ModelRegistry`` against the local server on ``port``."""
    reference = importlib.import_module("model_registry")
    return reference.ModelRegistry(
        server_address="http://127.0.0.1",
        port=port,
        author="ref-author",
        is_secure=False,
        user_token=token,
    )


def drain(pager: Iterator[Any]) -> tuple[list[Any], bool]:
    """Read a pager to its end; return the items and whether it stopped by itself."""
    items: list[Any] = []
    for item in pager:
        items.append(item)
        if len(items) >= _PAGER_LIMIT:
            return items, False
    return items, True


def models_scenario(registry: Any) -> dict[str, Any]:
    """Register, read back, update and page through registered models."""
    registered = registry.register_model(
        "mnist",
        "s3://bucket/mnist/model.onnx",
        model_format_name="onnx",
        model_format_version="1",
        version="v1",
        version_description="first version",
        storage_key="my-secret",
        storage_path="/mnist",
        metadata={"accuracy": 0.97, "epochs": 10, "framework": "pytorch", "tuned": True},
    )
    model = registry.get_registered_model("mnist")
    version = registry.get_model_version("mnist", "v1")
    artifact = registry.get_model_artifact("mnist", "v1")
    missing = registry.get_registered_model("no-such-model")
    # Snapshot before the updates below change these objects in place.
    report: dict[str, Any] = {
        "registered": {"id": registered.id, "name": registered.name, "owner": registered.owner},
        "model": {"id": model.id, "name": model.name, "owner": model.owner},
        "version": {
            "id": version.id,
            "name": version.name,
            "author": version.author,
            "description": version.description,
            "registered_model_id": version.registered_model_id,
            "custom_properties": version.custom_properties,
        },
        "artifact": {
            "id": artifact.id,
            "name": artifact.name,
            "uri": artifact.uri,
            "model_format_name": artifact.model_format_name,
            "model_format_version": artifact.model_format_version,
            "storage_key": artifact.storage_key,
            "storage_path": artifact.storage_path,
        },
        "missing_is_none": missing is None,
    }

    model.description = "updated model"
    version.description = "updated version"
    artifact.model_format_version = "2"
    report["updated"] = {
        "model_description": registry.update(model).description,
        "version_description": registry.update(version).description,
        "artifact_format_version": registry.update(artifact).model_format_version,
    }
    reread_artifact = registry.get_model_artifact("mnist", "v1")
    report["reread"] = {
        "model_description": registry.get_registered_model("mnist").description,
        "version_description": registry.get_model_version("mnist", "v1").description,
        "artifact_format_version": reread_artifact.model_format_version,
        "artifact_uri": reread_artifact.uri,
    }

    registry.register_model(
        "mnist",
        "s3://bucket/mnist/model-2.onnx",
        model_format_name="onnx",
        model_format_version="1",
        version="v2",
    )
    for index in range(24):
        registry.register_model(
            f"bulk-{index:02d}",
            f"s3://bucket/bulk/{index}",
            model_format_name="onnx",
            model_format_version="1",
            version="v1",
        )
    paged, report["pager_stopped"] = drain(registry.get_registered_models().page_size(10))
    report["paged_names"] = [item.name for item in paged]
    # Page sizes that divide the total, leave a remainder, and exceed it; both directions.
    report["by_page_size"] = {}
    for size in (1, 5, 7, 25, 100):
        items, stopped = drain(registry.get_registered_models().page_size(size))
        report["by_page_size"][str(size)] = {"names": [i.name for i in items], "stopped": stopped}
    newest_first, _ = drain(
        registry.get_registered_models().order_by_creation_time().descending().page_size(4)
    )
    report["newest_first"] = [item.name for item in newest_first]
    versions, report["versions_pager_stopped"] = drain(
        registry.get_model_versions("mnist").page_size(1)
    )
    report["version_names"] = [item.name for item in versions]
    return report


def experiments_scenario(registry: Any) -> dict[str, Any]:
    """Log params and metrics through an experiment run, then read them back."""
    with registry.start_experiment_run(experiment_name="churn", owner="ref-owner") as run:
        run.log_param("learning_rate", 0.01)
        run.log_param("optimizer", "adam")
        run.log_metric("loss", 0.25, step=1)
        run.log_metric("accuracy", 0.9, step=2)
        run.log_dataset(name="train", uri="s3://bucket/train.csv", source_type="s3")
        with registry.start_experiment_run(nested=True) as child:
            child.log_param("fold", 1)
    run_id = run.info.id
    experiment_id = run.info.experiment_id
    with registry.start_experiment_run(experiment_name="churn") as second:
        second.log_metric("loss", 0.2, step=1)
    by_names, by_names_stopped = drain(
        registry.get_experiment_run_logs(run_name=run.info.name, experiment_name="churn")
    )
    child_logs, _ = drain(registry.get_experiment_run_logs(run_id=child.info.id))

    logs, logs_stopped = drain(registry.get_experiment_run_logs(run_id=run_id))
    experiments, experiments_stopped = drain(registry.get_experiments())
    runs, runs_stopped = drain(registry.get_experiment_runs(experiment_name="churn"))
    fetched_run = registry.get_experiment_run(run_id)

    def describe(log: Any) -> dict[str, Any]:
        kind = type(log).__name__
        entry: dict[str, Any] = {"kind": kind, "name": log.name, "id": log.id}
        entry["value"] = getattr(log, "value", None)
        if kind == "DataSet":
            entry["uri"] = log.uri
            entry["source_type"] = log.source_type
        if kind == "Metric":
            entry["step"] = log.step
        if kind == "Parameter":
            entry["parameter_type"] = str(getattr(log.parameter_type, "value", log.parameter_type))
        return entry

    return {
        "run": {"id": run_id, "name": run.info.name, "experiment_id": experiment_id},
        "fetched_run": {
            "id": fetched_run.id,
            "name": fetched_run.name,
            "experiment_id": fetched_run.experiment_id,
        },
        "logs": sorted((describe(log) for log in logs), key=lambda entry: entry["name"]),
        "logs_stopped": logs_stopped,
        "experiments": [{"id": e.id, "name": e.name, "owner": e.owner} for e in experiments],
        "experiments_stopped": experiments_stopped,
        "runs": [{"id": r.id, "name": r.name, "props": r.custom_properties} for r in runs],
        "runs_stopped": runs_stopped,
        "second_run": {"id": second.info.id, "experiment_id": second.info.experiment_id},
        "child_run": {"id": child.info.id, "experiment_id": child.info.experiment_id},
        "logs_by_names": sorted(log.name for log in by_names),
        "logs_by_names_stopped": by_names_stopped,
        "child_logs": [describe(log) for log in child_logs],
    }


def archive_scenario(registry: Any) -> dict[str, Any]:
    """Archive a model and a version through ``update`` and read the state back."""
    types = importlib.import_module("model_registry.types")
    registry.register_model(
        "retired",
        "s3://bucket/retired",
        model_format_name="onnx",
        model_format_version="1",
        version="v1",
    )
    model = registry.get_registered_model("retired")
    version = registry.get_model_version("retired", "v1")
    model.state = types.RegisteredModelState.ARCHIVED
    version.state = types.ModelVersionState.ARCHIVED
    registry.update(model)
    registry.update(version)
    return {
        "model_state": str(registry.get_registered_model("retired").state.value),
        "version_state": str(registry.get_model_version("retired", "v1").state.value),
    }


def serving_scenario(registry: Any) -> dict[str, Any]:
    """Serving environments, inference services, serves and metrics over the v1 API."""
    registered = registry.register_model(
        "served",
        "s3://bucket/served",
        model_format_name="onnx",
        model_format_version="1",
        version="v1",
    )
    version = registry.get_model_version("served", "v1")
    return asyncio.run(_serving(registry._api, registered.id, version.id))


async def _serving(api: Any, model_id: str, version_id: str) -> dict[str, Any]:
    m = importlib.import_module("mr_openapi")
    async with api.get_client() as client:
        env = await client.create_serving_environment(m.ServingEnvironmentCreate(name="prod"))
        found_env = await client.find_serving_environment(name="prod")
        isvc = await client.create_inference_service(
            m.InferenceServiceCreate(
                name="served-isvc",
                servingEnvironmentId=env.id,
                registeredModelId=model_id,
                runtime="kserve",
            )
        )
        listed = await client.get_environment_inference_services(env.id)
        serve = await client.create_inference_service_serve(
            isvc.id, m.ServeModelCreate(modelVersionId=version_id)
        )
        serves = await client.get_inference_service_serves(isvc.id)
        served_model = await client.get_inference_service_model(isvc.id)
        served_version = await client.get_inference_service_version(isvc.id)
        undeployed = await client.update_inference_service(
            isvc.id, m.InferenceServiceUpdate(desiredState=m.InferenceServiceState.UNDEPLOYED)
        )
        metric = await client.create_artifact(
            m.ArtifactCreate(
                m.MetricCreate(artifactType="metric", name="latency", value=12.5, step="3")
            )
        )
        updated = await client.update_artifact(
            metric.actual_instance.id,
            m.ArtifactUpdate(m.MetricUpdate(artifactType="metric", step="4", value=11.0)),
        )
        fetched = await client.get_artifact(metric.actual_instance.id)
        metrics = await client.get_artifacts(artifact_type=m.ArtifactTypeQueryParam.METRIC)
        doc = await client.upsert_model_version_artifact(
            version_id, m.Artifact(m.DocArtifact(artifactType="doc-artifact", uri="s3://b/doc"))
        )
    return {
        "environment": {"id": env.id, "name": env.name, "found": found_env.id},
        "inference_service": {
            "name": isvc.name,
            "runtime": isvc.runtime,
            "desired_state": str(isvc.desired_state.value),
            "listed": [item.id for item in listed.items],
            "undeployed": str(undeployed.desired_state.value),
        },
        "serve": {"id": serve.id, "model_version_id": serve.model_version_id},
        "serves": [item.id for item in serves.items],
        "served_model": served_model.id,
        "served_version": served_version.id,
        "metric": {
            "created_step": metric.actual_instance.step,
            "updated_step": updated.actual_instance.step,
            "fetched_step": fetched.actual_instance.step,
            "fetched_value": fetched.actual_instance.value,
            "listed_steps": [item.actual_instance.step for item in metrics.items],
        },
        "doc_name": doc.actual_instance.name,
    }


def token_scenario(registry: Any) -> dict[str, Any]:
    """Register and read back a model through a server that demands a bearer token."""
    registry.register_model(
        "guarded",
        "s3://bucket/guarded",
        model_format_name="onnx",
        model_format_version="1",
        version="v1",
    )
    model = registry.get_registered_model("guarded")
    artifact = registry.get_model_artifact("guarded", "v1")
    return {"model": model.name, "artifact_uri": artifact.uri}


SCENARIOS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "models": models_scenario,
    "archive": archive_scenario,
    "experiments": experiments_scenario,
    "serving": serving_scenario,
    "token": token_scenario,
}


def main(argv: list[str]) -> int:
    """Run the scenario named in ``argv`` and print its JSON report."""
    port, name = int(argv[0]), argv[1]
    report = SCENARIOS[name](connect(port, os.environ.get("MR_TEST_TOKEN")))
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
