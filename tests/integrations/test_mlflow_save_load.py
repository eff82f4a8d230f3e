"""CustomSaver / CustomLoader with a real MLflow on a local SQLite tracking store."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import mlflow
import pandas as pd  # type: ignore[import-untyped]
import pytest
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from mlflow_helpers import Doubler, LocalMlflow, NoPredict

from model_registry.integrations.mlflow import (
    CustomLoader,
    CustomSaver,
    InvalidModelUri,
    Loader,
    ModelLoadError,
    ModelNotFoundError,
    ModelSaveError,
    PyfuncAdapter,
    Register,
    Saver,
    UnsupportedModelError,
    UnsupportedModelFormat,
    read_config_file,
)
from model_registry.integrations.mlflow.adapter import CONFIG_FILE_KEY

EXAMPLE = pd.DataFrame({"x": [1.0, 2.0, 3.0]})


def _save(local: LocalMlflow, **config: object) -> ModelInfo:
    path = local.config_file("config.json", **config)
    signature = infer_signature(EXAMPLE, [2.0, 4.0, 6.0])
    saver = CustomSaver(path="model", config_file=path, pip_requirements=["mlflow"])
    with mlflow.start_run():
        return saver.save(Doubler(), signature, EXAMPLE)


@pytest.mark.parametrize("base", [Saver, Loader, Register, Loader.Adapter])
def test_abstract_bases_refuse_instantiation(base: type) -> None:
    with pytest.raises(TypeError, match="abstract"):
        base()


def test_custom_saver_keeps_signature_and_input_example(local_mlflow: LocalMlflow) -> None:
    info = _save(local_mlflow)

    assert isinstance(info, ModelInfo)
    assert info.model_uri.startswith("models:/")
    assert "python_function" in info.flavors
    assert info.signature is not None
    assert info.signature.inputs.input_names() == ["x"]
    assert info.saved_input_example_info is not None
    stored = mlflow.models.get_model_info(info.model_uri)
    assert stored.signature == info.signature
    example = mlflow.models.Model.load(info.model_uri).load_input_example(
        mlflow.artifacts.download_artifacts(info.model_uri)
    )
    pd.testing.assert_frame_equal(example, EXAMPLE)


def test_round_trip_predicts_with_the_configuration_read_at_load(
    local_mlflow: LocalMlflow,
) -> None:
    info = _save(local_mlflow, factor=10)

    adapter = CustomLoader().load(info.model_uri)

    assert isinstance(adapter, CustomLoader.Adapter)
    assert adapter.predict(EXAMPLE).prediction == [20.0, 40.0, 60.0]
    assert adapter.uri == info.model_uri
    assert adapter.model_version is None
    assert adapter.metadata.signature == info.signature


def test_loader_config_file_overrides_the_saved_one(
    local_mlflow: LocalMlflow, tmp_path: Path
) -> None:
    info = _save(local_mlflow, factor=10)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"factor": 0.5}), encoding="utf-8")

    adapter = CustomLoader(config_file=other).load(info.model_uri)

    assert adapter.predict(EXAMPLE).prediction == [1.0, 2.0, 3.0]


def test_loading_fails_with_file_not_found_when_the_config_file_is_gone(
    local_mlflow: LocalMlflow,
) -> None:
    info = _save(local_mlflow, factor=2)
    (local_mlflow.root / "config.json").unlink()

    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        CustomLoader().load(info.model_uri)


def test_loading_fails_with_value_error_when_no_config_is_configured(
    local_mlflow: LocalMlflow,
) -> None:
    # A model logged with the adapter but without a configuration file (not through CustomSaver).
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="bare", python_model=PyfuncAdapter(Doubler()), pip_requirements=["mlflow"]
        )

    with pytest.raises(ValueError, match="no model configuration"):
        CustomLoader().load(info.model_uri)


def test_save_refuses_a_missing_config_up_front(local_mlflow: LocalMlflow) -> None:
    saver = CustomSaver(config_file=None)
    with pytest.raises(ValueError, match="no model configuration"):
        saver.save(Doubler(), None, EXAMPLE)
    saver = CustomSaver(config_file=local_mlflow.root / "missing.json")
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        saver.save(Doubler(), None, EXAMPLE)


def test_save_refuses_an_object_without_predict(local_mlflow: LocalMlflow) -> None:
    saver = CustomSaver(config_file=local_mlflow.config_file())
    with pytest.raises(UnsupportedModelError, match="NoPredict"):
        saver.save(NoPredict(), None, EXAMPLE)
    with pytest.raises(ModelSaveError, match="ModelSignature"):
        saver.save(Doubler(), {"inputs": "x"}, EXAMPLE)  # type: ignore[arg-type]


def test_loader_reports_model_code_it_cannot_import(
    local_mlflow: LocalMlflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = local_mlflow.root / "code"
    code.mkdir()
    (code / "vanishing_model.py").write_text(
        "class Model:\n    def predict(self, inputs):\n        return inputs\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(code))
    module = importlib.import_module("vanishing_model")
    saver = CustomSaver(config_file=local_mlflow.config_file(), pip_requirements=["mlflow"])
    with mlflow.start_run():
        info = saver.save(module.Model(), None)
    # The model's module is gone where it is loaded.
    monkeypatch.delitem(sys.modules, "vanishing_model")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(code)])

    with pytest.raises(ModelLoadError, match="vanishing_model"):
        CustomLoader().load(info.model_uri)


class _Context:
    def __init__(self, model_config: dict[str, str]) -> None:
        self.artifacts: dict[str, str] = {}
        self.model_config = model_config


def test_adapter_load_context_errors_follow_the_seed(tmp_path: Path) -> None:
    adapter = PyfuncAdapter(Doubler())
    with pytest.raises(ValueError, match="no model configuration"):
        adapter.load_context(_Context({}))  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        adapter.load_context(_Context({CONFIG_FILE_KEY: str(tmp_path / "nope.json")}))  # type: ignore[arg-type]
    path = tmp_path / "config.json"
    path.write_text('{"factor": 3}', encoding="utf-8")
    adapter.load_context(_Context({CONFIG_FILE_KEY: str(path)}))  # type: ignore[arg-type]
    assert adapter.config == {"factor": 3}
    assert adapter.predict(None, pd.DataFrame({"x": [1.0]})).prediction == [6.0]


@pytest.mark.parametrize(("content", "message"), [("[1, 2]", "JSON object"), ("{", "not valid")])
def test_config_file_must_hold_a_json_object(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_config_file(path)


@pytest.mark.parametrize("uri", ["", "   ", "models:", "models:/", "models:/a/b/c", "runs:/abc"])
def test_loader_refuses_malformed_uris(uri: str) -> None:
    with pytest.raises(InvalidModelUri, match="invalid model URI"):
        CustomLoader().load(uri)


def test_loader_names_the_uri_when_no_model_is_there(local_mlflow: LocalMlflow) -> None:
    missing = local_mlflow.root / "no-model-here"
    with pytest.raises(ModelNotFoundError, match="no-model-here"):
        CustomLoader().load(str(missing))
    with pytest.raises(ModelNotFoundError, match="m-doesnotexist"):
        CustomLoader().load("models:/m-doesnotexist")


def test_loader_refuses_a_model_without_the_pyfunc_flavor(local_mlflow: LocalMlflow) -> None:
    model_dir = local_mlflow.root / "foreign-model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("flavors:\n  onnx:\n    onnx_version: '1.16'\n")

    with pytest.raises(UnsupportedModelFormat, match="onnx") as caught:
        CustomLoader().load(str(model_dir))
    assert caught.value.model_format == "onnx"
