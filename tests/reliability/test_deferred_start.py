"""A database that is not reachable at start: the server starts anyway, answers 503 /
UNAVAILABLE until it can connect, then serves (PostgreSQL). An unopenable SQLite file is a
configuration error and stops the start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unavailable
from model_registry.server import RunningServer, run_server
from model_registry.server.rest import BASE_PATH
from model_registry.transport.policy import RetryPolicy
from model_registry.types import RegisteredModel

PG_URL = os.environ.get("MR_TEST_DATABASE_URL", "")


def free_port() -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def forwarder(port: int, target_host: str, target_port: int) -> AsyncIterator[None]:
    """Listen on ``port`` and pipe every connection to the target (the database coming up)."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    tasks: set[asyncio.Task[None]] = set()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(target_host, target_port)
        for task in (pipe(client_r, server_w), pipe(server_r, client_w)):
            tasks.add(asyncio.ensure_future(task))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def status_of(http: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    """Status and JSON body of a GET."""
    async with http.get(url) as resp:
        return resp.status, await resp.json()


async def grpc_health(srv: RunningServer) -> int:
    """The gRPC health status of the whole server."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
    return int(reply.status)


@pytest.mark.slow
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (MR_TEST_DATABASE_URL)")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_server_started_before_its_database_answers_503_then_serves(
    database_url: str,
) -> None:
    real = urlsplit(database_url)
    port = free_port()
    userinfo = real.netloc.rpartition("@")[0]
    late_url = urlunsplit(real._replace(netloc=f"{userinfo}@127.0.0.1:{port}"))

    async with run_server(late_url, grpc_port=0) as srv, aiohttp.ClientSession() as http:
        status, body = await status_of(http, srv.url + "/readyz")
        assert status == 503 and body == {
            "code": "Service Unavailable",
            "message": "database not ready",
        }
        status, body = await status_of(http, srv.url + BASE_PATH + "/registered_models")
        assert status == 503, body
        assert body == {"code": "Service Unavailable", "message": "database not reachable yet"}
        assert await grpc_health(srv) == health_pb2.HealthCheckResponse.NOT_SERVING
        for transport, client_port in (("rest", srv.port), ("grpc", srv.grpc_port)):
            assert client_port is not None
            async with ModelRegistryAPIClient.insecure_connection(
                "127.0.0.1",
                client_port,
                transport=transport,  # type: ignore[arg-type]
                timeout=10.0,
                retry=RetryPolicy.none(),
            ) as client:
                with pytest.raises(Unavailable):
                    await client.upsert_registered_model(RegisteredModel("too-early"))

        # The database comes up: the server connects on its own and serves.
        assert real.hostname is not None
        async with forwarder(port, real.hostname, real.port or 5432):
            for _ in range(200):
                status, _body = await status_of(http, srv.url + "/readyz")
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            assert status == 200
            assert await grpc_health(srv) == health_pb2.HealthCheckResponse.SERVING
            async with ModelRegistryAPIClient.insecure_connection(
                "127.0.0.1", srv.port, timeout=10.0
            ) as client:
                created = await client.upsert_registered_model(RegisteredModel("in-time"))
                assert created.id is not None
                assert [m.name for m in await client.get_registered_models()] == ["in-time"]


async def test_an_sqlite_file_that_cannot_be_opened_stops_the_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'registry.db'}"
    with pytest.raises(Exception, match="unable to open database file"):
        async with run_server(url):
            pass
