"""Datasets, predictions and models from configs through the sync facade."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_registry.client import ModelRegistry
from model_registry.exceptions import Conflict, NotFound
from model_registry.server import RunningServer
from model_registry.workflows import DataValidationError

PARAMS = {
    "label_col": "label",
    "timestamp_col": "ts",
    "text_features": ["premise", "hypothesis"],
    "class_names": ["Contradiction", "Neutral", "Entailment"],
}


@pytest.fixture
def registry(threaded_server: RunningServer) -> Iterator[ModelRegistry]:
    with ModelRegistry(
        f"http://{threaded_server.host}", threaded_server.port, author="Dave", is_secure=False
    ) as client:
        yield client


def write_csv(path: Path, columns: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerow([f"{c}-value" for c in columns])
    return path


def test_dataset_is_found_by_name_and_id_with_its_params(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "snli.csv", ["ts", "premise", "hypothesis", "label"])

    dataset_id = registry.register_dataset("snli-train", str(data), data_params=PARAMS)

    by_name = registry.get_dataset("snli-train")
    by_id = registry.get_dataset_by_id(dataset_id)
    assert by_name is not None and by_name == by_id
    assert by_name.id == dataset_id and by_name.uri == str(data)
    assert registry.get_params(by_name) == PARAMS
    assert by_name.schema == '["ts", "premise", "hypothesis", "label"]'
    assert [d.id for d in registry.get_datasets()] == [dataset_id]


def test_dataset_name_is_unique(registry: ModelRegistry) -> None:
    registry.register_dataset("d", "s3://bucket/d.csv", data_params={"label_col": "y"})

    with pytest.raises(Conflict, match="'d'"):
        registry.register_dataset("d", "s3://bucket/other.csv")


def test_invalid_local_dataset_is_refused_and_nothing_is_stored(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "d.csv", ["ts", "premise"])

    with pytest.raises(DataValidationError, match="'label' \\(label_col\\)"):
        registry.register_dataset("d", str(data), data_params=PARAMS)

    assert registry.get_dataset("d") is None
    skipped = registry.register_dataset("d", str(data), data_params=PARAMS, skip_validation=True)
    assert registry.get_dataset_by_id(skipped) is not None


def test_predictions_are_linked_to_dataset_and_model_version(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    dataset_id = registry.register_dataset("eval", "s3://bucket/eval.parquet")
    model_id = registry.register_model_from_config(
        "nli", {"hugging_face": {"model_uri": "cross-encoder/nli-MiniLM2-L6-H768"}}
    )
    version = registry.latest_version("nli")
    assert version is not None and version.registered_model_id == model_id
    preds = write_csv(tmp_path / "preds.csv", ["id", "pred"])

    predictions_id = registry.register_predictions(dataset_id, version, str(preds), pred_col="pred")

    stored = registry.get_predictions_by_id(predictions_id)
    assert stored is not None and stored == registry.get_predictions(dataset_id, version)
    assert stored.custom_properties["dataset_id"] == dataset_id
    assert stored.custom_properties["model_version_id"] == version.id
    assert registry.get_params(stored) == {"pred_col": "pred"}
    listed = [a.id for a in registry.get_model_artifacts("nli", version.name)]
    assert predictions_id in listed
    with pytest.raises(Conflict):
        registry.register_predictions(dataset_id, version, str(preds), pred_col="pred")
    with pytest.raises(DataValidationError, match="'score' \\(pred_col\\)"):
        registry.register_predictions(dataset_id, version, str(preds), pred_col="score")
    with pytest.raises(NotFound):
        registry.register_predictions("999999", version, str(preds), pred_col="pred")


def test_model_from_hugging_face_config_round_trips(registry: ModelRegistry) -> None:
    config = {
        "hugging_face": {
            "model_uri": "cross-encoder/nli-MiniLM2-L6-H768",
            "kwargs": {
                "tokenizer_uri": "cross-encoder/nli-MiniLM2-L6-H768",
                "class_map": {0: "contradiction", 1: "entailment", 2: "neutral"},
                "ignore_class_names": True,
            },
        }
    }

    model_id = registry.register_model_from_config("nli", config)

    model = registry.get_registered_model("nli")
    assert model is not None and model.id == model_id
    assert registry.get_registered_model_by_id(model_id) == model
    assert registry.get_model_config("nli") == config
    artifact = registry.get_model_artifact("nli", "1")
    assert artifact is not None
    assert (artifact.uri, artifact.model_format_name) == (
        "cross-encoder/nli-MiniLM2-L6-H768",
        "hugging_face",
    )


def test_model_from_path_checks_local_files_only(registry: ModelRegistry, tmp_path: Path) -> None:
    model_file = tmp_path / "model.py"
    model_file.write_text("def predict(x):\n    return x\n")

    local_id = registry.register_model_from_path("local", str(model_file))
    remote_id = registry.register_model_from_path("remote", "s3://bucket/model.py", version="2")

    assert registry.get_model_config("local") == {"model_path": {"path": str(model_file)}}
    assert registry.get_model_config("remote", "2") == {
        "model_path": {"path": "s3://bucket/model.py"}
    }
    assert local_id != remote_id
    with pytest.raises(DataValidationError, match="does not exist"):
        registry.register_model_from_path("missing", str(tmp_path / "absent.py"))
    assert registry.get_registered_model("missing") is None
