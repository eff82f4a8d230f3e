"""Custom properties: plain Python values <-> the tagged ``MetadataValue`` wire forms.

The domain types hold ``custom_properties`` as a plain ``dict[str, value]``. On the wire each
value is tagged by ``metadataType``. The mapping, chosen so that every value round-trips exactly:

==========================  =========================================================
Python value                wire form
==========================  =========================================================
``str``                     ``MetadataStringValue`` / ``string_value``
``bool``                    ``MetadataBoolValue`` / ``bool_value`` (tested before int)
``int``                     ``MetadataIntValue`` / ``int_value`` as a decimal string in
                            ``-999999999..999999999`` (the wire pattern); outside: ValueError
``float``                   ``MetadataDoubleValue`` / ``double_value``
``dict``                    ``MetadataStructValue`` / ``struct_value`` = base64 of its JSON
``bytes``                   ``MetadataProtoValue`` / ``proto_value`` = base64 of the bytes, with
                            ``type`` = :data:`BYTES_PROTO_TYPE`
==========================  =========================================================

A ``MetadataProtoValue`` of another ``type`` reads back as its raw ``bytes`` (the type URL is
not kept). A value the client cannot encode raises ``ValueError`` naming the key before
anything is sent; a malformed value from the server raises
:class:`~model_registry.exceptions.InvalidResponse` (a ``ValueError``) naming the key.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeAlias

from model_registry.exceptions import InvalidResponse

__all__ = [
    "BYTES_PROTO_TYPE",
    "INT_MAX",
    "INT_MIN",
    "CustomValue",
    "decode_custom_properties",
    "decode_value",
    "encode_custom_properties",
    "encode_value",
]

#: A custom property value as the domain types hold it.
CustomValue: TypeAlias = "str | int | float | bool | bytes | dict[str, Any]"

#: Largest/smallest int the wire pattern ``^-?([1-9][0-9]{0,8}|0)$`` allows.
INT_MAX = 999_999_999
INT_MIN = -999_999_999

#: ``type`` written for ``bytes`` values sent as ``MetadataProtoValue``.
BYTES_PROTO_TYPE = "application/octet-stream"

_INT_WIRE = re.compile(r"^-?([1-9][0-9]{0,8}|0)$")


def encode_value(key: str, value: Any) -> dict[str, Any]:
    """Encode one custom property value into its tagged wire form.

    Args:
        key: The property name (named in errors).
        value: The Python value.

    Returns:
        The tagged wire dict (e.g. ``{"metadataType": "MetadataIntValue", "int_value": "3"}``).

    Raises:
        ValueError: The value has no wire form (an int out of range, a non-finite float,
            a dict that is not JSON, another type).
    """
    if isinstance(value, bool):
        return {"metadataType": "MetadataBoolValue", "bool_value": value}
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise ValueError(
                f"custom property {key!r}: int {value} is outside the range the registry "
                f"stores ({INT_MIN}..{INT_MAX}); store it as a float or a string"
            )
        return {"metadataType": "MetadataIntValue", "int_value": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"custom property {key!r}: {value} is not a finite number")
        return {"metadataType": "MetadataDoubleValue", "double_value": value}
    if isinstance(value, str):
        return {"metadataType": "MetadataStringValue", "string_value": value}
    if isinstance(value, bytes | bytearray | memoryview):
        return {
            "metadataType": "MetadataProtoValue",
            "type": BYTES_PROTO_TYPE,
            "proto_value": base64.b64encode(bytes(value)).decode("ascii"),
        }
    if isinstance(value, Mapping):
        try:
            text = json.dumps(dict(value), allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"custom property {key!r}: dict is not JSON-serialisable: {exc}"
            ) from exc
        return {
            "metadataType": "MetadataStructValue",
            "struct_value": base64.b64encode(text.encode("utf-8")).decode("ascii"),
        }
    raise ValueError(
        f"custom property {key!r}: unsupported type {type(value).__name__} "
        "(use str, int, float, bool, bytes or dict)"
    )


def encode_custom_properties(props: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Encode a whole custom properties mapping (see :func:`encode_value`)."""
    if not props:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for key, value in props.items():
        if not isinstance(key, str):
            raise ValueError(f"custom property name {key!r} is not a string")
        out[key] = encode_value(key, value)
    return out


def _bad(key: str, why: str) -> InvalidResponse:
    return InvalidResponse(f"custom property {key!r}: malformed value from the server: {why}")


def _b64(key: str, raw: Any, field: str) -> bytes:
    if not isinstance(raw, str):
        raise _bad(key, f"{field} is not a base64 string")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad(key, f"{field} is not valid base64") from exc


def decode_value(key: str, wire: Any) -> Any:
    """Decode one tagged wire value into its Python value.

    Args:
        key: The property name (named in errors).
        wire: The tagged wire dict.

    Returns:
        The Python value (see the module docs for the mapping).

    Raises:
        InvalidResponse: The value is not one of the tagged forms or its payload is malformed.
    """
    if not isinstance(wire, Mapping):
        raise _bad(key, f"expected a tagged object, got {type(wire).__name__}")
    kind = wire.get("metadataType")
    if kind == "MetadataStringValue":
        value = wire.get("string_value")
        if not isinstance(value, str):
            raise _bad(key, "string_value is not a string")
        return value
    if kind == "MetadataIntValue":
        value = wire.get("int_value")
        # The wire carries int_value as a string; tolerate a JSON number that is an integer.
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if not isinstance(value, str) or not _INT_WIRE.match(value):
            raise _bad(key, f"int_value {value!r} is not a decimal integer string")
        return int(value)
    if kind == "MetadataDoubleValue":
        value = wire.get("double_value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(key, f"double_value {value!r} is not a number")
        return float(value)
    if kind == "MetadataBoolValue":
        value = wire.get("bool_value")
        if not isinstance(value, bool):
            raise _bad(key, f"bool_value {value!r} is not a boolean")
        return value
    if kind == "MetadataStructValue":
        raw = _b64(key, wire.get("struct_value"), "struct_value")
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _bad(key, "struct_value does not hold JSON") from exc
        if not isinstance(value, dict):
            raise _bad(key, "struct_value does not hold a JSON object")
        return value
    if kind == "MetadataProtoValue":
        return _b64(key, wire.get("proto_value"), "proto_value")
    raise _bad(key, f"unknown metadataType {kind!r}")


def decode_custom_properties(wire: Any) -> dict[str, Any]:
    """Decode a whole wire ``customProperties`` object (``None`` gives ``{}``)."""
    if wire is None:
        return {}
    if not isinstance(wire, Mapping):
        raise InvalidResponse(
            f"customProperties: expected an object from the server, got {type(wire).__name__}"
        )
    return {str(key): decode_value(str(key), value) for key, value in wire.items()}
