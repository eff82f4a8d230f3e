"""Hostile input over REST: whatever bytes a client sends, the answer is a 4xx with a body.

These are the inputs that typically reach a 500 in a Python server: recursion limits in the
JSON decoder, floats that JSON cannot carry back out, integers past int64, NUL characters and
lone surrogates that databases refuse, bodies in another encoding.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conformance.checks import assert_list
from conformance.http import RestApi, check_error_body, rest_api


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


DEEP = 100_000

BODIES = [
    pytest.param("/registered_models", b"[" * DEEP + b"]" * DEEP, id="deep-array"),
    pytest.param(
        "/registered_models",
        b'{"name": "m", "customProperties": {"a": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
        id="deep-property",
    ),
    pytest.param(
        "/registered_models",
        b'{"name": "m", "customProperties": {"a": '
        b'{"metadataType": "MetadataDoubleValue", "double_value": 1e999}}}',
        id="double-overflow",
    ),
    pytest.param(
        "/registered_models",
        b'{"name": "m", "customProperties": {"a": '
        b'{"metadataType": "MetadataDoubleValue", "double_value": NaN}}}',
        id="nan",
    ),
    pytest.param(
        "/registered_models",
        b'{"name": "m", "customProperties": {"a": '
        b'{"metadataType": "MetadataIntValue", "int_value": "99999999999999999999"}}}',
        id="int-property-overflow",
    ),
    pytest.param(
        "/artifacts",
        b'{"artifactType": "metric", "name": "m", "step": 99999999999999999999999}',
        id="step-overflow",
    ),
    pytest.param(
        "/artifacts",
        b'{"artifactType": "metric", "name": "m", "timestamp": "99999999999999999999999"}',
        id="timestamp-overflow",
    ),
    pytest.param(
        "/artifacts",
        b'{"artifactType": "metric", "name": "m", "value": 1e999}',
        id="metric-value-overflow",
    ),
    pytest.param("/registered_models", b'{"name": "x\\u0000y"}', id="nul-in-name"),
    pytest.param("/registered_models", b'{"name": "\\ud800"}', id="lone-surrogate"),
    pytest.param("/registered_models", b'{"name": "m\xff"}', id="invalid-utf8"),
    pytest.param("/registered_models", '{"name": "m"}'.encode("utf-16"), id="utf16-body"),
    pytest.param(
        "/registered_models",
        b'{"name": "m", "description": "\\u0000"}',
        id="nul-in-description",
    ),
]


@pytest.mark.parametrize(("path", "raw"), BODIES)
async def test_a_hostile_body_is_a_400_and_stores_nothing(
    api: RestApi, path: str, raw: bytes
) -> None:
    reply = await api.request("POST", path, data=raw, headers={"Content-Type": "application/json"})

    assert reply.status == 400, reply.describe()
    check_error_body(reply, 400)
    assert assert_list(await api.fetch(path)) == []


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"filterQuery": "rank = 99999999999999999999999"}, id="int-literal"),
        pytest.param({"filterQuery": "id = 99999999999999999999999"}, id="id-literal"),
        pytest.param({"filterQuery": "name = '\x00'"}, id="nul-literal"),
        pytest.param({"filterQuery": "(" * 1000 + "name = 'a'" + ")" * 1000}, id="deep-parens"),
        pytest.param({"filterQuery": "score > 1e999"}, id="double-literal"),
        pytest.param({"nextPageToken": "\x00"}, id="nul-token"),
    ],
)
async def test_a_hostile_query_is_a_400(api: RestApi, params: dict[str, str]) -> None:
    await api.fails("GET", "/registered_models", 400, params=params)
