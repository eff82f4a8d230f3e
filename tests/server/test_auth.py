"""Bearer tokens end to end: our client over REST and gRPC, token files re-read, nothing logged.

(The REST refusal forms are pinned in test_rest_auth.py; the gRPC front door's own tests in
tests/server/grpc/test_grpc_services.py. Here: both transports through the client, every token
source.)
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unauthorized
from model_registry.server import RunningServer, run_server
from model_registry.server.auth import TokenAuthenticator, bearer_token, parse_token_file
from model_registry.server.rest import BASE_PATH
from model_registry.types import RegisteredModel

TRANSPORTS = ["rest", "grpc"]
TOKEN = "tok-0123456789abcdef"


def port_of(server: RunningServer, transport: str) -> int:
    """The port ``transport`` talks to."""
    if transport == "grpc":
        assert server.grpc_port is not None
        return server.grpc_port
    return server.port


def connect(server: RunningServer, transport: str, token: str | None) -> ModelRegistryAPIClient:
    """Our client, plaintext, over ``transport``."""
    return ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        port_of(server, transport),
        token,
        transport=transport,  # type: ignore[arg-type]
        timeout=10.0,
    )


async def assert_ready(server: RunningServer) -> None:
    """The server still answers its readiness probe (no token needed)."""
    async with aiohttp.ClientSession() as http, http.get(server.url + "/readyz") as resp:
        assert resp.status == 200


@pytest.fixture
async def guarded(database_url: str) -> AsyncIterator[RunningServer]:
    """REST and gRPC, accepting only ``TOKEN``."""
    async with run_server(database_url, grpc_port=0, auth_tokens=[TOKEN]) as srv:
        yield srv


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_client_with_the_token_reads_and_writes(
    guarded: RunningServer, transport: str
) -> None:
    async with connect(guarded, transport, TOKEN) as client:
        created = await client.upsert_registered_model(RegisteredModel("guarded"))
        assert created.id is not None
        fetched = await client.get_registered_model_by_id(created.id)
    assert fetched is not None and fetched.name == "guarded"
    await assert_ready(guarded)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN[:-1]], ids=repr)
async def test_the_client_without_the_right_token_is_unauthorized_and_writes_nothing(
    guarded: RunningServer, transport: str, token: str | None
) -> None:
    async with connect(guarded, transport, token) as client:
        with pytest.raises(Unauthorized) as info:
            await client.upsert_registered_model(RegisteredModel("intruder"))
        with pytest.raises(Unauthorized):
            await client.get_registered_models()
    assert TOKEN not in str(info.value)
    async with connect(guarded, transport, TOKEN) as client:
        assert [m.name for m in await client.get_registered_models()] == []
    await assert_ready(guarded)


async def test_health_checks_need_no_token_over_rest_and_grpc(guarded: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/readyz"):
            async with http.get(guarded.url + path) as resp:
                assert resp.status == 200, path
        async with http.get(guarded.url + "/no/such/path") as resp:
            # Other paths are guarded too: without a token nothing is revealed, not even a 404.
            assert resp.status == 401
            assert (await resp.json())["code"] == "Unauthorized"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{guarded.grpc_port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_grpc_reflection_needs_the_token_too(guarded: RunningServer) -> None:
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{guarded.grpc_port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in stub.ServerReflectionInfo(iter([request]), timeout=10):
                pass
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answers = [
            a
            async for a in stub.ServerReflectionInfo(
                iter([request]), metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=10
            )
        ]
    assert answers[0].list_services_response.service


async def test_rest_401_carries_the_error_body(guarded: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(guarded.url + BASE_PATH + "/registered_models") as resp,
    ):
        assert resp.status == 401
        assert await resp.json() == {
            "code": "Unauthorized",
            "message": "missing or invalid bearer token",
        }


def write_token_file(path: Path, text: str) -> None:
    """Replace the file's content, making sure its size or mtime changes visibly."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # coarse file-system clock: push it forward
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_token_file_is_reread_when_it_changes_without_a_restart(
    database_url: str, tmp_path: Path, transport: str
) -> None:
    token_file = tmp_path / "tokens"
    write_token_file(token_file, "# registry tokens\n\nfirst-token\n  second-token  \n")
    async with run_server(database_url, grpc_port=0, auth_token_file=token_file) as srv:
        async with connect(srv, transport, "first-token") as client:
            await client.upsert_registered_model(RegisteredModel("one"))
        async with connect(srv, transport, "second-token") as client:
            assert len(await client.get_registered_models()) == 1
        async with connect(srv, transport, "# registry tokens") as client:
            with pytest.raises(Unauthorized):
                await client.get_registered_models()

        # Rotation: the first token is withdrawn, a third one added.
        write_token_file(token_file, "second-token\nthird-token\n")
        async with connect(srv, transport, "first-token") as client:
            with pytest.raises(Unauthorized):
                await client.get_registered_models()
        async with connect(srv, transport, "third-token") as client:
            assert len(await client.get_registered_models()) == 1

        # A file replaced by rename (how secrets get updated) is picked up as well.
        staged = tmp_path / "tokens.new"
        staged.write_text("fourth-token\n")
        staged.replace(token_file)
        async with connect(srv, transport, "fourth-token") as client:
            assert len(await client.get_registered_models()) == 1
        async with connect(srv, transport, "third-token") as client:
            with pytest.raises(Unauthorized):
                await client.get_registered_models()

        # Mid-rotation the file may be missing for a moment: the last tokens stay valid.
        token_file.unlink()
        async with connect(srv, transport, "fourth-token") as client:
            assert len(await client.get_registered_models()) == 1
        await assert_ready(srv)


async def test_tokens_from_the_argument_and_the_file_are_both_accepted(
    database_url: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("from-file\n")
    async with run_server(
        database_url, auth_tokens=["from-arg"], auth_token_file=token_file
    ) as srv:
        for token in ("from-arg", "from-file"):
            async with connect(srv, "rest", token) as client:
                assert await client.get_registered_models() is not None


async def test_tokens_never_reach_the_logs(
    guarded: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for token in (TOKEN, "a-wrong-secret"):
        for transport in TRANSPORTS:
            async with connect(guarded, transport, token) as client:
                with contextlib.suppress(Unauthorized):
                    await client.get_registered_models()
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert TOKEN not in text
    assert "a-wrong-secret" not in text


async def test_a_missing_token_file_or_one_without_tokens_stops_the_start(
    database_url: str, tmp_path: Path
) -> None:
    with pytest.raises(OSError):
        async with run_server(database_url, auth_token_file=tmp_path / "absent"):
            pass
    empty = tmp_path / "empty"
    empty.write_text("# nothing here\n\n")
    with pytest.raises(ValueError, match="no token"):
        async with run_server(database_url, auth_token_file=empty):
            pass


def test_token_file_lines_blank_and_comment_lines_are_skipped() -> None:
    assert parse_token_file("a\n\n  # c\n b \r\n#d\nc") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", b"abc"),
        ("bearer   abc  ", b"abc"),
        ("BEARER abc", b"abc"),
        (b"Bearer abc", b"abc"),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic abc", None),
        ("abc", None),
        (None, None),
    ],
)
def test_bearer_header_forms(header: str | bytes | None, token: bytes | None) -> None:
    assert bearer_token(header) == token


def test_the_authenticator_compares_whole_tokens_only() -> None:
    auth = TokenAuthenticator(["alpha", "beta"])
    assert auth.allows("Bearer alpha") and auth.allows("Bearer beta")
    for header in ("Bearer alph", "Bearer alphaa", "Bearer ", "Bearer alpha beta", None):
        assert not auth.allows(header), header
