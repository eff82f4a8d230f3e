"""Dataset and prediction parameters, and how they are stored as custom properties.

A registered dataset is a ``DataSet`` artifact; its parameters (``label_col``,
``timestamp_col``, ``text_features``, ``class_names``, ...) travel in the artifact's custom
properties, one string property per parameter, named ``params.<key>``:

* the column-name parameters ``label_col``, ``timestamp_col`` and ``pred_col`` are stored as the
  plain string, so a filter such as ```params.label_col` = "is_fraud"`` finds them;
* every other parameter (lists such as ``text_features`` and ``class_names``, numbers, booleans,
  nested objects) is stored as its compact JSON text and decoded back with ``json.loads``.

This is exact: ``decode_params(encode_params(p)) == normalize_params(p)`` for every parameter
mapping accepted by :func:`normalize_params` (JSON values; ``None`` means "absent" and is
dropped). Properties without the prefix are left alone, so user metadata can sit beside them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "KIND_DATASET",
    "KIND_PREDICTIONS",
    "KIND_PROPERTY",
    "PARAM_PREFIX",
    "STRING_LIST_PARAMS",
    "STRING_PARAMS",
    "decode_params",
    "encode_params",
    "normalize_params",
]

#: Prefix of the custom properties that carry parameters.
PARAM_PREFIX = "params."
#: Custom property that says what a DataSet artifact registered by the workflows is.
KIND_PROPERTY = "registry.kind"
KIND_DATASET = "dataset"
KIND_PREDICTIONS = "predictions"

#: Parameters whose value is one string, stored as is.
STRING_PARAMS: frozenset[str] = frozenset({"label_col", "timestamp_col", "pred_col"})
#: Parameters whose value must be a list of strings (stored as JSON).
STRING_LIST_PARAMS: frozenset[str] = frozenset(
    {
        "text_features",
        "class_names",
        "image_features",
        "protected_features",
        "features_not_in_model",
    }
)


def normalize_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a parameter mapping and return the canonical form that is stored.

    Args:
        params: Parameters such as ``{"label_col": "y", "text_features": ["a", "b"]}``.

    Returns:
        A new dict without ``None`` values, lists as lists.

    Raises:
        ValueError: A key is not a non-empty string, a known parameter has the wrong type, or a
            value cannot be written as JSON.
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError(f"parameters must be a mapping, not {type(params).__name__}")
    result: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"parameter names must be non-empty strings, got {key!r}")
        if value is None:
            continue
        if key in STRING_PARAMS:
            if not isinstance(value, str) or not value:
                raise ValueError(f"parameter '{key}' must be a non-empty string, got {value!r}")
        elif key in STRING_LIST_PARAMS:
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise ValueError(f"parameter '{key}' must be a list of strings, got {value!r}")
            if not all(isinstance(item, str) for item in value):
                raise ValueError(f"parameter '{key}' must be a list of strings, got {value!r}")
            value = list(value)
        else:
            value = _json_roundtrip(key, value)
        result[key] = value
    return result


def _json_roundtrip(key: str, value: Any) -> Any:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"parameter '{key}' is not a JSON value: {exc}") from exc
    decoded = json.loads(text)
    if decoded != value:
        # e.g. a dict with int keys or a tuple: it would not come back as given.
        raise ValueError(
            f"parameter '{key}' does not survive JSON unchanged ({value!r} -> {decoded!r})"
        )
    return decoded


def encode_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Turn parameters into string custom properties named ``params.<key>``.

    Args:
        params: Parameters (checked with :func:`normalize_params`).

    Returns:
        The custom properties to store.
    """
    encoded: dict[str, str] = {}
    for key, value in normalize_params(params).items():
        if key in STRING_PARAMS:
            encoded[PARAM_PREFIX + key] = value
        else:
            encoded[PARAM_PREFIX + key] = json.dumps(
                value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
    return encoded


def decode_params(properties: Mapping[str, Any] | None) -> dict[str, Any]:
    """Read parameters back from custom properties written by :func:`encode_params`.

    Args:
        properties: An entity's custom properties (other properties are ignored).

    Returns:
        The parameters, in stored order.

    Raises:
        ValueError: A parameter property holds text that is not valid JSON.
    """
    decoded: dict[str, Any] = {}
    for name, value in (properties or {}).items():
        if not name.startswith(PARAM_PREFIX):
            continue
        key = name[len(PARAM_PREFIX) :]
        if key in STRING_PARAMS:
            decoded[key] = value
            continue
        try:
            decoded[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError as exc:
            raise ValueError(f"custom property '{name}' is not valid JSON: {exc.msg}") from exc
    return decoded
