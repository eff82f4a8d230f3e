"""`model-registry import mlflow` from an `mlflow server` over HTTP (started once per module)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from model_registry.client import ModelRegistry
from model_registry.integrations.cli import import_group
from model_registry.server import RunningServer

_STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, mlflow_db_template: Path
) -> Iterator[str]:
    """A real `mlflow server` on a free local port, over a SQLite store; yields its URL."""
    root = tmp_path_factory.mktemp("mlflow-server")
    shutil.copyfile(mlflow_db_template, root / "mlflow.db")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no background job workers
    }
    log = (root / "server.log").open("wb")
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"]
    command += ["--default-artifact-root", (root / "artifacts").as_uri()]
    command += ["--no-serve-artifacts", "--workers", "1"]
    server = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group, ended as one below
    )
    try:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (root / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not start on {url}:\n{tail}")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def test_import_from_an_mlflow_server_twice_copies_each_version_once(
    mlflow_server: str, registry_server: RunningServer
) -> None:
    client = MlflowClient(tracking_uri=mlflow_server)
    suffix = registry_server.port  # one MLflow server serves every parametrised run
    names = [f"remote-a-{suffix}", f"remote-b-{suffix}"]
    for name in names:
        client.create_registered_model(name, tags={"origin": "server"}, description=name)
        for number in (1, 2):
            client.create_model_version(name, f"s3://bucket/{name}/{number}", tags={"n": "x"})
    args = ["mlflow", "--tracking-uri", mlflow_server, *(f"--model={n}" for n in names)]
    runner = CliRunner()
    env = {"MODEL_REGISTRY_URL": registry_server.url}

    first = runner.invoke(import_group, args, env=env)
    second = runner.invoke(import_group, args, env=env)

    assert first.exit_code == 0, first.output
    assert "models: 2 created" in first.output and "versions: 4 created" in first.output
    assert second.exit_code == 0, second.output
    assert "versions: 0 created, 4 already there" in second.output
    with ModelRegistry(
        "http://127.0.0.1", registry_server.port, author="tester", is_secure=False
    ) as registry:
        versions = list(registry.get_model_versions(names[1]))
        assert [v.name for v in versions] == ["1", "2"]
        artifact = registry.get_model_artifact(names[1], "2")
        assert artifact is not None
        assert artifact.uri == f"s3://bucket/{names[1]}/2"
        model = registry.get_registered_model(names[0])
        assert model is not None and model.custom_properties["origin"] == "server"
