"""Artifact content over REST v1 and gRPC: stored by digest, recorded on the artifact, streamed.

Every test drives a real server on a free port, with its artifact store in the test's folder,
and looks at that folder to see what the store kept (nothing of a refused or broken upload).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from conformance import entities
from conformance.http import RestApi, rest_api

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2_grpc as pbg
from model_registry.server import RunningServer, run_server
from model_registry.server.artifacts import (
    SHA256_PROPERTY,
    SIZE_PROPERTY,
    FileArtifactStore,
    default_store_uri,
)
from model_registry.server.connections import ConnectionLimits
from model_registry.server.rest import content_disposition
from model_registry.server.versions import API_VERSIONS

V1_BASE = API_VERSIONS["v1"].base_path
TOKEN = "artifact-token"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stored(root: Path) -> list[Path]:
    """Every file under the store's digest folder."""
    return sorted(p for p in (root / "sha256").rglob("*") if p.is_file())


def _temporary(root: Path) -> list[Path]:
    tmp = root / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
async def srv(database_url: str, store_root: Path) -> AsyncIterator[RunningServer]:
    async with run_server(
        database_url, grpc_port=0, artifact_store=store_root.as_uri(), max_artifact_bytes=4096
    ) as running:
        yield running


@pytest.fixture
async def v1(srv: RunningServer) -> AsyncIterator[RestApi]:
    async with rest_api(srv.url + V1_BASE) as api:
        yield api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _version_artifact(v1: RestApi, name: str = "model.bin") -> dict[str, Any]:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    return await entities.version_artifact(  # type: ignore[no-any-return]
        v1,
        version["id"],
        {"artifactType": "model-artifact", "name": name, "uri": "pending"},
    )


def _content_url(srv: RunningServer, artifact_id: str) -> str:
    return f"{srv.url}{V1_BASE}/artifacts/{artifact_id}/content"


async def test_uploaded_content_is_recorded_on_the_artifact_and_downloads_byte_identical(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession, store_root: Path
) -> None:
    artifact = await _version_artifact(v1)
    data = os.urandom(3000)

    async with http.put(_content_url(srv, artifact["id"]), data=data) as resp:
        assert resp.status == 200, await resp.text()
        stored = await resp.json()
    props = stored["customProperties"]
    assert props[SHA256_PROPERTY] == {
        "metadataType": "MetadataStringValue",
        "string_value": _sha(data),
    }
    assert props[SIZE_PROPERTY] == {"metadataType": "MetadataStringValue", "string_value": "3000"}
    assert stored["uri"] == f"model-registry://artifacts/{artifact['id']}"
    assert await v1.fetch(f"/artifacts/{artifact['id']}") == stored
    assert [p.name for p in _stored(store_root)] == [_sha(data)]

    async with http.get(_content_url(srv, artifact["id"])) as resp:
        assert resp.status == 200
        body = await resp.read()
        headers = resp.headers
    assert body == data
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Length"] == "3000"
    assert headers["ETag"] == f'"sha256:{_sha(data)}"'
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert headers["Repr-Digest"] == f"sha-256=:{digest}:"
    assert headers["Content-Disposition"] == 'attachment; filename="model.bin"'
    assert headers["X-Content-Type-Options"] == "nosniff"


async def test_the_same_content_twice_is_stored_once(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession, store_root: Path
) -> None:
    data = b"same bytes" * 100
    first = await _version_artifact(v1)
    second = await _version_artifact(v1)
    for artifact in (first, second):
        async with http.put(_content_url(srv, artifact["id"]), data=data) as resp:
            assert resp.status == 200
    assert [p.name for p in _stored(store_root)] == [_sha(data)]
    assert _temporary(store_root) == []
    for artifact in (first, second):
        async with http.get(_content_url(srv, artifact["id"])) as resp:
            assert await resp.read() == data


