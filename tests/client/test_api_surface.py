"""The async client mirrors the Go ModelRegistryApi: every method, with its parameter names."""

from __future__ import annotations

import inspect
import typing

import pytest

import model_registry
from model_registry.core import ModelRegistryAPIClient
from model_registry.transport.base import Transport
from model_registry.transport.rest import RestTransport
from model_registry.types import PageCall

# The method table of the design, parameter names in order (after self).
METHODS: dict[str, list[str]] = {
    "upsert_registered_model": ["registered_model"],
    "get_registered_model_by_id": ["id"],
    "get_registered_model_by_inference_service": ["inference_service_id"],
    "get_registered_model_by_params": ["name", "external_id"],
    "get_registered_models": ["options"],
    "upsert_model_version": ["model_version", "registered_model_id"],
    "get_model_version_by_id": ["id"],
    "get_model_version_by_inference_service": ["inference_service_id"],
    "get_model_version_by_params": ["registered_model_id", "version", "external_id"],
    "get_model_versions": ["registered_model_id", "options"],
    "upsert_model_version_artifact": ["artifact", "model_version_id"],
    "upsert_artifact": ["artifact"],
    "get_artifact_by_id": ["id"],
    "get_artifact_by_params": ["name", "parent_resource_id", "external_id"],
    "get_artifacts": ["artifact_type", "options", "parent_resource_id"],
    "get_model_version_artifacts": ["model_version_id", "options"],
    "upsert_model_artifact": ["model_artifact", "model_version_id"],
    "get_model_artifact_by_id": ["id"],
    "get_model_artifact_by_inference_service": ["inference_service_id"],
    "get_model_artifact_by_params": ["name", "model_version_id", "external_id"],
    "get_model_artifacts": ["model_version_id", "options"],
    "upsert_serving_environment": ["serving_environment"],
    "get_serving_environment_by_id": ["id"],
    "get_serving_environment_by_params": ["name", "external_id"],
    "get_serving_environments": ["options"],
    "upsert_inference_service": ["inference_service"],
    "get_inference_service_by_id": ["id"],
    "get_inference_service_by_params": ["name", "serving_environment_id", "external_id"],
    "get_inference_services": ["options", "serving_environment_id", "runtime"],
    "upsert_serve_model": ["serve_model", "inference_service_id"],
    "get_serve_model_by_id": ["id", "inference_service_id"],
    "get_serve_models": ["options", "inference_service_id"],
    "upsert_experiment": ["experiment"],
    "get_experiment_by_id": ["id"],
    "get_experiment_by_params": ["name", "external_id"],
    "get_experiments": ["options"],
    "upsert_experiment_run": ["experiment_run", "experiment_id"],
    "get_experiment_run_by_id": ["id"],
    "get_experiment_run_by_params": ["name", "experiment_id", "external_id"],
    "get_experiment_runs": ["options", "experiment_id"],
    "upsert_experiment_run_artifact": ["artifact", "experiment_run_id"],
    "get_experiment_run_artifacts": ["artifact_type", "options", "experiment_run_id"],
    "get_experiment_run_metric_history": ["name", "step_ids", "options", "experiment_run_id"],
    # Our extensions (issue 21): aliases and delete.
    "set_model_version_alias": ["registered_model_id", "alias", "model_version_id"],
    "delete_model_version_alias": ["registered_model_id", "alias"],
    "get_model_version_by_alias": ["registered_model_id", "alias"],
    "delete_registered_model": ["id", "cascade"],
    "delete_model_version": ["id", "cascade"],
    "delete_artifact": ["id"],
    "delete_model_artifact": ["id"],
    "delete_serving_environment": ["id", "cascade"],
    "delete_inference_service": ["id", "cascade"],
    "delete_serve_model": ["id", "inference_service_id"],
    "delete_experiment": ["id", "cascade"],
    "delete_experiment_run": ["id", "cascade"],
    # Our extension (artifact content).
    "upload_artifact_content": ["artifact_id", "path", "progress"],
    "download_artifact_content": ["artifact_id", "dest", "progress"],
    # Our extensions: projects (issue 18) in the style of the methods above, and tokens.
    "upsert_project": ["project"],
    "get_project_by_id": ["id"],
    "get_project_by_params": ["name", "external_id"],
    "get_projects": ["options"],
    "delete_project": ["id", "cascade"],
    "create_token": ["subject", "roles", "expires_time_since_epoch"],
    "get_tokens": ["options"],
    "revoke_token": ["id"],
    # Our extension: webhooks (issue 22).
    "create_webhook": ["url", "secret", "events", "description"],
    "get_webhook": ["id"],
    "get_webhooks": ["options"],
    "delete_webhook": ["id"],
    "get_webhook_deliveries": ["webhook_id", "options"],
}


def _is_async_api(method: object) -> bool:
    """A coroutine function, or a list method returning an awaitable ``PageCall``."""
    if inspect.iscoroutinefunction(method):
        return True
    if not inspect.isfunction(method):
        return False
    returns = typing.get_type_hints(method).get("return")
    return typing.get_origin(returns) is PageCall


@pytest.mark.parametrize("name", sorted(METHODS))
def test_client_has_the_method_with_its_parameters(name: str) -> None:
    method = getattr(ModelRegistryAPIClient, name)
    assert _is_async_api(method)
    params = list(inspect.signature(method).parameters)[1:]
    assert params == METHODS[name]
    assert method.__doc__


def test_client_has_no_public_coroutine_outside_the_table() -> None:
    public = {
        name
        for name, fn in inspect.getmembers(ModelRegistryAPIClient, _is_async_api)
        if not name.startswith("_")
    }
    assert public - {"aclose"} == set(METHODS)


def test_the_rest_transport_implements_the_whole_interface() -> None:
    assert not inspect.isabstract(RestTransport)
    abstract = set(getattr(Transport, "__abstractmethods__", ()))
    assert abstract  # the interface is abstract...
    for name in abstract:  # ...and REST defines every part of it itself
        assert name in vars(RestTransport), name


def test_package_exports_public_names_only() -> None:
    assert all(not name.startswith("_") or name == "__version__" for name in model_registry.__all__)
    for name in model_registry.__all__:
        assert hasattr(model_registry, name)
