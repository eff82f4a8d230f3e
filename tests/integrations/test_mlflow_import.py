"""`model-registry import mlflow`: a real MLflow SQLite registry copied into our real server."""

from __future__ import annotations

from collections.abc import Iterator

import mlflow
import pandas as pd  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner, Result
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow_helpers import Doubler, LocalMlflow

from model_registry.client import ModelRegistry
from model_registry.integrations.cli import import_group
from model_registry.integrations.mlflow import CustomLoader, CustomSaver
from model_registry.integrations.mlflow.importer import read_mlflow_registry
from model_registry.server import RunningServer
from model_registry.types import ModelArtifact, ModelVersion, ModelVersionState

EXAMPLE = pd.DataFrame({"x": [1.0, 2.0]})


@pytest.fixture
def registry(registry_server: RunningServer) -> Iterator[ModelRegistry]:
    with ModelRegistry(
        "http://127.0.0.1", registry_server.port, author="tester", is_secure=False
    ) as facade:
        yield facade


@pytest.fixture
def mlflow_registry(local_mlflow: LocalMlflow) -> MlflowClient:
    """An MLflow registry with 2 models x 2 versions, sources pointing at a real model."""
    saver = CustomSaver(config_file=local_mlflow.config_file(factor=5), pip_requirements=["mlflow"])
    with mlflow.start_run() as run:
        info = saver.save(Doubler(), infer_signature(EXAMPLE, [2.0, 4.0]), EXAMPLE)
    client = MlflowClient(tracking_uri=local_mlflow.tracking_uri)
    for name in ("alpha", "beta"):
        client.create_registered_model(name, tags={"team": name}, description=f"the {name} model")
        for number in (1, 2):
            client.create_model_version(
                name,
                info.model_uri,
                run_id=run.info.run_id,
                tags={"round": str(number)},
                description=f"{name} v{number}",
            )
    return client


def _import(server: RunningServer, tracking_uri: str, *extra: str) -> Result:
    result = CliRunner().invoke(
        import_group,
        ["mlflow", "--tracking-uri", tracking_uri, *extra],
        env={"MODEL_REGISTRY_URL": server.url},
    )
    assert result.exit_code == 0, result.output
    return result


def _snapshot(registry: ModelRegistry) -> dict[str, dict[str, list[ModelArtifact]]]:
    """Every model -> version name -> its model artifacts."""
    out: dict[str, dict[str, list[ModelArtifact]]] = {}
    for model in registry.get_registered_models():
        versions: list[ModelVersion] = list(registry.get_model_versions(model.name))
        out[model.name] = {
            v.name: [a for a in registry.get_model_artifacts(model.name, v.name)]  # type: ignore[misc]
            for v in versions
        }
    return out


def test_import_copies_models_versions_descriptions_tags_and_sources(
    local_mlflow: LocalMlflow,
    mlflow_registry: MlflowClient,
    registry: ModelRegistry,
    registry_server: RunningServer,
) -> None:
    result = _import(registry_server, local_mlflow.tracking_uri)

    assert "models: 2 created" in result.output
    assert "versions: 4 created" in result.output
    assert "imported from MLflow" in result.output  # the progress bar, 2 models + 4 versions
    assert "6/6" in result.output
    snapshot = _snapshot(registry)
    assert {name: sorted(versions) for name, versions in snapshot.items()} == {
        "alpha": ["1", "2"],
        "beta": ["1", "2"],
    }
    alpha = registry.get_registered_model("alpha")
    assert alpha is not None
    assert alpha.description == "the alpha model"
    assert alpha.external_id == "mlflow:alpha"
    assert alpha.custom_properties["team"] == "alpha"
    version = registry.get_model_version("beta", "2")
    assert version is not None
    assert version.description == "beta v2"
    assert version.external_id == "mlflow:beta:2"
    assert version.custom_properties["round"] == "2"
    source = mlflow_registry.get_model_version("beta", "2").source
    assert version.custom_properties["mlflow.source"] == source
    (artifact,) = snapshot["beta"]["2"]
    assert artifact.model_format_name == "mlflow"
    assert artifact.uri == mlflow_registry.get_model_version_download_uri("beta", "2")
    # What was imported loads back through our registry.
    with CustomLoader(client=registry) as loader:
        assert loader.load("models:/alpha/latest").predict(EXAMPLE).prediction == [10.0, 20.0]


def test_reading_mlflow_page_by_page_reads_everything(
    local_mlflow: LocalMlflow, mlflow_registry: MlflowClient
) -> None:
    whole = read_mlflow_registry(local_mlflow.tracking_uri)
    paged = read_mlflow_registry(local_mlflow.tracking_uri, page_size=1)

    assert paged == whole
    assert [(m.name, [v.version for v in m.versions]) for m in paged] == [
        ("alpha", ["1", "2"]),
        ("beta", ["1", "2"]),
    ]
    assert paged[0].description == "the alpha model"
    assert paged[0].versions[1].tags == {"round": "2"}


