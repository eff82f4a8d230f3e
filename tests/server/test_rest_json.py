"""REST JSON encoding and decoding with orjson: the same values and the same 400s as before.

The request parser is checked against an oracle, the standard-library parse the server used
before orjson: every body must decode to an identical value (an int stays an int, however
large) or be refused with the identical message. Responses are checked over a real server.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from model_registry.server.errors import BadRequest
from model_registry.server.rest import (
    MAX_JSON_DEPTH,
    _parse_json_strictly,
    dump_json,
    parse_json_object,
)


def _stdlib_parse(raw: bytes) -> dict[str, Any]:
    """The body parse of the server before orjson (the oracle): the standard-library parse
    with its checks, which the server keeps as its fallback."""
    if not raw.strip():
        raise BadRequest("request body must be a JSON object")
    body = _parse_json_strictly(raw)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


BODIES: list[bytes] = [
    b'{"name": "m"}',
    b' \n{"name":"m"}\t',
    b'{"a": 1, "a": 2}',
    b'{"big": 123456789012345678901234567890}',
    b'{"u64": 18446744073709551615}',
    b'{"i64min": -9223372036854775808}',
    b'{"below": -9223372036854775809}',
    b'{"digits": "1234567890123456789012"}',
    b'{"f": 1.0, "g": -0.0, "h": 5e-324, "i": 1.7976931348623157e308, "j": 0.1}',
    b'{"over": 1e400}',
    b'{"under": 1e-400}',
    b'{"nan": NaN}',
    b'{"inf": Infinity}',
    b'{"minf": -Infinity}',
    b'{"lone": "\\ud800"}',
    b'{"pair": "\\ud83d\\ude00"}',
    b'{"nul": "x\\u0000y"}',
    b'{"raw-nul": "x\x00y"}',
    b'{"raw-tab": "x\ty"}',
    b'{"utf8": "\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80"}',
    b'{"bad-utf8": "m\xff"}',
    b'{"surrogate-bytes": "\xed\xa0\x80"}',
    b"\xef\xbb\xbf{}",
    '{"name": "m"}'.encode("utf-16"),
    b'{"deep": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}",
    b'{"deep-but-ok": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"trailing": 1,}',
    b'{"a": 01}',
    b'{"a": .5}',
    b"{",
    b"not json",
    b"[]",
    b"null",
    b"42",
    b'"name"',
    b"",
    b"   ",
    b'{"a": 1}\x00',
    b'{"\\u0000": true, "k": [null, false, {"x": []}]}',
]


@pytest.mark.parametrize("raw", BODIES, ids=range(len(BODIES)))
def test_a_body_decodes_as_the_standard_parser_decodes_it_or_fails_alike(raw: bytes) -> None:
    try:
        expected: Any = _stdlib_parse(raw)
    except BadRequest as exc:
        with pytest.raises(BadRequest) as caught:
            parse_json_object(raw)
        assert caught.value.message == exc.message
        return
    got = parse_json_object(raw)
    # repr: an int must stay an int (orjson alone turns 20-digit integers into floats), and
    # -0.0 must keep its sign.
    assert repr(got) == repr(expected)


@pytest.mark.parametrize(
    "value",
    [
        2**64,
        -(2**63) - 1,
        {"lone": "\ud800"},
        {1: "non-string key"},
        [2**70, "é"],
    ],
    ids=["u64+1", "i64-1", "lone-surrogate", "int-key", "mixed"],
)
def test_values_orjson_refuses_are_still_encoded(value: Any) -> None:
    encoded = dump_json(value)
    assert json.loads(encoded) == json.loads(json.dumps(value))


def test_floats_are_written_as_json_dumps_writes_them() -> None:
    # Shortest round-trip form, sign of zero kept, whole floats stay floats ("1.0").
    for value in (5e-324, 1.7976931348623157e308, -0.0, 0.1, 1.0, 1e16, 123456789.123):
        assert json.loads(dump_json(value)) == value
        assert repr(json.loads(dump_json(value))) == repr(value)


def test_non_ascii_goes_out_as_utf8_with_the_same_meaning() -> None:
    value = {"name": "é ✓ 😀", "quote": '"\\', "control": "\x01\u2028"}
    encoded = dump_json(value)
    assert "é ✓ 😀".encode() in encoded
    assert json.loads(encoded.decode("utf-8")) == value


async def test_responses_round_trip_edge_values(base_url: str) -> None:
    doubles = {
        "tiny": 5e-324,
        "huge": 1.7976931348623157e308,
        "tenth": 0.1,
        "whole": 1.0,
    }
    properties: dict[str, Any] = {
        key: {"metadataType": "MetadataDoubleValue", "double_value": value}
        for key, value in doubles.items()
    }
    properties["text"] = {
        "metadataType": "MetadataStringValue",
        "string_value": 'é ✓ 😀 "quoted" \\ \x01 \u2028',
    }
    properties["int"] = {"metadataType": "MetadataIntValue", "int_value": "-999999999"}
    properties["flag"] = {"metadataType": "MetadataBoolValue", "bool_value": False}
    body = {"name": "ünïcødé 模型", "description": "\t\n", "customProperties": properties}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base_url}/registered_models", json=body) as resp:
            assert resp.status == 201
            created = json.loads(await resp.read())
        async with http.get(f"{base_url}/registered_models/{created['id']}") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
            raw = await resp.read()
        async with http.get(f"{base_url}/registered_models/999999") as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
            error = json.loads(await resp.read())
    got = json.loads(raw.decode("utf-8"))
    assert got == created
    assert got["name"] == body["name"]
    assert got["description"] == body["description"]
    assert got["customProperties"] == properties
    for key, value in doubles.items():
        sent = got["customProperties"][key]["double_value"]
        assert isinstance(sent, float)
        assert sent == value
    assert set(error) == {"code", "message"}
    assert error["code"] == "Not Found"
