"""Attacks on the front doors, on loopback: undecodable bodies, broken framing, malformed
headers carrying a token, connections that never finish their headers (slowloris), too many
connections, and request floods. Each one costs the attacker's own requests, never everyone's:
the server answers the others, ``/healthz`` included. Bounded in time and count."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from reliability.serving import serve_process, serve_refused

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2_grpc
from model_registry.server import RunningServer, run_server
from model_registry.server.connections import ConnectionLimits
from model_registry.server.ratelimit import RateLimit
from model_registry.server.rest import BASE_PATH

TOKEN = "s3cret-token-never-echoed"
OTHER_CLIENT = "127.0.0.2"
"""A second loopback address: "another client" for the per-address caps."""


async def raw_exchange(port: int, request: bytes, *, timeout: float = 10.0) -> bytes:
    """Send raw bytes to the server and read until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and body of one raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def assert_error_body(body: bytes, status: int, got: int) -> dict[str, Any]:
    """The ``{code, message}`` error body with the expected status."""
    assert got == status, body[:300]
    decoded = json.loads(body)
    assert set(decoded) == {"code", "message"} and decoded["message"], decoded
    return decoded  # type: ignore[no-any-return]


@pytest.fixture
async def srv(database_url: str) -> AsyncIterator[RunningServer]:
    """A server with auth on (REST and gRPC)."""
    async with run_server(database_url, grpc_port=0, auth_tokens=[TOKEN]) as server:
        yield server


def post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A raw POST request with a token and the given extra headers."""
    lines = [
        f"POST {BASE_PATH}{path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {TOKEN}",
        "Content-Type: application/json",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


BODY = b'{"name": "compressed?"}'


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param(
            {"Content-Encoding": "gzip", "Content-Length": str(len(BODY))}, BODY, id="gzip-plain"
        ),
        pytest.param(
            {"Content-Encoding": "deflate", "Content-Length": str(len(BODY))},
            BODY,
            id="deflate-plain",
        ),
        pytest.param(
            {"Content-Encoding": "gzip", "Content-Length": "20"},
            zlib.compress(BODY)[:20],
            id="gzip-truncated",
        ),
        pytest.param(
            {"Transfer-Encoding": "chunked"},
            b'5\r\n{"nam\r\nzz\r\n' + b"x" * 10 + b"\r\n0\r\n\r\n",
            id="chunk-size-not-hex",
        ),
        pytest.param(
            {"Transfer-Encoding": "chunked"},
            b"5\r\n" + BODY + b"\r\n0\r\n\r\n",
            id="chunk-longer-than-its-size",
        ),
    ],
)
async def test_an_undecodable_body_is_a_400_with_the_error_body_and_no_error_log(
    srv: RunningServer,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    body: bytes,
) -> None:
    caplog.set_level(logging.DEBUG)
    raw = await raw_exchange(srv.port, post("/registered_models", body, headers))
    status, _headers, reply = split_response(raw)
    assert_error_body(reply, 400, status)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]
    async with (
        aiohttp.ClientSession() as http,
        http.get(srv.url + BASE_PATH + "/registered_models", headers=auth()) as resp,
    ):
        assert resp.status == 200 and (await resp.json())["items"] == []


def auth() -> dict[str, str]:
    """The Authorization header of the test token."""
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f"Authorization: Bearer {TOKEN}\x01", id="control-character"),
        pytest.param(f"Authorization: Bearer {TOKEN}\r\nBad Header: x", id="space-in-name"),
        pytest.param(f"Authorization: Bearer {TOKEN}" + "x" * 70_000, id="too-long"),
        pytest.param(f"X-Note: {TOKEN}\x7f", id="delete-character"),
    ],
)
async def test_a_malformed_header_answer_never_repeats_the_presented_token(
    srv: RunningServer, caplog: pytest.LogCaptureFixture, header: str
) -> None:
    caplog.set_level(logging.DEBUG)
    request = f"GET {BASE_PATH}/registered_models HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n"
    raw = await raw_exchange(srv.port, request.encode("latin-1"))
    assert TOKEN.encode() not in raw
    status, headers, body = split_response(raw)
    assert headers["content-type"].startswith("application/json")
    assert "malformed HTTP request" in assert_error_body(body, 400, status)["message"]
    assert TOKEN not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]


# --- connections ---------------------------------------------------------------------------


async def half_open(port: int, count: int) -> list[asyncio.StreamWriter]:
    """``count`` connections that send the start of a request head and never finish it."""
    writers = []
    for _ in range(count):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            break  # the listen backlog is full: the rest cannot even connect
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        writers.append(writer)
    return writers


async def close_all(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.close()
    await asyncio.sleep(0)


async def timed_get(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, float]:
    """Status and seconds of a GET."""
    started = time.monotonic()
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=10), **kwargs) as resp:
        await resp.read()
        return resp.status, time.monotonic() - started


def other_client() -> aiohttp.ClientSession:
    """A session whose connections come from :data:`OTHER_CLIENT`."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(OTHER_CLIENT, 0)))


