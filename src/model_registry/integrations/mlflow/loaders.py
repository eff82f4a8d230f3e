"""Loaders: get a model back from MLflow (or through our registry) ready to predict."""

from __future__ import annotations

import abc
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import mlflow.models
import mlflow.pyfunc
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PyFuncModel

from model_registry.integrations.mlflow._connection import REGISTRY_URL_ENV, RegistryHandle
from model_registry.integrations.mlflow._registry import resolve_ref
from model_registry.integrations.mlflow.adapter import CONFIG_FILE_KEY
from model_registry.integrations.mlflow.errors import (
    ModelLoadError,
    ModelNotFoundError,
    PredictionError,
    UnsupportedModelFormat,
)
from model_registry.integrations.mlflow.schemas import OutputMetadata, Outputs
from model_registry.integrations.mlflow.uris import (
    check_model_uri,
    mlflow_location,
    parse_registry_ref,
)
from model_registry.types import ModelVersion

if TYPE_CHECKING:
    from model_registry.client import ModelRegistry

__all__ = ["CustomLoader", "Loader", "model_info"]

#: The flavor every model loadable as a generic pyfunc model has.
PYFUNC_FLAVOR = "python_function"


def model_info(uri: str) -> ModelInfo:
    """Read MLflow's description of the model at ``uri`` (only its ``MLmodel`` file).

    Raises:
        InvalidModelUri: ``uri`` is malformed.
        ModelNotFoundError: Nothing at ``uri`` is an MLflow model.
    """
    target = check_model_uri(uri)
    try:
        info: ModelInfo = mlflow.models.get_model_info(mlflow_location(target))
    except (MlflowException, OSError) as exc:
        raise ModelNotFoundError(target, str(exc)) from exc
    return info


@dataclass
class Loader(abc.ABC):
    """Base of the loaders: one way of getting a model back for inference.

    It cannot be instantiated; subclasses implement :meth:`load`.
    """

    KIND: ClassVar[str] = "Loader"

    class Adapter(abc.ABC):
        """A loaded model, adapted to one ``predict(inputs)`` call."""

        @abc.abstractmethod
        def predict(self, inputs: Any) -> Outputs:
            """Return the model's prediction for ``inputs`` with its metadata."""

    @abc.abstractmethod
    def load(self, uri: str) -> Loader.Adapter:
        """Load the model at ``uri`` and return it wrapped in an adapter.

        Args:
            uri: A model URI.
        """


