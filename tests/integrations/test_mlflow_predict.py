"""CustomSaver.Adapter: the chat client set up from the configuration, and predict's Outputs
with its fallbacks (the model, the model's fallback_predict, the chat client)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import mlflow
import mlflow.models
import pandas as pd  # type: ignore[import-untyped]
import pytest
from chat_server import API_KEY, REPLY, ChatServer
from mlflow_helpers import AllDown, Doubler, Down, DownWithFallback, LocalMlflow

from model_registry.integrations.mlflow import (
    ChatClientConfigError,
    CustomLoader,
    CustomSaver,
    Inputs,
    OpenAIChatCompletionClient,
    Outputs,
    PredictionError,
)
from model_registry.integrations.mlflow.adapter import CONFIG_FILE_KEY
from model_registry.integrations.mlflow.chat_client import CHAT_CONFIG_FIELDS

EXAMPLE = pd.DataFrame({"x": [1.0, 2.0]})


def _write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


class _Context:
    def __init__(self, config_file: Path) -> None:
        self.artifacts: dict[str, str] = {}
        self.model_config = {CONFIG_FILE_KEY: str(config_file)}


def test_adapter_init_sets_up_the_chat_client_from_a_config_file(
    tmp_path: Path, chat_server: ChatServer
) -> None:
    path = _write(tmp_path / "llm.json", chat_server.config(factor=3))

    model = Doubler()
    adapter = CustomSaver.Adapter.from_config_file(model, path)

    assert isinstance(adapter.client, OpenAIChatCompletionClient)
    settings = adapter.client.config
    assert (settings.model, settings.api_key, settings.base_url) == (
        "gpt-test",
        API_KEY,
        chat_server.base_url,
    )
    assert (settings.temperature, settings.max_tokens) == (0.2, 64)
    assert model.factor == 3.0  # the model's configure() got the same file


@pytest.mark.parametrize("field", CHAT_CONFIG_FIELDS)
def test_adapter_init_and_load_context_name_a_missing_chat_field(
    tmp_path: Path, chat_server: ChatServer, field: str
) -> None:
    config = {k: v for k, v in chat_server.config().items() if k != field}
    path = _write(tmp_path / "llm.json", config)

    with pytest.raises(ValueError, match=f"'{field}': is missing"):
        CustomSaver.Adapter.from_config_file(Doubler(), path)
    with pytest.raises(ChatClientConfigError, match=f"'{field}'"):
        CustomSaver.Adapter(Doubler(), config)
    adapter = CustomSaver.Adapter(Doubler())
    with pytest.raises(ChatClientConfigError, match=f"'{field}'"):
        adapter.load_context(_Context(path))  # type: ignore[arg-type]
    assert adapter.client is None


def test_a_config_without_chat_fields_sets_up_no_client(tmp_path: Path) -> None:
    adapter = CustomSaver.Adapter.from_config_file(
        Doubler(), _write(tmp_path / "c.json", {"factor": 2})
    )
    assert adapter.client is None


def test_predict_returns_outputs_from_the_model() -> None:
    outputs = CustomSaver.Adapter(Doubler()).predict(None, EXAMPLE)

    assert isinstance(outputs, Outputs)
    assert outputs.prediction == [2.0, 4.0]
    assert outputs.metadata.source == "model"
    assert outputs.metadata.model == "Doubler"
    assert outputs.metadata.errors == ()
    assert outputs.metadata.latency_ms >= 0
    assert outputs.to_dict()["metadata"]["source"] == "model"
    # Inputs are accepted as well as what MLflow passes.
    assert CustomSaver.Adapter(Doubler()).predict(None, Inputs(EXAMPLE)).prediction == [2.0, 4.0]


def test_predict_falls_back_to_the_models_fallback_method() -> None:
    outputs = CustomSaver.Adapter(DownWithFallback()).predict(None, EXAMPLE)

    assert outputs.prediction == [-1.0, -1.0]
    assert outputs.metadata.source == "fallback"
    assert outputs.metadata.errors == ("DownWithFallback.predict: RuntimeError: model is down",)


def test_predict_falls_back_to_the_chat_client_with_the_inputs_as_json(
    chat_server: ChatServer,
) -> None:
    adapter = CustomSaver.Adapter(Down(), chat_server.config(system_prompt="Be a model."))

    outputs = adapter.predict(None, EXAMPLE)

    assert outputs.prediction == REPLY
    assert outputs.metadata.source == "llm"
    assert outputs.metadata.model == "gpt-test"
    assert outputs.metadata.errors == ("Down.predict: RuntimeError: model is down",)
    [request] = chat_server.requests
    assert request["messages"] == [
        {"role": "system", "content": "Be a model."},
        {"role": "user", "content": '[{"x": 1.0}, {"x": 2.0}]'},
    ]


def test_predict_raises_a_prediction_error_naming_every_failure(
    chat_server: ChatServer,
) -> None:
    adapter = CustomSaver.Adapter(AllDown(), chat_server.config(model="broken"))

    with pytest.raises(PredictionError) as caught:
        adapter.predict(None, EXAMPLE)

    assert [what for what, _ in caught.value.failures] == [
        "AllDown.predict",
        "AllDown.fallback_predict",
        "chat completion (broken)",
    ]
    message = str(caught.value)
    assert "model is down" in message
    assert "fallback is down too" in message
    assert "500" in message
    assert API_KEY not in message


def test_predict_without_any_fallback_raises_a_prediction_error() -> None:
    with pytest.raises(PredictionError, match=r"Down\.predict: RuntimeError: model is down"):
        CustomSaver.Adapter(Down()).predict(None, EXAMPLE)


def test_the_pickled_adapter_carries_neither_config_nor_api_key(
    chat_server: ChatServer,
) -> None:
    adapter = CustomSaver.Adapter(Doubler(), chat_server.config())

    restored = pickle.loads(pickle.dumps(adapter))

    assert API_KEY.encode() not in pickle.dumps(adapter)
    assert restored.client is None
    assert restored.config == {}


def test_saved_model_loads_with_its_chat_client_and_falls_back_to_it(
    local_mlflow: LocalMlflow, chat_server: ChatServer
) -> None:
    path = local_mlflow.config_file("llm.json", **chat_server.config())
    saver = CustomSaver(config_file=path, pip_requirements=["mlflow"])
    with mlflow.start_run():
        info = saver.save(Down(), None)

    outputs = CustomLoader().load(info.model_uri).predict(EXAMPLE)

    assert outputs.prediction == REPLY
    assert outputs.metadata.source == "llm"
    artifacts = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    for file in artifacts.rglob("*"):
        if file.is_file():
            assert API_KEY.encode() not in file.read_bytes(), file


def test_loader_adapter_wraps_a_failure_in_a_prediction_error(
    local_mlflow: LocalMlflow,
) -> None:
    saver = CustomSaver(config_file=local_mlflow.config_file(), pip_requirements=["mlflow"])
    with mlflow.start_run():
        info = saver.save(Down(), None)

    with pytest.raises(PredictionError, match="model is down"):
        CustomLoader().load(info.model_uri).predict(EXAMPLE)


def test_save_infers_the_output_schema_from_the_models_own_prediction(
    local_mlflow: LocalMlflow,
) -> None:
    saver = CustomSaver(config_file=local_mlflow.config_file(), pip_requirements=["mlflow"])
    with mlflow.start_run():
        info = saver.save(Doubler(), None, EXAMPLE)

    assert info.signature is not None
    assert info.signature.inputs.input_names() == ["x"]
    assert info.signature.outputs.to_dict() == [{"type": "double", "required": True}]
