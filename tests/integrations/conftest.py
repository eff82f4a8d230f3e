"""Fixtures for the MLflow integration: a local MLflow (SQLite tracking store) per test and a
registry server on its own thread for the blocking sync classes.

MLflow is quiet and offline here: telemetry and progress bars are off before it is imported, the
tracking store and the artifacts live in the test's ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

import mlflow
import pytest
from chat_server import ChatServer
from mlflow.tracking import MlflowClient
from mlflow_helpers import LocalMlflow

from model_registry.server import RunningServer, ServerThread

# MLflow's own deprecation noise (its SQLAlchemy mappers, its pandas calls), not ours.
_MLFLOW_WARNINGS = (
    "ignore:The ``noload`` loader strategy is deprecated",
    "ignore:Operation with range is deprecated",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            for spec in _MLFLOW_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite tracking database, made once: MLflow's schema migrations take
    seconds, a file copy per test takes none."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def local_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_db_template: Path
) -> Iterator[LocalMlflow]:
    """MLflow tracking into ``tmp_path`` (``MLFLOW_TRACKING_URI`` set for the test)."""
    shutil.copyfile(mlflow_db_template, tmp_path / "mlflow.db")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.chdir(tmp_path)  # anything MLflow writes relative to the cwd stays here
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = mlflow.create_experiment(
        "tests", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    try:
        yield LocalMlflow(tmp_path, tracking_uri, experiment_id)
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()


@pytest.fixture
def registry_server(database_url: str) -> Iterator[RunningServer]:
    """Our registry server (REST, port 0) on its own thread, over a clean database."""
    with ServerThread(database_url) as srv:
        yield srv


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """An OpenAI-compatible chat completion server on 127.0.0.1 (port 0), its own thread."""
    with ChatServer() as server:
        yield server
