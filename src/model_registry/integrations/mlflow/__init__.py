"""MLflow interop: save, load and register MLflow models through the registry.

Needs the ``mlflow`` extra: ``pip install 'aio-model-registry[mlflow]'``.

* :class:`CustomSaver` saves any object with ``predict(inputs)`` as an MLflow pyfunc model,
  keeping its signature and input example; its configuration is a JSON file read when the model
  loads. With ``model``, ``api_key``, ``base_url``, ``temperature`` and ``max_tokens`` in it,
  the adapter sets up an :class:`OpenAIChatCompletionClient`, the last fallback of ``predict``.
* :class:`CustomLoader` loads it back (by any MLflow URI, or ``models:/NAME/VERSION`` and
  ``models:/NAME/latest`` resolved through our registry) as an adapter with ``predict(inputs)``.
* :class:`MlflowRegister` registers a saved model as the next numbered version in our registry.
* ``model-registry import mlflow --tracking-uri URI`` copies an MLflow registry into ours
  (:mod:`model_registry.integrations.mlflow.importer`).

Example::

    from mlflow.models import infer_signature
    from model_registry.integrations.mlflow import CustomLoader, CustomSaver, MlflowRegister

    with mlflow.start_run():
        info = CustomSaver(config_file="config.json").save(
            model, infer_signature(example, model.predict(example)), example
        )
    with MlflowRegister(tags={"team": "risk"}, client="http://127.0.0.1:8080") as register:
        version = register.register("risk-scorer", info.model_uri)  # version.name == "1"
    with CustomLoader(client="http://127.0.0.1:8080") as loader:
        outputs = loader.load("models:/risk-scorer/latest").predict(example)
    outputs.prediction, outputs.metadata.source  # the prediction, "model"/"fallback"/"llm"
"""

from __future__ import annotations

try:
    import mlflow  # noqa: F401  (checks the extra is installed)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without mlflow
    raise ImportError(
        "model_registry.integrations.mlflow needs MLflow, which is not installed: "
        "pip install 'aio-model-registry[mlflow]'"
    ) from exc

from model_registry.integrations.mlflow.adapter import PyfuncAdapter, read_config_file
from model_registry.integrations.mlflow.chat_client import (
    ChatClientConfig,
    OpenAIChatCompletionClient,
)
from model_registry.integrations.mlflow.errors import (
    ChatClientConfigError,
    ChatCompletionError,
    InvalidModelUri,
    MlflowIntegrationError,
    ModelLoadError,
    ModelNotFoundError,
    ModelSaveError,
    ModelVersionNotFoundError,
    PredictionError,
    UnsupportedModelError,
    UnsupportedModelFormat,
)
from model_registry.integrations.mlflow.loaders import CustomLoader, Loader
from model_registry.integrations.mlflow.registers import MlflowRegister, Register
from model_registry.integrations.mlflow.savers import CustomSaver, Saver
from model_registry.integrations.mlflow.schemas import Inputs, OutputMetadata, Outputs

__all__ = [
    "ChatClientConfig",
    "ChatClientConfigError",
    "ChatCompletionError",
    "CustomLoader",
    "CustomSaver",
    "Inputs",
    "InvalidModelUri",
    "Loader",
    "MlflowIntegrationError",
    "MlflowRegister",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelSaveError",
    "ModelVersionNotFoundError",
    "OpenAIChatCompletionClient",
    "OutputMetadata",
    "Outputs",
    "PredictionError",
    "PyfuncAdapter",
    "Register",
    "Saver",
    "UnsupportedModelError",
    "UnsupportedModelFormat",
    "read_config_file",
]