@dataclass
class CustomLoader(Loader):
    """Loads pyfunc models saved by :class:`~model_registry.integrations.mlflow.CustomSaver`
    (or any MLflow model with the ``python_function`` flavor).

    ``models:/NAME/VERSION`` and ``models:/NAME/latest`` are resolved through our registry when
    one is configured (``client``, or the ``MODEL_REGISTRY_URL`` environment variable): the
    version's ``mlflow`` model artifact gives the location MLflow loads. Without a registry,
    and for every other URI (``runs:/``, ``models:/m-ID``, paths, ``s3://``...), MLflow
    resolves the URI itself.

    Example::

        with CustomLoader(client="http://127.0.0.1:8080") as loader:
            model = loader.load("models:/churn/latest")
            outputs = model.predict(inputs)

    Attributes:
        client: Our registry: a ``ModelRegistry``, a URL, or ``None`` (``$MODEL_REGISTRY_URL``).
        config_file: A configuration file to use instead of the one saved with the model.
    """

    KIND: ClassVar[str] = "CustomLoader"

    client: ModelRegistry | str | None = None
    config_file: str | os.PathLike[str] | None = None
    _handle: RegistryHandle | None = field(default=None, init=False, repr=False)

    class Adapter(Loader.Adapter):
        """A loaded pyfunc model.

        Attributes:
            model: MLflow's loaded model.
            uri: The URI it was loaded by.
            source_uri: Where MLflow loaded it from (differs from ``uri`` for registry URIs).
            model_version: Our registry's version, when the URI was resolved through it.
        """

        def __init__(
            self,
            model: PyFuncModel,
            *,
            uri: str,
            source_uri: str,
            model_version: ModelVersion | None = None,
        ) -> None:
            self.model = model
            self.uri = uri
            self.source_uri = source_uri
            self.model_version = model_version

        @property
        def metadata(self) -> Any:
            """MLflow's model metadata (signature, input example info, flavors...)."""
            return self.model.metadata

        def predict(self, inputs: Any, params: dict[str, Any] | None = None) -> Outputs:
            """Return the model's prediction for ``inputs`` with its metadata.

            A model saved by ``CustomSaver`` answers :class:`Outputs` itself (possibly from its
            fallback); any other pyfunc model's answer is wrapped, with the URI as the model.

            Args:
                inputs: Model inputs (checked against the model signature by MLflow).
                params: Inference parameters declared in the signature.

            Raises:
                PredictionError: The model failed (e.g. inputs that do not fit its signature).
            """
            start = time.perf_counter()
            try:
                result = self.model.predict(inputs, params=params)
            except PredictionError:
                raise
            # Any pyfunc flavor may raise anything; the caller gets one typed error naming it.
            except Exception as exc:
                raise PredictionError([(f"model {self.uri}", exc)]) from exc
            if isinstance(result, Outputs):
                return result
            latency = (time.perf_counter() - start) * 1000
            return Outputs(result, OutputMetadata(self.uri, "model", latency))

    def _registry(self) -> RegistryHandle | None:
        if self._handle is None and (self.client is not None or os.environ.get(REGISTRY_URL_ENV)):
            self._handle = RegistryHandle(self.client)
        return self._handle

    def load(self, uri: str) -> CustomLoader.Adapter:
        """Load the pyfunc model at ``uri``.

        Args:
            uri: ``models:/NAME/VERSION``, ``models:/NAME/latest`` or any MLflow model URI.

        Returns:
            The model wrapped in a :class:`CustomLoader.Adapter`.

        Raises:
            InvalidModelUri: ``uri`` is malformed.
            ModelNotFoundError: No model exists at ``uri`` (or under that name).
            ModelVersionNotFoundError: The registered model has no such version.
            UnsupportedModelFormat: The model cannot be loaded as a pyfunc model.
            ValueError: The model has no configuration file configured.
            FileNotFoundError: The model's configuration file does not exist.
            ModelLoadError: MLflow failed to load the model for another reason, or the model's
                code cannot be imported in this interpreter.
        """
        text = check_model_uri(uri)
        ref = parse_registry_ref(text)
        version: ModelVersion | None = None
        source = text
        registry = self._registry() if ref is not None else None
        if ref is not None and registry is not None:
            version, artifact = registry.get().run(lambda api: resolve_ref(api, ref))
            assert artifact.uri is not None
            source = artifact.uri
        info = model_info(source)
        if PYFUNC_FLAVOR not in info.flavors:
            raise UnsupportedModelFormat(
                text,
                ", ".join(sorted(info.flavors)) or "none",
                f"the model has no {PYFUNC_FLAVOR!r} flavor",
            )
        override = (
            {CONFIG_FILE_KEY: os.fspath(self.config_file)} if self.config_file is not None else None
        )
        try:
            model = mlflow.pyfunc.load_model(mlflow_location(source), model_config=override)
        except MlflowException as exc:
            raise ModelLoadError(f"MLflow could not load {text!r}: {exc}") from exc
        except (ImportError, AttributeError) as exc:
            # The pickled model names code this interpreter cannot import.
            raise ModelLoadError(
                f"the code of model {text!r} cannot be imported here: {exc}"
            ) from exc
        return CustomLoader.Adapter(model, uri=text, source_uri=source, model_version=version)

    def close(self) -> None:
        """Release the registry (a ``ModelRegistry`` built from a URL is closed)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> CustomLoader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
