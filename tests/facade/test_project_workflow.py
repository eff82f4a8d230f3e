"""The seed's project workflow through the sync facade against the embedded server.

The snippets of seed 000 (and the older spellings of seed 001) run as written there, with
their placeholders filled in; then the tests check what was stored, and where.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_registry import ModelRegistry
from model_registry.client import ProjectClient
from model_registry.exceptions import Conflict, NotFound
from model_registry.server import RunningServer
from model_registry.workflows import DataValidationError, decode_params

URI = "distilbert-base-uncased-finetuned-sst-2-english"
TOKENIZER_URI = "distilbert-base-uncased"
MAP = {0: "negative", 1: "positive"}


def write_csv(path: Path, columns: list[str]) -> str:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([columns, [f"{c}-1" for c in columns]])
    return str(path)


@pytest.fixture
def client(threaded_server: RunningServer) -> Iterator[ModelRegistry]:
    """The facade, as the seed's ``client``."""
    registry = ModelRegistry(
        "http://127.0.0.1", threaded_server.port, author="seed", is_secure=False
    )
    try:
        yield registry
    finally:
        registry.close()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    model = tmp_path / "model.py"
    model.write_text("def predict_dict(x):\n    return {}\n")
    return {
        "data": write_csv(tmp_path / "transactions.csv", ["amount", "is_fraud", "timestamp"]),
        "preds": write_csv(tmp_path / "predictions.csv", ["id", "fraud_score"]),
        "model": str(model),
    }


def test_the_seed_000_snippets_run_as_written_and_write_into_their_project(
    client: ModelRegistry, files: dict[str, str], threaded_server: RunningServer
) -> None:
    project = client.create_project(
        name="fraud-detection",
        description="Card fraud models",
        model_task="MODEL_TASK_BINARY_CLASSIFICATION",
    )
    PROJECT_ID = project.project_id
    project = client.get_project(project_id=PROJECT_ID)

    # Get your model config
    model_id = project.register_model(
        name="sentiment",
        model_config={
            "hugging_face": {
                "model_uri": URI,
                "kwargs": {
                    "tokenizer_uri": TOKENIZER_URI,
                    "class_map": MAP,
                    "ignore_class_names": True,
                },
            },
        },
    )
    path_model_id = project.register_model_from_path(
        name="from-path", remote_path="s3://models/fraud/model.py"
    )
    secret_model_id = project.register_model(
        name="with-secrets",
        model_config={"model_path": {"path": files["model"]}},
        model_endpoint_integration_id="0f4c-integration",
    )

    data_config = {
        "connection_info": {"data_file": {"path": files["data"]}},
        "data_params": {"label_col": "is_fraud", "timestamp_col": "timestamp"},
    }
    dataset_id = project.register_dataset(name="transactions", data_config=data_config)

    prediction_config = {
        "connection_info": {"data_file": {"path": files["preds"]}},
        "pred_params": {"pred_col": "fraud_score"},
    }
    predictions_id = project.register_predictions(
        dataset_id=dataset_id, model_id=secret_model_id, pred_config=prediction_config
    )

    # The ids are the registered models' (three), the dataset's and the predictions'.
    assert len({model_id, path_model_id, secret_model_id}) == 3
    assert dataset_id != predictions_id
    assert (project.name, project.model_task, project.description) == (
        "fraud-detection",
        "MODEL_TASK_BINARY_CLASSIFICATION",
        "Card fraud models",
    )
    with ModelRegistry(
        "http://127.0.0.1",
        threaded_server.port,
        author="reader",
        is_secure=False,
        project="fraud-detection",
    ) as inside:
        sentiment = inside.get_registered_model_by_id(model_id)
        assert sentiment is not None and sentiment.name == "sentiment"
        assert inside.get_model_config("sentiment") == {
            "hugging_face": {
                "model_uri": URI,
                "kwargs": {
                    "tokenizer_uri": TOKENIZER_URI,
                    "class_map": MAP,
                    "ignore_class_names": True,
                },
            }
        }
        version = inside.latest_version("with-secrets")
        assert version is not None and version.name == "1"
        assert version.custom_properties["model_endpoint_integration_id"] == "0f4c-integration"
        dataset = inside.get_dataset("transactions")
        assert dataset is not None and dataset.id == dataset_id
        assert decode_params(dataset.custom_properties) == {
            "label_col": "is_fraud",
            "timestamp_col": "timestamp",
        }
        predictions = inside.get_predictions_by_id(predictions_id)
        assert predictions is not None
        assert predictions.custom_properties["dataset_id"] == dataset_id
        assert predictions.custom_properties["registered_model_id"] == secret_model_id
        assert predictions.custom_properties["model_version_id"] == version.id
    # Nothing reached the default project.
    assert [m.name for m in client.get_registered_models()] == []
    assert client.get_dataset("transactions") is None


