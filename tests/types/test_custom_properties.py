"""Custom properties: every value form round-trips exactly through the tagged wire forms."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from model_registry import _convert
from model_registry._generated.openapi import models as gen
from model_registry.exceptions import InvalidResponse
from model_registry.types import ModelArtifact, RegisteredModel
from model_registry.types.custom_properties import (
    BYTES_PROTO_TYPE,
    INT_MAX,
    INT_MIN,
    decode_custom_properties,
    decode_value,
    encode_custom_properties,
    encode_value,
)

VALUES: dict[str, Any] = {
    "text": "hello",
    "label": "",
    "unicode": "żółw ✓",
    "zero": 0,
    "int": 42,
    "negative": -7,
    "int_max": INT_MAX,
    "int_min": INT_MIN,
    "float": 0.25,
    "float_whole": 3.0,
    "float_negative": -1e-9,
    "true": True,
    "false": False,
    "struct": {"layers": [1, 2, 3], "name": "x", "nested": {"a": None, "b": 1.5}},
    "empty_struct": {},
    "bytes": b"\x00\x01\xfe\xff",
    "empty_bytes": b"",
}


@pytest.mark.parametrize("key", sorted(VALUES))
def test_every_value_form_round_trips_exactly(key: str) -> None:
    value = VALUES[key]
    decoded = decode_value(key, encode_value(key, value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_round_trip_through_json_text_and_generated_models() -> None:
    wire = encode_custom_properties(VALUES)
    # What crosses the network is JSON text; the generated attrs models must keep it as is.
    again = json.loads(json.dumps(wire))
    assert decode_custom_properties(again) == VALUES
    model = gen.CustomProperties.from_dict(wire)
    assert model.to_dict() == wire
    assert decode_custom_properties(model.to_dict()) == VALUES


def test_wire_forms_are_the_tagged_ones() -> None:
    assert encode_value("k", "s") == {"metadataType": "MetadataStringValue", "string_value": "s"}
    assert encode_value("k", 5) == {"metadataType": "MetadataIntValue", "int_value": "5"}
    assert encode_value("k", 1.5) == {"metadataType": "MetadataDoubleValue", "double_value": 1.5}
    assert encode_value("k", True) == {"metadataType": "MetadataBoolValue", "bool_value": True}
    struct = encode_value("k", {"a": 1})
    assert struct["metadataType"] == "MetadataStructValue"
    assert json.loads(base64.b64decode(struct["struct_value"])) == {"a": 1}
    proto = encode_value("k", b"ab")
    assert proto == {
        "metadataType": "MetadataProtoValue",
        "type": BYTES_PROTO_TYPE,
        "proto_value": base64.b64encode(b"ab").decode(),
    }


def test_bool_is_not_sent_as_int() -> None:
    assert encode_value("flag", True)["metadataType"] == "MetadataBoolValue"
    assert encode_value("flag", False) == {"metadataType": "MetadataBoolValue", "bool_value": False}


@pytest.mark.parametrize("value", [INT_MAX + 1, INT_MIN - 1, 2**31, -(2**63)])
def test_int_outside_the_wire_range_is_a_value_error_naming_the_key(value: int) -> None:
    with pytest.raises(ValueError, match="'epochs'"):
        encode_value("epochs", value)


def test_int_out_of_range_fails_before_anything_is_built_for_the_wire() -> None:
    model = RegisteredModel("m", custom_properties={"ok": 1, "too_big": 10**10})
    with pytest.raises(ValueError, match="'too_big'"):
        _convert.to_wire(model)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), object(), [1, 2], {"a": {1, 2}}, {"x": float("nan")}]
)
def test_values_without_a_wire_form_are_refused_naming_the_key(value: object) -> None:
    with pytest.raises(ValueError, match="'bad'"):
        encode_value("bad", value)


@pytest.mark.parametrize(
    "wire",
    [
        {"metadataType": "MetadataIntValue", "int_value": "abc"},
        {"metadataType": "MetadataIntValue", "int_value": "01"},
        {"metadataType": "MetadataIntValue", "int_value": "9999999999"},
        {"metadataType": "MetadataIntValue"},
        {"metadataType": "MetadataDoubleValue", "double_value": "1.5"},
        {"metadataType": "MetadataDoubleValue", "double_value": True},
        {"metadataType": "MetadataBoolValue", "bool_value": "true"},
        {"metadataType": "MetadataStringValue", "string_value": 3},
        {"metadataType": "MetadataStructValue", "struct_value": "not base64!"},
        {"metadataType": "MetadataStructValue", "struct_value": base64.b64encode(b"[1]").decode()},
        {"metadataType": "MetadataStructValue", "struct_value": base64.b64encode(b"{x").decode()},
        {"metadataType": "MetadataProtoValue", "type": "t", "proto_value": "%%%"},
        {"metadataType": "MetadataMysteryValue", "string_value": "x"},
        {"string_value": "untagged"},
        "plain string",
        None,
    ],
)
def test_malformed_tagged_values_from_the_wire_name_the_key(wire: object) -> None:
    with pytest.raises(InvalidResponse, match="'accuracy'"):
        decode_value("accuracy", wire)


def test_malformed_value_inside_an_entity_names_the_key_and_the_entity() -> None:
    data = {
        "id": "7",
        "name": "m",
        "customProperties": {
            "fine": {"metadataType": "MetadataStringValue", "string_value": "x"},
            "broken": {"metadataType": "MetadataIntValue", "int_value": "1.5"},
        },
    }
    with pytest.raises(InvalidResponse, match=r"RegisteredModel 7.*'broken'"):
        _convert.from_wire(RegisteredModel, data)


def test_int_value_as_json_number_is_tolerated() -> None:
    assert decode_value("n", {"metadataType": "MetadataIntValue", "int_value": 12}) == 12


def test_foreign_proto_value_reads_back_as_bytes() -> None:
    wire = {
        "metadataType": "MetadataProtoValue",
        "type": "type.googleapis.com/google.protobuf.Duration",
        "proto_value": base64.b64encode(b"\x08\x01").decode(),
    }
    assert decode_value("d", wire) == b"\x08\x01"


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="not a string"):
        encode_custom_properties({1: "x"})  # type: ignore[dict-item]


def test_entity_round_trip_keeps_custom_properties() -> None:
    artifact = ModelArtifact("m", uri="s3://b/k", custom_properties=dict(VALUES))
    wire = _convert.to_wire(artifact, "create")
    wire["id"] = "3"
    back = _convert.artifact_from_wire(wire)
    assert back.custom_properties == VALUES
    assert back == ModelArtifact("m", id="3", uri="s3://b/k", custom_properties=dict(VALUES))