@pytest.mark.slow
async def test_a_thousand_half_open_connections_from_one_address_do_not_stop_other_clients(
    tmp_path: Path,
) -> None:
    # As reproduced: `serve` under a 512 file limit, default limits, no token needed.
    args = ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}"]
    async with serve_process(args, grpc=False, max_open_files=512) as proc:
        writers = await half_open(proc.port, 1000)
        try:
            assert len(writers) == 1000
            await asyncio.sleep(0.5)  # the server has seen them all
            async with other_client() as http:
                for path in ("/healthz", "/readyz", BASE_PATH + "/registered_models"):
                    status, seconds = await timed_get(http, proc.url + path)
                    assert status == 200 and seconds < 2.0, (path, status, seconds)
        finally:
            await close_all(writers)


async def test_connections_over_the_per_address_cap_are_refused_503_and_others_still_served(
    database_url: str,
) -> None:
    limits = ConnectionLimits(max_connections_per_address=20, header_timeout=30)
    async with run_server(database_url, connection_limits=limits) as srv:
        writers = await half_open(srv.port, 20)
        try:
            raw = await raw_exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = split_response(raw)
            assert_error_body(body, 503, status)
            assert headers["retry-after"] == "1"
            assert json.loads(body)["message"] == "too many open connections from this address"
            async with other_client() as http:
                assert (await timed_get(http, srv.url + "/healthz"))[0] == 200
        finally:
            await close_all(writers)
        await asyncio.sleep(0.2)  # closed ones are counted out
        async with aiohttp.ClientSession() as http:
            assert (await timed_get(http, srv.url + "/healthz"))[0] == 200


async def test_connections_over_the_total_cap_are_refused_503(database_url: str) -> None:
    limits = ConnectionLimits(max_connections=5, max_connections_per_address=100)
    async with run_server(database_url, connection_limits=limits) as srv:
        writers = await half_open(srv.port, 5)
        try:
            raw = await raw_exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = split_response(raw)
            assert_error_body(body, 503, status)
            assert headers["retry-after"] == "1"
        finally:
            await close_all(writers)


async def test_a_request_head_not_finished_in_time_gets_408_and_the_connection_closes(
    database_url: str,
) -> None:
    limits = ConnectionLimits(header_timeout=1.0)
    async with run_server(database_url, connection_limits=limits) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            started = time.monotonic()
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            for _ in range(3):  # trickling bytes does not extend the deadline
                await asyncio.sleep(0.25)
                writer.write(b"X-Slow: 1\r\n")
            raw = await asyncio.wait_for(reader.read(), 10)
            assert 1.0 <= time.monotonic() - started < 4.0
        finally:
            writer.close()
        status, _headers, body = split_response(raw)
        assert_error_body(body, 408, status)