def test_the_seed_001_spellings_work_too(
    client: ModelRegistry, files: dict[str, str], threaded_server: RunningServer
) -> None:
    rime_client = client
    project = rime_client.create_project(
        name="project", description="stress tests", model_task="MODEL_TASK_BINARY_CLASSIFICATION"
    )
    MY_PROJECT_ID = project.project_id
    project = rime_client.get_project(MY_PROJECT_ID)
    reference_id = project.register_dataset(
        name="reference",
        data_params={
            "connection_info": {"data_file": {"path": files["data"]}},
            "data_params": {"label_col": "is_fraud"},
        },
        integration_id="databricks-7",
    )
    model_id = project.register_model_from_path(name="model", remote_path=files["model"])
    config = {"data_info": {"ref_dataset_id": reference_id}, "model_id": model_id}

    assert config["model_id"] == model_id
    assert rime_client.get_project_by_name("project") == project
    with ModelRegistry(
        "http://127.0.0.1", threaded_server.port, author="x", is_secure=False, project="project"
    ) as inside:
        stored = inside.get_dataset_by_id(reference_id)
        assert inside.get_registered_model_by_id(model_id) is not None
    assert stored is not None
    assert stored.custom_properties["integration_id"] == "databricks-7"
    assert json.loads(stored.custom_properties["connection_info"]) == {
        "data_file": {"path": files["data"]}
    }


def test_names_are_unique_in_a_project_but_not_across_projects(
    client: ModelRegistry, files: dict[str, str]
) -> None:
    fraud = client.create_project("fraud")
    churn = client.create_project("churn")
    data_config = {"connection_info": {"data_file": {"path": files["data"]}}}
    fraud.register_model_from_path("HAL", "s3://m/hal.py")
    fraud.register_dataset("tx", data_config)
    with pytest.raises(Conflict, match="HAL"):
        fraud.register_model_from_path("HAL", "s3://m/hal.py", version="2")
    with pytest.raises(Conflict, match="tx"):
        fraud.register_dataset("tx", data_config)
    # The same names in another project are new there.
    assert churn.register_model_from_path("HAL", "s3://m/hal.py")
    assert churn.register_dataset("tx", data_config)
    with pytest.raises(Conflict):
        client.create_project("fraud")


def test_predictions_go_to_the_newest_version_or_the_one_named(
    client: ModelRegistry, files: dict[str, str], threaded_server: RunningServer
) -> None:
    project = client.create_project("ranking", model_task="MODEL_TASK_RANKING")
    model_id = project.register_model_from_path("ranker", "s3://m/r.py")
    dataset_id = project.register_dataset(
        "queries", {"connection_info": {"data_file": {"path": files["data"]}}}
    )
    pred_config = {
        "connection_info": {"data_file": {"path": files["preds"]}},
        "pred_params": {"pred_col": "fraud_score"},
    }
    with ModelRegistry(
        "http://127.0.0.1",
        threaded_server.port,
        author="seed",
        is_secure=False,
        project=project.project_id,
    ) as inside:
        first = inside.latest_version("ranker")
        assert first is not None and first.id is not None
        inside.register_model(
            "ranker", "s3://m/r2.py", version="2", model_format_name="py", model_format_version="1"
        )
        newest = inside.latest_version("ranker")
        assert newest is not None and newest.name == "2"
        by_default = project.register_predictions(dataset_id, model_id, pred_config)
        named = project.register_predictions(
            dataset_id, model_id, pred_config, model_version_id=first.id
        )
        assert inside.get_predictions(dataset_id, newest) is not None
        stored = inside.get_predictions_by_id(by_default)
        assert stored is not None and stored.custom_properties["model_version_id"] == newest.id
        stored = inside.get_predictions_by_id(named)
        assert stored is not None and stored.custom_properties["model_version_id"] == first.id
    with pytest.raises(Conflict):
        project.register_predictions(dataset_id, model_id, pred_config)
    with pytest.raises(NotFound):
        project.register_predictions(dataset_id, model_id, pred_config, model_version_id="999")


def test_local_files_are_validated_and_malformed_configs_refused(
    client: ModelRegistry, files: dict[str, str], tmp_path: Path
) -> None:
    project = client.create_project("checked")
    missing = str(tmp_path / "absent.csv")
    with pytest.raises(DataValidationError, match=r"absent\.csv"):
        project.register_dataset("a", {"connection_info": {"data_file": {"path": missing}}})
    with pytest.raises(DataValidationError, match="label"):
        project.register_dataset(
            "b",
            {
                "connection_info": {"data_file": {"path": files["data"]}},
                "data_params": {"label_col": "label"},
            },
        )
    with pytest.raises(DataValidationError, match=r"model\.pkl"):
        project.register_model_from_path("m", str(tmp_path / "model.pkl"))
    assert project.register_model_from_path("m", str(tmp_path / "model.pkl"), skip_validation=True)
    with pytest.raises(ValueError, match="not both"):
        project.register_dataset("c", data_config={}, data_params={})
    with pytest.raises(ValueError, match="pred_col"):
        project.register_predictions(
            "1", "2", {"connection_info": {"data_file": {"path": files["preds"]}}}
        )
    # A Hugging Face dataset is recorded, never opened.
    hf_id = project.register_dataset(
        "imdb",
        {
            "connection_info": {"hugging_face": {"dataset_uri": "imdb", "split_name": "test"}},
            "data_params": {"label_col": "label", "text_features": ["text"]},
        },
    )
    assert hf_id


def test_projects_are_found_by_id_and_name_and_listed(client: ModelRegistry) -> None:
    created = client.create_project("listed", "d", "MODEL_TASK_FILL_MASK")
    assert isinstance(created, ProjectClient)
    assert client.get_project(created.project_id) == created
    assert client.get_project_by_name("listed") == created
    names = sorted(p.name for p in client.list_projects())
    assert names == ["default", "listed"]
    with pytest.raises(NotFound, match="get_project_by_name takes a name"):
        client.get_project("listed")
    with pytest.raises(NotFound, match="absent"):
        client.get_project_by_name("absent")
