"""HTTP range requests on ``GET .../artifacts/{id}/content`` (RFC 9110, 14): 206 with
``Content-Range``, 416 for a range outside the content, ``If-Range`` against the ETag, over
real sockets to a real server, on the folder store and on S3 (moto's server, where a part is
a ranged ``GetObject``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from conformance import entities
from conformance.http import RestApi, check_error_body, rest_api
from conformance.s3 import ContentStore
from multidict import CIMultiDict

from model_registry.server import RunningServer, run_server
from model_registry.server.artifacts import CHUNK_BYTES
from model_registry.server.rest import RangeNotSatisfiable, byte_range
from model_registry.server.versions import API_VERSIONS

V1_BASE = API_VERSIONS["v1"].base_path
# Over two read pieces and a half: parts that start, end and lie across piece boundaries.
DATA = os.urandom(2 * CHUNK_BYTES + CHUNK_BYTES // 2 + 7)


@pytest.fixture
async def srv(database_url: str, content_store: ContentStore) -> AsyncIterator[RunningServer]:
    async with run_server(
        database_url, artifact_store=content_store.uri, s3_endpoint_url=content_store.endpoint_url
    ) as running:
        yield running


@pytest.fixture
async def content(srv: RunningServer) -> AsyncIterator[tuple[str, str]]:
    """An artifact with :data:`DATA` uploaded: its content URL and its ETag."""
    async with rest_api(srv.url + V1_BASE) as v1:
        url = await _uploaded(v1, DATA)
        async with v1.session.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Accept-Ranges"] == "bytes"
            assert await resp.read() == DATA
            yield url, resp.headers["ETag"]


async def _uploaded(v1: RestApi, data: bytes) -> str:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    artifact = await entities.version_artifact(
        v1, version["id"], {"artifactType": "model-artifact", "name": "weights.bin"}
    )
    url = f"{v1.base_url}/artifacts/{artifact['id']}/content"
    async with v1.session.put(url, data=data) as resp:
        assert resp.status == 200, await resp.text()
    return url


async def _get(url: str, headers: dict[str, str]) -> tuple[int, CIMultiDict[str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.read()


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=10-10", 10, 11),
        (f"bytes={CHUNK_BYTES - 5}-{2 * CHUNK_BYTES + 5}", CHUNK_BYTES - 5, 2 * CHUNK_BYTES + 6),
        (f"bytes={CHUNK_BYTES}-", CHUNK_BYTES, len(DATA)),
        ("bytes=-1000", len(DATA) - 1000, len(DATA)),
        (f"bytes=5-{10 * len(DATA)}", 5, len(DATA)),  # past the end: up to the end
    ],
)
async def test_a_range_is_a_206_with_that_part_and_its_content_range(
    content: tuple[str, str], header: str, start: int, stop: int
) -> None:
    url, etag = content
    status, headers, body = await _get(url, {"Range": header})
    assert status == 206
    assert body == DATA[start:stop]
    assert headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"
    assert headers["Content-Length"] == str(stop - start)
    assert headers["ETag"] == etag
    assert headers["Content-Type"] == "application/octet-stream"
    assert "Repr-Digest" in headers  # of the whole content, to check the assembled file


@pytest.mark.parametrize(
    "header", [f"bytes={len(DATA)}-", f"bytes={len(DATA) + 5}-{len(DATA) + 9}", "bytes=-0"]
)
async def test_a_range_outside_the_content_is_a_416_naming_its_size(
    content: tuple[str, str], header: str
) -> None:
    url, _ = content
    async with aiohttp.ClientSession() as session:
        api = RestApi(session, url)
        reply = await api.request("GET", url, headers={"Range": header}, absolute=True)
    check_error_body(reply, 416)
    assert reply.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize(
    "header", ["bytes=0-10,20-30", "items=0-5", "bytes=9-2", "bytes=-", "bytes=x-5"]
)
async def test_a_range_this_server_does_not_serve_gets_the_whole_content(
    content: tuple[str, str], header: str
) -> None:
    url, _ = content
    status, headers, body = await _get(url, {"Range": header})
    assert status == 200
    assert body == DATA
    assert "Content-Range" not in headers


async def test_if_range_serves_the_part_only_while_the_etag_matches(
    content: tuple[str, str],
) -> None:
    url, etag = content
    status, _, body = await _get(url, {"Range": "bytes=100-199", "If-Range": etag})
    assert (status, body) == (206, DATA[100:200])
    for other in (f'"sha256:{"0" * 64}"', f"W/{etag}", "Wed, 21 Oct 2015 07:28:00 GMT"):
        status, headers, body = await _get(url, {"Range": "bytes=100-199", "If-Range": other})
        assert (status, body) == (200, DATA), other
        assert "Content-Range" not in headers
    # Without a Range, If-Range changes nothing.
    status, _, body = await _get(url, {"If-Range": etag})
    assert (status, body) == (200, DATA)


async def test_a_download_cut_short_resumes_where_it_stopped(content: tuple[str, str]) -> None:
    url, etag = content
    received = bytearray()
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        async for piece in resp.content.iter_chunked(64 * 1024):
            received += piece
            if len(received) > CHUNK_BYTES:
                break  # the connection is dropped mid-body
    resume = {"Range": f"bytes={len(received)}-", "If-Range": etag}
    status, headers, rest = await _get(url, resume)
    assert status == 206
    assert headers["Content-Range"] == f"bytes {len(received)}-{len(DATA) - 1}/{len(DATA)}"
    assert bytes(received) + rest == DATA


async def test_empty_content_has_no_satisfiable_range(srv: RunningServer) -> None:
    async with rest_api(srv.url + V1_BASE) as v1:
        url = await _uploaded(v1, b"")
        reply = await v1.request("GET", url, headers={"Range": "bytes=0-"}, absolute=True)
        check_error_body(reply, 416)
        assert reply.headers["Content-Range"] == "bytes */0"
        plain = await v1.request("GET", url, absolute=True)
        assert (plain.status, plain.text) == (200, "")


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-9", 10, None),  # every byte: the plain answer
        ("bytes=0-", 10, None),
        ("bytes=-10", 10, None),
        ("bytes=-20", 10, None),
        ("bytes=2-4", 10, (2, 5)),
        (" bytes = 2 - 4 ", 10, (2, 5)),
        ("bytes=-3", 10, (7, 10)),
        ("bytes=3-", 10, (3, 10)),
        ("bytes=1-2,4-5", 10, None),
        ("bytes=4-2", 10, None),
    ],
)
def test_byte_range_reads_one_range_and_ignores_the_rest(
    header: str | None, size: int, expected: Any
) -> None:
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-0", 10), ("bytes=0-", 0)])
def test_byte_range_outside_the_content_is_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)
