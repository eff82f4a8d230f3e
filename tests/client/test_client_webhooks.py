"""Webhooks through the async client and the facade against the real server: registered,
listed, got and removed, and their delivery log, over REST v1 and gRPC."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from model_registry import ModelRegistry
from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import BadRequest, NotFound
from model_registry.server import RunningServer, ServerThread, run_server
from model_registry.types import ListOptions, Pager, RegisteredModel, Webhook

OPTIONS = {"webhook_allow_http": True, "webhook_allow_private": True}


class _Taken(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver_url() -> AsyncIterator[str]:
    """A receiver that takes every delivery (204)."""
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Taken)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{receiver.server_address[1]}/hook"  # type: ignore[misc]
    receiver.shutdown()


@pytest.fixture(params=["rest", "grpc"])
async def client(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[ModelRegistryAPIClient]:
    transport = str(request.param)
    async with run_server(database_url, grpc_port=0, **OPTIONS) as srv:  # type: ignore[arg-type]
        port = srv.grpc_port if transport == "grpc" else srv.port
        assert port is not None
        async with ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            port,
            transport=transport,  # type: ignore[arg-type]
        ) as api:
            yield api


async def test_webhooks_are_created_listed_got_and_deleted(
    client: ModelRegistryAPIClient, receiver_url: str
) -> None:
    hook = await client.create_webhook(
        receiver_url, "s3cret", ["registered_model.created"], description="ci"
    )
    assert isinstance(hook, Webhook) and hook.id
    assert (hook.url, hook.events, hook.description) == (
        receiver_url,
        ["registered_model.created"],
        "ci",
    )
    assert hook.create_time_since_epoch and hook.last_status is None
    assert await client.get_webhook(hook.id) == hook
    others = [await client.create_webhook(receiver_url, "s", ["*"]) for _ in range(2)]
    first = await client.get_webhooks(ListOptions(limit=2))
    assert [h.id for h in first] == [hook.id, others[0].id] and first.next_page_token
    walked = [h.id async for h in Pager(client.get_webhooks, ListOptions(limit=2))]
    assert walked == [hook.id, *(h.id for h in others)]

    await client.delete_webhook(others[1].id)
    assert await client.get_webhook(others[1].id) is None
    with pytest.raises(NotFound):
        await client.delete_webhook(others[1].id)
    assert await client.get_webhook("not-an-id") is None
    with pytest.raises(BadRequest, match=r"unknown event types model_version\.exploded"):
        await client.create_webhook(receiver_url, "s", ["model_version.exploded"])


async def test_a_webhook_delivery_log_pages_newest_first(
    client: ModelRegistryAPIClient, receiver_url: str
) -> None:
    hook = await client.create_webhook(receiver_url, "s3cret", ["registered_model.created"])
    for name in ("a", "b", "c"):
        await client.upsert_registered_model(RegisteredModel(name))
    for _ in range(600):
        page = await client.get_webhook_deliveries(hook.id)
        if len(page) == 3:
            break
        await asyncio.sleep(0.05)
    log = list(page)
    assert [d.status for d in log] == ["delivered"] * 3
    assert [d.http_status for d in log] == [204] * 3
    assert {(d.webhook_id, d.event_type, d.attempts) for d in log} == {
        (hook.id, "registered_model.created", 1)
    }
    cursors = [int(d.cursor) for d in log]
    assert cursors == sorted(cursors, reverse=True)
    top = await client.get_webhook_deliveries(hook.id, ListOptions(limit=2))
    assert list(top) == log[:2] and top.next_page_token
    rest = await client.get_webhook_deliveries(
        hook.id, ListOptions(limit=2, next_page_token=top.next_page_token)
    )
    assert list(rest) == log[2:] and not rest.next_page_token
    got = await client.get_webhook(hook.id)
    assert got is not None and got.last_status == "delivered"
    assert list(await client.get_webhook_deliveries("999")) == []


def test_the_facade_manages_webhooks(database_url: str, receiver_url: str) -> None:
    with ServerThread(database_url, **OPTIONS) as srv:  # type: ignore[arg-type]
        registry = ModelRegistry("http://127.0.0.1", srv.port, author="me", is_secure=False)
        try:
            hook = registry.create_webhook(receiver_url, "s3cret", ["*"], description="f")
            assert registry.get_webhook(hook.id) == hook
            assert [h.id for h in registry.list_webhooks()] == [hook.id]
            registry.register_model(
                "m", "s3://b/m.onnx", version="1", model_format_name="onnx",
                model_format_version="1",
            )  # fmt: skip
            for _ in range(600):
                log = list(registry.list_webhook_deliveries(hook.id))
                if len(log) >= 3:  # the model, its version, its artifact
                    break
                threading.Event().wait(0.05)
            assert [d.status for d in log] == ["delivered"] * 3
            registry.delete_webhook(hook.id)
            assert registry.get_webhook(hook.id) is None
        finally:
            registry.close()


_ = RunningServer  # the fixtures' servers
