"""Fixtures of the gRPC server suites: a channel to the server and the raw generated stub."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry.server import RunningServer


@pytest.fixture
async def channel(grpc_server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    """A plaintext channel to the server's gRPC port."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_server.grpc_port}") as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> pb_grpc.ModelRegistryServiceStub:
    """The raw generated stub (no client code in between)."""
    return pb_grpc.ModelRegistryServiceStub(channel)
