"""``model_registry.utils`` (no I/O)."""

from __future__ import annotations

import pytest

from model_registry.utils import s3_uri_from


def test_s3_uri_from() -> None:
    assert (
        s3_uri_from("build/onnx/hal.onnx", "cool-bucket") == "s3://cool-bucket/build/onnx/hal.onnx"
    )
    assert s3_uri_from("/k", "b-1") == "s3://b-1/k"
    assert (
        s3_uri_from("k", "bucket", endpoint="http://minio:9000", region="eu-west-1")
        == "s3://bucket/k?endpoint=http%3A%2F%2Fminio%3A9000&defaultRegion=eu-west-1"
    )
    with pytest.raises(ValueError):
        s3_uri_from("k", "Bad_Bucket")
    with pytest.raises(ValueError):
        s3_uri_from("", "bucket")
