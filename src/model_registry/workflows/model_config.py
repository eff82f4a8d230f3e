"""Model configurations: what a model registered from a config or a path looks like when stored.

Accepted configurations (exactly one source key):

* ``{"hugging_face": {"model_uri": URI, "kwargs": {"tokenizer_uri": ..., "class_map": {...},
  "ignore_class_names": True}}}`` (the seeds' form). ``tokenizer_uri``, ``class_map`` and
  ``ignore_class_names`` may also sit directly beside ``model_uri``; they are moved into
  ``kwargs`` (giving one in both places with different values is an error).
* ``{"model_path": {"path": PATH}}``: a model file (``model.py``, a pickle, ...) at a path.

A configuration is stored on the model artifact: its ``uri`` is the model URI or path, its
``modelFormatName`` the source (``hugging_face`` or ``model_path``), and the custom property
``model_config`` holds the canonical configuration as JSON. A ``class_map`` is written as a JSON
list of ``[key, value]`` pairs so integer keys come back as integers (a JSON object would turn
them into strings); everything else is plain JSON. ``tokenizer_uri`` and ``ignore_class_names``
are also written as their own properties so filters can find them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HF_KWARGS",
    "MODEL_CONFIG_PROPERTY",
    "ModelSpec",
    "decode_model_config",
    "normalize_model_config",
    "spec_from_config",
]

#: Custom property holding the canonical configuration as JSON.
MODEL_CONFIG_PROPERTY = "model_config"
#: Hugging Face keys accepted beside ``model_uri`` as well as inside ``kwargs``.
HF_KWARGS: tuple[str, ...] = ("tokenizer_uri", "class_map", "ignore_class_names")
_SOURCES = ("hugging_face", "model_path")


@dataclass(frozen=True)
class ModelSpec:
    """What to store for a model configuration.

    Attributes:
        source: ``"hugging_face"`` or ``"model_path"``; stored as the artifact's format name.
        uri: The model URI or path; stored as the artifact's URI.
        config: The canonical configuration (see :func:`normalize_model_config`).
        properties: The custom properties to put on the model artifact.
    """

    source: str
    uri: str
    config: dict[str, Any]
    properties: dict[str, str | bool]


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _check_class_map(value: Any) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"class_map must be a mapping, got {value!r}")
    for key, name in value.items():
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise ValueError(f"class_map keys must be strings or integers, got {key!r}")
        if not isinstance(name, str):
            raise ValueError(f"class_map values must be strings, got {name!r}")
    return dict(value)


def normalize_model_config(model_config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a model configuration and return its canonical form.

    Args:
        model_config: ``{"hugging_face": {...}}`` or ``{"model_path": {"path": ...}}``.

    Returns:
        ``{"hugging_face": {"model_uri": str, "kwargs": {...}}}`` or
        ``{"model_path": {"path": str}}``, new dicts throughout.

    Raises:
        ValueError: The configuration is malformed; the message names the offending key.
    """
    if not isinstance(model_config, Mapping):
        raise ValueError(f"model_config must be a mapping, got {type(model_config).__name__}")
    unknown = [key for key in model_config if key not in _SOURCES]
    if unknown:
        raise ValueError(
            f"unknown model_config key(s) {', '.join(map(repr, unknown))}; "
            f"expected one of {', '.join(_SOURCES)}"
        )
    if len(model_config) != 1:
        raise ValueError(f"model_config needs exactly one of {', '.join(_SOURCES)}")
    (source, body), *_ = model_config.items()
    if not isinstance(body, Mapping):
        raise ValueError(f"model_config['{source}'] must be a mapping, got {body!r}")
    if source == "model_path":
        extra = [key for key in body if key != "path"]
        if extra:
            raise ValueError(f"unknown model_path key(s) {', '.join(map(repr, extra))}")
        return {"model_path": {"path": _require_str(body.get("path"), "model_path.path")}}
    return {"hugging_face": _normalize_hugging_face(body)}


def _normalize_hugging_face(body: Mapping[str, Any]) -> dict[str, Any]:
    model_uri = _require_str(body.get("model_uri"), "hugging_face.model_uri")
    raw_kwargs = body.get("kwargs") or {}
    if not isinstance(raw_kwargs, Mapping):
        raise ValueError(f"hugging_face.kwargs must be a mapping, got {raw_kwargs!r}")
    kwargs: dict[str, Any] = dict(raw_kwargs)
    for key, value in body.items():
        if key in ("model_uri", "kwargs"):
            continue
        if key not in HF_KWARGS:
            raise ValueError(f"unknown hugging_face key {key!r}; put extra options under 'kwargs'")
        if key in kwargs and kwargs[key] != value:
            raise ValueError(f"hugging_face.{key} and hugging_face.kwargs.{key} disagree")
        kwargs[key] = value
    if kwargs.get("tokenizer_uri") is not None:
        _require_str(kwargs["tokenizer_uri"], "tokenizer_uri")
    if kwargs.get("class_map") is not None:
        kwargs["class_map"] = _check_class_map(kwargs["class_map"])
    if kwargs.get("ignore_class_names") is not None and not isinstance(
        kwargs["ignore_class_names"], bool
    ):
        raise ValueError("ignore_class_names must be true or false")
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    for key, value in kwargs.items():
        if key != "class_map":
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"hugging_face.kwargs.{key} is not a JSON value") from exc
    return {"model_uri": model_uri, "kwargs": kwargs}


def _to_json(config: dict[str, Any]) -> str:
    data: dict[str, Any] = {}
    for source, body in config.items():
        body = dict(body)
        if "kwargs" in body:
            kwargs = dict(body["kwargs"])
            if "class_map" in kwargs:
                kwargs["class_map"] = [[key, value] for key, value in kwargs["class_map"].items()]
            body["kwargs"] = kwargs
        data[source] = body
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def spec_from_config(model_config: Mapping[str, Any]) -> ModelSpec:
    """Work out what to store for a model configuration.

    Args:
        model_config: A configuration accepted by :func:`normalize_model_config`.

    Returns:
        The model artifact's source, URI and custom properties.
    """
    config = normalize_model_config(model_config)
    properties: dict[str, str | bool] = {MODEL_CONFIG_PROPERTY: _to_json(config)}
    if "hugging_face" in config:
        body = config["hugging_face"]
        kwargs = body["kwargs"]
        if "tokenizer_uri" in kwargs:
            properties["tokenizer_uri"] = kwargs["tokenizer_uri"]
        if "ignore_class_names" in kwargs:
            properties["ignore_class_names"] = kwargs["ignore_class_names"]
        return ModelSpec("hugging_face", body["model_uri"], config, properties)
    return ModelSpec("model_path", config["model_path"]["path"], config, properties)


def decode_model_config(properties: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Read the canonical configuration back from a model artifact's custom properties.

    Args:
        properties: The artifact's custom properties.

    Returns:
        The configuration as :func:`normalize_model_config` returned it, or None when the
        artifact was not registered from a configuration.

    Raises:
        ValueError: The stored property is not valid JSON.
    """
    text = (properties or {}).get(MODEL_CONFIG_PROPERTY)
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"custom property '{MODEL_CONFIG_PROPERTY}' is not valid JSON") from exc
    body = data.get("hugging_face")
    if isinstance(body, dict) and isinstance(body.get("kwargs"), dict):
        class_map = body["kwargs"].get("class_map")
        if isinstance(class_map, list):
            body["kwargs"]["class_map"] = {key: value for key, value in class_map}
    return dict(data)
