"""Upload a model's files with its registration and download them back, over each transport,
to the registry's store (a folder, or S3 on a real S3-wire server) or the user's own bucket."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conformance.s3 import S3Server

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import BadRequest, Conflict, InvalidResponse, NotFound, Unsupported
from model_registry.server import RunningServer, run_server
from model_registry.types import RegisteredModel
from model_registry.utils import OCIParams, S3Params
from model_registry.workflows import artifacts as wf
from model_registry.workflows.registration import register_model

FORMAT = {"model_format_name": "onnx", "model_format_version": "1", "author": "me"}


@pytest.fixture(params=["rest", "grpc"])
def wire(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
async def srv(database_url: str, store_root: Path) -> AsyncIterator[RunningServer]:
    async with run_server(database_url, grpc_port=0, artifact_store=str(store_root)) as running:
        yield running


@pytest.fixture
async def api(srv: RunningServer, wire: str) -> AsyncIterator[ModelRegistryAPIClient]:
    port = srv.grpc_port if wire == "grpc" else srv.port
    assert port is not None
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        port,
        transport=wire,  # type: ignore[arg-type]
    ) as client:
        yield client


def _stored(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _partial_downloads(folder: Path) -> list[Path]:
    return list(folder.glob(".mr-download-*"))


async def test_a_file_goes_up_with_its_registration_and_comes_back_byte_identical(
    api: ModelRegistryAPIClient, tmp_path: Path
) -> None:
    model_file = tmp_path / "model.onnx"
    data = os.urandom(2_500_000)
    model_file.write_bytes(data)
    sent: list[tuple[int, int | None]] = []

    parts = await wf.upload_artifact_and_register_model(
        api, "hal", model_file, version="1", progress=lambda d, t: sent.append((d, t)), **FORMAT
    )

    assert isinstance(parts.model, RegisteredModel)
    assert parts.model.name == "hal"
    artifact = parts.artifact
    assert artifact.uri == f"model-registry://artifacts/{artifact.id}"
    assert artifact.custom_properties["registry.sha256"] == hashlib.sha256(data).hexdigest()
    assert artifact.custom_properties["registry.size"] == str(len(data))
    assert artifact.custom_properties[wf.LAYOUT_PROPERTY] == "file"
    assert artifact.model_format_name == "onnx"
    assert sent[-1] == (len(data), len(data))
    assert [d for d, _ in sent] == sorted(d for d, _ in sent)

    received: list[int] = []
    out = tmp_path / "out"
    out.mkdir()
    written = await wf.download_model_artifact(
        api, "hal", "1", out, progress=lambda d, t: received.append(d)
    )
    assert written == out / "model.onnx"
    assert written.read_bytes() == data
    assert received[-1] == len(data)
    assert [p.name for p in out.iterdir()] == ["model.onnx"]  # no temporary file left


async def test_a_directory_goes_up_as_its_tree_and_is_unpacked_with_its_relative_paths(
    api: ModelRegistryAPIClient, tmp_path: Path, store_root: Path
) -> None:
    source = tmp_path / "bert"
    (source / "tokenizer").mkdir(parents=True)
    (source / "config.json").write_text('{"layers": 12}')
    (source / "weights.bin").write_bytes(os.urandom(100_000))
    (source / "tokenizer" / "vocab.txt").write_text("a\nb\n")

    await wf.upload_artifact_and_register_model(api, "bert", source, version="v1", **FORMAT)
    dest = tmp_path / "restored"
    assert await wf.download_model_artifact(api, "bert", "v1", dest) == dest
    assert _tree(dest) == _tree(source)

    # The same tree again (another version): the same archive, stored once.
    await wf.upload_artifact_and_register_model(api, "bert", source, version="v2", **FORMAT)
    assert len([p for p in _stored(store_root) if "sha256" in p.parts]) == 1


async def test_a_taken_version_is_refused_before_a_byte_moves(
    api: ModelRegistryAPIClient, tmp_path: Path, store_root: Path, s3_server: S3Server
) -> None:
    await register_model(api, "taken", "s3://b/k", version="1", author="me")
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"weights")
    with pytest.raises(Conflict):
        await wf.upload_artifact_and_register_model(api, "taken", model_file, version="1", **FORMAT)
    assert _stored(store_root) == []
    bucket = s3_server.new_bucket()
    params = S3Params(bucket, "models/taken", endpoint_url=s3_server.endpoint_url)
    with pytest.raises(Conflict):
        await wf.upload_artifact_and_register_model(
            api, "taken", model_file, version="1", upload_params=params, **FORMAT
        )
    assert s3_server.keys(bucket) == []


async def test_oci_uploads_are_unsupported_and_a_missing_path_is_refused(
    api: ModelRegistryAPIClient, tmp_path: Path
) -> None:
    with pytest.raises(Unsupported, match="OCI"):
        await wf.upload_artifact_and_register_model(
            api, "m", tmp_path, version="1", upload_params=OCIParams("base", "ref"), **FORMAT
        )
    with pytest.raises(FileNotFoundError):
        await wf.upload_artifact_and_register_model(
            api, "m", tmp_path / "nope", version="1", **FORMAT
        )
    assert await api.get_registered_model_by_params(name="m") is None


async def test_s3_params_upload_straight_to_the_users_bucket_and_register_its_uri(
    api: ModelRegistryAPIClient, tmp_path: Path, s3_server: S3Server
) -> None:
    bucket = s3_server.new_bucket()
    source = tmp_path / "llm"
    (source / "shards").mkdir(parents=True)
    (source / "shards" / "0.bin").write_bytes(os.urandom(50_000))
    (source / "config.json").write_text("{}")
    params = S3Params(
        bucket,
        "models/llm",
        endpoint_url=s3_server.endpoint_url,
        access_key_id="testing",
        secret_access_key="testing",
        region="us-east-1",
    )
    parts = await wf.upload_artifact_and_register_model(
        api, "llm", source, version="1", upload_params=params, **FORMAT
    )
    assert s3_server.keys(bucket) == ["models/llm/config.json", "models/llm/shards/0.bin"]
    assert parts.artifact.uri is not None
    assert parts.artifact.uri.startswith(f"s3://{bucket}/models/llm?endpoint=")
    dest = tmp_path / "back"
    assert await wf.download_model_artifact(api, "llm", "1", dest, s3_params=params) == dest
    assert _tree(dest) == _tree(source)


async def test_downloads_are_checked_against_the_recorded_digest(
    api: ModelRegistryAPIClient, tmp_path: Path, store_root: Path
) -> None:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"the real weights")
    parts = await wf.upload_artifact_and_register_model(api, "m", model_file, version="1", **FORMAT)
    # Corrupt the stored bytes behind the registry's back: the download must refuse them.
    (stored,) = [p for p in _stored(store_root) if "sha256" in p.parts]
    stored.write_bytes(b"tampered weights")
    dest = tmp_path / "got.bin"
    with pytest.raises(InvalidResponse, match="sha256"):
        await wf.download_model_artifact(api, "m", "1", dest)
    assert not dest.exists()
    assert _partial_downloads(tmp_path) == []
    assert parts.artifact.id is not None


async def test_a_registered_uri_is_not_downloaded_and_missing_versions_are_not_found(
    api: ModelRegistryAPIClient, tmp_path: Path
) -> None:
    await register_model(api, "ext", "file:///etc/passwd", version="1", author="me")
    with pytest.raises(Unsupported, match="not in the registry or S3"):
        await wf.download_model_artifact(api, "ext", "1", tmp_path / "x")
    with pytest.raises(NotFound):
        await wf.download_model_artifact(api, "ext", "2", tmp_path / "x")
    with pytest.raises(NotFound):
        await wf.download_model_artifact(api, "nothing", "1", tmp_path / "x")


async def test_an_archive_cannot_write_outside_its_destination(
    api: ModelRegistryAPIClient, tmp_path: Path
) -> None:
    import io
    import tarfile

    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"pwn"))
    parts = await register_model(
        api,
        "evil",
        wf.PENDING_URI,
        version="1",
        author="me",
        artifact_properties={wf.LAYOUT_PROPERTY: "tar", wf.FILENAME_PROPERTY: "../../x"},
    )
    assert parts.artifact.id is not None
    await api.upload_artifact_content(parts.artifact.id, evil)
    dest = tmp_path / "dest"
    with pytest.raises(tarfile.OutsideDestinationError):
        await wf.download_model_artifact(api, "evil", "1", dest)
    assert not (tmp_path / "escaped.txt").exists()


async def test_content_is_uploaded_for_dataset_artifacts_too(
    api: ModelRegistryAPIClient, tmp_path: Path
) -> None:
    from model_registry.types import DataSet

    dataset = await api.upsert_artifact(DataSet("train", uri=wf.PENDING_URI))
    assert dataset.id is not None
    data_file = tmp_path / "train.csv"
    data_file.write_text("a,b\n1,2\n")
    stored = await api.upload_artifact_content(dataset.id, data_file)
    assert stored.uri == f"model-registry://artifacts/{dataset.id}"
    out = await api.download_artifact_content(dataset.id, tmp_path / "copy.csv")
    assert out.read_text() == "a,b\n1,2\n"
    assert isinstance(stored, DataSet)


async def test_a_file_over_the_servers_limit_is_refused_with_413_and_nothing_kept(
    database_url: str, tmp_path: Path
) -> None:
    # REST only: over gRPC the server's refusal can reach a client still sending as INTERNAL
    # (grpcio), see docs/server.md; the RPC's own refusal is tested in test_artifact_content.
    wire = "rest"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    root = tmp_path / "store"
    async with run_server(
        database_url, grpc_port=0, artifact_store=str(root), max_artifact_bytes=1024 * 1024
    ) as limited:
        port = limited.grpc_port if wire == "grpc" else limited.port
        assert port is not None
        async with ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            port,
            transport=wire,  # type: ignore[arg-type]
        ) as client:
            parts = await register_model(client, "m", wf.PENDING_URI, version="1", author="me")
            assert parts.artifact.id is not None
            with pytest.raises(BadRequest) as caught:
                await client.upload_artifact_content(parts.artifact.id, big)
            assert (
                caught.value.code == "Request Entity Too Large"
            )  # REST 413, gRPC RESOURCE_EXHAUSTED
            assert "larger than 1048576 bytes" in str(caught.value)
    assert _stored(root) == []
