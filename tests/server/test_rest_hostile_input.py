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

# (label, path, raw body)
BODIES: list[tuple[str, str, bytes]] = [
    ("deep-array", "/registered_models", b"[" * DEEP + b"]" * DEEP),
    (
        "deep-property",
        "/registered_models",
        b'{"name": "m", "customProperties": {"a": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
    ),
    (
        "double-overflow",
        "/registered_models",
        b'{"name": "m", "customProperties": {"a": '
        b'{"metadataType": "MetadataDoubleValue", "double_value": 1e999}}}',
    ),
    (
        "nan",
        "/registered_models",
        b'{"name": "m", "customProperties": {"a": '
        b'{"metadataType": "MetadataDoubleValue", "double_value": NaN}}}',
    ),
    (
        "int-property-overflow",
        "/registered_models",
        b'{"name": "m", "customProperties": {"a": '
        b'{"metadataType": "MetadataIntValue", "int_value": "99999999999999999999"}}}',
    ),
    (
        "step-overflow",
        "/artifacts",
        b'{"artifactType": "metric", "name": "m", "step": 99999999999999999999999}',
    ),
    (
        "timestamp-overflow",
        "/artifacts",
        b'{"artifactType": "metric", "name": "m", "timestamp": "99999999999999999999999"}',
    ),
    (
        "metric-value-overflow",
        "/artifacts",
        b'{"artifactType": "metric", "name": "m", "value": 1e999}',
    ),
    ("nul-in-name", "/registered_models", b'{"name": "x\\u0000y"}'),
    ("lone-surrogate", "/registered_models", b'{"name": "\\ud800"}'),
    ("invalid-utf8", "/registered_models", b'{"name": "m\xff"}'),
    ("utf16-body", "/registered_models", '{"name": "m"}'.encode("utf-16")),
    ("nul-in-description", "/registered_models", b'{"name": "m", "description": "\\u0000"}'),
]


async def test_a_hostile_body_is_a_400_and_stores_nothing(api: RestApi) -> None:
    for label, path, raw in BODIES:
        reply = await api.request(
            "POST", path, data=raw, headers={"Content-Type": "application/json"}
        )
        assert reply.status == 400, f"{label}: {reply.describe()}"
        check_error_body(reply, 400)

    assert assert_list(await api.fetch("/registered_models")) == []
    assert assert_list(await api.fetch("/artifacts")) == []


HOSTILE_QUERIES: list[dict[str, str]] = [
    {"filterQuery": "rank = 99999999999999999999999"},
    {"filterQuery": "id = 99999999999999999999999"},
    {"filterQuery": "name = '\x00'"},
    {"filterQuery": "(" * 1000 + "name = 'a'" + ")" * 1000},
    {"filterQuery": "score > 1e999"},
    {"nextPageToken": "\x00"},
]


async def test_a_hostile_query_is_a_400(api: RestApi) -> None:
    for params in HOSTILE_QUERIES:
        await api.fails("GET", "/registered_models", 400, params=params)
