"""The REST transport's policy against small fault-injecting servers: retries, Retry-After,
timeouts, connection failures, the 401 token re-read, TLS, error mapping, one session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import (
    BadRequest,
    ClientClosed,
    Conflict,
    ConnectionFailed,
    InvalidResponse,
    NotFound,
    PagerLoopError,
    ServerError,
    Timeout,
    Unauthorized,
    Unavailable,
)
from model_registry.transport.policy import RetryPolicy
from model_registry.types import ListOptions, Pager, RegisteredModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EMPTY_LIST = {"items": [], "nextPageToken": "", "pageSize": 0, "size": 0}


@dataclass
class Recorder:
    """What the fault server saw."""

    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests)


@contextlib.asynccontextmanager
async def fault_server(
    handler: Handler, *, ssl_context: Any = None
) -> AsyncIterator[tuple[int, Recorder]]:
    """Serve every path with ``handler`` on 127.0.0.1:<free port>; yield (port, recorder)."""
    recorder = Recorder()

    async def record(request: web.Request) -> web.StreamResponse:
        recorder.requests.append(
            (request.method, request.path_qs, request.headers.get("Authorization"))
        )
        peer = request.transport.get_extra_info("peername") if request.transport else None
        recorder.peers.append(peer)
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    try:
        port = int(runner.addresses[0][1])
        yield port, recorder
    finally:
        await runner.cleanup()


def json_response(body: Any, status: int = 200, **headers: str) -> web.Response:
    """A JSON response."""
    return web.json_response(body, status=status, headers=headers or None)


FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)
MODEL = {"id": "1", "name": "m", "customProperties": {}}


def connect(port: int, **kwargs: object) -> ModelRegistryAPIClient:
    kwargs.setdefault("retry", FAST)
    # A fixed API version: these tests count requests, and auto would add its one probe.
    kwargs.setdefault("api_version", "v1alpha3")
    return ModelRegistryAPIClient.insecure_connection("127.0.0.1", port, **kwargs)  # type: ignore[arg-type]


def failing_then_ok(statuses: list[int], body: object = EMPTY_LIST, **headers: str):  # type: ignore[no-untyped-def]
    remaining = list(statuses)

    async def handler(request: web.Request) -> web.Response:
        if remaining:
            return json_response({"code": "x", "message": "busy"}, remaining.pop(0), **headers)
        return json_response(body, 201 if request.method == "POST" else 200)

    return handler


async def test_get_is_retried_on_503_until_it_succeeds() -> None:
    async with fault_server(failing_then_ok([503, 502])) as (port, seen), connect(port) as client:
        assert await client.get_registered_models() == []
    assert seen.count == 3


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_get_gives_up_after_max_attempts(status: int) -> None:
    async with (
        fault_server(failing_then_ok([status] * 10)) as (port, seen),
        connect(port) as client,
    ):
        with pytest.raises(Unavailable) as info:
            await client.get_registered_models()
    assert seen.count == 3
    assert info.value.status == status
    assert info.value.method == "GET"
    assert info.value.path == "/api/model_registry/v1alpha3/registered_models"


async def test_retry_after_is_honoured() -> None:
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.0)
    async with (
        fault_server(failing_then_ok([429], **{"Retry-After": "0.4"})) as (port, seen),
        connect(port, retry=policy) as client,
    ):
        start = time.monotonic()
        await client.get_registered_models()
        elapsed = time.monotonic() - start
    assert seen.count == 2
    assert elapsed >= 0.35


async def test_post_is_not_retried_unless_the_caller_opts_in() -> None:
    async with fault_server(failing_then_ok([503])) as (port, seen), connect(port) as client:
        with pytest.raises(Unavailable) as info:
            await client.upsert_registered_model(RegisteredModel("m"))
    assert seen.count == 1
    assert info.value.method == "POST"

    async with (
        fault_server(failing_then_ok([503], body=MODEL)) as (port, seen),
        connect(port) as client,
    ):
        with client.call_options(retry_unsafe=True):
            created = await client.upsert_registered_model(RegisteredModel("m"))
    assert created.id == "1"
    assert seen.count == 2

    async with fault_server(failing_then_ok([503], body=MODEL)) as (port, seen):
        policy = RetryPolicy(retry_unsafe=True, initial_backoff=0.01)
        async with connect(port, retry=policy) as client:
            await client.upsert_registered_model(RegisteredModel("m"))
    assert seen.count == 2


async def test_a_dropped_connection_is_retried_for_a_get() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1 and request.transport is not None:
            request.transport.close()  # hang up without answering
        return json_response(EMPTY_LIST)

    async with fault_server(handler) as (port, _), connect(port) as client:
        assert await client.get_registered_models() == []
    assert calls == 2


async def test_connection_refused_is_connection_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with connect(port) as client:
        with pytest.raises(ConnectionFailed, match="cannot connect") as info:
            await client.get_registered_models()
    assert info.value.method == "GET"


async def test_slow_server_times_out_with_default_and_per_call_timeouts() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return json_response(EMPTY_LIST)

    async with fault_server(slow) as (port, _), connect(port, timeout=0.3) as client:
        start = time.monotonic()
        with pytest.raises(Timeout):
            await client.get_registered_models()
        assert time.monotonic() - start < 2
        async with connect(port, timeout=30) as client:
            start = time.monotonic()
            with client.call_options(timeout=0.2), pytest.raises(TimeoutError):
                await client.get_registered_models()
            assert time.monotonic() - start < 2


async def test_token_file_is_reread_once_on_401(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("old1")
    accepted = {"Bearer old1"}

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") not in accepted:
            return json_response({"code": "Unauthorized", "message": "bad token"}, 401)
        return json_response(EMPTY_LIST)

    async with fault_server(handler) as (port, seen), connect(port, user_token=token_file) as c:
        assert await c.get_registered_models() == []
        # The token is rotated in place with the same size and times, so only the 401 tells
        # the client to read it again.
        stat = token_file.stat()
        token_file.write_text("new1")
        os.utime(token_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        accepted.clear()
        accepted.add("Bearer new1")
        assert await c.get_registered_models() == []
    assert [auth for _, _, auth in seen.requests] == ["Bearer old1", "Bearer old1", "Bearer new1"]


async def test_callable_token_is_asked_again_on_401_and_never_shown() -> None:
    tokens = iter(["first-secret", "second-secret", "second-secret"])

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer second-secret":
            return json_response({"code": "Unauthorized", "message": "no"}, 401)
        return json_response(EMPTY_LIST)

    async with (
        fault_server(handler) as (port, seen),
        connect(port, user_token=lambda: next(tokens)) as client,
    ):
        await client.get_registered_models()
    assert [auth for _, _, auth in seen.requests] == ["Bearer first-secret", "Bearer second-secret"]


async def test_a_refused_unchanged_token_is_unauthorized_after_one_request() -> None:
    async def handler(request: web.Request) -> web.Response:
        return json_response({"code": "Unauthorized", "message": "bad token"}, 401)

    async with (
        fault_server(handler) as (port, seen),
        connect(port, user_token="static-secret") as client,
    ):
        with pytest.raises(Unauthorized) as info:
            await client.get_registered_models()
        assert "static-secret" not in repr(client)
    assert seen.count == 1
    assert "static-secret" not in str(info.value) and "static-secret" not in repr(info.value)


@pytest.mark.parametrize(
    ("status", "cls"), [(400, BadRequest), (404, NotFound), (409, Conflict), (500, Exception)]
)
async def test_error_statuses_map_to_the_hierarchy(status: int, cls: type[Exception]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return json_response({"code": "Some Code", "message": "what went wrong"}, status)

    async with fault_server(handler) as (port, _), connect(port) as client:
        with pytest.raises(cls) as info:
            await client.get_registered_models(ListOptions(filter_query="x=1"))
    err = info.value
    assert err.status == status  # type: ignore[attr-defined]
    assert err.code == "Some Code"  # type: ignore[attr-defined]
    assert err.message == "what went wrong"  # type: ignore[attr-defined]
    assert "filterQuery" not in str(err)


async def test_a_proxy_html_error_page_still_maps() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>gateway down</html>", content_type="text/html")

    async with (
        fault_server(handler) as (port, _),
        connect(port, retry=RetryPolicy.none()) as client,
    ):
        with pytest.raises(Unavailable, match="gateway down"):
            await client.get_registered_models()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"items": "nope"}',
        b'{"id": "1"}',
        b'{"id": "1", "name": "m", "customProperties": {"size": {"metadataType": "Weird"}}}',
    ],
)
async def test_malformed_success_bodies_raise_invalid_response(body: bytes) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async with fault_server(handler) as (port, _), connect(port) as client:
        with pytest.raises(InvalidResponse) as info:
            if body.startswith(b'{"id"'):
                await client.get_registered_model_by_id("1")
            else:
                await client.get_registered_models()
    if b"Weird" in body:
        assert "'size'" in str(info.value)


@pytest.mark.parametrize("status", [200, 500])
async def test_json_nested_too_deep_to_decode_is_an_invalid_response_or_the_status_error(
    status: int,
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=deep, status=status, content_type="application/json")

    async with (
        fault_server(handler) as (port, _),
        connect(port, retry=RetryPolicy.none()) as client,
    ):
        if status == 200:
            with pytest.raises(InvalidResponse, match="nests too deep"):
                await client.get_registered_models()
        else:
            with pytest.raises(ServerError):
                await client.get_registered_models()


async def test_a_server_answering_empty_pages_with_new_tokens_forever_stops_the_pager() -> None:
    served = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
        items = [{"id": "1", "name": "m"}] if served == 1 else []
        body = {"items": items, "nextPageToken": f"t{served}", "pageSize": 1, "size": len(items)}
        return json_response(body)

    async with fault_server(handler) as (port, _), connect(port) as client:
        names = []
        with pytest.raises(PagerLoopError, match=r"empty pages in a row.*after 1 items"):
            async for model in Pager(client.get_registered_models):
                names.append(model.name)
    assert names == ["m"]
    assert served <= 12  # one read ahead at most


async def test_one_session_and_one_kept_alive_connection_for_sequential_calls() -> None:
    async with (
        fault_server(lambda r: asyncio.sleep(0, json_response(EMPTY_LIST))) as (port, seen),
        connect(port) as client,
    ):
        for _ in range(5):
            await client.get_registered_models()
    assert seen.count == 5
    assert len(set(seen.peers)) == 1


async def test_closed_client_raises_and_close_is_idempotent() -> None:
    async with fault_server(lambda r: asyncio.sleep(0, json_response(EMPTY_LIST))) as (port, _):
        client = connect(port)
        await client.get_registered_models()
        await client.aclose()
        await client.aclose()
        assert client.closed
        with pytest.raises(ClientClosed):
            await client.get_registered_models()
        never_used = connect(port)
        await never_used.aclose()
        with pytest.raises(ClientClosed):
            await never_used.get_registered_model_by_id("1")


async def test_async_pager_raises_on_a_server_that_loops() -> None:
    async def looping(request: web.Request) -> web.Response:
        return json_response({"items": [MODEL], "nextPageToken": "again", "pageSize": 1, "size": 1})

    async with fault_server(looping) as (port, seen), connect(port) as client:
        got = []
        with pytest.raises(PagerLoopError, match="again"):
            async for model in Pager(client.get_registered_models).limit(1):
                got.append(model)
    assert len(got) == 1
    assert seen.count == 2


async def test_address_with_scheme_and_port_as_string() -> None:
    async with (
        fault_server(lambda r: asyncio.sleep(0, json_response(MODEL))) as (port, seen),
        ModelRegistryAPIClient.insecure_connection("http://127.0.0.1/", str(port)) as c,
    ):
        assert (await c.get_registered_model_by_id("1")) == RegisteredModel("m", id="1")
    # api_version "auto": the reference client's probe first; this server answers it, so v1.
    assert [path for _, path, _ in seen.requests] == [
        "/api/model_registry/v1/registered_models?pageSize=1",
        "/api/model_registry/v1/registered_models/1",
    ]
    with pytest.raises(ValueError, match="transport"):
        ModelRegistryAPIClient.insecure_connection("h", 1, transport="carrier-pigeon")  # type: ignore[arg-type]


async def test_tls_with_custom_ca_file_context_and_verify_off(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def ok(request: web.Request) -> web.Response:
        return json_response(EMPTY_LIST)

    async with fault_server(ok, ssl_context=server_ctx) as (port, seen):
        for kwargs in ({"custom_ca": ca_file}, {"custom_ca": client_ctx}, {"verify": False}):
            async with ModelRegistryAPIClient.secure_connection(
                "127.0.0.1",
                port,
                user_token="tok",
                api_version="v1alpha3",  # no probe: the count below is of the calls made
                **kwargs,
            ) as client:
                assert await client.get_registered_models() == []
        async with ModelRegistryAPIClient.secure_connection(
            "https://127.0.0.1",
            port,
            user_token="tok",
            retry=RetryPolicy.none(),
            api_version="v1alpha3",
        ) as client:
            with pytest.raises(ConnectionFailed):
                await client.get_registered_models()
    assert seen.count == 3
    assert all(auth == "Bearer tok" for _, _, auth in seen.requests)
