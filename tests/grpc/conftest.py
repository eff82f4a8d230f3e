"""Fixtures of the gRPC suites: a real server with gRPC on a free port, a raw stub, a transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry.server import RunningServer, run_server
from model_registry.transport.grpc import GrpcTransport


@pytest.fixture
async def grpc_server(database_url: str) -> AsyncIterator[RunningServer]:
    """A running server with REST and gRPC, both on free ports, over a clean database."""
    async with run_server(database_url, grpc_port=0) as srv:
        assert srv.grpc_port
        yield srv


@pytest.fixture
async def channel(grpc_server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    """A plaintext channel to the server's gRPC port."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_server.grpc_port}") as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> pb_grpc.ModelRegistryServiceStub:
    """The raw generated stub (no client code in between)."""
    return pb_grpc.ModelRegistryServiceStub(channel)


@pytest.fixture
async def transport(grpc_server: RunningServer) -> AsyncIterator[GrpcTransport]:
    """The client's gRPC transport connected to the server."""
    t = GrpcTransport("127.0.0.1", grpc_server.grpc_port or 0, timeout=10.0)
    try:
        yield t
    finally:
        await t.aclose()
