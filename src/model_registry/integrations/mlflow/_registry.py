"""What the MLflow integration does in our registry, written once over the async client.

The sync surfaces (:class:`~model_registry.integrations.mlflow.registers.MlflowRegister`,
:class:`~model_registry.integrations.mlflow.loaders.CustomLoader`, the import command) run these
coroutines on a private event loop.

How an MLflow model is stored: a ``ModelVersion`` named by its number (``"1"``, ``"2"``...)
under the ``RegisteredModel``, holding one ``ModelArtifact`` whose ``modelFormatName`` is
``"mlflow"``, ``modelFormatVersion`` the MLflow version that saved it, and ``uri`` where MLflow
loads it from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from model_registry.exceptions import Conflict
from model_registry.integrations.mlflow.errors import (
    MlflowIntegrationError,
    ModelNotFoundError,
    ModelVersionNotFoundError,
    UnsupportedModelFormat,
)
from model_registry.integrations.mlflow.uris import LATEST, RegistryRef
from model_registry.types import (
    ListOptions,
    ModelArtifact,
    ModelVersion,
    ModelVersionState,
    Pager,
)
from model_registry.types.custom_properties import INT_MAX, INT_MIN
from model_registry.workflows.registration import register_model

if TYPE_CHECKING:
    from model_registry.core import ModelRegistryAPIClient

__all__ = [
    "MLFLOW_FORMAT",
    "next_version_number",
    "property_value",
    "register_next_version",
    "resolve_ref",
]

#: ``modelFormatName`` of the model artifacts this integration writes and loads.
MLFLOW_FORMAT = "mlflow"

#: How many times a registration retries when another writer took the version number first.
_NUMBER_ATTEMPTS = 10


def property_value(value: Any) -> Any:
    """Return ``value`` in a form custom properties accept (others become their ``str``).

    Args:
        value: A tag value.

    Returns:
        ``str``, ``bool``, ``float`` and in-range ``int`` values as they are; anything else as
        its string.
    """
    if isinstance(value, str | bool | float):
        return value
    if isinstance(value, int) and INT_MIN <= value <= INT_MAX:
        return value
    return str(value)


def next_version_number(versions: list[ModelVersion]) -> int:
    """Return the number after the highest numeric version name (1 when there is none).

    Args:
        versions: The versions of one registered model.

    Returns:
        The next version number; versions with non-numeric names are not counted.
    """
    numbers = [int(v.name) for v in versions if v.name.isdecimal()]
    return max(numbers, default=0) + 1


async def _all_versions(api: ModelRegistryAPIClient, model_id: str) -> list[ModelVersion]:
    pager: Pager[ModelVersion] = Pager(
        lambda options: api.get_model_versions(model_id, options), ListOptions(limit=100)
    )
    return [version async for version in pager]


async def register_next_version(
    api: ModelRegistryAPIClient,
    name: str,
    *,
    uri: str,
    author: str,
    model_format_version: str | None = None,
    description: str | None = None,
    version_properties: Mapping[str, Any] | None = None,
    artifact_properties: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Register ``uri`` as the next numbered version of model ``name`` (created if absent).

    Args:
        api: The async client.
        name: Registered model name.
        uri: Where MLflow loads the model from.
        author: Version author.
        model_format_version: The MLflow version that saved the model.
        description: Version description.
        version_properties: Custom properties of the version.
        artifact_properties: Custom properties of the model artifact.

    Returns:
        The new version.

    Raises:
        MlflowIntegrationError: Other writers kept taking the next number.
    """
    for _ in range(_NUMBER_ATTEMPTS):
        model = await api.get_registered_model_by_params(name=name)
        versions = await _all_versions(api, model.id) if model and model.id else []
        number = str(next_version_number(versions))
        try:
            parts = await register_model(
                api,
                name,
                uri,
                version=number,
                author=author,
                description=description,
                metadata={k: property_value(v) for k, v in (version_properties or {}).items()},
                model_format_name=MLFLOW_FORMAT,
                model_format_version=model_format_version,
                artifact_properties=artifact_properties,
            )
        except Conflict:
            continue  # someone registered this number (or created the model) first: recount
        return parts.version
    raise MlflowIntegrationError(
        f"could not register a new version of {name!r}: the version number kept being taken"
    )


async def _latest(api: ModelRegistryAPIClient, model_id: str) -> ModelVersion | None:
    pager: Pager[ModelVersion] = Pager(
        lambda options: api.get_model_versions(model_id, options),
        ListOptions.order_by_creation_time(is_asc=False, limit=20),
    )
    async for version in pager:
        if version.state != ModelVersionState.ARCHIVED:
            return version
    return None


async def resolve_ref(
    api: ModelRegistryAPIClient, ref: RegistryRef
) -> tuple[ModelVersion, ModelArtifact]:
    """Find the version a ``models:/NAME/VERSION`` reference names, and its MLflow artifact.

    ``latest`` is the most recently created version that is not archived; ``models:/NAME@ALIAS``
    is the version the alias points at.

    Args:
        api: The async client.
        ref: The reference.

    Returns:
        The version and its ``mlflow`` model artifact (the newest when it has several).

    Raises:
        ModelNotFoundError: No registered model has that name, or the version has no model
            artifact with a URI.
        ModelVersionNotFoundError: The model has no such version (or no live version for
            ``latest``).
        UnsupportedModelFormat: The version's model artifacts are all in another format.
    """
    model = await api.get_registered_model_by_params(name=ref.name)
    if model is None or model.id is None:
        raise ModelNotFoundError(ref.uri, f"no registered model named {ref.name!r}")
    version: ModelVersion | None
    if ref.alias is not None:
        version = await api.get_model_version_by_alias(model.id, ref.alias)
        if version is None:
            raise ModelVersionNotFoundError(
                ref.name, f"@{ref.alias}", f"model {ref.name!r} has no alias {ref.alias!r}"
            )
    elif ref.version is None:
        version = await _latest(api, model.id)
        if version is None:
            raise ModelVersionNotFoundError(ref.name, LATEST, "the model has no live version")
    else:
        version = await api.get_model_version_by_params(
            registered_model_id=model.id, version=ref.version
        )
        if version is None:
            raise ModelVersionNotFoundError(
                ref.name, ref.version, f"model {ref.name!r} has no version {ref.version!r}"
            )
    version_id = version.id
    assert version_id is not None
    artifacts: Pager[ModelArtifact] = Pager(
        lambda options: api.get_model_artifacts(version_id, options), ListOptions(limit=100)
    )
    found = [artifact async for artifact in artifacts]
    usable = [a for a in found if (a.model_format_name or "").lower() == MLFLOW_FORMAT and a.uri]
    if usable:
        return version, usable[-1]
    formats = sorted({a.model_format_name or "unknown" for a in found})
    if formats and formats != [MLFLOW_FORMAT]:
        raise UnsupportedModelFormat(
            ref.uri,
            ", ".join(formats),
            f"only {MLFLOW_FORMAT!r} model artifacts can be loaded through MLflow",
        )
    raise ModelNotFoundError(ref.uri, "the version has no model artifact with a URI")
