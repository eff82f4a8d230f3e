"""Copy an MLflow model registry into ours.

Reading (:func:`read_mlflow_registry`) is sync, through MLflow's own client; writing
(:func:`import_models`) is async, through our client. Every copied entity carries an external
id, ``mlflow:<name>`` for a model and ``mlflow:<name>:<version>`` for a version and its
artifact, so a second run finds what the first one wrote and copies nothing twice.

What is copied: model name, description and tags (as custom properties); for each version its
number (as the version name), description, tags, author (MLflow ``user_id``), run id, stage
(``Archived`` becomes the ``ARCHIVED`` state), aliases and source, plus a ``ModelArtifact``
(``model_format_name="mlflow"``) whose ``uri`` is the version's storage location.

MLflow aliases become aliases of the copied versions (and stay listed in the ``mlflow.aliases``
property), so ``models:/NAME@ALIAS`` resolves here as it did in MLflow.

What exists is left alone unless ``update`` is asked for: then models and versions copied
before (found by external id) get MLflow's current description, tags, stage and aliases (a tag
deleted in MLflow stays; an alias is moved to the version MLflow names). Models and versions of
the same name that were not copied from MLflow are never changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from model_registry.exceptions import Unsupported
from model_registry.integrations.mlflow._registry import MLFLOW_FORMAT, property_value
from model_registry.integrations.mlflow.errors import MlflowIntegrationError
from model_registry.types import ModelArtifact, ModelVersion, ModelVersionState, RegisteredModel

if TYPE_CHECKING:
    from model_registry.core import ModelRegistryAPIClient

__all__ = [
    "ImportReport",
    "MlflowModel",
    "MlflowVersion",
    "import_models",
    "model_external_id",
    "read_mlflow_registry",
    "version_external_id",
]


def model_external_id(name: str) -> str:
    """External id of the registered model copied from MLflow model ``name``."""
    return f"mlflow:{name}"


def version_external_id(name: str, version: str) -> str:
    """External id of the version (and of its artifact) copied from MLflow ``name``/``version``."""
    return f"mlflow:{name}:{version}"


@dataclass(frozen=True)
class MlflowVersion:
    """One MLflow model version, as read from the MLflow registry."""

    version: str
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None
    storage_uri: str | None = None
    run_id: str | None = None
    user_id: str | None = None
    stage: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class MlflowModel:
    """One MLflow registered model with its versions (oldest first)."""

    name: str
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    versions: tuple[MlflowVersion, ...] = ()


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        models_created: Registered models created.
        models_existing: Registered models found already (by external id or name).
        versions_created: Versions created (each with its model artifact).
        versions_existing: Versions found already (by external id, or name taken).
        artifacts_created: Missing artifacts added to versions copied before.
        models_updated: Models copied before and brought up to date (with ``update``).
        versions_updated: Versions copied before and brought up to date (with ``update``).
        aliases_set: MLflow aliases set (or moved, with ``update``) on our versions.
    """

    models_created: int = 0
    models_existing: int = 0
    versions_created: int = 0
    versions_existing: int = 0
    artifacts_created: int = 0
    models_updated: int = 0
    versions_updated: int = 0
    aliases_set: int = 0

    def summary(self) -> str:
        """One line for humans."""
        text = (
            f"models: {self.models_created} created, {self.models_existing} already there; "
            f"versions: {self.versions_created} created, {self.versions_existing} already there"
        )
        if self.models_updated or self.versions_updated:
            text += f"; updated: {self.models_updated} models, {self.versions_updated} versions"
        if self.artifacts_created:
            text += f"; {self.artifacts_created} missing artifacts added"
        if self.aliases_set:
            text += f"; {self.aliases_set} aliases set"
        return text


def _paged(fetch: Callable[[str | None], Any]) -> Iterable[Any]:
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def _quote(name: str) -> str:
    # MLflow's filter grammar takes SQL-style strings; a quote inside is doubled.
    return "'" + name.replace("'", "''") + "'"


def _versions_of(client: MlflowClient, name: str, page_size: int) -> Iterable[MlflowModelVersion]:
    query = f"name = {_quote(name)}"
    return _paged(
        lambda token: client.search_model_versions(
            filter_string=query, max_results=page_size, page_token=token
        )
    )


