"""The seed's data configurations read into a source, parameters and what is recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from model_registry.workflows.data_config import CONNECTION_INFO_PROPERTY, data_source


def test_a_data_file_config_gives_its_path_parameters_and_the_recorded_connection() -> None:
    source = data_source(
        {
            "connection_info": {"data_file": {"path": "/data/train.csv"}},
            "data_params": {"label_col": "is_fraud", "timestamp_col": "timestamp"},
        }
    )
    assert source.uri == "/data/train.csv"
    assert source.openable
    assert source.params == {"label_col": "is_fraud", "timestamp_col": "timestamp"}
    assert json.loads(source.properties[CONNECTION_INFO_PROPERTY]) == {
        "data_file": {"path": "/data/train.csv"}
    }


def test_a_hugging_face_dataset_is_recorded_not_opened() -> None:
    source = data_source(
        {
            "connection_info": {
                "hugging_face": {
                    "dataset_uri": "imdb",
                    "split_name": "test",
                    "loading_params_json": '{"revision": "main"}',
                }
            },
            "data_params": {"label_col": "label", "text_features": ["text"]},
        }
    )
    assert source.uri == "hf://imdb"
    assert not source.openable
    assert json.loads(source.properties[CONNECTION_INFO_PROPERTY])["hugging_face"] == {
        "dataset_uri": "imdb",
        "split_name": "test",
        "loading_params_json": '{"revision": "main"}',
    }


def test_predictions_read_their_parameters_from_pred_params() -> None:
    source = data_source(
        {
            "connection_info": {"data_file": {"path": "s3://bucket/preds.csv"}},
            "pred_params": {"pred_col": "score"},
        },
        params_key="pred_params",
    )
    assert (source.uri, source.params) == ("s3://bucket/preds.csv", {"pred_col": "score"})


def test_parameters_are_optional() -> None:
    assert data_source({"connection_info": {"data_file": {"path": "a.csv"}}}).params == {}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("a.csv", "must be a mapping"),
        ({}, "exactly one source"),
        ({"connection_info": {}}, "exactly one source"),
        (
            {"connection_info": {"data_file": {"path": "a"}, "hugging_face": {"dataset_uri": "b"}}},
            "exactly one source",
        ),
        ({"connection_info": {"databricks": {"table": "t"}}}, "unknown connection_info source"),
        ({"connection_info": {"data_file": "a.csv"}}, "must be a mapping"),
        ({"connection_info": {"data_file": {}}}, "data_file.path must be a non-empty string"),
        ({"connection_info": {"data_file": {"path": ""}}}, "non-empty string"),
        (
            {"connection_info": {"data_file": {"path": "a"}}, "data_params": ["label"]},
            "data_params must be a mapping",
        ),
        (
            {"connection_info": {"data_file": {"path": "a"}}, "pred_params": {"pred_col": "p"}},
            "unknown key",
        ),
    ],
)
def test_a_malformed_config_is_a_value_error_that_says_what_is_wrong(
    config: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        data_source(config)
