"""Dataset parameters and model configurations round-trip through custom properties."""

from __future__ import annotations

from typing import Any

import pytest

from model_registry.workflows.model_config import (
    decode_model_config,
    normalize_model_config,
    spec_from_config,
)
from model_registry.workflows.params import decode_params, encode_params, normalize_params

SEED_PARAMS: dict[str, Any] = {
    "label_col": "label",
    "timestamp_col": "timestamp",
    "text_features": ["premise", "hypothesis"],
    "class_names": ["Contradiction", "Neutral", "Entailment"],
}


def test_seed_data_params_round_trip_exactly() -> None:
    stored = encode_params(SEED_PARAMS)

    assert stored["params.label_col"] == "label"
    assert stored["params.text_features"] == '["premise","hypothesis"]'
    assert all(isinstance(value, str) for value in stored.values())
    assert decode_params(stored) == SEED_PARAMS


@pytest.mark.parametrize(
    "extra",
    [
        {"ranking": {"query_col": "q", "weights": [1, 2.5]}},
        {"threshold": 0.25},
        {"flag": True},
        {"note": "[not json looking]"},
        {"class_names": []},
    ],
)
def test_extra_parameters_round_trip_with_their_types(extra: dict[str, Any]) -> None:
    params = {"label_col": "y", **extra}

    assert decode_params(encode_params(params)) == params


def test_none_means_absent_and_other_properties_are_ignored() -> None:
    stored = encode_params({"label_col": "y", "timestamp_col": None})
    stored["owner_note"] = "not a parameter"

    assert decode_params(stored) == {"label_col": "y"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"label_col": 3}, "'label_col' must be a non-empty string"),
        ({"text_features": "premise"}, "'text_features' must be a list of strings"),
        ({"class_names": [1, 2]}, "'class_names' must be a list of strings"),
        ({"weights": {1: "a"}}, "does not survive JSON"),
        ({"bad": float("nan")}, "is not a JSON value"),
    ],
)
def test_invalid_parameters_are_refused_with_the_key_named(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_params(params)


SEED_HF_CONFIG = {
    "hugging_face": {
        "model_uri": "cross-encoder/nli-MiniLM2-L6-H768",
        "kwargs": {
            "tokenizer_uri": "cross-encoder/nli-MiniLM2-L6-H768",
            "class_map": {0: "contradiction", 1: "entailment", "2": "neutral"},
            "ignore_class_names": True,
        },
    }
}


def test_seed_hugging_face_config_round_trips_with_int_class_map_keys() -> None:
    spec = spec_from_config(SEED_HF_CONFIG)

    assert spec.source == "hugging_face"
    assert spec.uri == "cross-encoder/nli-MiniLM2-L6-H768"
    assert spec.properties["tokenizer_uri"] == "cross-encoder/nli-MiniLM2-L6-H768"
    assert spec.properties["ignore_class_names"] is True
    assert decode_model_config(spec.properties) == SEED_HF_CONFIG


def test_top_level_tokenizer_and_class_map_move_into_kwargs() -> None:
    config = {"hugging_face": {"model_uri": "m", "tokenizer_uri": "t", "class_map": {0: "a"}}}

    assert normalize_model_config(config) == {
        "hugging_face": {"model_uri": "m", "kwargs": {"tokenizer_uri": "t", "class_map": {0: "a"}}}
    }


def test_model_path_config_is_canonical() -> None:
    spec = spec_from_config({"model_path": {"path": "s3://bucket/model.py"}})

    assert (spec.source, spec.uri) == ("model_path", "s3://bucket/model.py")
    assert decode_model_config(spec.properties) == {"model_path": {"path": "s3://bucket/model.py"}}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "exactly one of"),
        ({"onnx": {}}, "unknown model_config key"),
        ({"hugging_face": {}}, "hugging_face.model_uri must be a non-empty string"),
        ({"hugging_face": {"model_uri": "m", "revision": "x"}}, "unknown hugging_face key"),
        (
            {
                "hugging_face": {
                    "model_uri": "m",
                    "tokenizer_uri": "a",
                    "kwargs": {"tokenizer_uri": "b"},
                }
            },
            "disagree",
        ),
        ({"hugging_face": {"model_uri": "m", "class_map": [1]}}, "class_map must be a mapping"),
        ({"model_path": {"path": ""}}, "model_path.path must be a non-empty string"),
    ],
)
def test_malformed_model_configs_are_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_model_config(config)


def test_artifact_without_config_property_decodes_to_none() -> None:
    assert decode_model_config({"other": "x"}) is None
