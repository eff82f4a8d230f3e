"""Small helpers for registering models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

__all__ = ["OCIParams", "S3Params", "s3_uri_from"]

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


@dataclass(frozen=True)
class S3Params:
    """Upload to an S3 bucket (or an S3-compatible service) from the client, as the reference
    client's ``S3Params``.

    Attributes:
        bucket_name: The bucket.
        s3_prefix: The key prefix (a "folder") the files go under.
        endpoint_url: The service's URL when not AWS's (MinIO, Ceph...).
        access_key_id: Credentials; None: boto3's usual sources (environment, ~/.aws, roles).
        secret_access_key: Credentials, with ``access_key_id``.
        region: The bucket's region.
    """

    bucket_name: str
    s3_prefix: str
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class OCIParams:
    """The reference client's OCI-registry upload parameters: accepted for compatibility,
    refused with :class:`~model_registry.exceptions.Unsupported` (out of scope here).

    Attributes:
        base_image: The base image of the reference's model car.
        oci_ref: The image reference to push.
        dest_dir: The folder of the files inside the image.
        oci_username: Registry credentials.
        oci_password: Registry credentials.
        custom_oci_backend: The reference's pluggable push backend.
    """

    base_image: str
    oci_ref: str
    dest_dir: str | None = None
    oci_username: str | None = None
    oci_password: str | None = None
    custom_oci_backend: Any = None
