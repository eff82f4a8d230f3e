"""Every RPC of the generated service has a server handler and a client method."""

from __future__ import annotations

import inspect

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry.operations import KINDS
from model_registry.server.grpc import RPC_HANDLERS, STREAM_HANDLERS, WEBHOOK_HANDLERS
from model_registry.transport.grpc import GrpcTransport, rpc_names

SERVICE = pb.DESCRIPTOR.services_by_name["ModelRegistryService"]
RPCS = {method.name for method in SERVICE.methods}
CONTENT_RPCS = {m.name for m in pb.DESCRIPTOR.services_by_name["ArtifactContentService"].methods}


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
    # Our extensions (not in the Go interface): aliases and delete.
    "set_model_version_alias",
    "delete_model_version_alias",
    "get_model_version_by_alias",
    "delete_registered_model",
    "delete_model_version",
    "delete_artifact",
    "delete_serving_environment",
    "delete_inference_service",
    "delete_serve_model",
    "delete_experiment",
    "delete_experiment_run",
    # Our extensions: projects and tokens.
    "upsert_project",
    "get_project_by_id",
    "get_project_by_params",
    "get_projects",
    "delete_project",
    "create_token",
    "get_tokens",
    "revoke_token",
]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def test_the_service_has_one_rpc_per_client_api_method() -> None:
    # ``watch`` is the client method of the streaming WatchEvents (an async iterator); the
    # webhook RPCs are rows of their own (operations.WEBHOOK, tests/client/
    # test_client_webhooks.py), outside the Go interface's table.
    assert {_camel(name) for name in CLIENT_API} | {"WatchEvents"} | set(WEBHOOK_HANDLERS) == RPCS


def test_the_client_has_every_client_api_method() -> None:
    from model_registry.core import ModelRegistryAPIClient

    for name in CLIENT_API:
        method = getattr(ModelRegistryAPIClient, name, None)
        # A coroutine function, or a list method returning its awaitable ``PageCall``.
        returns = inspect.signature(method).return_annotation if callable(method) else None
        assert inspect.iscoroutinefunction(method) or "PageCall" in str(returns), name


def test_every_rpc_has_a_server_handler_and_no_handler_is_stale() -> None:
    assert set(RPC_HANDLERS) | set(STREAM_HANDLERS) | set(WEBHOOK_HANDLERS) == RPCS
    assert not set(RPC_HANDLERS) & set(STREAM_HANDLERS)
    assert not set(RPC_HANDLERS) & set(WEBHOOK_HANDLERS)


def test_every_rpc_is_called_by_an_operation_of_the_client_table() -> None:
    # The streams (change events, artifact content) are rows of the table too.
    assert rpc_names() <= RPCS | CONTENT_RPCS
    assert rpc_names() | set(WEBHOOK_HANDLERS) == RPCS | CONTENT_RPCS
    assert set(STREAM_HANDLERS) <= rpc_names()


def test_every_operation_of_the_client_table_has_an_rpc() -> None:
    # The reverse direction: each operation maps to an RPC, so the gRPC transport never falls
    # back to a slower composed default.
    for kind in KINDS.values():
        for op in kind.ops:
            assert op.rpc in RPCS | CONTENT_RPCS, (kind.name, op)
    assert not GrpcTransport.__abstractmethods__


def test_every_rpc_returns_a_message_the_server_builds() -> None:
    # Handlers are wired by descriptor; the response types must be generated classes.
    for method in SERVICE.methods:
        assert hasattr(pb, method.input_type.name)
        assert hasattr(pb, method.output_type.name)
