"""The seed's data configurations: where a dataset or a predictions file is, and its parameters.

A dataset is described as the seeds describe it::

    {"connection_info": {"data_file": {"path": "/data/train.csv"}},
     "data_params": {"label_col": "is_fraud", "timestamp_col": "timestamp"}}

and predictions the same way with ``pred_params`` (``{"pred_col": ...}``) instead of
``data_params``. ``connection_info`` holds exactly one source:

* ``data_file``: ``{"path": PATH}``, a local path (validated: readable, with the named columns)
  or a remote URI (``s3://...``, not opened);
* ``hugging_face``: ``{"dataset_uri": URI, "split_name": ..., "loading_params_json": ...}``, a
  Hugging Face dataset: recorded, never opened (its URI is stored as ``hf://URI`` when it has
  no scheme).

The connection info is recorded as it was given, as compact JSON in the custom property
``connection_info``, so a registration says exactly what it was made from. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["CONNECTIONS", "CONNECTION_INFO_PROPERTY", "DataSource", "data_source"]

#: Custom property holding the connection info as JSON.
CONNECTION_INFO_PROPERTY = "connection_info"
#: The sources ``connection_info`` may name, with the key holding each one's location.
CONNECTIONS: Mapping[str, str] = {"data_file": "path", "hugging_face": "dataset_uri"}


@dataclass(frozen=True)
class DataSource:
    """What a data configuration says.

    Attributes:
        uri: Where the data is (the artifact's URI).
        openable: Whether the data is a file the registry may open to validate it (a
            ``data_file``; a remote URI among them is skipped by the validation itself).
        params: The parameters (``data_params`` or ``pred_params``), as given.
        properties: Custom properties recording the source (``connection_info``).
    """

    uri: str
    openable: bool
    params: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)


def data_source(config: Mapping[str, Any], params_key: str = "data_params") -> DataSource:
    """Read a data configuration (a dataset's, or with ``params_key="pred_params"`` a
    predictions one).

    Args:
        config: ``{"connection_info": {...}, params_key: {...}}``.
        params_key: The key of the parameters.

    Raises:
        ValueError: The configuration is malformed: not a mapping, unknown keys, no or several
            sources, a source without its location.
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"the data configuration must be a mapping, not {type(config).__name__}")
    unknown = sorted(str(key) for key in config if key not in ("connection_info", params_key))
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in the data configuration "
            f"(expected 'connection_info' and '{params_key}')"
        )
    connection = config.get("connection_info")
    if not isinstance(connection, Mapping) or len(connection) != 1:
        raise ValueError(
            "connection_info must hold exactly one source: "
            + " or ".join(f"{{'{kind}': {{'{key}': ...}}}}" for kind, key in CONNECTIONS.items())
        )
    ((kind, info),) = connection.items()
    location_key = CONNECTIONS.get(kind)
    if location_key is None:
        raise ValueError(
            f"unknown connection_info source {kind!r} (expected one of {', '.join(CONNECTIONS)})"
        )
    if not isinstance(info, Mapping):
        raise ValueError(f"connection_info.{kind} must be a mapping, got {info!r}")
    location = info.get(location_key)
    if not isinstance(location, str) or not location:
        raise ValueError(f"connection_info.{kind}.{location_key} must be a non-empty string")
    params = config.get(params_key)
    if params is not None and not isinstance(params, Mapping):
        raise ValueError(f"{params_key} must be a mapping, got {params!r}")
    try:
        recorded = json.dumps(
            {kind: dict(info)}, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"connection_info is not JSON: {exc}") from None
    uri = location
    if kind == "hugging_face" and not urlsplit(location).scheme:
        uri = f"hf://{location}"
    return DataSource(
        uri=uri,
        openable=kind == "data_file",
        params=dict(params or {}),
        properties={CONNECTION_INFO_PROPERTY: recorded},
    )
