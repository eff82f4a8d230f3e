"""Register models, datasets and predictions through the async client.

How things are stored (so that anything registered here is found again by name and by id):

* **model** (``register_model``): a ``RegisteredModel`` named ``name``, a ``ModelVersion``
  named ``version`` under it, and a ``ModelArtifact`` named ``name`` under the version (as the
  reference client does). A version that exists already raises ``Conflict`` before anything is
  written.
* **model from a configuration or a path**: the same three entities; the artifact's ``uri`` is
  the model URI or path, its ``model_format_name`` the source (``hugging_face`` or
  ``model_path``), and its custom properties hold the configuration
  (see :mod:`model_registry.workflows.model_config`).
* **dataset**: a top-level ``DataSet`` artifact named ``name`` with external id
  ``dataset:<name>`` (external ids are unique among artifacts, which makes dataset names unique
  and findable); its parameters are ``params.*`` custom properties
  (see :mod:`model_registry.workflows.params`), ``registry.kind`` is ``"dataset"``, and when the
  file was validated ``schema`` holds its column names as a JSON list.
* **predictions**: a ``DataSet`` artifact attached to the model version (so it is listed among
  the version's artifacts), named ``predictions-<dataset id>``, external id
  ``predictions:<dataset id>:<version id>``, with ``registry.kind`` ``"predictions"`` and the
  custom properties ``dataset_id``, ``model_version_id`` and ``registered_model_id`` pointing at
  what it belongs to; ``params.pred_col`` names the prediction column.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from model_registry.exceptions import Conflict, NotFound
from model_registry.types import (
    ArtifactState,
    DataSet,
    ListOptions,
    ModelArtifact,
    ModelVersion,
    Page,
    RegisteredModel,
)
from model_registry.workflows.model_config import (
    decode_model_config,
    spec_from_config,
)
from model_registry.workflows.params import (
    KIND_DATASET,
    KIND_PREDICTIONS,
    KIND_PROPERTY,
    PARAM_PREFIX,
    decode_params,
    encode_params,
    normalize_params,
)
from model_registry.workflows.validation import (
    DataValidationError,
    ValidationResult,
    local_path,
    validate_data_file,
)

if TYPE_CHECKING:
    from model_registry.core import ModelRegistryAPIClient

__all__ = [
    "DATASET_FILTER",
    "RegisteredParts",
    "dataset_external_id",
    "find_dataset",
    "find_predictions",
    "get_dataset_by_id",
    "get_model_config",
    "get_predictions_by_id",
    "latest_version",
    "list_datasets",
    "newest_version",
    "params_of",
    "predictions_external_id",
    "register_dataset",
    "register_model",
    "register_model_from_config",
    "register_predictions",
]

#: Filter that selects the datasets registered by :func:`register_dataset`.
DATASET_FILTER = f'`{KIND_PROPERTY}` = "{KIND_DATASET}"'


@dataclass(frozen=True)
class RegisteredParts:
    """The three entities a model registration writes."""

    model: RegisteredModel
    version: ModelVersion
    artifact: ModelArtifact


def dataset_external_id(name: str) -> str:
    """Return the external id a dataset called ``name`` is stored under."""
    return f"dataset:{name}"


def predictions_external_id(dataset_id: str, model_version_id: str) -> str:
    """Return the external id of the predictions of one model version on one dataset."""
    return f"predictions:{dataset_id}:{model_version_id}"


async def register_model(
    api: ModelRegistryAPIClient,
    name: str,
    uri: str,
    *,
    version: str,
    author: str,
    owner: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_format_name: str | None = None,
    model_format_version: str | None = None,
    storage_key: str | None = None,
    storage_path: str | None = None,
    service_account_name: str | None = None,
    model_source: Mapping[str, str | None] | None = None,
    artifact_properties: Mapping[str, Any] | None = None,
    new_model: bool = False,
) -> RegisteredParts:
    """Register a model, one version of it and the version's model artifact.

    The model is reused when it exists (its owner is left as it is) unless ``new_model``; the
    version must be new.

    Args:
        api: The async client.
        name: Registered model name (also the artifact's name).
        uri: Where the model's files are.
        version: Version name, unique within the model.
        author: Version author.
        owner: Model owner, used when the model is created; defaults to ``author``.
        description: Version description.
        metadata: Custom properties of the version.
        model_format_name: Artifact format name (e.g. ``"onnx"``).
        model_format_version: Artifact format version.
        storage_key: Storage credentials key of the artifact.
        storage_path: Storage path of the artifact.
        service_account_name: Service account to read the artifact with.
        model_source: Artifact ``model_source_*`` fields by suffix (``kind``, ``class``,
            ``group``, ``id``, ``name``).
        artifact_properties: Custom properties of the artifact.
        new_model: The model must not exist yet (names are unique, as in the seed's project
            workflow): an existing one is a ``Conflict``.

    Returns:
        The model, version and artifact as stored.

    Raises:
        Conflict: The version (or with ``new_model`` the model) exists already (nothing is
            written).
    """
    source = _model_source(model_source)
    model = await api.get_registered_model_by_params(name=name)
    if model is not None and new_model:
        raise Conflict(f"model {name!r} already exists")
    if model is not None and model.id is not None:
        existing = await api.get_model_version_by_params(
            registered_model_id=model.id, version=version
        )
        if existing is not None:
            raise Conflict(f"version {version!r} of model {name!r} already exists")
    if model is None:
        try:
            model = await api.upsert_registered_model(RegisteredModel(name, owner=owner or author))
        except Conflict:
            # Another caller created the model between our lookup and our create: use theirs
            # (the version, created next, is still refused if it exists).
            model = None if new_model else await api.get_registered_model_by_params(name=name)
            if model is None:
                raise
    assert model.id is not None
    mv = await api.upsert_model_version(
        ModelVersion(
            version,
            author=author,
            description=description,
            custom_properties=dict(metadata or {}),
        ),
        model.id,
    )
    assert mv.id is not None
    artifact = await api.upsert_model_artifact(
        ModelArtifact(
            name,
            uri=uri,
            model_format_name=model_format_name,
            model_format_version=model_format_version,
            storage_key=storage_key,
            storage_path=storage_path,
            service_account_name=service_account_name,
            custom_properties=dict(artifact_properties or {}),
            model_source_kind=source.get("kind"),
            model_source_class=source.get("class"),
            model_source_group=source.get("group"),
            model_source_id=source.get("id"),
            model_source_name=source.get("name"),
        ),
        mv.id,
    )
    return RegisteredParts(model, mv, artifact)


_MODEL_SOURCE_KEYS = ("kind", "class", "group", "id", "name")


def _model_source(model_source: Mapping[str, str | None] | None) -> Mapping[str, str | None]:
    unknown = [key for key in (model_source or {}) if key not in _MODEL_SOURCE_KEYS]
    if unknown:
        raise ValueError(f"unknown model source field(s) {', '.join(map(repr, unknown))}")
    return model_source or {}


def _check_model_path(path: str) -> None:
    local = local_path(path)
    if local is None:
        return  # remote: not validated locally
    if not local.is_file():
        raise DataValidationError(f"model file '{local}' does not exist", uri=path)
    try:
        with local.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise DataValidationError(
            f"cannot read model file '{local}': {exc.strerror or exc}", uri=path
        ) from exc


async def register_model_from_config(
    api: ModelRegistryAPIClient,
    name: str,
    model_config: Mapping[str, Any],
    *,
    version: str = "1",
    author: str,
    owner: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    skip_validation: bool = False,
    new_model: bool = False,
) -> RegisteredParts:
    """Register a model described by a configuration (Hugging Face or model path).

    Args:
        api: The async client.
        name: Registered model name.
        model_config: ``{"hugging_face": {...}}`` or ``{"model_path": {"path": ...}}``.
        version: Version name (``"1"`` by default).
        author: Version author.
        owner: Model owner when created.
        description: Version description.
        metadata: Custom properties of the version.
        skip_validation: Do not check that a local model path exists.
        new_model: The model must not exist yet (see :func:`register_model`).

    Returns:
        What was stored.

    Raises:
        ValueError: The configuration is malformed.
        DataValidationError: A local model path does not exist or cannot be read.
        Conflict: The version (with ``new_model``: the model) exists already.
    """
    spec = spec_from_config(model_config)
    if spec.source == "model_path" and not skip_validation:
        await asyncio.to_thread(_check_model_path, spec.uri)
    return await register_model(
        api,
        name,
        spec.uri,
        version=version,
        author=author,
        owner=owner,
        description=description,
        metadata=metadata,
        model_format_name=spec.source,
        artifact_properties=spec.properties,
        new_model=new_model,
    )


async def latest_version(api: ModelRegistryAPIClient, name: str) -> ModelVersion | None:
    """Return the most recently created version of a model.

    Raises:
        NotFound: The model does not exist.
    """
    model = await api.get_registered_model_by_params(name=name)
    if model is None or model.id is None:
        raise NotFound(f"model {name!r} does not exist")
    return await newest_version(api, model.id)


async def newest_version(
    api: ModelRegistryAPIClient, registered_model_id: str
) -> ModelVersion | None:
    """Return the most recently created version of the model with this id (None if it has
    none, or if there is no such model)."""
    page = await api.get_model_versions(
        registered_model_id, ListOptions.order_by_creation_time(is_asc=False, limit=1)
    )
    return page[0] if page else None


async def get_model_config(
    api: ModelRegistryAPIClient, name: str, version: str | None = None
) -> dict[str, Any] | None:
    """Return the configuration a model version was registered with.

    Args:
        api: The async client.
        name: Registered model name.
        version: Version name; the latest version when None.

    Returns:
        The canonical configuration, or None when the version was not registered from one.

    Raises:
        NotFound: The model or the version does not exist.
    """
    model = await api.get_registered_model_by_params(name=name)
    if model is None or model.id is None:
        raise NotFound(f"model {name!r} does not exist")
    if version is None:
        mv = await latest_version(api, name)
    else:
        mv = await api.get_model_version_by_params(registered_model_id=model.id, version=version)
    if mv is None or mv.id is None:
        raise NotFound(f"model {name!r} has no version {version!r}")
    artifact = await api.get_model_artifact_by_params(name=name, model_version_id=mv.id)
    return None if artifact is None else decode_model_config(artifact.custom_properties)


def _validate(uri: str, params: Mapping[str, Any], skip: bool) -> ValidationResult | None:
    return None if skip else validate_data_file(uri, params)


def _source_type(uri: str) -> str:
    return "local" if local_path(uri) is not None else urlsplit(uri).scheme


async def register_dataset(
    api: ModelRegistryAPIClient,
    name: str,
    uri: str,
    *,
    data_params: Mapping[str, Any] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    skip_validation: bool = False,
) -> DataSet:
    """Register a dataset: a top-level ``DataSet`` artifact carrying its parameters.

    Args:
        api: The async client.
        name: Dataset name, unique among datasets.
        uri: Where the data is (a local path or ``file://`` URI is validated).
        data_params: ``{"label_col", "timestamp_col", "text_features", "class_names", ...}``.
        description: Free text.
        metadata: Extra custom properties (names must not start with ``params.``).
        skip_validation: Do not open a local file to check its columns.

    Returns:
        The stored artifact.

    Raises:
        ValueError: The parameters are malformed.
        DataValidationError: The local file is unreadable or lacks a named column.
        Conflict: A dataset with this name exists (nothing is written).
    """
    params = normalize_params(data_params)
    _check_metadata(metadata)
    checked = await asyncio.to_thread(_validate, uri, params, skip_validation)
    external_id = dataset_external_id(name)
    if await api.get_artifact_by_params(external_id=external_id) is not None:
        raise Conflict(f"dataset {name!r} already exists")
    properties: dict[str, Any] = dict(metadata or {})
    properties.update(encode_params(params))
    properties[KIND_PROPERTY] = KIND_DATASET
    dataset = DataSet(
        name,
        uri=uri,
        description=description,
        external_id=external_id,
        custom_properties=properties,
        state=ArtifactState.LIVE,
        source_type=_source_type(uri),
        source=uri,
        schema=None if checked is None or checked.columns is None else json.dumps(checked.columns),
    )
    stored = await api.upsert_artifact(dataset)
    assert isinstance(stored, DataSet)
    return stored


def _check_metadata(metadata: Mapping[str, Any] | None) -> None:
    reserved = [
        key for key in metadata or {} if key.startswith(PARAM_PREFIX) or key == KIND_PROPERTY
    ]
    if reserved:
        raise ValueError(f"metadata names reserved for parameters: {', '.join(reserved)}")


async def _as_dataset(api: ModelRegistryAPIClient, dataset: DataSet | str) -> DataSet:
    if isinstance(dataset, DataSet):
        return dataset
    found = await get_dataset_by_id(api, dataset)
    if found is None:
        raise NotFound(f"dataset {dataset!r} does not exist")
    return found


async def get_dataset_by_id(api: ModelRegistryAPIClient, dataset_id: str) -> DataSet | None:
    """Return a dataset registered by :func:`register_dataset`, by its id, or None."""
    return await _data_set_of_kind(api, dataset_id, KIND_DATASET)


async def find_dataset(api: ModelRegistryAPIClient, name: str) -> DataSet | None:
    """Return the dataset registered under ``name``, or None."""
    artifact = await api.get_artifact_by_params(external_id=dataset_external_id(name))
    return artifact if isinstance(artifact, DataSet) else None


async def list_datasets(
    api: ModelRegistryAPIClient, options: ListOptions | None = None
) -> Page[DataSet]:
    """Read one page of registered datasets (the page function of a dataset ``Pager``).

    Args:
        api: The async client.
        options: Paging options; their filter, when set, is combined with the dataset filter.
    """
    options = options or ListOptions()
    query = DATASET_FILTER
    if options.filter_query:
        query = f"({options.filter_query}) AND {DATASET_FILTER}"
    sent = options.copy(filter_query=query)
    page = await api.get_artifacts(artifact_type="dataset-artifact", options=sent)
    options.next_page_token = sent.next_page_token
    return Page(
        [item for item in page if isinstance(item, DataSet)],
        next_page_token=page.next_page_token,
    )


async def register_predictions(
    api: ModelRegistryAPIClient,
    dataset: DataSet | str,
    model_version: ModelVersion | str,
    uri: str,
    *,
    pred_col: str,
    params: Mapping[str, Any] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    skip_validation: bool = False,
) -> DataSet:
    """Register the predictions of a model version on a dataset.

    Args:
        api: The async client.
        dataset: The dataset (or its id) the predictions were made on.
        model_version: The model version (or its id) that made them.
        uri: Where the predictions file is (a local file is validated).
        pred_col: The column holding the predictions.
        params: Further prediction parameters (stored as ``params.*`` beside ``pred_col``).
        description: Free text.
        metadata: Extra custom properties (names must not start with ``params.``).
        skip_validation: Do not open a local file to check its columns.

    Returns:
        The stored ``DataSet`` artifact (attached to the model version).

    Raises:
        NotFound: The dataset or the model version does not exist.
        DataValidationError: The local file is unreadable or lacks ``pred_col``.
        Conflict: Predictions of this version on this dataset exist (nothing is written).
    """
    params = normalize_params({**(params or {}), "pred_col": pred_col})
    _check_metadata(metadata)
    ds = await _as_dataset(api, dataset)
    if isinstance(model_version, ModelVersion):
        mv: ModelVersion | None = model_version
    else:
        mv = await api.get_model_version_by_id(model_version)
    if mv is None or mv.id is None:
        raise NotFound(f"model version {model_version!r} does not exist")
    assert ds.id is not None
    checked = await asyncio.to_thread(_validate, uri, params, skip_validation)
    external_id = predictions_external_id(ds.id, mv.id)
    if await api.get_artifact_by_params(external_id=external_id) is not None:
        raise Conflict(f"predictions of model version {mv.id} on dataset {ds.id} already exist")
    properties: dict[str, Any] = dict(metadata or {})
    properties.update(encode_params(params))
    properties[KIND_PROPERTY] = KIND_PREDICTIONS
    properties["dataset_id"] = ds.id
    properties["model_version_id"] = mv.id
    if mv.registered_model_id:
        properties["registered_model_id"] = mv.registered_model_id
    artifact = DataSet(
        f"predictions-{ds.id}",
        uri=uri,
        description=description,
        external_id=external_id,
        custom_properties=properties,
        state=ArtifactState.LIVE,
        source_type=_source_type(uri),
        source=uri,
        schema=None if checked is None or checked.columns is None else json.dumps(checked.columns),
    )
    stored = await api.upsert_model_version_artifact(artifact, mv.id)
    assert isinstance(stored, DataSet)
    return stored


async def get_predictions_by_id(api: ModelRegistryAPIClient, predictions_id: str) -> DataSet | None:
    """Return predictions registered by :func:`register_predictions`, by id, or None."""
    return await _data_set_of_kind(api, predictions_id, KIND_PREDICTIONS)


async def _data_set_of_kind(
    api: ModelRegistryAPIClient, artifact_id: str, kind: str
) -> DataSet | None:
    """The DataSet artifact ``artifact_id`` when these workflows registered it as ``kind``."""
    artifact = await api.get_artifact_by_id(artifact_id)
    if isinstance(artifact, DataSet) and artifact.custom_properties.get(KIND_PROPERTY) == kind:
        return artifact
    return None


async def find_predictions(
    api: ModelRegistryAPIClient, dataset: DataSet | str, model_version: ModelVersion | str
) -> DataSet | None:
    """Return the predictions of a model version on a dataset (objects or ids), or None."""
    dataset_id = dataset.id if isinstance(dataset, DataSet) else dataset
    version_id = model_version.id if isinstance(model_version, ModelVersion) else model_version
    if dataset_id is None or version_id is None:
        return None
    artifact = await api.get_artifact_by_params(
        external_id=predictions_external_id(dataset_id, version_id)
    )
    return artifact if isinstance(artifact, DataSet) else None


def params_of(artifact: DataSet) -> dict[str, Any]:
    """Return the parameters stored on a dataset or predictions artifact."""
    return decode_params(artifact.custom_properties)
