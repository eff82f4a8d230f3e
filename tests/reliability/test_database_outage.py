"""Database outages: not reachable at start (the server starts anyway, answers 503 /
UNAVAILABLE until it can connect, then serves), or gone while running (503 while it lasts,
then the server recovers by itself), on PostgreSQL. An unopenable SQLite file is a
configuration error and stops the start."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from reliability.tcp_forwarder import Forwarder, free_port
from sqlalchemy import event

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry._wire.errors import ERROR_HTTP_STATUS, ERROR_MARK, RETRY_AFTER
from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unavailable
from model_registry.server import RunningServer, run_server
from model_registry.server.rest import BASE_PATH
from model_registry.transport.policy import RetryPolicy
from model_registry.types import RegisteredModel

PG_URL = os.environ.get("MR_TEST_DATABASE_URL", "")


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
        forwarder = Forwarder(port, real.hostname, real.port or 5432)
        await forwarder.start()
        try:
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
        finally:
            await forwarder.stop()


async def test_an_sqlite_file_that_cannot_be_opened_stops_the_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'registry.db'}"
    with pytest.raises(Exception, match="unable to open database file"):
        async with run_server(url):
            pass
    # aiosqlite's worker thread of the failed connection reports back a moment later; let it
    # find the loop still open.
    await asyncio.sleep(0.2)


@pytest.mark.slow
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (MR_TEST_DATABASE_URL)")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_database_outage_is_503_while_it_lasts_and_the_server_recovers(
    database_url: str,
) -> None:
    real = urlsplit(database_url)
    assert real.hostname is not None
    forwarder = Forwarder(free_port(), real.hostname, real.port or 5432)
    userinfo = real.netloc.rpartition("@")[0]
    url = urlunsplit(real._replace(netloc=f"{userinfo}@127.0.0.1:{forwarder.port}"))
    await forwarder.start()
    try:
        async with run_server(url, grpc_port=0) as srv, aiohttp.ClientSession() as http:
            assert srv.grpc_port is not None
            clients = {
                transport: ModelRegistryAPIClient.insecure_connection(
                    "127.0.0.1",
                    port,
                    transport=transport,  # type: ignore[arg-type]
                    timeout=10.0,
                    retry=RetryPolicy.none(),
                )
                for transport, port in (("rest", srv.port), ("grpc", srv.grpc_port))
            }
            try:
                await clients["rest"].upsert_registered_model(RegisteredModel("before"))

                await forwarder.stop()  # the database goes away
                status, _ = await status_of(http, srv.url + "/readyz")
                assert status == 503
                assert await grpc_health(srv) == health_pb2.HealthCheckResponse.NOT_SERVING
                for transport, client in clients.items():
                    with pytest.raises(Unavailable):
                        await client.upsert_registered_model(RegisteredModel(f"x-{transport}"))
                    with pytest.raises(Unavailable):
                        await client.get_registered_models()
                status, body = await status_of(http, srv.url + BASE_PATH + "/registered_models")
                assert status == 503 and set(body) == {"code", "message"}  # type: ignore[arg-type]

                await forwarder.start()  # ... and comes back
                for _ in range(100):
                    status, _ = await status_of(http, srv.url + "/readyz")
                    if status == 200:
                        break
                    await asyncio.sleep(0.1)
                assert status == 200
                for transport, client in clients.items():
                    await client.upsert_registered_model(RegisteredModel(f"after-{transport}"))
                names = {m.name for m in await clients["grpc"].get_registered_models()}
                assert names == {"before", "after-rest", "after-grpc"}
            finally:
                for client in clients.values():
                    await client.aclose()
    finally:
        await forwarder.stop()


def _trailing(error: grpc.aio.AioRpcError) -> dict[str, str]:
    return {key: str(value) for key, value in error.trailing_metadata() or ()}


@pytest.mark.slow
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (MR_TEST_DATABASE_URL)")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_lost_mid_query_is_unavailable_with_a_retry_hint_on_both_doors(
    database_url: str,
) -> None:
    real = urlsplit(database_url)
    assert real.hostname is not None
    forwarder = Forwarder(free_port(), real.hostname, real.port or 5432)
    userinfo = real.netloc.rpartition("@")[0]
    url = urlunsplit(real._replace(netloc=f"{userinfo}@127.0.0.1:{forwarder.port}"))
    await forwarder.start()
    try:
        async with run_server(url, grpc_port=0) as srv, aiohttp.ClientSession() as http:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
            stub = pb_grpc.ModelRegistryServiceStub(channel)
            request = pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name="m"))
            created = (await stub.UpsertRegisteredModel(request)).id
            models_url = f"{srv.url}{BASE_PATH}/registered_models/{created}"
            # The pooled connection passed its check-out ping; the database goes away right
            # before the statement, so the failure hits the query itself, not the connect.
            engine = srv.service.store.query_engine

            def cut(*_: object) -> None:
                forwarder.cut()

            event.listen(engine, "before_cursor_execute", cut)
            try:
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await stub.GetRegisteredModelById(pb.GetRegisteredModelByIdRequest(id=created))
                async with http.get(models_url) as resp:
                    rest_status, rest_body = resp.status, await resp.json()
                    rest_retry_after = resp.headers.get("Retry-After")
            finally:
                event.remove(engine, "before_cursor_execute", cut)

            assert failed.value.code() == grpc.StatusCode.UNAVAILABLE, failed.value.details()
            assert _trailing(failed.value) == {
                ERROR_MARK: "Service Unavailable",
                ERROR_HTTP_STATUS: "503",
                RETRY_AFTER: "1",
            }
            assert rest_status == 503, rest_body
            assert rest_body["code"] == "Service Unavailable"
            assert rest_retry_after == "1"
            # The connection is replaced on the next call: both doors serve again.
            got = await stub.GetRegisteredModelById(pb.GetRegisteredModelByIdRequest(id=created))
            assert got.name == "m"
            async with http.get(models_url) as resp:
                assert resp.status == 200
            await channel.close()
    finally:
        await forwarder.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_closed_sqlite_store_is_unavailable_with_a_retry_hint_on_both_doors(
    database_url: str,
) -> None:
    # (A closed PostgreSQL store would simply reconnect: its pool opens new connections.)
    async with run_server(database_url, grpc_port=0) as srv, aiohttp.ClientSession() as http:
        await srv.service.store.close()
        async with http.post(
            f"{srv.url}{BASE_PATH}/registered_models", json={"name": "late"}
        ) as resp:
            assert resp.status == 503, await resp.text()
            assert resp.headers["Retry-After"] == "1"
            assert (await resp.json())["code"] == "Service Unavailable"
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
            stub = pb_grpc.ModelRegistryServiceStub(channel)
            request = pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name="x"))
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.UpsertRegisteredModel(request)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE, failed.value.details()
        assert _trailing(failed.value)[RETRY_AFTER] == "1"
