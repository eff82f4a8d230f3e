"""MLflow interop: save, load and register MLflow models through the registry.

Needs the ``mlflow`` extra: ``pip install 'model-registry[mlflow]'``.

* :class:`CustomSaver` saves any object with ``predict(inputs)`` as an MLflow pyfunc model,
  keeping its signature and input example; its configuration is a JSON file read when the model
  loads.
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
"""

from __future__ import annotations

try:
    import mlflow  # noqa: F401  (checks the extra is installed)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without mlflow
    raise ImportError(
        "model_registry.integrations.mlflow needs MLflow, which is not installed: "
        "pip install 'model-registry[mlflow]'"
    ) from exc

from model_registry.integrations.mlflow.adapter import PyfuncAdapter, read_config_file
from model_registry.integrations.mlflow.errors import (
    InvalidModelUri,
    MlflowIntegrationError,
    ModelLoadError,
    ModelNotFoundError,
    ModelSaveError,
    ModelVersionNotFoundError,
    UnsupportedModelError,
    UnsupportedModelFormat,
)
from model_registry.integrations.mlflow.loaders import CustomLoader, Loader
from model_registry.integrations.mlflow.registers import MlflowRegister, Register
from model_registry.integrations.mlflow.savers import CustomSaver, Saver

__all__ = [
    "CustomLoader",
    "CustomSaver",
    "InvalidModelUri",
    "Loader",
    "MlflowIntegrationError",
    "MlflowRegister",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelSaveError",
    "ModelVersionNotFoundError",
    "PyfuncAdapter",
    "Register",
    "Saver",
    "UnsupportedModelError",
    "UnsupportedModelFormat",
    "read_config_file",
]
