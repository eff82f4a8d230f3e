"""Model URI checks and registry references (no I/O)."""

from __future__ import annotations

import os

import pytest

from model_registry.integrations.mlflow.errors import InvalidModelUri
from model_registry.integrations.mlflow.uris import (
    RegistryRef,
    check_model_uri,
    mlflow_location,
    parse_registry_ref,
)


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("models:/churn/3", RegistryRef("churn", "3")),
        ("models:/churn/latest", RegistryRef("churn", None)),
        ("models:/churn/LATEST", RegistryRef("churn", None)),
        ("  models:/churn/v1.0  ", RegistryRef("churn", "v1.0")),
        ("models:/churn@champion", RegistryRef("churn", None, "champion")),
    ],
)
def test_registry_references_are_read_from_models_uris(uri: str, ref: RegistryRef) -> None:
    assert parse_registry_ref(uri) == ref


@pytest.mark.parametrize(
    "uri",
    [
        "models:/m-0123456789abcdef",  # an MLflow 3 logged model
        "runs:/0123abcd/model",
        "file:///tmp/model",
        "s3://bucket/model",
        "/abs/path/model",
        "relative/model",
        r"C:\models\churn",
    ],
)
def test_other_uris_are_left_to_mlflow(uri: str) -> None:
    assert parse_registry_ref(uri) is None
    assert check_model_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        (None, "expected a string, got NoneType"),
        (42, "expected a string, got int"),
        ("", "it is empty"),
        ("  \t ", "it is empty"),
        ("models:/a\n/1", "control characters"),
        ("models:churn/1", "expected models:/NAME/VERSION"),
        ("models:/", "expected models:/NAME/VERSION"),
        ("models:/churn/", "expected models:/NAME/VERSION"),
        ("models:/a/b/c", "expected models:/NAME/VERSION"),
        ("runs:/", "expected runs:/RUN_ID/PATH"),
        ("runs:/abc", "expected runs:/RUN_ID/PATH"),
        ("runs:abc/model", "expected runs:/RUN_ID/PATH"),
    ],
)
def test_malformed_uris_raise_invalid_model_uri_naming_the_uri(uri: object, reason: str) -> None:
    with pytest.raises(InvalidModelUri) as caught:
        parse_registry_ref(uri)
    assert reason in str(caught.value)
    assert repr(uri) in str(caught.value)
    assert caught.value.uri == uri
    assert isinstance(caught.value, ValueError)


def test_an_alias_with_a_version_is_refused() -> None:
    with pytest.raises(InvalidModelUri, match="alias"):
        parse_registry_ref("models:/churn@prod/2")


@pytest.mark.parametrize("uri", ["models:/@champion", "models:/churn@"])
def test_an_alias_reference_needs_a_name_and_an_alias(uri: str) -> None:
    with pytest.raises(InvalidModelUri, match="NAME@ALIAS"):
        parse_registry_ref(uri)


def test_an_alias_reference_is_written_back_as_it_was_read() -> None:
    assert RegistryRef("churn", None, "champion").uri == "models:/churn@champion"


def test_registry_ref_writes_itself_back() -> None:
    assert RegistryRef("churn", None).uri == "models:/churn/latest"
    assert RegistryRef("churn", "4").uri == "models:/churn/4"


def test_file_uris_become_local_paths_for_mlflow() -> None:
    assert mlflow_location("file:///tmp/a%20b/model") == os.path.join("/tmp", "a b", "model")
    assert mlflow_location("file://localhost/tmp/m") == "/tmp/m"
    assert mlflow_location("s3://bucket/m") == "s3://bucket/m"
    assert mlflow_location("/tmp/m") == "/tmp/m"
