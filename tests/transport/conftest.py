"""Fixtures of the transport suites: the gRPC transport connected to a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from model_registry.server import RunningServer
from model_registry.transport.grpc import GrpcTransport


@pytest.fixture
async def transport(grpc_server: RunningServer) -> AsyncIterator[GrpcTransport]:
    """The client's gRPC transport connected to the server."""
    t = GrpcTransport("127.0.0.1", grpc_server.grpc_port or 0, timeout=10.0)
    try:
        yield t
    finally:
        await t.aclose()
