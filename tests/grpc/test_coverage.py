"""Every RPC of the generated service has a server handler and a client method."""

from __future__ import annotations

import inspect

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry.server.grpc import RPC_HANDLERS
from model_registry.transport.base import Transport
from model_registry.transport.grpc import RPC_METHODS, GrpcTransport

SERVICE = pb.DESCRIPTOR.services_by_name["ModelRegistryService"]
RPCS = {method.name for method in SERVICE.methods}


def test_the_service_has_one_rpc_per_client_api_method() -> None:
    # DESIGN.md's method table has 43 methods; the proto mirrors it one to one.
    assert len(RPCS) == 43


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