def _read_version(
    client: MlflowClient, mv: MlflowModelVersion, aliases: Mapping[str, str]
) -> MlflowVersion:
    storage: str | None
    try:
        storage = str(client.get_model_version_download_uri(mv.name, mv.version))
    except MlflowException:
        storage = mv.source
    stage = mv.current_stage if mv.current_stage not in (None, "", "None") else None
    return MlflowVersion(
        version=str(mv.version),
        description=mv.description or None,
        tags=dict(mv.tags or {}),
        source=mv.source,
        storage_uri=storage or mv.source,
        run_id=mv.run_id or None,
        user_id=mv.user_id or None,
        stage=stage,
        # Listings may leave a version's aliases out; the model's alias map has them all.
        aliases=tuple(
            sorted(
                set(mv.aliases or ())
                | {alias for alias, number in aliases.items() if str(number) == str(mv.version)}
            )
        ),
    )


def read_mlflow_registry(
    tracking_uri: str,
    *,
    registry_uri: str | None = None,
    names: Iterable[str] | None = None,
    page_size: int = 100,
) -> list[MlflowModel]:
    """Read the registered models and versions of an MLflow registry.

    Args:
        tracking_uri: MLflow tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``...).
        registry_uri: MLflow registry URI when it differs from the tracking URI.
        names: Only these models (all when ``None``).
        page_size: How many models or versions to ask MLflow for at a time.

    Returns:
        The models by name, each with its versions by number.

    Raises:
        MlflowIntegrationError: The registry cannot be read.
    """
    for uri in (tracking_uri, registry_uri):
        _check_sqlite_exists(uri)
    wanted = set(names) if names is not None else None
    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
        found = list(
            _paged(
                lambda token: client.search_registered_models(
                    max_results=page_size, page_token=token
                )
            )
        )
        models = []
        for rm in sorted(found, key=lambda m: m.name):
            if wanted is not None and rm.name not in wanted:
                continue
            aliases = dict(rm.aliases or {})
            read = sorted(
                (
                    _read_version(client, mv, aliases)
                    for mv in _versions_of(client, rm.name, page_size)
                ),
                key=_version_key,
            )
            models.append(
                MlflowModel(
                    name=rm.name,
                    description=rm.description or None,
                    tags=dict(rm.tags or {}),
                    versions=tuple(read),
                )
            )
    except MlflowException as exc:
        raise MlflowIntegrationError(
            f"cannot read the MLflow registry at {tracking_uri!r}: {exc.message}"
        ) from exc
    if wanted:
        missing = sorted(wanted - {m.name for m in models})
        if missing:
            raise MlflowIntegrationError(
                f"no such model in the MLflow registry at {tracking_uri!r}: {', '.join(missing)}"
            )
    return models


def _check_sqlite_exists(uri: str | None) -> None:
    # MLflow creates a missing SQLite database on the spot: an import from a mistyped path
    # would then quietly find an empty registry.
    if uri is None or not uri.lower().startswith("sqlite:///"):
        return
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    if path and path != ":memory:" and not Path(path).is_file():
        raise MlflowIntegrationError(f"no MLflow database at {path!r} (from {uri!r})")


def _version_key(version: MlflowVersion) -> tuple[int, str]:
    return (int(version.version), "") if version.version.isdecimal() else (0, version.version)


def _properties(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: property_value(value) for key, value in values.items() if value is not None}


