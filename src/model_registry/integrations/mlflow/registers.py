"""Registers: record an MLflow model as a new version in our registry."""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo
from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository

from model_registry.integrations.mlflow._connection import RegistryHandle, default_author
from model_registry.integrations.mlflow._registry import register_next_version
from model_registry.integrations.mlflow.loaders import model_info
from model_registry.integrations.mlflow.uris import check_model_uri
from model_registry.types import ModelVersion

if TYPE_CHECKING:
    from model_registry.client import ModelRegistry

__all__ = ["MODEL_URI_PROPERTY", "MlflowRegister", "Register", "storage_uri"]

#: Custom property (on the version and its artifact) holding the MLflow model URI registered.
MODEL_URI_PROPERTY = "mlflow.model_uri"


def storage_uri(model_uri: str) -> str:
    """Return where the files of the MLflow model at ``model_uri`` are stored.

    ``runs:/`` and ``models:/`` URIs only make sense to the MLflow tracking server that issued
    them; the storage location (``s3://...``, a path...) is what a serving runtime reads, so
    that is what goes into the artifact's ``uri``. A local path becomes an absolute ``file:``
    URI.

    Args:
        model_uri: A checked model URI.

    Returns:
        The storage location, or ``model_uri`` itself when MLflow cannot resolve it further.
    """
    try:
        scheme = model_uri.split(":", 1)[0].lower()
        if scheme == "models":
            underlying = ModelsArtifactRepository.get_underlying_uri(  # type: ignore[no-untyped-call]
                model_uri
            )
            return str(underlying)
        if scheme == "runs":
            return str(RunsArtifactRepository.get_underlying_uri(model_uri))
    except MlflowException:
        return model_uri
    if "://" not in model_uri and ":" not in model_uri.split("/", 1)[0]:
        return Path(os.path.abspath(model_uri)).as_uri()
    return model_uri


@dataclass
class Register(abc.ABC):
    """Base of the registers: one way of recording a saved model as a registry version.

    It cannot be instantiated; subclasses implement :meth:`register`.

    Attributes:
        tags: Custom properties set on every version registered.
    """

    KIND: ClassVar[str] = "Register"

    tags: dict[str, Any] = field(default_factory=dict)

    @abc.abstractmethod
    def register(self, name: str, model_uri: str) -> ModelVersion:
        """Register the model at ``model_uri`` as a new version of ``name``.

        Args:
            name: Registered model name.
            model_uri: Where the saved model is.

        Returns:
            The new version.
        """


@dataclass
class MlflowRegister(Register):
    """Registers MLflow models into our registry, numbering versions 1, 2, 3...

    Each call creates the registered model when needed, a version numbered after the highest
    numeric version, and a ``ModelArtifact`` with ``model_format_name="mlflow"``, the MLflow
    version as ``model_format_version`` and the model's storage location as ``uri`` (the MLflow
    URI itself is kept in the ``mlflow.model_uri`` custom property).

    Example::

        info = CustomSaver(config_file="config.json").save(model, signature, example)
        with MlflowRegister(tags={"team": "fraud"}, client="http://127.0.0.1:8080") as reg:
            version = reg.register("fraud-detector", info.model_uri)
        assert version.name == "1"

    Attributes:
        client: Our registry: a ``ModelRegistry``, a URL, or ``None`` (``$MODEL_REGISTRY_URL``).
        author: Author of the versions (defaults to the facade's author, else the login name).
    """

    KIND: ClassVar[str] = "MlflowRegister"

    client: ModelRegistry | str | None = None
    author: str | None = None
    _handle: RegistryHandle | None = field(default=None, init=False, repr=False)

    def register(self, name: str, model_uri: str) -> ModelVersion:
        """Register the MLflow model at ``model_uri`` as the next version of ``name``.

        Args:
            name: Registered model name (created when absent).
            model_uri: Any MLflow model URI (``models:/m-ID``, ``runs:/RUN/PATH``, a path...).

        Returns:
            The new version, as stored in our registry.

        Raises:
            ValueError: ``name`` is blank.
            InvalidModelUri: ``model_uri`` is malformed.
            ModelNotFoundError: No MLflow model exists at ``model_uri``.
            ModelRegistryError: The registry refused the registration.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"registered model name must be a non-empty string, got {name!r}")
        uri = check_model_uri(model_uri)
        info: ModelInfo = model_info(uri)
        location = storage_uri(uri)
        version_properties: dict[str, Any] = {**self.tags, MODEL_URI_PROPERTY: uri}
        if info.run_id:
            version_properties["mlflow.run_id"] = info.run_id
        if self._handle is None:
            self._handle = RegistryHandle(self.client)
        registry = self._handle.get()
        author = self.author or registry.author or default_author()
        return registry.run(
            lambda api: register_next_version(
                api,
                name.strip(),
                uri=location,
                author=author,
                model_format_version=info.mlflow_version,
                version_properties=version_properties,
                artifact_properties={
                    MODEL_URI_PROPERTY: uri,
                    "mlflow.flavors": ",".join(sorted(info.flavors)),
                },
            )
        )

    def close(self) -> None:
        """Release the registry (a ``ModelRegistry`` built from a URL is closed)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> MlflowRegister:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