async def test_a_request_body_slower_than_the_header_deadline_is_not_cut(
    database_url: str,
) -> None:
    limits = ConnectionLimits(header_timeout=1.0)
    async with run_server(database_url, connection_limits=limits) as srv:
        body = b'{"name": "slow-body"}'
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            writer.write(
                f"POST {BASE_PATH}/registered_models HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            for i in range(0, len(body), 4):
                writer.write(body[i : i + 4])
                await asyncio.sleep(0.4)
            raw = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
        assert split_response(raw)[0] == 201


async def stalled_body(port: int, *, sent: bytes = b'{"na') -> asyncio.StreamWriter:
    """A connection whose POST head is complete and whose body stops after ``sent``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {BASE_PATH}/registered_models HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n".encode()
        + sent
    )
    await writer.drain()
    writer.reader = reader  # type: ignore[attr-defined]  # kept with its writer for the test
    return writer


async def test_a_request_body_that_trickles_past_the_body_deadline_gets_408_and_is_closed(
    database_url: str,
) -> None:
    limits = ConnectionLimits(body_timeout=1.0, header_timeout=30)
    async with run_server(database_url, connection_limits=limits) as srv:
        writer = await stalled_body(srv.port)
        reader: asyncio.StreamReader = writer.reader  # type: ignore[attr-defined]
        started = time.monotonic()
        try:

            async def trickle() -> None:
                for _ in range(40):  # a byte every quarter second never extends the deadline
                    await asyncio.sleep(0.25)
                    writer.write(b"a")

            trickling = asyncio.ensure_future(trickle())
            raw = await asyncio.wait_for(reader.read(), 20)
            elapsed = time.monotonic() - started
            trickling.cancel()
        finally:
            writer.close()
        status, _headers, body = split_response(raw)
        assert_error_body(body, 408, status)
        assert json.loads(body)["message"] == "request body not received in time"
        assert 1.0 <= elapsed < 8.0, elapsed  # cut near the deadline, long before 10 s of bytes
        async with (  # nothing was created, and the server serves
            aiohttp.ClientSession() as http,
            http.get(srv.url + BASE_PATH + "/registered_models") as resp,
        ):
            assert resp.status == 200 and (await resp.json())["size"] == 0


async def test_stalled_bodies_give_their_connection_slots_back(database_url: str) -> None:
    # Two slots for the address, both taken by bodies that never finish: once they are cut,
    # the same address is served again (without the deadline they would hold them forever).
    limits = ConnectionLimits(body_timeout=1.0, header_timeout=30, max_connections_per_address=2)
    async with run_server(database_url, connection_limits=limits) as srv:
        writers = [await stalled_body(srv.port) for _ in range(2)]
        try:
            raw = await raw_exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert split_response(raw)[0] == 503  # both slots are held
            for writer in writers:
                raw = await asyncio.wait_for(writer.reader.read(), 20)  # type: ignore[attr-defined]
                assert split_response(raw)[0] == 408
            await asyncio.sleep(1.5)  # closed after a half-second linger, then counted out
            raw = await raw_exchange(
                srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            assert split_response(raw)[0] == 200
        finally:
            await close_all(writers)


async def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    database_url: str,
) -> None:
    limits = ConnectionLimits(keepalive_timeout=1.0, header_timeout=30)
    async with run_server(database_url, connection_limits=limits) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert b" 200 " in head.split(b"\r\n")[0]
            started = time.monotonic()
            rest = await asyncio.wait_for(reader.read(), 10)  # body, then EOF when closed
            assert rest == b'{"status":"ok"}'
            assert 0.5 <= time.monotonic() - started < 4.0
        finally:
            writer.close()


def test_connection_limits_become_grpc_server_options() -> None:
    limits = ConnectionLimits(
        header_timeout=5,
        keepalive_timeout=30,
        grpc_keepalive_time=45,
        grpc_max_connection_age=600,
        grpc_max_concurrent_streams=16,
    )
    options = dict(limits.grpc_options())
    assert options["grpc.server_handshake_timeout_ms"] == 5000
    assert options["grpc.max_connection_idle_ms"] == 30_000
    assert options["grpc.keepalive_time_ms"] == 45_000
    assert options["grpc.max_connection_age_ms"] == 600_000
    assert options["grpc.max_concurrent_streams"] == 16


async def test_a_grpc_connection_that_never_sends_its_preface_is_closed(database_url: str) -> None:
    limits = ConnectionLimits(header_timeout=1.0)
    async with run_server(database_url, grpc_port=0, connection_limits=limits) as srv:
        assert srv.grpc_port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.grpc_port)
        try:
            started = time.monotonic()
            await asyncio.wait_for(reader.read(), 15)
            assert time.monotonic() - started < 10.0
        finally:
            writer.close()


class OtherAddressForwarder:
    """Listens on ``127.0.0.1`` and forwards each connection to ``127.0.0.1:port`` from
    :data:`OTHER_CLIENT`, so a gRPC channel (which cannot choose its source address) reaches
    the server as another client."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> OtherAddressForwarder:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self._target, local_addr=(OTHER_CLIENT, 0)
        )

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


