"""Two-entity populations for every list endpoint of the API.

Each population creates entities named ``alpha`` and ``beta`` (with custom properties that
tell them apart) behind one list endpoint, plus, for nested lists, a same-named decoy under a
sibling parent that must never show up. It returns the list path and the ids by name. The
filter and paging suites run over all of them, so no list endpoint is left out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from . import entities
from .checks import bool_prop, double_prop, int_prop, string_prop
from .http import RestApi


def props(rank: int, score: float, framework: str, source: str, deployed: bool) -> dict[str, Any]:
    """Custom properties that let one filter tell the two entities of a fixture apart."""
    return {
        "rank": int_prop(rank),
        "score": double_prop(score),
        "framework": string_prop(framework),
        "mlflow.source.type": string_prop(source),
        "deployed": bool_prop(deployed),
    }


ALPHA_PROPS = props(1, 0.90, "pytorch", "notebook", True)
BETA_PROPS = props(2, 0.97, "tensorflow", "job", False)

# Creates "alpha" and "beta" behind one list endpoint; returns (list path, {name: id}).
Populate = Callable[[RestApi], Awaitable[tuple[str, dict[str, str]]]]


async def _models(api: RestApi) -> tuple[str, dict[str, str]]:
    alpha = await entities.registered_model(api, name="alpha", customProperties=ALPHA_PROPS)
    beta = await entities.registered_model(api, name="beta", customProperties=BETA_PROPS)
    return "/registered_models", {"alpha": alpha["id"], "beta": beta["id"]}


async def _two_versions(api: RestApi) -> tuple[str, dict[str, str]]:
    model = await entities.registered_model(api)
    # A version of another model with a matching name must never leak into a nested list.
    other = await entities.registered_model(api)
    await entities.model_version(api, other["id"], name="alpha", customProperties=ALPHA_PROPS)
    alpha = await entities.model_version(
        api, model["id"], name="alpha", customProperties=ALPHA_PROPS
    )
    beta = await entities.model_version(api, model["id"], name="beta", customProperties=BETA_PROPS)
    return model["id"], {"alpha": alpha["id"], "beta": beta["id"]}


async def _nested_versions(api: RestApi) -> tuple[str, dict[str, str]]:
    model_id, ids = await _two_versions(api)
    return f"/registered_models/{model_id}/versions", ids


async def _flat_versions(api: RestApi) -> tuple[str, dict[str, str]]:
    model = await entities.registered_model(api)
    alpha = await entities.model_version(
        api, model["id"], name="alpha", customProperties=ALPHA_PROPS
    )
    beta = await entities.model_version(api, model["id"], name="beta", customProperties=BETA_PROPS)
    return "/model_versions", {"alpha": alpha["id"], "beta": beta["id"]}


async def _artifacts(api: RestApi) -> tuple[str, dict[str, str]]:
    alpha = await entities.artifact(api, "doc-artifact", name="alpha", customProperties=ALPHA_PROPS)
    beta = await entities.artifact(api, "metric", name="beta", customProperties=BETA_PROPS)
    return "/artifacts", {"alpha": alpha["id"], "beta": beta["id"]}


async def _model_artifacts(api: RestApi) -> tuple[str, dict[str, str]]:
    alpha = await entities.model_artifact(api, name="alpha", customProperties=ALPHA_PROPS)
    beta = await entities.model_artifact(api, name="beta", customProperties=BETA_PROPS)
    return "/model_artifacts", {"alpha": alpha["id"], "beta": beta["id"]}


async def _version_artifacts(api: RestApi) -> tuple[str, dict[str, str]]:
    model = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"])
    other = await entities.model_version(api, model["id"])
    await entities.version_artifact(
        api,
        other["id"],
        {"artifactType": "doc-artifact", "name": "alpha", "customProperties": ALPHA_PROPS},
    )
    alpha = await entities.version_artifact(
        api,
        version["id"],
        {"artifactType": "model-artifact", "name": "alpha", "customProperties": ALPHA_PROPS},
    )
    beta = await entities.version_artifact(
        api,
        version["id"],
        {"artifactType": "doc-artifact", "name": "beta", "customProperties": BETA_PROPS},
    )
    return f"/model_versions/{version['id']}/artifacts", {"alpha": alpha["id"], "beta": beta["id"]}


async def _experiments(api: RestApi) -> tuple[str, dict[str, str]]:
    alpha = await entities.experiment(api, name="alpha", customProperties=ALPHA_PROPS)
    beta = await entities.experiment(api, name="beta", customProperties=BETA_PROPS)
    return "/experiments", {"alpha": alpha["id"], "beta": beta["id"]}


async def _two_runs(api: RestApi) -> tuple[str, dict[str, str]]:
    experiment = await entities.experiment(api)
    other = await entities.experiment(api)
    await entities.experiment_run(api, other["id"], name="alpha", customProperties=ALPHA_PROPS)
    alpha = await entities.experiment_run(
        api, experiment["id"], name="alpha", customProperties=ALPHA_PROPS
    )
    beta = await entities.experiment_run(
        api, experiment["id"], name="beta", customProperties=BETA_PROPS
    )
    return experiment["id"], {"alpha": alpha["id"], "beta": beta["id"]}


async def _nested_runs(api: RestApi) -> tuple[str, dict[str, str]]:
    experiment_id, ids = await _two_runs(api)
    return f"/experiments/{experiment_id}/experiment_runs", ids


async def _flat_runs(api: RestApi) -> tuple[str, dict[str, str]]:
    experiment = await entities.experiment(api)
    alpha = await entities.experiment_run(
        api, experiment["id"], name="alpha", customProperties=ALPHA_PROPS
    )
    beta = await entities.experiment_run(
        api, experiment["id"], name="beta", customProperties=BETA_PROPS
    )
    return "/experiment_runs", {"alpha": alpha["id"], "beta": beta["id"]}


async def _run_artifacts(api: RestApi) -> tuple[str, dict[str, str]]:
    experiment = await entities.experiment(api)
    run = await entities.experiment_run(api, experiment["id"])
    other = await entities.experiment_run(api, experiment["id"])
    await entities.run_artifact(
        api,
        other["id"],
        {"artifactType": "metric", "name": "alpha", "value": 1.0, "customProperties": ALPHA_PROPS},
    )
    alpha = await entities.run_artifact(
        api,
        run["id"],
        {"artifactType": "metric", "name": "alpha", "value": 1.0, "customProperties": ALPHA_PROPS},
    )
    beta = await entities.run_artifact(
        api,
        run["id"],
        {"artifactType": "parameter", "name": "beta", "value": "x", "customProperties": BETA_PROPS},
    )
    return f"/experiment_runs/{run['id']}/artifacts", {"alpha": alpha["id"], "beta": beta["id"]}


async def _environments(api: RestApi) -> tuple[str, dict[str, str]]:
    alpha = await entities.serving_environment(api, name="alpha", customProperties=ALPHA_PROPS)
    beta = await entities.serving_environment(api, name="beta", customProperties=BETA_PROPS)
    return "/serving_environments", {"alpha": alpha["id"], "beta": beta["id"]}


async def _two_services(api: RestApi) -> tuple[str, dict[str, str]]:
    model = await entities.registered_model(api)
    environment = await entities.serving_environment(api)
    other = await entities.serving_environment(api)
    await entities.inference_service(
        api, other["id"], model["id"], name="alpha", customProperties=ALPHA_PROPS
    )
    alpha = await entities.inference_service(
        api, environment["id"], model["id"], name="alpha", customProperties=ALPHA_PROPS
    )
    beta = await entities.inference_service(
        api, environment["id"], model["id"], name="beta", customProperties=BETA_PROPS
    )
    return environment["id"], {"alpha": alpha["id"], "beta": beta["id"]}


async def _nested_services(api: RestApi) -> tuple[str, dict[str, str]]:
    environment_id, ids = await _two_services(api)
    return f"/serving_environments/{environment_id}/inference_services", ids


async def _flat_services(api: RestApi) -> tuple[str, dict[str, str]]:
    model = await entities.registered_model(api)
    environment = await entities.serving_environment(api)
    alpha = await entities.inference_service(
        api, environment["id"], model["id"], name="alpha", customProperties=ALPHA_PROPS
    )
    beta = await entities.inference_service(
        api, environment["id"], model["id"], name="beta", customProperties=BETA_PROPS
    )
    return "/inference_services", {"alpha": alpha["id"], "beta": beta["id"]}


async def _serves(api: RestApi) -> tuple[str, dict[str, str]]:
    model = await entities.registered_model(api)
    version = await entities.model_version(api, model["id"])
    environment = await entities.serving_environment(api)
    service = await entities.inference_service(api, environment["id"], model["id"])
    other = await entities.inference_service(api, environment["id"], model["id"])
    ids: dict[str, str] = {}
    await api.create(
        f"/inference_services/{other['id']}/serves",
        {"name": "alpha", "modelVersionId": version["id"], "customProperties": ALPHA_PROPS},
    )
    for name, custom in (("alpha", ALPHA_PROPS), ("beta", BETA_PROPS)):
        served = await api.create(
            f"/inference_services/{service['id']}/serves",
            {"name": name, "modelVersionId": version["id"], "customProperties": custom},
        )
        ids[name] = served["id"]
    return f"/inference_services/{service['id']}/serves", ids


LIST_ENDPOINTS: dict[str, Populate] = {
    "registered_models": _models,
    "registered_model_versions": _nested_versions,
    "model_versions": _flat_versions,
    "artifacts": _artifacts,
    "model_artifacts": _model_artifacts,
    "model_version_artifacts": _version_artifacts,
    "experiments": _experiments,
    "experiment_runs": _flat_runs,
    "experiment_experiment_runs": _nested_runs,
    "experiment_run_artifacts": _run_artifacts,
    "serving_environments": _environments,
    "inference_services": _flat_services,
    "serving_environment_inference_services": _nested_services,
    "inference_service_serves": _serves,
}
