"""The S3 artifact store (``serve --artifact-store s3://bucket/prefix``) against a real
S3-wire server (moto's, in its own process): the same guarantees as the folder store."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from conformance import entities
from conformance.http import rest_api
from conformance.s3 import S3Server

from model_registry.server import run_server
from model_registry.server.artifacts import SHA256_PROPERTY, S3ArtifactStore, open_artifact_store
from model_registry.server.errors import BadRequest, PayloadTooLarge
from model_registry.server.versions import API_VERSIONS

V1_BASE = API_VERSIONS["v1"].base_path


async def _pieces(data: bytes, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_small_and_multipart_content_is_stored_once_under_its_digest(
    s3_server: S3Server,
) -> None:
    bucket = s3_server.new_bucket()
    store = open_artifact_store(f"s3://{bucket}/registry", s3_endpoint_url=s3_server.endpoint_url)
    assert isinstance(store, S3ArtifactStore)
    small = b"tiny model"
    large = os.urandom(9 * 1024 * 1024)  # more than one 8 MiB part: a multipart upload
    for data in (small, large, large):
        stored = await store.put(_pieces(data), expected_sha256=hashlib.sha256(data).hexdigest())
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        assert stored.size == len(data)
    assert s3_server.keys(bucket) == sorted(
        f"registry/sha256/{hashlib.sha256(d).hexdigest()}" for d in (small, large)
    )
    assert s3_server.pending_uploads(bucket) == []
    blob = await store.open(hashlib.sha256(large).hexdigest())
    try:
        assert blob.size == len(large)
        assert b"".join([piece async for piece in blob.chunks()]) == large
    finally:
        await blob.close()


async def test_refused_and_broken_uploads_leave_no_object_and_no_pending_upload(
    s3_server: S3Server,
) -> None:
    bucket = s3_server.new_bucket()
    store = open_artifact_store(f"s3://{bucket}/p", s3_endpoint_url=s3_server.endpoint_url)
    data = os.urandom(17 * 1024 * 1024)
    with pytest.raises(BadRequest):
        await store.put(_pieces(data), expected_sha256="0" * 64)
    with pytest.raises(PayloadTooLarge):
        await store.put(_pieces(data), max_bytes=10 * 1024 * 1024)

    async def broken() -> AsyncIterator[bytes]:
        async for piece in _pieces(data[: 12 * 1024 * 1024]):
            yield piece
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await store.put(broken())
    assert s3_server.keys(bucket) == []
    assert s3_server.pending_uploads(bucket) == []


async def test_the_server_streams_content_through_an_s3_store(
    s3_server: S3Server, database_url: str
) -> None:
    bucket = s3_server.new_bucket()
    data = os.urandom(300_000)
    async with (
        run_server(
            database_url,
            artifact_store=f"s3://{bucket}/models",
            s3_endpoint_url=s3_server.endpoint_url,
        ) as srv,
        rest_api(srv.url + V1_BASE) as v1,
        aiohttp.ClientSession() as http,
    ):
        assert srv.artifact_store == f"s3://{bucket}/models"
        model = await entities.registered_model(v1)
        version = await entities.model_version(v1, model["id"])
        artifact = await entities.version_artifact(
            v1, version["id"], {"artifactType": "model-artifact", "name": "m", "uri": "x"}
        )
        url = f"{srv.url}{V1_BASE}/artifacts/{artifact['id']}/content"
        async with http.put(url, data=data) as resp:
            assert resp.status == 200, await resp.text()
            stored = await resp.json()
        digest = hashlib.sha256(data).hexdigest()
        assert stored["customProperties"][SHA256_PROPERTY]["string_value"] == digest
        async with http.get(url) as resp:
            assert await resp.read() == data
    assert s3_server.keys(bucket) == [f"models/sha256/{digest}"]


def test_an_s3_store_needs_a_bucket_and_an_endpoint_goes_with_s3_only() -> None:
    with pytest.raises(ValueError, match="needs a bucket"):
        open_artifact_store("s3:///prefix")
    with pytest.raises(ValueError, match="goes with an s3:// artifact store"):
        open_artifact_store("/tmp/x", s3_endpoint_url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="use file://PATH or s3://BUCKET/PREFIX"):
        open_artifact_store("ftp://host/x")


async def test_a_folder_store_keeps_nothing_of_an_upload_cancelled_midway(tmp_path: object) -> None:
    store = open_artifact_store(str(tmp_path))
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"x" * (2 * 1024 * 1024)
        started.set()
        await asyncio.sleep(30)
        yield b"never"

    task = asyncio.create_task(store.put(slow()))
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    root = store.root  # type: ignore[attr-defined]
    assert [p for p in root.rglob("*") if p.is_file()] == []
