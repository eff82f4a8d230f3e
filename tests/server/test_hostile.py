"""Hostile input: every malformed, oversized or out-of-range request is a 4xx with the error body
(or INVALID_ARGUMENT / RESOURCE_EXHAUSTED over gRPC), and the server keeps serving afterwards."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from reliability.serving import serve_process

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry.server import RunningServer, run_server
from model_registry.server.app import MAX_REQUEST_LINE_BYTES
from model_registry.server.grpc import SERVICE_NAME
from model_registry.server.rest import BASE_PATH, MAX_JSON_DEPTH

LIMIT = 64 * 1024
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def srv(database_url: str) -> AsyncIterator[RunningServer]:
    """REST and gRPC with a small body limit, and one registered model (id 1) to aim at."""
    async with run_server(database_url, grpc_port=0, max_body_bytes=LIMIT) as server:
        async with (
            aiohttp.ClientSession() as http,
            http.post(server.url + BASE_PATH + "/registered_models", json={"name": "m"}) as resp,
        ):
            assert resp.status == 201
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw HTTP session (the URLs given are sent as they are)."""
    async with aiohttp.ClientSession() as session:
        yield session


async def answer(
    http: aiohttp.ClientSession,
    srv: RunningServer,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Send a raw request; return the status and the decoded JSON body."""
    url = srv.url + (path if path.startswith("/healthz") else BASE_PATH + path)
    async with http.request(
        method, url, data=body, params=params, headers=JSON if body is not None else None
    ) as resp:
        raw = await resp.read()
        assert resp.content_type == "application/json", raw[:200]
        return resp.status, json.loads(raw)


def assert_error(status: int, body: Any, expected: int) -> None:
    """The status is ``expected`` and the body is the ``{code, message}`` error body."""
    assert status == expected, body
    assert isinstance(body, dict) and set(body) == {"code", "message"}, body
    assert isinstance(body["code"], str) and isinstance(body["message"], str)
    assert body["message"]


async def assert_still_serving(http: aiohttp.ClientSession, srv: RunningServer) -> None:
    """``/readyz`` is ready and a normal call works."""
    async with http.get(srv.url + "/readyz") as resp:
        assert resp.status == 200
    async with http.get(srv.url + BASE_PATH + "/registered_models/1") as resp:
        assert resp.status == 200
        assert (await resp.json())["name"] == "m"


def nested(depth: int) -> bytes:
    """A body whose customProperties nest ``depth`` levels of arrays."""
    return b'{"name": "deep", "customProperties": ' + b"[" * depth + b"]" * depth + b"}"


def custom_int(value: Any) -> bytes:
    """A create body with one int custom property."""
    prop = {"metadataType": "MetadataIntValue", "int_value": value}
    return json.dumps({"name": "n", "customProperties": {"p": prop}}).encode()


BODIES = [
    pytest.param(b"\xff\xfe{}", id="invalid-utf8"),
    pytest.param(b'{"name": "bad \xc3\x28"}', id="invalid-utf8-inside-a-string"),
    pytest.param(json.dumps({"name": "a\u0000b"}).encode(), id="nul-in-name"),
    pytest.param(json.dumps({"name": "n", "description": "x\u0000"}).encode(), id="nul-in-text"),
    pytest.param(json.dumps({"name": "\ud800"}).encode(), id="lone-surrogate"),
    pytest.param(b"[" * 60_000, id="60k-open-brackets"),
    pytest.param(nested(MAX_JSON_DEPTH + 1), id="nesting-just-past-the-limit"),
    pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, id="deep-objects"),
    pytest.param(custom_int("9" * 40), id="huge-int-as-string"),
    pytest.param(custom_int(10**40), id="huge-int-as-number"),
    pytest.param(custom_int("-1e3"), id="int-in-exponent-form"),
    pytest.param(
        b'{"name": "n", "customProperties": {"p": '
        b'{"metadataType": "MetadataDoubleValue", "double_value": 1e999}}}',
        id="double-overflow",
    ),
    pytest.param(b'{"name": NaN}', id="nan"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'"name"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b"", id="empty"),
    pytest.param(b"{", id="truncated"),
    pytest.param(json.dumps({"name": 5}).encode(), id="name-not-a-string"),
    pytest.param(json.dumps({"name": "x" * 100_00}).encode(), id="overlong-name"),
    pytest.param(json.dumps({"name": "n", "customProperties": []}).encode(), id="props-array"),
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/registered_models"), ("PATCH", "/registered_models/1")],
)
async def test_malformed_bodies_are_400_with_the_error_body(
    srv: RunningServer, http: aiohttp.ClientSession, method: str, path: str, body: bytes
) -> None:
    status, reply = await answer(http, srv, method, path, body=body)
    assert_error(status, reply, 400)
    await assert_still_serving(http, srv)


async def test_nesting_up_to_the_limit_reaches_the_validator(
    srv: RunningServer, http: aiohttp.ClientSession
) -> None:
    # Within the depth limit the body is parsed; it is refused for its shape, not its depth.
    status, reply = await answer(http, srv, "POST", "/registered_models", body=nested(10))
    assert_error(status, reply, 400)
    assert "deeper" not in reply["message"]


@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT])
async def test_a_body_over_the_configured_limit_is_413_with_the_error_body(
    srv: RunningServer, http: aiohttp.ClientSession, size: int
) -> None:
    body = json.dumps({"name": "big", "description": "x" * size}).encode()
    status, reply = await answer(http, srv, "POST", "/registered_models", body=body)
    assert_error(status, reply, 413)
    assert reply["message"] == f"request body larger than {LIMIT} bytes"
    await assert_still_serving(http, srv)


async def test_a_chunked_body_over_the_limit_is_413_too(
    srv: RunningServer, http: aiohttp.ClientSession
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "big", "description": "'
        for _ in range(2 * LIMIT // 1024):
            yield b"x" * 1024
        yield b'"}'

    async with http.post(
        srv.url + BASE_PATH + "/registered_models", data=chunks(), headers=JSON
    ) as resp:
        assert_error(resp.status, await resp.json(), 413)
    await assert_still_serving(http, srv)


async def test_a_body_under_the_limit_is_accepted(
    srv: RunningServer, http: aiohttp.ClientSession
) -> None:
    body = json.dumps({"name": "fits", "description": "x" * (LIMIT - 100)}).encode()
    status, reply = await answer(http, srv, "POST", "/registered_models", body=body)
    assert status == 201, reply


QUERIES = [
    *(
        pytest.param({"pageSize": value}, id=f"pageSize={value[:12]}")
        for value in ("-1", "0", "-99999999999999999999", "abc", "1e3", "1.5", " 5", "0x10", "\x00")
    ),
    pytest.param({"nextPageToken": "A" * 30_000}, id="overlong-token"),
    pytest.param({"nextPageToken": "not-a-token"}, id="garbage-token"),
    pytest.param({"nextPageToken": "a\x00b"}, id="nul-token"),
    pytest.param({"filterQuery": "name = '" + "x" * 30_000 + "'"}, id="overlong-filter"),
    pytest.param({"filterQuery": "(" * 200 + "name = 'a'" + ")" * 200}, id="deep-filter"),
    pytest.param({"filterQuery": " AND ".join(["name = 'a'"] * 1000)}, id="wide-filter"),
    pytest.param({"filterQuery": "name = 'a\x00'"}, id="nul-filter"),
    pytest.param({"filterQuery": "name = "}, id="truncated-filter"),
    pytest.param({"filterQuery": "id = 99999999999999999999999"}, id="huge-int-filter"),
    pytest.param({"filterQuery": "description LIKE '%" + "a" * 200 + "'"}, id="long-pattern"),
    pytest.param({"orderBy": "NAME; DROP TABLE contexts"}, id="bad-orderBy"),
    pytest.param({"sortOrder": "x" * 30_000}, id="overlong-sortOrder"),
]


@pytest.mark.parametrize("params", QUERIES)
async def test_hostile_query_values_are_400_with_the_error_body(
    srv: RunningServer, http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    for path in ("/registered_models", "/registered_models/1/versions", "/artifacts"):
        status, reply = await answer(http, srv, "GET", path, params=params)
        assert_error(status, reply, 400)
    await assert_still_serving(http, srv)


async def test_a_page_size_within_the_wire_range_is_clamped_beyond_it_refused(
    srv: RunningServer, http: aiohttp.ClientSession
) -> None:
    # Documented behaviour (paging): up to 9 digits, sizes above the maximum are clamped to it;
    # more digits than the spec's pattern allows is a client mistake.
    status, reply = await answer(
        http, srv, "GET", "/registered_models", params={"pageSize": "9" * 9}
    )
    assert status == 200
    assert [item["name"] for item in reply["items"]] == ["m"]
    status, reply = await answer(
        http, srv, "GET", "/registered_models", params={"pageSize": "9" * 30}
    )
    assert status == 400
    assert reply["code"] == "Bad Request" and "pageSize" in reply["message"]
    await assert_still_serving(http, srv)


RAW_PATHS = [
    "/registered_models/1234567890",
    "/registered_models/99999999999999999999999999",
    "/registered_models/0",
    "/registered_models/-1",
    "/registered_models/01",
    "/registered_models/1%00",
    "/registered_models/%FF",
    "/registered_models/1234567890/versions",
    "/model_versions/4294967297",
    "/experiment_runs/9223372036854775808/metric_history",
    "/inference_services/1e9/model",
]


@pytest.mark.parametrize("path", RAW_PATHS)
async def test_ids_outside_the_id_range_are_400_with_the_error_body(
    srv: RunningServer, http: aiohttp.ClientSession, path: str
) -> None:
    from yarl import URL

    async with http.get(URL(srv.url + BASE_PATH + path, encoded=True)) as resp:
        assert_error(resp.status, await resp.json(), 400)
    await assert_still_serving(http, srv)


@pytest.mark.parametrize(
    "query",
    ["name=a%00b", "name=%FF%FE", "externalId=%00", "name=" + "x" * 30_000],
)
async def test_find_with_hostile_values_is_a_4xx_with_the_error_body(
    srv: RunningServer, http: aiohttp.ClientSession, query: str
) -> None:
    from yarl import URL

    url = URL(srv.url + BASE_PATH + "/registered_model?" + query, encoded=True)
    async with http.get(url) as resp:
        body = await resp.json()
        assert 400 <= resp.status < 500
        assert_error(resp.status, body, resp.status)
    await assert_still_serving(http, srv)


async def test_a_request_line_beyond_what_http_parses_is_refused_and_the_server_goes_on(
    srv: RunningServer, http: aiohttp.ClientSession
) -> None:
    params = {"filterQuery": "x" * (MAX_REQUEST_LINE_BYTES + 1)}
    async with http.get(srv.url + BASE_PATH + "/registered_models", params=params) as resp:
        # Not even an HTTP request the application sees: the HTTP layer answers 400 itself.
        assert resp.status == 400
    await assert_still_serving(http, srv)


# --- gRPC ------------------------------------------------------------------------------------


async def grpc_call(srv: RunningServer, method: str, payload: bytes) -> grpc.aio.AioRpcError:
    """Send raw bytes as the request of ``method``; return the error it must end with."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        call = channel.unary_unary(
            f"/{SERVICE_NAME}/{method}",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(payload, timeout=10)
        return info.value


def upsert(**fields: Any) -> bytes:
    """An UpsertRegisteredModel request."""
    return pb.UpsertRegisteredModelRequest(
        registered_model=pb.RegisteredModel(**fields)
    ).SerializeToString()


GRPC_CASES = [
    pytest.param(
        "UpsertRegisteredModel", upsert(name="ok").replace(b"ok", b"\xff\xfe"), id="invalid-utf8"
    ),
    pytest.param("UpsertRegisteredModel", b"\xff" * 64, id="not-protobuf"),
    pytest.param("UpsertRegisteredModel", upsert(name="a\x00b"), id="nul-in-name"),
    pytest.param("UpsertRegisteredModel", upsert(), id="no-name"),
    pytest.param(
        "GetRegisteredModelById",
        pb.GetRegisteredModelByIdRequest(id="1234567890").SerializeToString(),
        id="id-past-9-digits",
    ),
    pytest.param(
        "GetRegisteredModels",
        pb.GetRegisteredModelsRequest(page_size=-5).SerializeToString(),
        id="negative-page-size",
    ),
    pytest.param(
        "GetRegisteredModels",
        pb.GetRegisteredModelsRequest(next_page_token="A" * 30_000).SerializeToString(),
        id="overlong-token",
    ),
    pytest.param(
        "GetRegisteredModels",
        pb.GetRegisteredModelsRequest(filter_query="(" * 200).SerializeToString(),
        id="deep-filter",
    ),
    pytest.param(
        "GetRegisteredModels",
        pb.GetRegisteredModelsRequest(
            filter_query="description LIKE '%" + "a" * 200 + "'"
        ).SerializeToString(),
        id="long-pattern",
    ),
]


@pytest.mark.parametrize(("method", "payload"), GRPC_CASES)
async def test_hostile_grpc_requests_are_invalid_argument(
    srv: RunningServer, http: aiohttp.ClientSession, method: str, payload: bytes
) -> None:
    error = await grpc_call(srv, method, payload)
    assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
    assert error.details()
    await assert_still_serving(http, srv)


async def test_a_grpc_message_over_the_limit_is_resource_exhausted(
    srv: RunningServer, http: aiohttp.ClientSession
) -> None:
    error = await grpc_call(srv, "UpsertRegisteredModel", upsert(name="n", description="d" * LIMIT))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    await assert_still_serving(http, srv)


async def test_serve_takes_the_body_limit_from_the_command_line(tmp_path: Path) -> None:
    args = ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}", "--max-body-bytes", "1000"]
    async with serve_process(args, grpc=False) as proc, aiohttp.ClientSession() as http:
        url = proc.url + BASE_PATH + "/registered_models"
        async with http.post(url, json={"name": "big", "description": "x" * 1000}) as resp:
            assert_error(resp.status, await resp.json(), 413)
            assert (await resp.json())["message"] == "request body larger than 1000 bytes"
        async with http.post(url, json={"name": "small"}) as resp:
            assert resp.status == 201
