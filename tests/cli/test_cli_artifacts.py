"""``model-registry push`` / ``pull`` and the sync facade's artifact methods."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conformance.s3 import S3Server

from model_registry.cli import cli
from model_registry.client import ModelRegistry
from model_registry.exceptions import Conflict
from model_registry.server import RunningServer, ServerThread
from model_registry.types import RegisteredModel


@pytest.fixture
def srv(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    with ServerThread(database_url, artifact_store=str(tmp_path / "store")) as running:
        yield running


def run(server: RunningServer, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--url", server.url, *args])


def test_push_uploads_a_tree_and_pull_brings_it_back(srv: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "weights.bin").write_bytes(os.urandom(10_000))
    (source / "sub" / "config.json").write_text("{}")
    pushed = run(
        srv, "push", "hal", str(source), "--version", "1", "--format-name", "onnx",
        "--format-version", "1", "--json",
    )  # fmt: skip
    assert pushed.exit_code == 0, pushed.output
    answer = json.loads(pushed.stdout)
    assert answer["uri"] == f"model-registry://artifacts/{answer['model_artifact_id']}"
    assert len(answer["sha256"]) == 64

    dest = tmp_path / "pulled"
    pulled = run(srv, "pull", "hal", "1", str(dest))
    assert pulled.exit_code == 0, pulled.output
    assert pulled.stdout.strip() == str(dest)
    assert (dest / "weights.bin").read_bytes() == (source / "weights.bin").read_bytes()
    assert (dest / "sub" / "config.json").read_text() == "{}"

    again = run(
        srv, "push", "hal", str(source), "--version", "1", "--format-name", "onnx",
        "--format-version", "1",
    )  # fmt: skip
    assert again.exit_code != 0
    assert "already exists" in again.output
    missing = run(srv, "pull", "hal", "2", str(dest))
    assert missing.exit_code != 0
    assert "no version '2'" in missing.output


def test_push_needs_the_bucket_for_s3_options(srv: RunningServer, tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"x")
    result = run(
        srv, "push", "m", str(tmp_path / "m.bin"), "--version", "1", "--format-name", "onnx",
        "--format-version", "1", "--s3-prefix", "p",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "need --s3-bucket" in result.output


def test_the_facade_uploads_registers_and_downloads(
    srv: RunningServer, tmp_path: Path, s3_server: S3Server
) -> None:
    from model_registry.utils import S3Params

    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(b"onnx bytes")
    with ModelRegistry("http://127.0.0.1", srv.port, author="me", is_secure=False) as registry:
        model = registry.upload_artifact_and_register_model(
            "hal", str(model_file), version="1", model_format_name="onnx", model_format_version="1"
        )
        assert isinstance(model, RegisteredModel)
        assert model.name == "hal"
        written = registry.download_model_artifact("hal", "1", tmp_path / "copy.onnx")
        assert written.read_bytes() == b"onnx bytes"
        with pytest.raises(Conflict):
            registry.upload_artifact_and_register_model(
                "hal", str(model_file), version="1", model_format_name="onnx",
                model_format_version="1",
            )  # fmt: skip

        bucket = s3_server.new_bucket()
        params = S3Params(bucket, "hal", endpoint_url=s3_server.endpoint_url)
        registry.upload_artifact_and_register_model(
            "hal", str(model_file), upload_params=params, version="2",
            model_format_name="onnx", model_format_version="1",
        )  # fmt: skip
        assert s3_server.keys(bucket) == ["hal/model.onnx"]
        artifact = registry.get_model_artifact("hal", "2")
        assert artifact is not None
        assert artifact.uri is not None
        assert artifact.uri.startswith(f"s3://{bucket}/hal/model.onnx?endpoint=")