def _merged(current: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with ``incoming`` laid over it; an incoming ``None`` removes the key."""
    merged = dict(current)
    for key, value in incoming.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = property_value(value)
    return merged


def _version_properties(version: MlflowVersion) -> dict[str, Any]:
    # The mlflow.* keys are always listed, None when unset, so an update can clear them.
    return {
        **version.tags,
        "mlflow.source": version.source,
        "mlflow.run_id": version.run_id,
        "mlflow.stage": version.stage,
        "mlflow.aliases": ",".join(version.aliases) or None,
    }


def _state(version: MlflowVersion) -> ModelVersionState:
    return ModelVersionState.ARCHIVED if version.stage == "Archived" else ModelVersionState.LIVE


async def _model(
    api: ModelRegistryAPIClient, model: MlflowModel, report: ImportReport, update: bool
) -> RegisteredModel:
    external_id = model_external_id(model.name)
    found = await api.get_registered_model_by_params(external_id=external_id)
    if found is not None and update:
        properties = _merged(found.custom_properties, model.tags)
        if (found.description, found.custom_properties) != (model.description, properties):
            found = await api.upsert_registered_model(
                dataclasses.replace(
                    found, description=model.description, custom_properties=properties
                )
            )
            report.models_updated += 1
    if found is None:
        # A model of that name made here (e.g. by MlflowRegister) is reused, not duplicated.
        found = await api.get_registered_model_by_params(name=model.name)
    if found is not None:
        report.models_existing += 1
        return found
    report.models_created += 1
    return await api.upsert_registered_model(
        RegisteredModel(
            model.name,
            description=model.description,
            external_id=external_id,
            custom_properties=_properties(model.tags),
        )
    )


def _artifact(model: MlflowModel, version: MlflowVersion) -> ModelArtifact:
    return ModelArtifact(
        model.name,
        uri=version.storage_uri or version.source,
        external_id=version_external_id(model.name, version.version),
        model_format_name=MLFLOW_FORMAT,
        custom_properties=_properties(
            {
                "mlflow.model_uri": f"models:/{model.name}/{version.version}",
                "mlflow.source": version.source,
            }
        ),
    )


async def _version(
    api: ModelRegistryAPIClient,
    model_id: str,
    model: MlflowModel,
    version: MlflowVersion,
    author: str,
    report: ImportReport,
    update: bool,
) -> None:
    external_id = version_external_id(model.name, version.version)
    found = await api.get_model_version_by_params(external_id=external_id)
    if found is not None:
        report.versions_existing += 1
        assert found.id is not None
        if update:
            await _update_version(api, found, version, report)
        # A run interrupted between the version and its artifact left the artifact out.
        if await api.get_model_artifact_by_params(external_id=external_id) is None:
            await api.upsert_model_artifact(_artifact(model, version), found.id)
            report.artifacts_created += 1
        return
    if (
        await api.get_model_version_by_params(registered_model_id=model_id, version=version.version)
        is not None
    ):
        report.versions_existing += 1  # the name is taken by a version not copied from MLflow
        return
    created = await api.upsert_model_version(
        ModelVersion(
            version.version,
            description=version.description,
            external_id=external_id,
            author=version.user_id or author,
            state=_state(version),
            custom_properties=_properties(_version_properties(version)),
        ),
        model_id,
    )
    assert created.id is not None
    await api.upsert_model_artifact(_artifact(model, version), created.id)
    report.versions_created += 1


async def _update_version(
    api: ModelRegistryAPIClient, found: ModelVersion, version: MlflowVersion, report: ImportReport
) -> None:
    properties = _merged(found.custom_properties, _version_properties(version))
    wanted = (version.description, _state(version), properties)
    if (found.description, found.state, found.custom_properties) == wanted:
        return
    await api.upsert_model_version(
        dataclasses.replace(
            found,
            description=version.description,
            state=_state(version),
            custom_properties=properties,
        )
    )
    report.versions_updated += 1


async def import_models(
    api: ModelRegistryAPIClient,
    models: Iterable[MlflowModel],
    *,
    author: str,
    update: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> ImportReport:
    """Copy MLflow models and their versions into our registry, skipping what is there.

    Args:
        api: The async client of our registry.
        models: What :func:`read_mlflow_registry` returned.
        author: Author of versions whose MLflow ``user_id`` is empty.
        update: Also bring models and versions copied before up to date with MLflow.
        on_step: Called after each model and each version with a short description
            (``len(models) + total versions`` calls in all), e.g. to advance a progress bar.

    Returns:
        What was created and what was found.
    """
    report = ImportReport()
    step = on_step or (lambda _text: None)
    for model in models:
        stored = await _model(api, model, report, update)
        assert stored.id is not None
        step(f"model {model.name}")
        for version in model.versions:
            await _version(api, stored.id, model, version, author, report, update)
            step(f"{model.name} v{version.version}")
        await _aliases(api, stored.id, model, report, update)
    return report


async def _aliases(
    api: ModelRegistryAPIClient,
    model_id: str,
    model: MlflowModel,
    report: ImportReport,
    update: bool,
) -> None:
    """Carry MLflow's aliases over as aliases of the versions copied from MLflow.

    MLflow's alias rule is ours (``latest`` and ``v<digits>`` reserved), so each imports as
    it is. An alias already set here is moved only with ``update``; one removed in MLflow
    stays (it may have been set here). A server without aliases keeps them as the
    ``mlflow.aliases`` property only.
    """
    wanted = [(alias, v) for v in model.versions for alias in v.aliases]
    if not wanted:
        return
    stored = await api.get_registered_model_by_id(model_id)
    current = dict(stored.aliases) if stored is not None else {}
    for alias, version in wanted:
        external_id = version_external_id(model.name, version.version)
        found = await api.get_model_version_by_params(external_id=external_id)
        if found is None or found.id is None or current.get(alias) == found.id:
            continue
        if alias in current and not update:
            continue
        try:
            await api.set_model_version_alias(model_id, alias, found.id)
        except Unsupported:
            return
        current[alias] = found.id
        report.aliases_set += 1
