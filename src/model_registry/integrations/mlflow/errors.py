"""Errors of the MLflow integration.

They all derive from :class:`MlflowIntegrationError`, itself a
:class:`~model_registry.exceptions.ModelRegistryError`, and also from the matching builtin
(``ValueError``, ``LookupError``, ``TypeError``) so callers may catch either. Each message names
the URI, model or version at fault.
"""

from __future__ import annotations

from model_registry.exceptions import ModelRegistryError

__all__ = [
    "ChatClientConfigError",
    "ChatCompletionError",
    "InvalidModelUri",
    "MlflowIntegrationError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelSaveError",
    "ModelVersionNotFoundError",
    "PredictionError",
    "UnsupportedModelError",
    "UnsupportedModelFormat",
]


class MlflowIntegrationError(ModelRegistryError):
    """Root of the errors raised by :mod:`model_registry.integrations.mlflow`."""


class InvalidModelUri(MlflowIntegrationError, ValueError):
    """A model URI is empty or malformed.

    Attributes:
        uri: The URI as given.
        reason: What is wrong with it.
    """

    def __init__(self, uri: object, reason: str) -> None:
        self.uri = uri
        self.reason = reason
        super().__init__(f"invalid model URI {uri!r}: {reason}")


class ModelNotFoundError(MlflowIntegrationError, LookupError):
    """No model exists where a URI or name points.

    Attributes:
        target: The URI or registered model name that was looked up.
        detail: Why the lookup failed (e.g. MLflow's own message).
    """

    def __init__(self, target: str, detail: str) -> None:
        self.target = target
        self.detail = detail
        super().__init__(f"model not found: {target!r}: {detail}")


class ModelVersionNotFoundError(ModelNotFoundError):
    """The registered model exists but not the version asked for.

    Attributes:
        name: The registered model name.
        version: The version name asked for (``"latest"`` when the model has no version).
    """

    def __init__(self, name: str, version: str, detail: str) -> None:
        self.name = name
        self.version = version
        super().__init__(f"models:/{name}/{version}", detail)


class UnsupportedModelFormat(MlflowIntegrationError, ValueError):
    """The model is stored in a format this integration cannot load.

    Attributes:
        target: The URI or ``models:/NAME/VERSION`` reference of the model.
        model_format: The format found (a registry ``modelFormatName`` or the MLflow flavors).
    """

    def __init__(self, target: str, model_format: str, detail: str) -> None:
        self.target = target
        self.model_format = model_format
        super().__init__(f"unsupported model format {model_format!r} for {target!r}: {detail}")


class UnsupportedModelError(MlflowIntegrationError, TypeError):
    """An object handed to a saver cannot be saved as a pyfunc model (no ``predict``)."""


class ModelSaveError(MlflowIntegrationError):
    """MLflow refused to save a model (e.g. the input example does not fit the signature)."""


class ModelLoadError(MlflowIntegrationError):
    """MLflow found the model but failed to load it."""


class ChatClientConfigError(MlflowIntegrationError, ValueError):
    """A chat client setting of the model configuration is missing or invalid.

    Attributes:
        field: The configuration field at fault (``model``, ``api_key``, ``base_url``,
            ``temperature`` or ``max_tokens``).
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"chat client configuration field {field!r}: {reason}")


class ChatCompletionError(MlflowIntegrationError):
    """A chat completion request failed: no answer, an HTTP error, or an unreadable answer.

    The message names the URL and the HTTP status, never the API key.

    Attributes:
        url: The URL that was called.
        status: The HTTP status of the answer, ``None`` when none came.
    """

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        where = f"{url} answered {status}" if status is not None else url
        super().__init__(f"chat completion failed ({where}): {reason}")


class PredictionError(MlflowIntegrationError):
    """Every way of predicting failed: the model, its fallback method, the chat client.

    Attributes:
        failures: One ``(what, error)`` pair per attempt, in the order they were tried (e.g.
            ``("Doubler.predict", ZeroDivisionError(...))``).
    """

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        self.failures = failures
        tried = "; ".join(f"{what}: {type(exc).__name__}: {exc}" for what, exc in failures)
        super().__init__(f"prediction failed, every method was tried: {tried}")