async def test_content_is_set_once_the_same_bytes_again_are_accepted_others_conflict(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession
) -> None:
    artifact = await _version_artifact(v1)
    url = _content_url(srv, artifact["id"])
    async with http.put(url, data=b"one") as resp:
        first = await resp.json()
    async with http.put(url, data=b"one", params={"sha256": _sha(b"one")}) as resp:
        assert resp.status == 200
        assert await resp.json() == first
    async with http.put(url, data=b"two") as resp:
        assert resp.status == 409
        assert "content is set once" in (await resp.json())["message"]
    async with http.get(url) as resp:
        assert await resp.read() == b"one"


async def test_a_digest_or_size_that_does_not_match_keeps_nothing(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession, store_root: Path
) -> None:
    artifact = await _version_artifact(v1)
    url = _content_url(srv, artifact["id"])
    async with http.put(url, data=b"payload", params={"sha256": _sha(b"other")}) as resp:
        assert resp.status == 400
        assert "digest mismatch" in (await resp.json())["message"]
    assert _stored(store_root) == []
    assert _temporary(store_root) == []
    after = await v1.fetch(f"/artifacts/{artifact['id']}")
    assert SHA256_PROPERTY not in after["customProperties"]
    assert after["uri"] == "pending"


async def test_content_over_the_limit_is_refused_with_413_and_nothing_kept(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession, store_root: Path
) -> None:
    artifact = await _version_artifact(v1)
    url = _content_url(srv, artifact["id"])
    async with http.put(url, data=b"x" * 5000) as resp:  # announced: refused before reading
        assert resp.status == 413

    async def chunked() -> AsyncIterator[bytes]:  # not announced: refused past the limit
        for _ in range(10):
            yield b"y" * 1000

    async with http.put(url, data=chunked()) as resp:
        assert resp.status == 413
        check_error_body_json(await resp.json(), "artifact content larger than 4096 bytes")
    assert _stored(store_root) == []
    assert _temporary(store_root) == []


def check_error_body_json(body: Any, message: str) -> None:
    assert body == {"code": "Request Entity Too Large", "message": message}


