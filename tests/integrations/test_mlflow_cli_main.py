"""`model-registry import mlflow` through the `model-registry` command itself."""

from __future__ import annotations

import mlflow
import pandas as pd  # type: ignore[import-untyped]
import pytest
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow_helpers import Doubler, LocalMlflow

from model_registry.cli import main
from model_registry.integrations.mlflow import CustomSaver
from model_registry.server import RunningServer

EXAMPLE = pd.DataFrame({"x": [1.0, 2.0]})


def test_model_registry_import_mlflow_uses_the_top_level_url(
    local_mlflow: LocalMlflow,
    registry_server: RunningServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODEL_REGISTRY_URL", raising=False)
    saver = CustomSaver(config_file=local_mlflow.config_file(), pip_requirements=["mlflow"])
    with mlflow.start_run():
        info = saver.save(Doubler(), infer_signature(EXAMPLE, [2.0, 4.0]), EXAMPLE)
    client = MlflowClient(tracking_uri=local_mlflow.tracking_uri)
    client.create_registered_model("gamma")
    client.create_model_version("gamma", info.model_uri)
    args = ["--url", registry_server.url, "import", "mlflow", "--tracking-uri"]

    assert main([*args, local_mlflow.tracking_uri]) == 0
    assert "models: 1 created" in capsys.readouterr().out
    assert main([*args, local_mlflow.tracking_uri]) == 0
    assert "versions: 0 created, 1 already there" in capsys.readouterr().out
    assert main(["--url", registry_server.url, "versions", "list", "gamma", "--json"]) == 0
    assert '"external_id": "mlflow:gamma:1"' in capsys.readouterr().out
