"""The pyfunc adapter that carries a user model into MLflow, and its JSON configuration.

:class:`PyfuncAdapter` wraps any object with a ``predict(inputs)`` method as an
``mlflow.pyfunc.PythonModel``. When MLflow loads it, :meth:`PyfuncAdapter.load_context` reads
the model's configuration from a JSON file, sets up an OpenAI-compatible chat completion client
when the configuration has its fields (``model``, ``api_key``, ``base_url``, ``temperature``,
``max_tokens``), and hands the configuration to the wrapped model's ``configure(config)`` method
when it has one. The file is read where the model is loaded, not copied into the model, so
secrets such as API keys stay out of the artifact.

:meth:`PyfuncAdapter.predict` returns :class:`~model_registry.integrations.mlflow.schemas.Outputs`
and falls back, when the model's ``predict`` fails, to the model's ``fallback_predict`` and then
to the chat client; when all fail it raises
:class:`~model_registry.integrations.mlflow.errors.PredictionError`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd  # type: ignore[import-untyped]
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from model_registry.integrations.mlflow.chat_client import (
    CHAT_CONFIG_FIELDS,
    OpenAIChatCompletionClient,
)
from model_registry.integrations.mlflow.errors import PredictionError
from model_registry.integrations.mlflow.schemas import Inputs, OutputMetadata, Outputs, Source

__all__ = [
    "CONFIG_FILE_KEY",
    "DEFAULT_SYSTEM_PROMPT",
    "FALLBACK_METHOD",
    "Configurable",
    "Predictor",
    "PyfuncAdapter",
    "read_config_file",
]

_log = logging.getLogger(__name__)

#: Key of the configuration file path in the model's ``model_config``.
CONFIG_FILE_KEY = "config_file"

#: The model's own second way of predicting, tried when its ``predict`` fails.
FALLBACK_METHOD = "fallback_predict"

#: What the chat model is told when it stands in for the model (``system_prompt`` overrides it).
DEFAULT_SYSTEM_PROMPT = (
    "You stand in for a machine learning model that could not answer. The user message holds "
    "the model's inputs as JSON. Reply with the prediction only."
)


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

    Given a configuration (here, or read by :meth:`load_context` when MLflow loads the model)
    that holds ``model``, ``api_key``, ``base_url``, ``temperature`` and ``max_tokens``, the
    adapter sets up an :class:`OpenAIChatCompletionClient`, used by :meth:`predict` when the
    model cannot answer. The configuration and the client are not pickled with the adapter:
    they are read again where the model is loaded.

    Attributes:
        model: The wrapped model.
        config: The configuration (empty until one is given or read).
        client: The chat completion client, ``None`` when the configuration has no chat fields.
    """

    def __init__(self, model: Predictor, config: Mapping[str, Any] | None = None) -> None:
        """Wrap ``model``, configured from ``config`` when one is given.

        Raises:
            ChatClientConfigError: (a ``ValueError``) ``config`` has some chat client fields
                but one is missing or invalid; the message names it.
        """
        self.model = model
        self.config: dict[str, Any] = {}
        self.client: OpenAIChatCompletionClient | None = None
        if config is not None:
            self.configure(config)

    @classmethod
    def from_config_file(
        cls, model: Predictor, config_file: str | os.PathLike[str] | None
    ) -> PyfuncAdapter:
        """Wrap ``model`` configured from a JSON configuration file.

        Raises:
            ValueError: No file is given, it is not a JSON object, or a chat client field is
                missing or invalid (:class:`ChatClientConfigError`).
            FileNotFoundError: The file does not exist.
        """
        return cls(model, read_config_file(config_file))

    def configure(self, config: Mapping[str, Any]) -> None:
        """Take ``config``: set up the chat client and configure the wrapped model.

        The chat client is set up when ``config`` has any of its fields; then all of
        ``model``, ``api_key``, ``base_url``, ``temperature`` and ``max_tokens`` are required.

        Raises:
            ChatClientConfigError: A chat client field is missing or invalid.
        """
        client = None
        if any(name in config for name in CHAT_CONFIG_FIELDS):
            client = OpenAIChatCompletionClient.from_config(config)
        self.config = dict(config)
        self.client = client
        if isinstance(self.model, Configurable):
            self.model.configure(self.config)

    def __getstate__(self) -> dict[str, Any]:
        # MLflow pickles the adapter into the artifact: keep the API key out of it.
        state = self.__dict__.copy()
        state["config"] = {}
        state["client"] = None
        return state

    def load_context(self, context: PythonModelContext) -> None:
        """Read the configuration file named in the model config and configure the adapter.

        Args:
            context: MLflow's load context; ``context.model_config["config_file"]`` names the
                JSON file.

        Raises:
            ValueError: No configuration file is configured, it is not a JSON object, or a chat
                client field is missing or invalid.
            FileNotFoundError: The configured file does not exist.
        """
        model_config: Mapping[str, Any] = context.model_config or {}
        self.configure(read_config_file(model_config.get(CONFIG_FILE_KEY)))

    # MLflow reads this annotation: a DataFrame hint turns off its type-hint validation, so
    # inputs reach the model as MLflow hands them (a DataFrame when a signature applies).
    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> Outputs:
        """Predict ``model_input``, falling back to other methods when the model fails.

        Tried in order, the first that answers wins: the model's ``predict``, the model's
        ``fallback_predict`` (when it has one), the chat client (when configured; its answer's
        text is the prediction).

        Args:
            context: MLflow's context (unused: the configuration was read at load time).
            model_input: The inputs, as MLflow passes them (or an :class:`Inputs`).
            params: Inference parameters (unused).

        Returns:
            The prediction with its metadata: who answered (``source`` ``"model"``,
            ``"fallback"`` or ``"llm"``), the latency and what failed before.

        Raises:
            PredictionError: Every method failed; it lists each with its error.
        """
        inputs = Inputs.of(model_input)
        name = type(self.model).__name__
        attempts: list[tuple[str, Source, str, Callable[[], Any]]] = [
            (f"{name}.predict", "model", name, lambda: self.model.predict(inputs.data))
        ]
        fallback = getattr(self.model, FALLBACK_METHOD, None)
        if callable(fallback):
            attempts.append(
                (f"{name}.{FALLBACK_METHOD}", "fallback", name, lambda: fallback(inputs.data))
            )
        client = self.client
        if client is not None:
            attempts.append(
                (
                    f"chat completion ({client.config.model})",
                    "llm",
                    client.config.model,
                    lambda: self._ask(client, inputs),
                )
            )
        failures: list[tuple[str, BaseException]] = []
        for what, source, who, call in attempts:
            start = time.perf_counter()
            try:
                prediction = call()
            # The model is user code: whatever it raises, the next method gets its turn, and
            # PredictionError reports every failure if none answers.
            except Exception as exc:
                _log.warning("prediction by %s failed: %s: %s", what, type(exc).__name__, exc)
                failures.append((what, exc))
                continue
            metadata = OutputMetadata(
                model=who,
                source=source,
                latency_ms=(time.perf_counter() - start) * 1000,
                errors=tuple(f"{w}: {type(e).__name__}: {e}" for w, e in failures),
            )
            return Outputs(prediction, metadata)
        raise PredictionError(failures)

    def _ask(self, client: OpenAIChatCompletionClient, inputs: Inputs) -> str:
        system = self.config.get("system_prompt", DEFAULT_SYSTEM_PROMPT)
        return client.complete(
            [
                {"role": "system", "content": str(system)},
                {"role": "user", "content": inputs.to_prompt()},
            ]
        )
