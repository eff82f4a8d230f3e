"""Savers: put a model into MLflow as a pyfunc model, with its signature and input example."""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass
from typing import Any, ClassVar

import mlflow.pyfunc
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo
from mlflow.models.signature import ModelSignature, infer_signature

from model_registry.integrations.mlflow.adapter import (
    CONFIG_FILE_KEY,
    Predictor,
    PyfuncAdapter,
    read_config_file,
)
from model_registry.integrations.mlflow.errors import ModelSaveError, UnsupportedModelError

__all__ = ["CustomSaver", "Saver"]


def _infer_signature(model: Predictor, input_example: Any) -> ModelSignature | None:
    """The signature of the model's own prediction for ``input_example``.

    MLflow would infer it from the adapter's answer, an ``Outputs`` whose schema it cannot
    read; the wrapped model's prediction is what the output schema describes.
    """
    try:
        return infer_signature(input_example, model.predict(input_example))
    # The model is user code and may refuse the example as it is: MLflow then infers what it
    # can (the inputs) itself.
    except Exception:
        return None


@dataclass
class Saver(abc.ABC):
    """Base of the savers: one way of turning a model into an MLflow model.

    It cannot be instantiated; subclasses implement :meth:`save`.

    Attributes:
        path: Name of the model inside the MLflow run (its artifact path).
        config_file: Path of the JSON configuration the model reads when it is loaded.
    """

    KIND: ClassVar[str] = "Saver"

    path: str = "model"
    config_file: str | os.PathLike[str] | None = None

    @abc.abstractmethod
    def save(
        self, model: Any, signature: ModelSignature | None, input_example: Any = None
    ) -> ModelInfo:
        """Save ``model`` into MLflow.

        Args:
            model: The model to save.
            signature: The model's input/output signature (``None`` lets MLflow infer it from
                the input example).
            input_example: An input the model accepts, stored with the model.

        Returns:
            MLflow's description of the saved model (URI, signature, flavors...).
        """


@dataclass
class CustomSaver(Saver):
    """Saves any object with ``predict(inputs)`` as an MLflow pyfunc model.

    The model is wrapped in a :class:`~model_registry.integrations.mlflow.adapter.PyfuncAdapter`
    and logged into the active MLflow run (or as a run-less logged model when none is active).
    The configuration file path is stored in the model config and read when the model loads.

    Example::

        saver = CustomSaver(path="model", config_file="config.json")
        with mlflow.start_run():
            info = saver.save(model, infer_signature(example, model.predict(example)), example)
        info.model_uri  # 'models:/m-...'

    Attributes:
        pip_requirements: Requirements recorded with the model; ``None`` lets MLflow infer them.
    """

    KIND: ClassVar[str] = "CustomSaver"
    #: The pyfunc wrapper the model is saved in (the seed's ``CustomSaver.Adapter``).
    Adapter: ClassVar[type[PyfuncAdapter]] = PyfuncAdapter

    pip_requirements: list[str] | None = None

    def save(
        self, model: Any, signature: ModelSignature | None, input_example: Any = None
    ) -> ModelInfo:
        """Log ``model`` as a pyfunc model keeping its signature and input example.

        Args:
            model: Any object with a ``predict(inputs)`` method (and optionally
                ``configure(config)``, called with the JSON configuration at load time).
            signature: The model signature, or ``None`` to infer it from ``input_example``.
            input_example: An input example stored with the model.

        Returns:
            The saved model's :class:`mlflow.models.model.ModelInfo`.

        Raises:
            UnsupportedModelError: ``model`` has no callable ``predict``.
            ValueError: No configuration file is set, or it is not a JSON object.
            FileNotFoundError: The configuration file does not exist.
            ModelSaveError: MLflow refused the model (e.g. an input example that does not fit
                the signature).
        """
        if not isinstance(model, Predictor):
            raise UnsupportedModelError(
                f"cannot save a {type(model).__name__} as a pyfunc model: it has no predict()"
            )
        if signature is not None and not isinstance(signature, ModelSignature):
            raise ModelSaveError(
                f"signature must be an mlflow ModelSignature, not {type(signature).__name__}"
            )
        # Fail here rather than when the model is first loaded somewhere else.
        read_config_file(self.config_file)
        if signature is None and input_example is not None:
            signature = _infer_signature(model, input_example)
        try:
            info: ModelInfo = mlflow.pyfunc.log_model(
                name=self.path,
                python_model=self.Adapter(model),
                signature=signature,
                input_example=input_example,
                model_config={CONFIG_FILE_KEY: os.fspath(self.config_file or "")},
                pip_requirements=self.pip_requirements,
            )
        except MlflowException as exc:
            raise ModelSaveError(f"MLflow could not save model {self.path!r}: {exc}") from exc
        return info
