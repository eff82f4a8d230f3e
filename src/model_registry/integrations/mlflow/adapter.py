"""The pyfunc adapter that carries a user model into MLflow, and its JSON configuration.

:class:`PyfuncAdapter` wraps any object with a ``predict(inputs)`` method as an
``mlflow.pyfunc.PythonModel``. When MLflow loads it, :meth:`PyfuncAdapter.load_context` reads
the model's configuration from a JSON file and hands it to the wrapped model's
``configure(config)`` method when it has one (e.g. to build an LLM client from ``model``,
``api_key``, ``base_url``, ``temperature`` and ``max_tokens``). The file is read where the model
is loaded, not copied into the model, so secrets such as API keys stay out of the artifact.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd  # type: ignore[import-untyped]
from mlflow.pyfunc.model import PythonModel, PythonModelContext

__all__ = ["CONFIG_FILE_KEY", "Configurable", "Predictor", "PyfuncAdapter", "read_config_file"]

#: Key of the configuration file path in the model's ``model_config``.
CONFIG_FILE_KEY = "config_file"


@runtime_checkable
class Predictor(Protocol):
    """What a saver accepts as a model: anything with ``predict(inputs)``."""

    def predict(self, inputs: Any) -> Any:
        """Return the model's outputs for ``inputs``."""


@runtime_checkable
class Configurable(Protocol):
    """A model that takes its configuration when it is loaded."""

    def configure(self, config: Mapping[str, Any]) -> None:
        """Set the model up from the configuration read out of the JSON file."""


def read_config_file(config_file: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Read a model configuration from a JSON file holding one object.

    Args:
        config_file: Path of the JSON file; ``None`` or ``""`` when none was configured.

    Returns:
        The configuration object.

    Raises:
        ValueError: No file is configured, or the file is not a JSON object.
        FileNotFoundError: The configured file does not exist.
    """
    if config_file is None or str(config_file).strip() == "":
        raise ValueError(
            f"no model configuration: set {CONFIG_FILE_KEY!r} to the path of a JSON file "
            "(CustomSaver(config_file=...) or CustomLoader(config_file=...))"
        )
    path = Path(config_file)
    if not path.is_file():
        raise FileNotFoundError(
            errno.ENOENT, f"model configuration file not found: {str(path)!r}", str(path)
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"model configuration {str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ValueError(
            f"model configuration {str(path)!r} must hold a JSON object, "
            f"not {type(config).__name__}"
        )
    return config


class PyfuncAdapter(PythonModel):
    """Wraps a model with ``predict(inputs)`` as an MLflow pyfunc model.

    Example::

        mlflow.pyfunc.log_model(
            name="model",
            python_model=PyfuncAdapter(my_model),
            model_config={"config_file": "config.json"},
        )

    Attributes:
        model: The wrapped model.
        config: The configuration read by :meth:`load_context` (empty before).
    """

    def __init__(self, model: Predictor) -> None:
        self.model = model
        self.config: dict[str, Any] = {}

    def load_context(self, context: PythonModelContext) -> None:
        """Read the configuration file named in the model config and configure the model.

        Args:
            context: MLflow's load context; ``context.model_config["config_file"]`` names the
                JSON file.

        Raises:
            ValueError: No configuration file is configured, or it is not a JSON object.
            FileNotFoundError: The configured file does not exist.
        """
        model_config: Mapping[str, Any] = context.model_config or {}
        self.config = read_config_file(model_config.get(CONFIG_FILE_KEY))
        if isinstance(self.model, Configurable):
            self.model.configure(self.config)

    # MLflow reads this annotation: a DataFrame hint turns off its type-hint validation, so
    # inputs reach the model as MLflow hands them (a DataFrame when a signature applies).
    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Return the wrapped model's prediction for ``model_input``.

        Args:
            context: MLflow's context (unused: the configuration was read at load time).
            model_input: The inputs, as MLflow passes them.
            params: Inference parameters (unused).

        Returns:
            Whatever the wrapped model's ``predict`` returns.
        """
        return self.model.predict(model_input)
