"""REST wire -> domain decoding: the per-class plans give the results and errors of before.

``_convert`` decodes with a plan built once per entity class and a fast path for plain string
and int custom properties; these tests pin what that must not change (values, types, error
messages), and the REST transport's JSON decoding (orjson, with the standard library for what
orjson refuses).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from model_registry import _convert
from model_registry.exceptions import InvalidResponse
from model_registry.transport.rest import _loads
from model_registry.types import (
    DataSet,
    Metric,
    ModelVersion,
    ModelVersionState,
    RawPage,
    RegisteredModel,
)
from model_registry.types.custom_properties import decode_value

WIRE_VERSION: dict[str, Any] = {
    "id": "12",
    "name": "v1",
    "author": "me",
    "state": "LIVE",
    "registeredModelId": "3",
    "createTimeSinceEpoch": "1700000000000",
    "lastUpdateTimeSinceEpoch": "1700000000001",
    "customProperties": {
        "framework": {"metadataType": "MetadataStringValue", "string_value": "onnx"},
        "bp": {"metadataType": "MetadataIntValue", "int_value": "9312"},
        "ratio": {"metadataType": "MetadataDoubleValue", "double_value": 0.5},
        "ok": {"metadataType": "MetadataBoolValue", "bool_value": True},
    },
    "someFutureField": "ignored",
}


def test_a_version_decodes_with_every_field_typed() -> None:
    mv = _convert.from_wire(ModelVersion, WIRE_VERSION)
    assert mv == ModelVersion(
        "v1",
        id="12",
        author="me",
        state=ModelVersionState.LIVE,
        registered_model_id="3",
        create_time_since_epoch=1700000000000,
        last_update_time_since_epoch=1700000000001,
        custom_properties={"framework": "onnx", "bp": 9312, "ratio": 0.5, "ok": True},
    )
    assert list(mv.custom_properties) == ["framework", "bp", "ratio", "ok"]  # wire order


@pytest.mark.parametrize(
    "tagged",
    [
        {"metadataType": "MetadataStringValue", "string_value": "s"},
        {"metadataType": "MetadataStringValue", "string_value": 3},
        {"metadataType": "MetadataIntValue", "int_value": "-12"},
        {"metadataType": "MetadataIntValue", "int_value": 12},
        {"metadataType": "MetadataIntValue", "int_value": "012"},
        {"metadataType": "MetadataIntValue", "int_value": "99999999999"},
        {"metadataType": "MetadataIntValue", "int_value": True},
        {"metadataType": "MetadataStructValue", "struct_value": "eyJhIjogMX0="},
        {"metadataType": "Unknown"},
        "not tagged",
    ],
)
def test_custom_properties_decode_as_the_shared_codec_does(tagged: Any) -> None:
    data = {"name": "m", "customProperties": {"p": tagged}}
    try:
        expected: Any = decode_value("p", tagged)
    except InvalidResponse as exc:
        with pytest.raises(InvalidResponse) as got:
            _convert.from_wire(RegisteredModel, data)
        assert str(got.value) == f"RegisteredModel: {exc}"
        return
    value = _convert.from_wire(RegisteredModel, data).custom_properties["p"]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("createTimeSinceEpoch", "soon", "ModelVersion 12: malformed createTimeSinceEpoch 'soon'"),
        ("createTimeSinceEpoch", True, "ModelVersion 12: malformed createTimeSinceEpoch True"),
        ("state", "GONE", "ModelVersion 12: malformed state 'GONE'"),
        ("state", ["LIVE"], "ModelVersion 12: malformed state ['LIVE']"),
        ("customProperties", [], "ModelVersion 12: customProperties: expected an object"),
    ],
)
def test_malformed_values_name_the_entity_and_the_field(key: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidResponse, match=message.replace("[", r"\[").replace("]", r"\]")):
        _convert.from_wire(ModelVersion, {**WIRE_VERSION, key: value})


def test_other_kinds_and_odd_values_keep_their_decoding() -> None:
    metric = _convert.artifact_from_wire(
        {"artifactType": "metric", "id": 4, "value": 3, "step": "2", "timestamp": 5, "uri": 7}
    )
    assert isinstance(metric, Metric)
    assert (metric.id, metric.value, metric.step, metric.timestamp, metric.uri) == (
        "4",
        3.0,
        2,
        5,
        "7",
    )
    assert type(metric.value) is float
    with pytest.raises(InvalidResponse, match="malformed value True"):
        _convert.from_wire(Metric, {"value": True})
    rm = _convert.from_wire(RegisteredModel, {"name": "m", "language": ["en", 1]})
    assert rm.language == ["en", "1"]
    with pytest.raises(InvalidResponse, match="malformed language 'en'"):
        _convert.from_wire(RegisteredModel, {"name": "m", "language": "en"})
    assert _convert.from_wire(DataSet, {}).name is None  # artifacts need no name
    with pytest.raises(InvalidResponse, match="ModelVersion 9: the server sent no name"):
        _convert.from_wire(ModelVersion, {"id": 9})
    with pytest.raises(InvalidResponse, match="expected a ModelVersion object, got list"):
        _convert.from_wire(ModelVersion, [])


def test_page_parts_leaves_the_items_as_sent() -> None:
    items, token, size = _convert.page_parts(
        {"items": [WIRE_VERSION], "nextPageToken": "t", "pageSize": "1"}
    )
    assert (items, token, size) == ([WIRE_VERSION], "t", 1)
    assert _convert.page_parts({}) == ([], "", None)
    with pytest.raises(InvalidResponse, match="items array"):
        _convert.page_parts({"items": "x"})


async def test_a_raw_page_of_parts_decodes_into_a_page() -> None:
    body = {"items": [WIRE_VERSION], "nextPageToken": "t"}
    raw = RawPage(lambda: _convert.page_parts(body), _convert.decoder_for(ModelVersion))
    assert raw.envelope() == ("t", 1)
    page = await raw.decode()
    assert page == [_convert.from_wire(ModelVersion, WIRE_VERSION)]
    assert page.next_page_token == "t"


def test_rest_json_decoding_reads_what_orjson_refuses() -> None:
    request = {"method": "get", "url": "/x"}
    assert _loads(b'{"a": [1, "b", null]}', request) == {"a": [1, "b", None]}
    nan = _loads(b'{"v": NaN, "w": Infinity}', request)  # Python's json.dumps writes these
    assert math.isnan(nan["v"])
    assert nan["w"] == math.inf
    # Every integer the server can store (64-bit columns) stays exact.
    big = _loads(b"[9223372036854775807, -9223372036854775808]", request)
    assert big == [2**63 - 1, -(2**63)]
    assert _loads('{"u": "é"}'.encode("utf-16"), request) == {"u": "é"}
    with pytest.raises(InvalidResponse, match="answer to get /x is not JSON"):
        _loads(b"<html>", request)


_ODD_VALUES: list[Any] = [None, "x", "", 3, 2.5, True, [], ["a", 1], {}, {"k": 1}, "LIVE", "12"]


@pytest.mark.parametrize("cls", list(_convert._FIELDS))
def test_the_compiled_decoder_gives_the_plans_results_and_errors(cls: type[Any]) -> None:
    # The compiled function takes only the values servers send; everything else must come out
    # of the plan as it did before: the same entity (fields, types, attribute order) or the
    # same error. Each wire key in turn gets every odd value, on top of a well-formed object.
    plan = _convert._Decoder(cls)
    compiled = _convert._decoder(cls)
    assert compiled is not plan  # every entity class compiles (none is frozen, none has slots)
    well_formed: dict[str, Any] = {"id": "7", "name": "n", "customProperties": {}}
    wires = [well_formed, {}, {"id": 7, "name": 5}, {**WIRE_VERSION, "name": "n"}]
    for field in _convert._fields_of(cls):
        for value in _ODD_VALUES:
            wires.append({**well_formed, field.wire: value})
    wires.append({**well_formed, "customProperties": {"p": "not tagged"}})
    for wire in wires:
        try:
            expected = plan(wire)
        except InvalidResponse as exc:
            with pytest.raises(InvalidResponse) as got:
                compiled(wire)
            assert str(got.value) == str(exc), wire
            continue
        got_entity = compiled(wire)
        assert got_entity == expected, wire
        assert type(got_entity) is cls
        assert list(vars(got_entity).items()) == list(vars(expected).items()), wire
        assert all(
            type(getattr(got_entity, f.attr)) is type(getattr(expected, f.attr))
            for f in _convert._fields_of(cls)
        ), wire


def test_compiled_entities_own_their_mutable_defaults() -> None:
    # What the dataclass __init__ gives each instance: its own list and dict.
    a, b = (_convert.from_wire(ModelVersion, {"name": n}) for n in ("a", "b"))
    a.aliases.append("x")
    a.custom_properties["k"] = 1
    assert (b.aliases, b.custom_properties) == ([], {})
    assert a == ModelVersion("a", aliases=["x"], custom_properties={"k": 1})
