"""Small helpers for registering models."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

__all__ = ["s3_uri_from"]

# S3 bucket names: 3-63 chars of lower-case letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def s3_uri_from(
    path: str, bucket: str, *, endpoint: str | None = None, region: str | None = None
) -> str:
    """Build the ``s3://`` URI of an object, as model serving reads it.

    ``s3_uri_from("build/onnx/hal.onnx", "cool-bucket")`` is
    ``"s3://cool-bucket/build/onnx/hal.onnx"``. With an ``endpoint`` (an S3-compatible store
    such as MinIO) and/or a ``region``, they follow as the query parameters ``endpoint`` and
    ``defaultRegion``.

    Args:
        path: Key of the object in the bucket (a leading ``/`` is dropped).
        bucket: Bucket name.
        endpoint: URL of the S3 endpoint, when not AWS's.
        region: Region of the bucket.

    Returns:
        The URI.

    Raises:
        ValueError: The bucket name is not a valid S3 bucket name, or the path is empty.
    """
    if not _BUCKET.match(bucket or ""):
        raise ValueError(f"{bucket!r} is not a valid S3 bucket name")
    key = path.lstrip("/")
    if not key:
        raise ValueError("the object path is empty")
    uri = f"s3://{bucket}/{quote(key, safe='/-_.~!$&()*+,;=:@')}"
    query = {}
    if endpoint:
        query["endpoint"] = endpoint
    if region:
        query["defaultRegion"] = region
    if query:
        uri += "?" + urlencode(query)
    return uri
