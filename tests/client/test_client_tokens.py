"""Tokens with a role per project through the async client, against a server with auth on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import (
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    Unsupported,
)
from model_registry.server import RunningServer, run_server
from model_registry.types import ListOptions, Pager, Project, RegisteredModel

ADMIN = "admin-secret"


@pytest.fixture
async def secured(database_url: str) -> AsyncIterator[RunningServer]:
    """A server that requires tokens; ``ADMIN`` is its admin token."""
    async with run_server(database_url, grpc_port=0, auth_tokens=[ADMIN]) as srv:
        yield srv


def connect(
    server: RunningServer, token: str, project: str | None = None, transport: str = "rest"
) -> ModelRegistryAPIClient:
    port = server.grpc_port if transport == "grpc" else server.port
    assert port is not None
    return ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        port,
        token,
        project=project,
        transport=transport,  # type: ignore[arg-type]
    )


async def test_a_created_token_works_with_its_roles_and_is_listed_without_its_secret(
    secured: RunningServer,
) -> None:
    transport = "rest"
    expires = int(time.time() * 1000) + 3_600_000
    async with connect(secured, ADMIN, transport=transport) as admin:
        await admin.upsert_project(Project("fraud"))
        created = await admin.create_token(
            "alice", {"fraud": "editor", "default": "reader"}, expires
        )
        assert created.secret and created.secret not in repr(created)
        token = created.token
        assert token.subject == "alice"
        assert token.roles == {"fraud": "editor", "default": "reader"}
        assert token.expires_time_since_epoch == expires
        listed = await admin.get_tokens(ListOptions(limit=10))
        assert [t.id for t in listed if t.subject == "alice"] == [token.id]

    async with connect(secured, created.secret) as alice:
        # The first project is the token's default one.
        hal = await alice.upsert_registered_model(RegisteredModel("HAL"))
        with alice.call_options(project="fraud"):
            assert await alice.get_registered_model_by_id(hal.id) == hal
        with alice.call_options(project="default"):
            assert await alice.get_registered_models() == []
            with pytest.raises(Forbidden, match="editor"):
                await alice.upsert_registered_model(RegisteredModel("nope"))

    async with connect(secured, ADMIN, transport=transport) as admin:
        await admin.revoke_token(token.id)
        with pytest.raises(NotFound):
            await admin.revoke_token("999999")
    async with connect(secured, created.secret) as alice:
        with pytest.raises(Unauthorized):
            await alice.get_registered_models()


async def test_tokens_over_grpc_are_issued_listed_and_revoked(secured: RunningServer) -> None:
    async with connect(secured, ADMIN, transport="grpc") as admin:
        await admin.upsert_project(Project("fraud"))
        created = await admin.create_token("bob", {"fraud": "editor"})
        assert (created.token.subject, created.token.roles) == ("bob", {"fraud": "editor"})
        assert created.token.expires_time_since_epoch is None
        listed = [t async for t in Pager(lambda o: admin.get_tokens(o)).page_size(1)]
        assert [t.id for t in listed if t.subject == "bob"] == [created.token.id]
    async with connect(secured, created.secret, transport="grpc") as bob:
        hal = await bob.upsert_registered_model(RegisteredModel("HAL"))
        with bob.call_options(project="fraud"):
            assert await bob.get_registered_model_by_id(hal.id) == hal
    async with connect(secured, ADMIN, transport="grpc") as admin:
        await admin.revoke_token(created.token.id)
        with pytest.raises(NotFound):
            await admin.revoke_token("999999")
    async with connect(secured, created.secret, transport="grpc") as bob:
        with pytest.raises(Unauthorized):
            await bob.get_registered_models()


async def test_over_grpc_a_token_for_several_projects_defaults_to_the_first_given(
    secured: RunningServer,
) -> None:
    names = ["p5", "p1", "p4", "p2", "p3"]
    async with connect(secured, ADMIN, transport="grpc") as admin:
        for name in names:
            await admin.upsert_project(Project(name))
        # Editor in the first project only: a write without a project lands there or fails.
        roles = {name: ("editor" if i == 0 else "reader") for i, name in enumerate(names)}
        created = await admin.create_token("carol", roles)
    async with connect(secured, created.secret, transport="grpc") as carol:
        await carol.upsert_registered_model(RegisteredModel("in-default"))
    async with connect(secured, ADMIN) as admin:
        with admin.call_options(project="p5"):
            found = await admin.get_registered_model_by_params(name="in-default")
        assert found is not None


async def test_token_management_needs_auth_on_and_v1(
    server: RunningServer, secured: RunningServer
) -> None:
    async with ModelRegistryAPIClient.insecure_connection("127.0.0.1", server.port) as open_:
        with pytest.raises(BadRequest, match="authentication is off"):
            await open_.create_token("bob", {"default": "reader"})
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", secured.port, ADMIN, api_version="v1alpha3"
    ) as alpha:
        with pytest.raises(Unsupported, match="v1alpha3 has no endpoint to create a token"):
            await alpha.create_token("bob", {"default": "reader"})
    with pytest.raises(ValueError, match="at least one project"):
        async with connect(secured, ADMIN) as admin:
            await admin.create_token("bob", {})
