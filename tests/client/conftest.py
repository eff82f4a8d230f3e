"""Client fixtures: a real registry server on a free port and a client connected to it.

Every client test takes ``client`` (built in ONE place, here) so the same tests run over each
transport in ``TRANSPORTS``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.server import RunningServer, run_server

TRANSPORTS = ["rest", "grpc"]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """The transport under test."""
    return str(request.param)


@pytest.fixture
async def registry(database_url: str, transport: str) -> AsyncIterator[RunningServer]:
    """A running server over a clean database, with gRPC on when the transport needs it."""
    async with run_server(database_url, grpc_port=0 if transport == "grpc" else None) as srv:
        yield srv


def port_for(server: RunningServer, transport: str) -> int:
    """The port ``transport`` talks to on ``server``."""
    if transport == "grpc":
        assert server.grpc_port is not None
        return server.grpc_port
    return server.port


@pytest.fixture
async def client(registry: RunningServer, transport: str) -> AsyncIterator[ModelRegistryAPIClient]:
    """An async client connected to ``registry`` over ``transport``."""
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        port_for(registry, transport),
        transport=transport,  # type: ignore[arg-type]
    ) as api:
        yield api