async def test_grpc_calls_over_the_per_address_cap_are_unavailable_and_others_still_served(
    database_url: str,
) -> None:
    limits = ConnectionLimits(grpc_max_calls_per_address=3)
    async with run_server(database_url, grpc_port=0, connection_limits=limits) as srv:
        async with aiohttp.ClientSession() as http:
            body = {"name": "m"}
            async with http.post(srv.url + BASE_PATH + "/registered_models", json=body) as resp:
                assert resp.status == 201
        # Gets that stay in the server's hands until released: three fill the address's cap.
        release = asyncio.Event()
        entered = 0
        real_get = srv.service.get

        async def held_get(kind: str, entity_id: str) -> dict[str, Any]:
            nonlocal entered
            entered += 1
            await release.wait()
            return await real_get(kind, entity_id)

        srv.service.get = held_get  # type: ignore[method-assign]
        target = f"127.0.0.1:{srv.grpc_port}"
        async with grpc.aio.insecure_channel(target) as channel:
            stub = model_registry_pb2_grpc.ModelRegistryServiceStub(channel)
            request = pb.GetRegisteredModelByIdRequest(id="1")
            held = [asyncio.ensure_future(stub.GetRegisteredModelById(request)) for _ in range(3)]
            for _ in range(200):
                if entered == 3:
                    break
                await asyncio.sleep(0.05)
            assert entered == 3
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.GetRegisteredModels(pb.GetRegisteredModelsRequest(), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "too many calls in flight from this address" in (info.value.details() or "")
            trailing = dict(info.value.trailing_metadata() or ())
            assert trailing["retry-after"] == "1"
            # Health is not counted, and another address is served.
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            async with (
                OtherAddressForwarder(srv.grpc_port or 0) as forward,
                grpc.aio.insecure_channel(f"127.0.0.1:{forward.port}") as other,
            ):
                other_stub = model_registry_pb2_grpc.ModelRegistryServiceStub(other)
                page = await other_stub.GetRegisteredModels(
                    pb.GetRegisteredModelsRequest(), timeout=10
                )
                assert [m.name for m in page.items] == ["m"]
            release.set()
            assert [m.name for m in await asyncio.gather(*held)] == ["m"] * 3
            # Counted out: the address is served again.
            page = await stub.GetRegisteredModels(pb.GetRegisteredModelsRequest(), timeout=10)
            assert page.size == 1


async def _refused_for_calls(stub: Any) -> grpc.aio.AioRpcError | None:
    """The refusal of a unary call over the address's cap (None: the call was served)."""
    try:
        await stub.GetRegisteredModels(pb.GetRegisteredModelsRequest(), timeout=10)
    except grpc.aio.AioRpcError as err:
        return err
    return None


async def test_grpc_watches_have_a_cap_of_their_own_and_leave_the_calls_served(
    database_url: str,
) -> None:
    limits = ConnectionLimits(grpc_max_calls_per_address=1, grpc_max_watches_per_address=2)
    async with run_server(database_url, grpc_port=0, connection_limits=limits) as srv:
        target = f"127.0.0.1:{srv.grpc_port}"
        async with grpc.aio.insecure_channel(target) as channel:
            stub = model_registry_pb2_grpc.ModelRegistryServiceStub(channel)
            watches = [stub.WatchEvents(pb.WatchEventsRequest()) for _ in range(2)]
            for watch in watches:  # open: each has its ready message
                assert (await asyncio.wait_for(watch.read(), 10)).ready
            with pytest.raises(grpc.aio.AioRpcError) as info:
                async for _ in stub.WatchEvents(pb.WatchEventsRequest(), timeout=10):
                    pass
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "too many event watches open from this address (at most 2)" in (
                info.value.details() or ""
            )
            assert dict(info.value.trailing_metadata() or ())["retry-after"] == "1"
            # Two watches open and the one call slot of the address still free.
            assert await _refused_for_calls(stub) is None
            # Another address may watch.
            async with (
                OtherAddressForwarder(srv.grpc_port or 0) as forward,
                grpc.aio.insecure_channel(f"127.0.0.1:{forward.port}") as other,
            ):
                other_watch = model_registry_pb2_grpc.ModelRegistryServiceStub(other).WatchEvents(
                    pb.WatchEventsRequest()
                )
                assert (await asyncio.wait_for(other_watch.read(), 10)).ready
                other_watch.cancel()
            # A watch that ends gives its slot back.
            watches[0].cancel()
            for _ in range(100):
                again = stub.WatchEvents(pb.WatchEventsRequest())
                try:
                    assert (await asyncio.wait_for(again.read(), 10)).ready
                    break
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.UNAVAILABLE
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the ended watch's slot never came back")
            again.cancel()
            watches[1].cancel()


async def test_a_grpc_content_stream_holds_a_call_slot_for_its_life(
    database_url: str, tmp_path: Path
) -> None:
    limits = ConnectionLimits(grpc_max_calls_per_address=1)
    async with (
        run_server(
            database_url,
            grpc_port=0,
            connection_limits=limits,
            artifact_store=str(tmp_path / "store"),
        ) as srv,
        aiohttp.ClientSession() as http,
    ):
        base = srv.url + BASE_PATH

        async def created(path: str, body: dict[str, Any]) -> str:
            async with http.post(base + path, json=body) as resp:
                assert resp.status == 201, await resp.text()
                return str((await resp.json())["id"])

        model = await created("/registered_models", {"name": "m"})
        version = await created("/model_versions", {"name": "v1", "registeredModelId": model})
        artifact = await created(
            f"/model_versions/{version}/artifacts",
            {"artifactType": "model-artifact", "name": "w", "uri": "pending"},
        )
        finish = asyncio.Event()

        async def upload_requests() -> AsyncIterator[pb.UploadArtifactContentRequest]:
            header = pb.ArtifactContentHeader(artifact_id=artifact, size=3)
            yield pb.UploadArtifactContentRequest(header=header)
            await finish.wait()  # the upload stays open, in the server's hands, until then
            yield pb.UploadArtifactContentRequest(chunk=b"abc")

        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
            stub = model_registry_pb2_grpc.ModelRegistryServiceStub(channel)
            content = model_registry_pb2_grpc.ArtifactContentServiceStub(channel)
            upload = asyncio.ensure_future(content.UploadArtifactContent(upload_requests()))
            refusal = None
            for _ in range(200):  # until the upload's handler holds the address's one slot
                refusal = await _refused_for_calls(stub)
                if refusal is not None:
                    break
                await asyncio.sleep(0.05)
            assert refusal is not None and refusal.code() == grpc.StatusCode.UNAVAILABLE
            assert "too many calls in flight from this address (at most 1)" in (
                refusal.details() or ""
            )
            finish.set()
            answer = await asyncio.wait_for(upload, 10)
            assert answer.model_artifact.uri == f"model-registry://artifacts/{artifact}"
            assert await _refused_for_calls(stub) is None  # counted out with the stream


# --- request rate ---------------------------------------------------------------------------


async def test_the_rate_limit_is_off_by_default(srv: RunningServer) -> None:
    async with aiohttp.ClientSession(headers=auth()) as http:
        statuses = [
            (await timed_get(http, srv.url + BASE_PATH + "/registered_models"))[0]
            for _ in range(50)
        ]
    assert set(statuses) == {200}


async def test_over_its_rate_a_token_gets_429_with_retry_after_and_other_tokens_do_not(
    database_url: str,
) -> None:
    limit = RateLimit(rate=1.0, burst=3)
    async with (
        run_server(
            database_url, grpc_port=0, auth_tokens=[TOKEN, "other"], rate_limit=limit
        ) as srv,
        aiohttp.ClientSession() as http,
    ):
        url = srv.url + BASE_PATH + "/registered_models"
        statuses = [(await timed_get(http, url, headers=auth()))[0] for _ in range(3)]
        assert statuses == [200, 200, 200]
        async with http.get(url, headers=auth()) as resp:
            assert_error_body(await resp.read(), 429, resp.status)
            assert int(resp.headers["Retry-After"]) >= 1
        # The probes are never limited; another token has a bucket of its own.
        assert (await timed_get(http, srv.url + "/healthz"))[0] == 200
        other = {"Authorization": "Bearer other"}
        assert (await timed_get(http, url, headers=other))[0] == 200
        # gRPC draws on the same bucket: UNAVAILABLE (HTTP 429) with a retry hint.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
            stub = model_registry_pb2_grpc.ModelRegistryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.GetRegisteredModels(
                    pb.GetRegisteredModelsRequest(),
                    metadata=(("authorization", f"Bearer {TOKEN}"),),
                    timeout=10,
                )
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        trailing = dict(info.value.trailing_metadata() or ())
        assert int(trailing["retry-after"]) >= 1
        await asyncio.sleep(1.1)  # a token back in the bucket
        assert (await timed_get(http, url, headers=auth()))[0] == 200


async def test_with_auth_off_the_rate_limit_is_per_client_address(database_url: str) -> None:
    async with run_server(database_url, rate_limit=RateLimit(rate=0.5, burst=2)) as srv:
        url = srv.url + BASE_PATH + "/registered_models"
        async with aiohttp.ClientSession() as http:
            statuses = [(await timed_get(http, url))[0] for _ in range(3)]
        assert statuses == [200, 200, 429]
        async with other_client() as http:
            assert (await timed_get(http, url))[0] == 200


async def test_serve_takes_the_connection_and_rate_limits_from_the_command_line(
    tmp_path: Path,
) -> None:
    args = [
        "--database-url",
        f"sqlite:///{tmp_path / 'registry.db'}",
        "--max-connections-per-address",
        "3",
        "--header-timeout",
        "30",
        "--body-timeout",
        "1",
        "--rate-limit",
        "0.5",
        "--rate-limit-burst",
        "1",
    ]
    async with serve_process(args, grpc=False) as proc:
        url = proc.url + BASE_PATH + "/registered_models"
        async with aiohttp.ClientSession() as http:
            assert (await timed_get(http, url))[0] == 200
            assert (await timed_get(http, url))[0] == 429
        writers = await half_open(proc.port, 3)
        try:
            raw = await raw_exchange(proc.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert split_response(raw)[0] == 503
        finally:
            await close_all(writers)
        await asyncio.sleep(2.2)  # closed ones are counted out, the rate bucket refills
        writer = await stalled_body(proc.port)
        try:
            raw = await asyncio.wait_for(writer.reader.read(), 20)  # type: ignore[attr-defined]
            assert split_response(raw)[0] == 408
        finally:
            writer.close()


async def test_a_rate_limit_burst_without_a_rate_is_a_usage_error() -> None:
    code, _out, err = await serve_refused(["--rate-limit-burst", "5"])
    assert code == 2 and b"--rate-limit-burst needs --rate-limit" in err
