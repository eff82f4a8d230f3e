"""Bearer tokens over REST: with tokens configured, every API call needs one of them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conformance import entities
from conformance.checks import assert_list
from conformance.http import RestApi, check_error_body, rest_api

from model_registry.server import RunningServer, run_server
from model_registry.server.rest import BASE_PATH

TOKEN = "s3cret-token"


@pytest.fixture
async def guarded(database_url: str) -> AsyncIterator[RunningServer]:
    """A server that accepts only ``TOKEN``."""
    async with run_server(database_url, auth_tokens=[TOKEN]) as srv:
        yield srv


@pytest.fixture
async def api(guarded: RunningServer) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the guarded server (requests carry no token by default)."""
    async with rest_api(guarded.url + BASE_PATH) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


REQUESTS = [
    ("GET", "/registered_models", None),
    ("POST", "/registered_models", {"name": "m"}),
    ("GET", "/registered_models/1", None),
    ("PATCH", "/registered_models/1", {"description": "x"}),
    ("GET", "/registered_model", None),
    ("GET", "/artifacts", None),
    ("GET", "/experiment_runs/metric_history", None),
    ("GET", "/inference_services", None),
]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param(bearer("wrong"), id="wrong-token"),
        pytest.param({"Authorization": TOKEN}, id="no-scheme"),
        pytest.param({"Authorization": f"Basic {TOKEN}"}, id="basic-scheme"),
        pytest.param(bearer(""), id="empty-token"),
    ],
)
async def test_calls_without_a_valid_token_are_a_401(api: RestApi, headers: dict[str, str]) -> None:
    for method, path, body in REQUESTS:
        reply = await api.request(method, path, json_body=body, headers=headers)
        assert reply.status == 401, reply.describe()
        check_error_body(reply, 401)


async def test_calls_with_the_token_work(api: RestApi) -> None:
    reply = await api.request(
        "POST", "/registered_models", json_body={"name": "m"}, headers=bearer(TOKEN)
    )
    listed = await api.request("GET", "/registered_models", headers=bearer(TOKEN))

    assert reply.status == 201, reply.describe()
    assert reply.body["name"] == "m"
    assert listed.status == 200, listed.describe()
    assert [item["name"] for item in assert_list(listed.body)] == ["m"]


async def test_a_refused_call_changes_nothing(api: RestApi, guarded: RunningServer) -> None:
    await api.request("POST", "/registered_models", json_body={"name": "sneaky"})

    async with rest_api(guarded.url + BASE_PATH) as authorised:
        authorised.session.headers.update(bearer(TOKEN))
        await entities.registered_model(authorised, name="visible")
        names = [item["name"] for item in assert_list(await authorised.fetch("/registered_models"))]

    assert names == ["visible"]
