"""Every RPC of the generated service has a server handler and a client method."""

from __future__ import annotations

import inspect

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry.server.grpc import RPC_HANDLERS
from model_registry.transport.base import Transport
from model_registry.transport.grpc import RPC_METHODS, GrpcTransport

SERVICE = pb.DESCRIPTOR.services_by_name["ModelRegistryService"]
RPCS = {method.name for method in SERVICE.methods}


# The client API of DESIGN.md (the Go ModelRegistryApi interface, snake_case).
CLIENT_API = [
    "upsert_registered_model",
    "get_registered_model_by_id",
    "get_registered_model_by_inference_service",
    "get_registered_model_by_params",
    "get_registered_models",
    "upsert_model_version",
    "get_model_version_by_id",
    "get_model_version_by_inference_service",
    "get_model_version_by_params",
    "get_model_versions",
    "upsert_model_version_artifact",
    "upsert_artifact",
    "get_artifact_by_id",
    "get_artifact_by_params",
    "get_artifacts",
    "get_model_version_artifacts",
    "upsert_model_artifact",
    "get_model_artifact_by_id",
    "get_model_artifact_by_inference_service",
    "get_model_artifact_by_params",
    "get_model_artifacts",
    "upsert_serving_environment",
    "get_serving_environment_by_id",
    "get_serving_environment_by_params",
    "get_serving_environments",
    "upsert_inference_service",
    "get_inference_service_by_id",
    "get_inference_service_by_params",
    "get_inference_services",
    "upsert_serve_model",
    "get_serve_model_by_id",
    "get_serve_models",
    "upsert_experiment",
    "get_experiment_by_id",
    "get_experiment_by_params",
    "get_experiments",
    "upsert_experiment_run",
    "get_experiment_run_by_id",
    "get_experiment_run_by_params",
    "get_experiment_runs",
    "upsert_experiment_run_artifact",
    "get_experiment_run_artifacts",
    "get_experiment_run_metric_history",
]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def test_the_service_has_one_rpc_per_client_api_method() -> None:
    assert {_camel(name) for name in CLIENT_API} == RPCS


def test_the_client_has_every_client_api_method() -> None:
    from model_registry.core import ModelRegistryAPIClient

    for name in CLIENT_API:
        assert inspect.iscoroutinefunction(getattr(ModelRegistryAPIClient, name, None)), name


def test_every_rpc_has_a_server_handler_and_no_handler_is_stale() -> None:
    assert set(RPC_HANDLERS) == RPCS


def test_every_rpc_has_client_methods_that_exist_on_the_transport() -> None:
    assert set(RPC_METHODS) == RPCS
    for rpc, methods in RPC_METHODS.items():
        assert methods, rpc
        for name in methods:
            method = getattr(GrpcTransport, name, None)
            assert method is not None and inspect.iscoroutinefunction(method), (rpc, name)


def test_every_transport_operation_is_served_by_an_rpc() -> None:
    # The reverse direction: each operation of the Transport interface maps to an RPC, so the
    # gRPC transport never falls back to a slower composed default.
    called = {name for methods in RPC_METHODS.values() for name in methods}
    operations = {
        name
        for name, member in inspect.getmembers(Transport, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "aclose"
    }
    assert operations <= called
    assert not GrpcTransport.__abstractmethods__


def test_every_rpc_returns_a_message_the_server_builds() -> None:
    # Handlers are wired by descriptor; the response types must be generated classes.
    for method in SERVICE.methods:
        assert hasattr(pb, method.input_type.name)
        assert hasattr(pb, method.output_type.name)
