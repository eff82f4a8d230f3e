"""MlflowRegister and CustomLoader against our real registry server and a local MLflow."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import mlflow
import pandas as pd  # type: ignore[import-untyped]
import pytest
from mlflow.models import infer_signature
from mlflow_helpers import Doubler, LocalMlflow

from model_registry.client import ModelRegistry
from model_registry.integrations.mlflow import (
    CustomLoader,
    CustomSaver,
    InvalidModelUri,
    MlflowRegister,
    ModelNotFoundError,
    ModelVersionNotFoundError,
    UnsupportedModelFormat,
)
from model_registry.integrations.mlflow.loaders import model_info
from model_registry.server import RunningServer
from model_registry.types import ModelArtifact, ModelVersion, RegisteredModel

EXAMPLE = pd.DataFrame({"x": [1.0, 2.0]})


@pytest.fixture
def registry(registry_server: RunningServer) -> Iterator[ModelRegistry]:
    """A sync facade on the test server, used to check what was written."""
    with ModelRegistry(
        "http://127.0.0.1", registry_server.port, author="tester", is_secure=False
    ) as facade:
        yield facade


def _save(local: LocalMlflow, factor: float) -> str:
    config = local.config_file(f"config-{factor}.json", factor=factor)
    saver = CustomSaver(config_file=config, pip_requirements=["mlflow"])
    with mlflow.start_run():
        info = saver.save(Doubler(), infer_signature(EXAMPLE, [2.0, 4.0]), EXAMPLE)
    return info.model_uri


def _versions(registry: ModelRegistry, name: str) -> list[ModelVersion]:
    return list(registry.get_model_versions(name))


def test_register_numbers_versions_one_two_three_with_an_mlflow_artifact(
    local_mlflow: LocalMlflow, registry: ModelRegistry
) -> None:
    uri = _save(local_mlflow, 1)
    with MlflowRegister(tags={"team": "risk", "stage": 2}, client=registry) as register:
        first = register.register("risk", uri)
        second = register.register("risk", uri)
        third = register.register("risk", uri)

    assert [first.name, second.name, third.name] == ["1", "2", "3"]
    assert [v.name for v in _versions(registry, "risk")] == ["1", "2", "3"]
    assert third.custom_properties["team"] == "risk"
    assert third.custom_properties["stage"] == 2
    assert third.custom_properties["mlflow.model_uri"] == uri
    assert third.author == "tester"
    artifact = registry.get_model_artifact("risk", "3")
    assert isinstance(artifact, ModelArtifact)
    assert artifact.model_format_name == "mlflow"
    assert artifact.model_format_version == mlflow.__version__
    assert artifact.custom_properties["mlflow.model_uri"] == uri
    # The artifact points at the files, loadable without the MLflow tracking server.
    assert artifact.uri is not None
    assert artifact.uri.startswith("file:")
    assert "python_function" in model_info(artifact.uri).flavors
    # The facade handed in belongs to the caller: still usable after the register closed.
    assert registry.get_registered_model("risk") is not None


def test_register_numbers_after_the_highest_numeric_version(
    local_mlflow: LocalMlflow, registry: ModelRegistry, registry_server: RunningServer
) -> None:
    for name in ("7", "beta"):
        registry.register_model(
            "churn",
            "s3://bucket/churn",
            version=name,
            model_format_name="onnx",
            model_format_version="1",
        )
    uri = _save(local_mlflow, 1)

    with MlflowRegister(client=registry_server.url) as register:
        version = register.register("churn", uri)

    assert version.name == "8"
    assert sorted(v.name for v in _versions(registry, "churn")) == ["7", "8", "beta"]


def test_a_local_model_directory_is_registered_as_a_file_uri(
    local_mlflow: LocalMlflow, registry: ModelRegistry
) -> None:
    mlflow.artifacts.download_artifacts(
        _save(local_mlflow, 2), dst_path=str(local_mlflow.root / "exported")
    )

    with MlflowRegister(client=registry) as register:
        version = register.register("local", "exported")  # relative to the cwd (tmp_path)

    artifact = registry.get_model_artifact("local", version.name)
    assert artifact is not None
    assert artifact.uri == (local_mlflow.root / "exported").as_uri()
    with CustomLoader(client=registry) as loader:
        assert loader.load("models:/local/1").predict(EXAMPLE).prediction == [4.0, 8.0]


def test_concurrent_registers_take_distinct_numbers(
    local_mlflow: LocalMlflow, registry: ModelRegistry, registry_server: RunningServer
) -> None:
    uri = _save(local_mlflow, 1)

    def register_twice(_: int) -> list[str]:
        # Each worker has its own connection, as separate processes would.
        with MlflowRegister(client=registry_server.url) as register:
            return [register.register("busy", uri).name for _ in range(2)]

    with ThreadPoolExecutor(max_workers=3) as pool:
        names = [name for names in pool.map(register_twice, range(3)) for name in names]

    assert sorted(names, key=int) == ["1", "2", "3", "4", "5", "6"]
    assert sorted((v.name for v in _versions(registry, "busy")), key=int) == sorted(names, key=int)


def test_loader_resolves_numbered_and_latest_versions_through_the_registry(
    local_mlflow: LocalMlflow, registry: ModelRegistry
) -> None:
    with MlflowRegister(client=registry) as register:
        register.register("doubler", _save(local_mlflow, 1))
        register.register("doubler", _save(local_mlflow, 10))

    with CustomLoader(client=registry) as loader:
        latest = loader.load("models:/doubler/latest")
        first = loader.load("models:/doubler/1")

    assert latest.predict(EXAMPLE).prediction == [20.0, 40.0]
    assert latest.model_version is not None and latest.model_version.name == "2"
    assert first.predict(EXAMPLE).prediction == [2.0, 4.0]
    assert first.model_version is not None and first.model_version.name == "1"
    assert first.source_uri != first.uri


def test_loader_reads_the_registry_url_from_the_environment(
    local_mlflow: LocalMlflow,
    registry: ModelRegistry,
    registry_server: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODEL_REGISTRY_URL", registry_server.url)
    with MlflowRegister() as register:
        assert register.register("env-model", _save(local_mlflow, 3)).name == "1"
    with CustomLoader() as loader:
        assert loader.load("models:/env-model/latest").predict(EXAMPLE).prediction == [6.0, 12.0]


def test_register_refuses_a_missing_model_and_writes_nothing(
    local_mlflow: LocalMlflow, registry: ModelRegistry
) -> None:
    with MlflowRegister(client=registry) as register:
        with pytest.raises(ModelNotFoundError, match="m-doesnotexist"):
            register.register("ghost", "models:/m-doesnotexist")
        with pytest.raises(ModelNotFoundError, match="nowhere"):
            register.register("ghost", str(local_mlflow.root / "nowhere"))
        with pytest.raises(InvalidModelUri, match="runs:/"):
            register.register("ghost", "runs:/")
        with pytest.raises(ValueError, match="name"):
            register.register("  ", _save(local_mlflow, 1))

    assert registry.get_registered_model("ghost") is None


def test_loader_names_a_missing_model_or_version(
    local_mlflow: LocalMlflow, registry: ModelRegistry
) -> None:
    with MlflowRegister(client=registry) as register:
        register.register("known", _save(local_mlflow, 1))

    with CustomLoader(client=registry) as loader:
        with pytest.raises(ModelNotFoundError, match="no registered model named 'unknown'"):
            loader.load("models:/unknown/latest")
        with pytest.raises(ModelVersionNotFoundError, match="has no version '9'") as caught:
            loader.load("models:/known/9")
        assert (caught.value.name, caught.value.version) == ("known", "9")
        with pytest.raises(InvalidModelUri, match="alias"):
            loader.load("models:/known@prod/1")


def test_loader_refuses_a_version_stored_in_another_format(
    local_mlflow: LocalMlflow, registry: ModelRegistry
) -> None:
    registry.register_model(
        "onnx-model",
        "s3://bucket/m.onnx",
        version="1",
        model_format_name="onnx",
        model_format_version="1",
    )

    with (
        CustomLoader(client=registry) as loader,
        pytest.raises(UnsupportedModelFormat, match="onnx") as caught,
    ):
        loader.load("models:/onnx-model/1")
    assert caught.value.model_format == "onnx"


def test_latest_of_a_model_without_versions_is_a_missing_version(
    local_mlflow: LocalMlflow, registry: ModelRegistry
) -> None:
    registry.run(lambda api: api.upsert_registered_model(RegisteredModel("empty")))

    with (
        CustomLoader(client=registry) as loader,
        pytest.raises(ModelVersionNotFoundError, match="no live version"),
    ):
        loader.load("models:/empty/latest")
