"""The server process: health endpoints, error bodies for unknown paths/methods, start and stop."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from model_registry.server import RunningServer, create_app, run_server
from model_registry.server.app import MAX_BODY_BYTES
from model_registry.server.rest import BASE_PATH
from model_registry.server.service import RegistryService
from model_registry.server.store import Store


async def _json(resp: aiohttp.ClientResponse) -> object:
    assert resp.content_type == "application/json"
    return await resp.json()


async def test_healthz_answers_ok(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.get(server.url + "/healthz") as resp:
        assert resp.status == 200
        assert await _json(resp) == {"status": "ok"}


async def test_readyz_is_ready_when_the_database_answers(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.url + "/readyz") as resp:
        assert resp.status == 200
        assert await _json(resp) == {"status": "ready"}


async def test_root_is_404_with_error_body(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.url + "/") as resp:
        assert resp.status == 404
        assert await _json(resp) == {"code": "Not Found", "message": "not found"}


@pytest.mark.parametrize("path", ["/nope", BASE_PATH + "/registered_modelz", BASE_PATH])
async def test_unknown_path_is_404_with_error_body(
    server: RunningServer, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(server.url + path) as resp:
        assert resp.status == 404
        body = await _json(resp)
        assert isinstance(body, dict)
        assert body["code"] == "Not Found"
        assert isinstance(body["message"], str)


@pytest.mark.parametrize("method", ["DELETE", "PUT", "HEAD", "OPTIONS"])
async def test_undefined_method_is_405_with_error_body(
    server: RunningServer, http: aiohttp.ClientSession, method: str
) -> None:
    async with http.request(method, server.url + BASE_PATH + "/registered_models") as resp:
        assert resp.status == 405
        assert "GET" in resp.headers["Allow"] and "POST" in resp.headers["Allow"]
        if method != "HEAD":  # a HEAD answer has no body by definition
            assert await _json(resp) == {
                "code": "Method Not Allowed",
                "message": "Method Not Allowed",
            }


async def test_run_server_binds_a_free_port_and_releases_it(database_url: str) -> None:
    async with run_server(database_url) as srv:
        assert srv.port > 0
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        assert srv.grpc_port is None
        async with aiohttp.ClientSession() as http, http.get(srv.url + "/healthz") as resp:
            assert resp.status == 200
        port = srv.port
    # After the block the port is free again: a plain bind succeeds.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


async def test_run_server_without_url_uses_a_temporary_sqlite_file() -> None:
    async with run_server() as srv:
        assert srv.database_url.startswith("sqlite:///")
        async with (
            aiohttp.ClientSession() as http,
            http.post(srv.url + BASE_PATH + "/registered_models", json={"name": "m"}) as resp,
        ):
            assert resp.status == 201


async def test_data_survives_a_restart_on_the_same_database(database_url: str) -> None:
    async with (
        run_server(database_url) as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url + BASE_PATH + "/registered_models", json={"name": "kept"}) as resp,
    ):
        created = await resp.json()
    path = f"{BASE_PATH}/registered_models/{created['id']}"
    async with (
        run_server(database_url) as srv,
        aiohttp.ClientSession() as http,
        http.get(srv.url + path) as resp,
    ):
        assert resp.status == 200
        assert (await resp.json())["name"] == "kept"


async def test_with_auth_tokens_api_calls_need_a_bearer_token(database_url: str) -> None:
    async with (
        run_server(database_url, auth_tokens=["s3cret"]) as srv,
        aiohttp.ClientSession() as http,
    ):
        api = srv.url + BASE_PATH + "/registered_models"
        async with http.get(api) as resp:
            assert resp.status == 401
            assert (await resp.json())["code"] == "Unauthorized"
        async with http.get(api, headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
        async with http.get(api, headers={"Authorization": "Bearer s3cret"}) as resp:
            assert resp.status == 200
        async with http.get(srv.url + "/healthz") as resp:
            assert resp.status == 200  # probes need no token


async def test_a_body_over_the_limit_is_413_with_error_body(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    big = {"name": "m", "description": "x" * (MAX_BODY_BYTES + 1)}
    async with http.post(server.url + BASE_PATH + "/registered_models", json=big) as resp:
        assert resp.status == 413
        assert (await _json(resp))["code"] == "Request Entity Too Large"


async def test_an_unexpected_exception_becomes_a_500_error_body(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(database_url)
    try:
        app = create_app(RegistryService(store))

        async def broken(request: web.Request) -> web.Response:
            raise RuntimeError("a bug")

        app.router.add_get("/broken", broken)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}/broken") as resp,
            ):
                assert resp.status == 500
                assert await _json(resp) == {
                    "code": "Internal Server Error",
                    "message": "internal server error",
                }
        finally:
            await runner.cleanup()
    finally:
        await store.close()
    assert any("a bug" in (r.exc_text or "") for r in caplog.records)


async def test_run_server_with_a_grpc_port_serves_grpc_health(database_url: str) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with run_server(database_url, grpc_port=0) as srv:
        assert srv.grpc_port is not None and srv.grpc_port > 0
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
