"""Wire-format checks and conversions shared by the service: ids, values, custom properties.

Everything here is pure (no I/O): it turns validated JSON values into column values and stored
rows back into JSON values, raising :class:`~model_registry.server.errors.BadRequest` for any
value of the wrong form.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from model_registry.server.entities import Field
from model_registry.server.errors import BadRequest
from model_registry.server.store.schema import NAME_LENGTH

ID_RE = re.compile(r"[1-9][0-9]{0,8}")
_INT64_RE = re.compile(r"-?[0-9]{1,19}")
_INT32_STR_RE = re.compile(r"-?([1-9][0-9]{0,8}|0)")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

METADATA_TYPES = {
    "MetadataStringValue": ("string_value",),
    "MetadataIntValue": ("int_value",),
    "MetadataDoubleValue": ("double_value",),
    "MetadataBoolValue": ("bool_value",),
    "MetadataStructValue": ("struct_value",),
    "MetadataProtoValue": ("type", "proto_value"),
}


def parse_id(value: object, what: str = "id") -> int:
    """Parse an id string (``^[1-9][0-9]{0,8}$``).

    Args:
        value: The raw value.
        what: The field or parameter name for the message.

    Raises:
        BadRequest: Not a string of that form.
    """
    if not isinstance(value, str) or ID_RE.fullmatch(value) is None:
        raise BadRequest(f"invalid {what} {_show(value)}: must match ^[1-9][0-9]{{0,8}}$")
    return int(value)


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def type_error(wire: str, expected: str, value: object) -> BadRequest:
    """The 400 for a JSON value of the wrong type, in the reference's message form.

    Args:
        wire: The field name.
        expected: The Go type name the reference would report (``string``, ``int64``...).
        value: The value received.
    """
    return BadRequest(
        f"json: cannot unmarshal {_json_kind(value)} into field {wire} of type {expected}"
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def int64_from_string(value: str, wire: str, *, what: str = "an int64") -> int:
    """Parse a decimal integer string within the signed 64-bit range (``"-12"``, ``"3"``).

    Args:
        value: The string received.
        wire: The field name for the message.
        what: How the message names the expected form.

    Raises:
        BadRequest: Not an optional minus and decimal digits, or beyond 64 bits.
    """
    if _INT64_RE.fullmatch(value) is None or not _INT64_MIN <= int(value) <= _INT64_MAX:
        raise BadRequest(f"invalid {wire} {_show(value)}: must be {what} in a string")
    return int(value)


def check_text(value: str, wire: str) -> str:
    """Refuse strings no database can store (NUL characters, lone surrogates)."""
    if "\x00" in value:
        raise BadRequest(f"invalid {wire}: NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"invalid {wire}: not valid UTF-8") from None
    return value


def field_to_column(f: Field, value: object) -> Any:
    """Validate one kind-specific field value and convert it to its column value.

    Raises:
        BadRequest: The value has the wrong type or form.
    """
    if f.type in ("str", "enum"):
        if not isinstance(value, str):
            raise type_error(f.wire, "string", value)
        check_text(value, f.wire)
        if f.type == "enum" and value not in f.enum:
            raise BadRequest(f"invalid {f.wire} {_show(value)}: must be one of {', '.join(f.enum)}")
        return value
    if f.type == "id":
        return parse_id(value, f.wire)
    if f.type == "int64str":
        if not isinstance(value, str):
            raise type_error(f.wire, "string", value)
        return int64_from_string(value, f.wire)
    if f.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise type_error(f.wire, "int64", value)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise BadRequest(f"invalid {f.wire}: out of the int64 range")
        return value
    if f.type == "double":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise type_error(f.wire, "float64", value)
        result = float(value)
        if not math.isfinite(result):
            raise BadRequest(f"invalid {f.wire}: must be a finite number")
        return result
    if f.type == "strlist":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise type_error(f.wire, "[]string", value)
        for v in value:
            check_text(v, f.wire)
        return json.dumps(value)
    raise AssertionError(f.type)  # pragma: no cover - descriptors use only the types above


def column_to_field(f: Field, value: Any) -> Any:
    """Convert a stored column value back to its wire value."""
    if f.type in ("id", "int64str"):
        return str(value)
    if f.type == "strlist":
        return json.loads(value)
    if f.type == "double":
        return float(value)
    if f.type == "int":
        return int(value)
    return value


def check_name(value: object, wire: str, *, prefix_len: int = 0) -> str:
    """Validate a name or external id: a string that fits the 255-character column.

    Args:
        value: The raw value.
        wire: The field name for messages.
        prefix_len: Characters the reference spends on ``"<parentId>:"`` before a child name.

    Raises:
        BadRequest: Not a string, or too long.
    """
    if not isinstance(value, str):
        raise type_error(wire, "string", value)
    check_text(value, wire)
    if len(value) + prefix_len > NAME_LENGTH:
        raise BadRequest(
            f"invalid {wire}: too long ({len(value)} characters, at most "
            f"{NAME_LENGTH - prefix_len} here)"
        )
    return value


def _base64(value: object, wire: str) -> str:
    if not isinstance(value, str):
        raise type_error(wire, "string", value)
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"invalid {wire}: not base64") from None
    return value


def custom_properties_to_rows(value: object) -> list[dict[str, Any]]:
    """Validate a ``customProperties`` object and convert it to property rows.

    Raises:
        BadRequest: Not an object, or a value that is not a valid tagged MetadataValue.
    """
    if not isinstance(value, Mapping):
        raise type_error("customProperties", "map[string]MetadataValue", value)
    rows: list[dict[str, Any]] = []
    for name, item in value.items():
        check_name(name, "customProperties key")
        if name == "":
            raise BadRequest("invalid customProperties: empty property name")
        rows.append(_metadata_value_to_row(name, item))
    return rows


def _metadata_value_to_row(name: str, item: object) -> dict[str, Any]:
    where = f"customProperties[{_show(name)}]"
    if not isinstance(item, Mapping):
        raise BadRequest(f"invalid {where}: must be an object with a metadataType")
    mtype = item.get("metadataType")
    if not isinstance(mtype, str) or mtype not in METADATA_TYPES:
        raise BadRequest(
            f"invalid {where}.metadataType {_show(mtype)}: must be one of "
            + ", ".join(METADATA_TYPES)
        )
    keys = METADATA_TYPES[mtype]
    for key in item:
        if key != "metadataType" and key not in keys:
            raise BadRequest(f'json: unknown field "{key}" in {where}')
    for key in keys:
        if key not in item:
            raise BadRequest(f"invalid {where}: {mtype} needs {key}")
    row: dict[str, Any] = {
        "name": name,
        "value_type": mtype,
        "string_value": None,
        "int_value": None,
        "double_value": None,
        "bool_value": None,
        "bytes_value": None,
        "proto_type": None,
    }
    v = item[keys[0]]
    if mtype == "MetadataStringValue":
        if not isinstance(v, str):
            raise type_error(f"{where}.string_value", "string", v)
        row["string_value"] = check_text(v, f"{where}.string_value")
    elif mtype == "MetadataIntValue":
        if not isinstance(v, str) or _INT32_STR_RE.fullmatch(v) is None:
            raise BadRequest(
                f"invalid {where}.int_value {_show(v)}: must be a string matching "
                "^-?([1-9][0-9]{0,8}|0)$"
            )
        row["int_value"] = int(v)
    elif mtype == "MetadataDoubleValue":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise type_error(f"{where}.double_value", "float64", v)
        row["double_value"] = float(v)
    elif mtype == "MetadataBoolValue":
        if not isinstance(v, bool):
            raise type_error(f"{where}.bool_value", "bool", v)
        row["bool_value"] = v
    elif mtype == "MetadataStructValue":
        row["bytes_value"] = _base64(v, f"{where}.struct_value")
    else:
        proto_type = item["type"]
        if not isinstance(proto_type, str):
            raise type_error(f"{where}.type", "string", proto_type)
        row["proto_type"] = check_text(proto_type, f"{where}.type")
        row["bytes_value"] = _base64(item["proto_value"], f"{where}.proto_value")
    return row


def rows_to_custom_properties(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Convert stored property rows back to the tagged ``customProperties`` object."""
    result: dict[str, dict[str, Any]] = {}
    for row in rows:
        mtype = row["value_type"]
        value: dict[str, Any] = {"metadataType": mtype}
        if mtype == "MetadataStringValue":
            value["string_value"] = row["string_value"]
        elif mtype == "MetadataIntValue":
            value["int_value"] = str(row["int_value"])
        elif mtype == "MetadataDoubleValue":
            value["double_value"] = float(row["double_value"])
        elif mtype == "MetadataBoolValue":
            value["bool_value"] = bool(row["bool_value"])
        elif mtype == "MetadataStructValue":
            value["struct_value"] = row["bytes_value"]
        else:
            value["type"] = row["proto_type"]
            value["proto_value"] = row["bytes_value"]
        result[row["name"]] = value
    return result