async def test_an_upload_broken_off_leaves_no_artifact_content_and_no_file(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    async with (
        run_server(database_url, artifact_store=str(root)) as srv,
        rest_api(srv.url + V1_BASE) as v1,
    ):
        artifact = await _version_artifact(v1)
        _reader, writer = await asyncio.open_connection(srv.host, srv.port)
        head = (
            f"PUT {V1_BASE}/artifacts/{artifact['id']}/content HTTP/1.1\r\n"
            f"Host: {srv.host}\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n"
        )
        writer.write(head.encode() + b"z" * (3 * 1024 * 1024))
        await writer.drain()
        # The server has begun storing it (a temporary file), then the client goes away.
        for _ in range(200):
            if _temporary(root):
                break
            await asyncio.sleep(0.02)
        assert _temporary(root), "the upload never reached the store"
        writer.close()
        await writer.wait_closed()
        for _ in range(200):
            if not _temporary(root):
                break
            await asyncio.sleep(0.02)
        assert _temporary(root) == []
        assert _stored(root) == []
        after = await v1.fetch(f"/artifacts/{artifact['id']}")
        assert SHA256_PROPERTY not in after["customProperties"]
        await v1.fails("GET", f"/artifacts/{artifact['id']}/content", 404)


async def test_reserved_properties_are_set_only_by_an_upload(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession
) -> None:
    forged = {"metadataType": "MetadataStringValue", "string_value": "0" * 64}
    message = await v1.fails(
        "POST",
        "/model_artifacts",
        400,
        body={"name": "forged", "uri": "x", "customProperties": {SHA256_PROPERTY: forged}},
    )
    assert "reserved" in message
    artifact = await _version_artifact(v1)
    path = f"/artifacts/{artifact['id']}"
    async with http.put(_content_url(srv, artifact["id"]), data=b"real") as resp:
        stored = await resp.json()
    await v1.fails("PATCH", path, 400, body={"customProperties": {SHA256_PROPERTY: forged}})
    # Sending the entity back as read, or leaving the reserved keys out, keeps them.
    same = await v1.update(path, {"customProperties": stored["customProperties"]})
    assert same["customProperties"] == stored["customProperties"]
    other = {"note": {"metadataType": "MetadataStringValue", "string_value": "hi"}}
    kept = await v1.update(path, {"customProperties": other})
    assert kept["customProperties"] == {**stored["customProperties"], **other}


async def test_a_registered_uri_is_never_read_and_paths_cannot_be_traversed(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession
) -> None:
    artifact = await entities.model_artifact(v1, "passwd", uri="file:///etc/passwd")
    message = await v1.fails("GET", f"/artifacts/{artifact['id']}/content", 404)
    assert "has no uploaded content" in message
    for bad in ("..%2F..%2Fetc%2Fpasswd", "1%2F..%2F..", "-1", "abc"):
        async with http.get(f"{srv.url}{V1_BASE}/artifacts/{bad}/content") as resp:
            assert resp.status in (400, 404), bad
            assert set(await resp.json()) == {"code", "message"}
    uploaded = await _version_artifact(v1)
    for digest in ("../../etc/passwd", "A" * 64, "0" * 63):
        async with http.put(
            _content_url(srv, uploaded["id"]), data=b"x", params={"sha256": digest}
        ) as resp:
            assert resp.status == 400
            assert "64 lower-case hex digits" in (await resp.json())["message"]


async def test_a_symlink_planted_in_the_store_is_not_followed(tmp_path: Path) -> None:
    store = FileArtifactStore(tmp_path / "store")
    digest = _sha(b"secret")
    path = store.path_of(digest)
    path.parent.mkdir(parents=True)
    (tmp_path / "outside").write_bytes(b"secret")
    path.symlink_to(tmp_path / "outside")
    with pytest.raises(Exception) as caught:
        await store.open(digest)
    assert getattr(caught.value, "http_status", None) == 500


async def test_metrics_and_parameters_have_no_content(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession
) -> None:
    metric = await entities.artifact(v1, "metric", value=1.5)
    async with http.put(_content_url(srv, metric["id"]), data=b"x") as resp:
        assert resp.status == 400
        assert "a metric has no content" in (await resp.json())["message"]
    async with http.put(_content_url(srv, "999999"), data=b"x") as resp:
        assert resp.status == 404


async def test_datasets_take_content_too(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession
) -> None:
    dataset = await entities.artifact(v1, "dataset-artifact", uri="pending")
    async with http.put(_content_url(srv, dataset["id"]), data=b"a,b\n1,2\n") as resp:
        assert resp.status == 200
    async with http.get(_content_url(srv, dataset["id"])) as resp:
        assert await resp.read() == b"a,b\n1,2\n"


def test_content_disposition_names_only_a_safe_last_segment() -> None:
    assert content_disposition("model.onnx", "f") == 'attachment; filename="model.onnx"'
    hostile = content_disposition('../../etc/pa"ss\r\nX-Evil: 1', "fallback")
    assert "\r" not in hostile and "\n" not in hostile
    assert hostile.startswith("attachment; filename=\"pa_ssX-Evil_1\"; filename*=UTF-8''")
    assert content_disposition("..", "artifact-7") == 'attachment; filename="artifact-7"'
    assert content_disposition("модель.bin", "f").endswith(
        "filename*=UTF-8''%D0%BC%D0%BE%D0%B4%D0%B5%D0%BB%D1%8C.bin"
    )


async def test_content_routes_need_a_token_when_auth_is_on(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        run_server(
            database_url, grpc_port=0, auth_tokens=[TOKEN], artifact_store=str(tmp_path)
        ) as srv,
        aiohttp.ClientSession() as http,
    ):
        url = _content_url(srv, "1")
        async with http.put(url, data=b"x") as resp:
            assert resp.status == 401
        async with http.get(url) as resp:
            assert resp.status == 401
            check_error_body_json_401(await resp.json())
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
            stub = pbg.ArtifactContentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                async for _ in stub.DownloadArtifactContent(
                    pb.DownloadArtifactContentRequest(artifact_id="1")
                ):
                    pass
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            header = pb.ArtifactContentHeader(artifact_id="1", size=1)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.UploadArtifactContent(
                    iter([pb.UploadArtifactContentRequest(header=header)])
                )
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _stored(tmp_path) == []  # nothing reached the store
    assert _temporary(tmp_path) == []


def check_error_body_json_401(body: Any) -> None:
    assert body == {"code": "Unauthorized", "message": "missing or invalid bearer token"}


async def test_grpc_streams_content_up_and_down_as_rest_does(
    srv: RunningServer, v1: RestApi, http: aiohttp.ClientSession, store_root: Path
) -> None:
    artifact = await _version_artifact(v1)
    data = os.urandom(4000)

    def requests() -> list[pb.UploadArtifactContentRequest]:
        header = pb.ArtifactContentHeader(
            artifact_id=artifact["id"], sha256=_sha(data), size=len(data)
        )
        return [
            pb.UploadArtifactContentRequest(header=header),
            pb.UploadArtifactContentRequest(chunk=data[:1500]),
            pb.UploadArtifactContentRequest(chunk=data[1500:]),
        ]

    async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        stub = pbg.ArtifactContentServiceStub(channel)
        answer = await stub.UploadArtifactContent(iter(requests()))
        stored = answer.model_artifact
        assert stored.uri == f"model-registry://artifacts/{artifact['id']}"
        assert stored.custom_properties.properties[SHA256_PROPERTY].string_value == _sha(data)

        parts = [
            message
            async for message in stub.DownloadArtifactContent(
                pb.DownloadArtifactContentRequest(artifact_id=artifact["id"])
            )
        ]
        assert parts[0].WhichOneof("part") == "header"
        assert parts[0].header.sha256 == _sha(data)
        assert parts[0].header.size == len(data)
        assert b"".join(p.chunk for p in parts[1:]) == data

        other = await _version_artifact(v1)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            # The announced size alone is refused, before any chunk (none is sent, so the
            # refusal never races a client still writing).
            await stub.UploadArtifactContent(
                iter(
                    [
                        pb.UploadArtifactContentRequest(
                            header=pb.ArtifactContentHeader(artifact_id=other["id"], size=5000)
                        ),
                    ]
                )
            )
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.UploadArtifactContent(iter([pb.UploadArtifactContentRequest(chunk=b"x")]))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stub.DownloadArtifactContent(
                pb.DownloadArtifactContentRequest(artifact_id=other["id"])
            ):
                pass
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert [p.name for p in _stored(store_root)] == [_sha(data)]


def test_the_default_store_is_beside_the_sqlite_file_and_in_the_working_directory_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, shared_risk = default_store_uri(f"sqlite:///{tmp_path / 'db' / 'registry.db'}")
    assert (uri, shared_risk) == ((tmp_path / "db" / "artifacts").as_uri(), False)
    monkeypatch.chdir(tmp_path)
    uri, shared_risk = default_store_uri("postgresql://u@127.0.0.1:5432/registry")
    assert (uri, shared_risk) == ((tmp_path / "artifacts").as_uri(), True)


async def test_an_upload_may_outlast_the_body_deadline_while_it_keeps_arriving(
    database_url: str, tmp_path: Path
) -> None:
    limits = ConnectionLimits(body_timeout=0.6)
    async with (
        run_server(database_url, artifact_store=str(tmp_path), connection_limits=limits) as srv,
        rest_api(srv.url + V1_BASE) as v1,
        aiohttp.ClientSession() as http,
    ):
        steady = await _version_artifact(v1)

        async def trickle() -> AsyncIterator[bytes]:
            for _ in range(8):  # about 1.6 s in all, never 0.6 s without bytes
                yield b"t" * 100
                await asyncio.sleep(0.2)

        async with http.put(_content_url(srv, steady["id"]), data=trickle()) as resp:
            assert resp.status == 200, await resp.text()
        stalled = await _version_artifact(v1)

        async def stall() -> AsyncIterator[bytes]:
            yield b"s" * 100
            await asyncio.sleep(3)
            yield b"s"

        with pytest.raises(aiohttp.ClientError):
            async with http.put(_content_url(srv, stalled["id"]), data=stall()) as resp:
                assert resp.status == 408
                await resp.read()
                raise aiohttp.ClientError("answered 408")
        after = await v1.fetch(f"/artifacts/{stalled['id']}")
        assert SHA256_PROPERTY not in after["customProperties"]