def test_import_twice_copies_nothing_twice_and_then_only_what_is_new(
    local_mlflow: LocalMlflow,
    mlflow_registry: MlflowClient,
    registry: ModelRegistry,
    registry_server: RunningServer,
) -> None:
    _import(registry_server, local_mlflow.tracking_uri)
    before = _snapshot(registry)

    again = _import(registry_server, local_mlflow.tracking_uri)

    assert "models: 0 created, 2 already there" in again.output
    assert "versions: 0 created, 4 already there" in again.output
    after = _snapshot(registry)
    assert after == before
    assert all(len(artifacts) == 1 for v in after.values() for artifacts in v.values())

    source = mlflow_registry.get_model_version("alpha", "1").source
    assert source is not None
    mlflow_registry.create_model_version("alpha", source, description="alpha v3")
    third = _import(registry_server, local_mlflow.tracking_uri)

    assert "versions: 1 created, 4 already there" in third.output
    assert sorted(_snapshot(registry)["alpha"]) == ["1", "2", "3"]


@pytest.mark.filterwarnings("ignore:.*transition_model_version_stage.*:FutureWarning")
def test_import_keeps_stage_and_aliases(
    local_mlflow: LocalMlflow,
    mlflow_registry: MlflowClient,
    registry: ModelRegistry,
    registry_server: RunningServer,
) -> None:
    mlflow_registry.transition_model_version_stage("alpha", "2", "Archived")
    mlflow_registry.set_registered_model_alias("alpha", "champion", "1")

    _import(registry_server, local_mlflow.tracking_uri)

    champion = registry.get_model_version("alpha", "1")
    archived = registry.get_model_version("alpha", "2")
    assert champion is not None and archived is not None
    assert archived.state == ModelVersionState.ARCHIVED
    assert archived.custom_properties["mlflow.stage"] == "Archived"
    assert champion.state == ModelVersionState.LIVE
    assert champion.custom_properties["mlflow.aliases"] == "champion"
    # `latest` is the newest version that is not archived.
    with CustomLoader(client=registry) as loader:
        latest = loader.load("models:/alpha/latest")
    assert latest.model_version is not None and latest.model_version.name == "1"


@pytest.mark.filterwarnings("ignore:.*transition_model_version_stage.*:FutureWarning")
def test_import_update_brings_copied_entities_up_to_date_and_only_then(
    local_mlflow: LocalMlflow,
    mlflow_registry: MlflowClient,
    registry: ModelRegistry,
    registry_server: RunningServer,
) -> None:
    mlflow_registry.set_registered_model_alias("beta", "champion", "1")
    _import(registry_server, local_mlflow.tracking_uri)
    mlflow_registry.update_registered_model("alpha", description="alpha, revised")
    mlflow_registry.set_registered_model_tag("alpha", "team", "platform")
    mlflow_registry.update_model_version("beta", "1", description="beta v1, revised")
    mlflow_registry.transition_model_version_stage("beta", "1", "Archived")
    mlflow_registry.delete_registered_model_alias("beta", "champion")

    plain = _import(registry_server, local_mlflow.tracking_uri)

    assert "updated" not in plain.output
    alpha = registry.get_registered_model("alpha")
    assert alpha is not None and alpha.description == "the alpha model"

    updated = _import(registry_server, local_mlflow.tracking_uri, "--update")

    assert "updated: 1 models, 1 versions" in updated.output
    assert "versions: 0 created" in updated.output
    alpha = registry.get_registered_model("alpha")
    assert alpha is not None
    assert alpha.description == "alpha, revised"
    assert alpha.custom_properties["team"] == "platform"
    beta1 = registry.get_model_version("beta", "1")
    assert beta1 is not None
    assert beta1.description == "beta v1, revised"
    assert beta1.state == ModelVersionState.ARCHIVED
    assert beta1.custom_properties["mlflow.stage"] == "Archived"
    assert "mlflow.aliases" not in beta1.custom_properties
    assert beta1.custom_properties["round"] == "1"
    # Up to date now: a second update changes nothing.
    again = _import(registry_server, local_mlflow.tracking_uri, "--update")
    assert "updated" not in again.output


def test_import_of_one_model_and_of_an_unknown_model(
    local_mlflow: LocalMlflow,
    mlflow_registry: MlflowClient,
    registry: ModelRegistry,
    registry_server: RunningServer,
) -> None:
    result = _import(registry_server, local_mlflow.tracking_uri, "--model", "beta")
    assert "models: 1 created" in result.output
    assert list(_snapshot(registry)) == ["beta"]

    missing = CliRunner().invoke(
        import_group,
        ["mlflow", "--tracking-uri", local_mlflow.tracking_uri, "--model", "gamma"],
        env={"MODEL_REGISTRY_URL": registry_server.url},
    )
    assert missing.exit_code == 1
    assert "no such model in the MLflow registry" in missing.output
    assert "gamma" in missing.output


@pytest.mark.parametrize(
    ("tracking_uri", "message"),
    [
        ("sqlite:///{root}/missing/mlflow.db", "no MLflow database at"),
        ("bogus://somewhere", "cannot read the MLflow registry at 'bogus://somewhere'"),
    ],
)
def test_import_from_a_registry_that_cannot_be_read_exits_1_naming_it(
    local_mlflow: LocalMlflow, tracking_uri: str, message: str
) -> None:
    uri = tracking_uri.format(root=local_mlflow.root)
    result = CliRunner().invoke(
        import_group,
        ["mlflow", "--tracking-uri", uri],
        env={"MODEL_REGISTRY_URL": "http://127.0.0.1:9"},
    )

    assert result.exit_code == 1
    assert message in result.output
    assert not (local_mlflow.root / "missing").exists()  # nothing was created on the way
