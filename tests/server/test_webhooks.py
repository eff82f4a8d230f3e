"""Webhooks: registration, signed deliveries to a receiver, retries, the outbound guard, and
delivery from one replica only."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from model_registry.server import RunningServer, run_server

V1 = "/api/model_registry/v1"
SECRET = "whsec-test"
WAIT = 30.0
PG_URL = os.environ.get("MR_TEST_DATABASE_URL", "")


@dataclass
class Receiver:
    """A webhook receiver in the test: records each request, answers as ``answer`` says."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answer: Callable[[int], web.Response] = lambda n: web.Response(status=204)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return self.answer(len(self.requests))

    async def until(self, count: int) -> None:
        async def wait() -> None:
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), WAIT)


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    got.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield got
    finally:
        await runner.cleanup()


def verify(headers: dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    """What a receiver written for MLflow does, with our header names."""
    delivery = headers["X-Model-Registry-Delivery-Id"]
    timestamp = headers["X-Model-Registry-Timestamp"]
    message = f"{delivery}.{timestamp}.{body.decode()}".encode()
    expected = (
        "v1,"
        + base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    )
    return hmac.compare_digest(expected, headers["X-Model-Registry-Signature"])


async def call(
    http: aiohttp.ClientSession, method: str, srv: RunningServer, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, f"{srv.url}{V1}{path}", json=body) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


async def webhook_status(http: aiohttp.ClientSession, srv: RunningServer, hook: str) -> Any:
    """The webhook once its last delivery is logged."""

    async def wait() -> Any:
        while True:
            status, found = await call(http, "GET", srv, f"/webhooks/{hook}")
            assert status == 200
            if "lastDelivery" in found:
                return found
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(wait(), WAIT)


async def test_webhooks_are_created_listed_got_and_deleted_without_showing_the_secret(
    database_url: str,
) -> None:
    async with run_server(database_url) as srv, aiohttp.ClientSession() as http:
        status, hook = await call(
            http, "POST", srv, "/webhooks",
            {"url": "https://hooks.example.com/x", "secret": SECRET,
             "events": ["model_version.created", "model_version_alias.created"]},
        )  # fmt: skip
        assert status == 201
        assert "secret" not in hook
        assert hook["events"] == ["model_version.created", "model_version_alias.created"]
        status, listing = await call(http, "GET", srv, "/webhooks")
        assert (status, [h["id"] for h in listing["items"]]) == (200, [hook["id"]])
        assert (await call(http, "GET", srv, f"/webhooks/{hook['id']}")) == (200, hook)
        assert (await call(http, "DELETE", srv, f"/webhooks/{hook['id']}"))[0] == 204
        status, body = await call(http, "GET", srv, f"/webhooks/{hook['id']}")
        assert (status, body["message"]) == (404, f"webhook with id {hook['id']} not found")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "http://hooks.example.com/x"}, "serve --webhook-allow-http allows http"),
        ({"url": "https://127.0.0.1/x"}, "127.0.0.1 is not a public address"),
        ({"url": "https://10.1.2.3/x"}, "10.1.2.3 is not a public address"),
        ({"url": "https://[::1]/x"}, "::1 is not a public address"),
        ({"url": "https://169.254.169.254/latest"}, "not a public address"),
        ({"url": "https://localhost/x"}, "loopback name"),
        ({"url": "https://u:p@hooks.example.com/x"}, "must not carry credentials"),
        ({"events": ["model_version.exploded"]}, "unknown event types model_version.exploded"),
        ({"secret": ""}, "secret must be a string"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
async def test_a_refused_webhook_is_a_400_saying_why(
    server: RunningServer, body: dict[str, Any], message: str
) -> None:
    full = {"url": "https://hooks.example.com/x", "secret": SECRET, "events": ["*"], **body}
    async with aiohttp.ClientSession() as http:
        status, answer = await call(http, "POST", server, "/webhooks", full)
    assert status == 400
    assert message in answer["message"]


async def test_a_receiver_gets_signed_deliveries_of_the_events_it_wants(
    database_url: str,
) -> None:
    async with (
        receiver() as hook_server,
        run_server(database_url, webhook_allow_http=True, webhook_allow_private=True) as srv,
        aiohttp.ClientSession() as http,
    ):
        status, hook = await call(
            http, "POST", srv, "/webhooks",
            {"url": hook_server.url, "secret": SECRET, "events": ["model_version.created"]},
        )  # fmt: skip
        assert status == 201
        _, model = await call(http, "POST", srv, "/registered_models", {"name": "m"})
        _, version = await call(
            http, "POST", srv, "/model_versions", {"name": "v1", "registeredModelId": model["id"]}
        )
        await hook_server.until(1)
        found = await webhook_status(http, srv, hook["id"])
    (headers, body), *more = hook_server.requests
    assert more == []  # the registered_model.created event was not wanted
    assert verify(headers, body)
    assert not verify(headers, body, secret="another")
    event = json.loads(body)
    assert (event["type"], event["entityId"]) == ("model_version.created", version["id"])
    assert event["entity"] == version
    assert headers["Content-Type"] == "application/json"
    assert found["lastDelivery"]["status"] == "delivered"
    assert int(found["cursor"]) == int(event["cursor"])


async def test_a_failing_receiver_is_retried_with_the_same_delivery_until_it_takes_it(
    database_url: str,
) -> None:
    def flaky(n: int) -> web.Response:
        if n == 1:
            return web.Response(status=503, headers={"Retry-After": "0"})
        if n == 2:
            return web.Response(status=429, headers={"Retry-After": "0"})
        return web.Response(status=200)

    async with (
        receiver() as hook_server,
        run_server(database_url, webhook_allow_http=True, webhook_allow_private=True) as srv,
        aiohttp.ClientSession() as http,
    ):
        hook_server.answer = flaky
        _, hook = await call(
            http, "POST", srv, "/webhooks",
            {"url": hook_server.url, "secret": SECRET, "events": ["*"]},
        )  # fmt: skip
        await call(http, "POST", srv, "/registered_models", {"name": "m"})
        await hook_server.until(3)
        found = await webhook_status(http, srv, hook["id"])
    ids = {h["X-Model-Registry-Delivery-Id"] for h, _ in hook_server.requests}
    assert len(ids) == 1  # one delivery, three attempts
    assert all(verify(h, b) for h, b in hook_server.requests)
    assert found["lastDelivery"]["status"] == "delivered"


async def test_a_receiver_that_refuses_fails_the_delivery_without_retrying(
    database_url: str,
) -> None:
    async with (
        receiver() as hook_server,
        run_server(database_url, webhook_allow_http=True, webhook_allow_private=True) as srv,
        aiohttp.ClientSession() as http,
    ):
        hook_server.answer = lambda n: web.Response(status=302, headers={"Location": "/x"})
        _, hook = await call(
            http, "POST", srv, "/webhooks",
            {"url": hook_server.url, "secret": SECRET, "events": ["*"]},
        )  # fmt: skip
        await call(http, "POST", srv, "/registered_models", {"name": "m"})
        found = await webhook_status(http, srv, hook["id"])
    assert len(hook_server.requests) == 1  # a redirect is not followed, nor retried
    assert found["lastDelivery"] == {
        "status": "failed",
        "timeSinceEpoch": found["lastDelivery"]["timeSinceEpoch"],
        "error": "HTTP 302",
    }


class ResolvesTo(AbstractResolver):
    """A resolver that answers every name with one address (a DNS answer an attacker set)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": self.address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


async def test_a_name_that_resolves_to_a_private_address_is_never_connected_to(
    database_url: str,
) -> None:
    dns = ResolvesTo("127.0.0.1")
    async with (
        receiver() as hook_server,
        run_server(database_url, webhook_allow_http=True, webhook_resolver=dns) as srv,
        aiohttp.ClientSession() as http,
    ):
        port = hook_server.url.split(":")[2].split("/")[0]
        status, hook = await call(
            http, "POST", srv, "/webhooks",
            {"url": f"http://hooks.example.com:{port}/hook", "secret": SECRET, "events": ["*"]},
        )  # fmt: skip
        assert status == 201  # a name passes; its address is checked when connecting
        await call(http, "POST", srv, "/registered_models", {"name": "m"})
        found = await webhook_status(http, srv, hook["id"])
    assert dns.asked == ["hooks.example.com"]
    assert hook_server.requests == []
    assert found["lastDelivery"]["status"] == "failed"
    assert "resolves to 127.0.0.1: not a public address" in found["lastDelivery"]["error"]


async def test_with_private_addresses_allowed_the_same_name_is_delivered_to(
    database_url: str,
) -> None:
    async with (
        receiver() as hook_server,
        run_server(
            database_url,
            webhook_allow_http=True,
            webhook_allow_private=True,
            webhook_resolver=ResolvesTo("127.0.0.1"),
        ) as srv,
        aiohttp.ClientSession() as http,
    ):
        port = hook_server.url.split(":")[2].split("/")[0]
        await call(
            http, "POST", srv, "/webhooks",
            {"url": f"http://hooks.example.com:{port}/hook", "secret": SECRET, "events": ["*"]},
        )  # fmt: skip
        await call(http, "POST", srv, "/registered_models", {"name": "m"})
        await hook_server.until(1)
    assert verify(*hook_server.requests[0])


@pytest.mark.skipif(not PG_URL, reason="two replicas share a PostgreSQL database")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_deliver_each_event_once(database_url: str) -> None:
    options = {"webhook_allow_http": True, "webhook_allow_private": True}
    async with (
        receiver() as hook_server,
        run_server(database_url, **options) as one,  # type: ignore[arg-type]
        run_server(database_url, **options) as two,  # type: ignore[arg-type]
        aiohttp.ClientSession() as http,
    ):
        await call(
            http, "POST", one, "/webhooks",
            {"url": hook_server.url, "secret": SECRET, "events": ["registered_model.created"]},
        )  # fmt: skip
        for i, srv in enumerate((one, two, one, two)):
            await call(http, "POST", srv, "/registered_models", {"name": f"m{i}"})
        await hook_server.until(4)
        await asyncio.sleep(1.0)  # room for a duplicate to show up, were there one
    names = [json.loads(body)["entity"]["name"] for _, body in hook_server.requests]
    assert names == ["m0", "m1", "m2", "m3"]


async def test_webhooks_over_grpc_are_created_listed_got_and_deleted(
    grpc_server: RunningServer,
) -> None:
    import grpc

    from model_registry._generated.grpc.model_registry.v1 import (
        model_registry_pb2_grpc as pb_grpc,
    )
    from model_registry._generated.grpc.model_registry.v1alpha3 import (
        model_registry_pb2 as pb,
    )

    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_server.grpc_port}") as channel:
        stub = pb_grpc.ModelRegistryServiceStub(channel)
        hook = await stub.CreateWebhook(
            pb.CreateWebhookRequest(
                url="https://hooks.example.com/x",
                secret=SECRET,
                events=["model_version.created"],
                description="ci",
            )
        )
        assert (hook.url, list(hook.events), hook.description) == (
            "https://hooks.example.com/x",
            ["model_version.created"],
            "ci",
        )
        listing = await stub.GetWebhooks(pb.GetWebhooksRequest())
        assert [h.id for h in listing.items] == [hook.id]
        assert await stub.GetWebhookById(pb.GetWebhookByIdRequest(id=hook.id)) == hook
        await stub.DeleteWebhook(pb.DeleteWebhookRequest(id=hook.id))
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetWebhookById(pb.GetWebhookByIdRequest(id=hook.id))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateWebhook(
                pb.CreateWebhookRequest(url="http://x.example.com", secret=SECRET, events=["*"])
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "webhook-allow-http" in (refused.value.details() or "")


async def test_the_delivery_log_is_pruned_with_the_events(database_url: str) -> None:
    from sqlalchemy import text

    async with (
        receiver() as hook_server,
        run_server(database_url, webhook_allow_http=True, webhook_allow_private=True) as srv,
        aiohttp.ClientSession() as http,
    ):
        _, hook = await call(
            http, "POST", srv, "/webhooks",
            {"url": hook_server.url, "secret": SECRET, "events": ["*"]},
        )  # fmt: skip
        await call(http, "POST", srv, "/registered_models", {"name": "m"})
        await webhook_status(http, srv, hook["id"])
        await asyncio.sleep(0.01)
        await srv.service.events.prune(0.001)
        async with srv.service.store.engine.connect() as conn:
            left = (await conn.execute(text("SELECT count(*) FROM webhook_deliveries"))).scalar()
        found = await webhook_status(http, srv, hook["id"])
    assert left == 0
    assert found["lastDelivery"]["status"] == "delivered"  # the last status stays


async def test_the_delivery_log_is_paged_newest_first_over_rest_and_grpc(
    database_url: str,
) -> None:
    import grpc

    from model_registry._generated.grpc.model_registry.v1 import (
        model_registry_pb2_grpc as pb_grpc,
    )
    from model_registry._generated.grpc.model_registry.v1alpha3 import (
        model_registry_pb2 as pb,
    )

    def answer(n: int) -> web.Response:
        # m0: a 503 then taken (two attempts); m1: taken; m2: refused (failed at once).
        return web.Response(status={1: 503, 4: 400}.get(n, 204), headers={"Retry-After": "0"})

    async with (
        receiver() as hook_server,
        run_server(
            database_url, grpc_port=0, webhook_allow_http=True, webhook_allow_private=True
        ) as srv,
        aiohttp.ClientSession() as http,
    ):
        hook_server.answer = answer
        _, hook = await call(
            http, "POST", srv, "/webhooks",
            {"url": hook_server.url, "secret": SECRET, "events": ["registered_model.created"]},
        )  # fmt: skip
        for i in range(3):
            await call(http, "POST", srv, "/registered_models", {"name": f"m{i}"})
        await hook_server.until(4)
        path = f"/webhooks/{hook['id']}/deliveries"

        async def logged() -> Any:
            while True:
                status, page = await call(http, "GET", srv, path)
                assert status == 200
                if page["size"] == 3:
                    return page
                await asyncio.sleep(0.05)

        whole = await asyncio.wait_for(logged(), WAIT)
        status, first = await call(http, "GET", srv, f"{path}?pageSize=2")
        assert status == 200 and first["size"] == 2 and first["nextPageToken"]
        status, second = await call(
            http, "GET", srv, f"{path}?pageSize=2&nextPageToken={first['nextPageToken']}"
        )
        assert (status, second["size"], second["nextPageToken"]) == (200, 1, "")
        assert first["items"] + second["items"] == whole["items"]
        assert (await call(http, "GET", srv, "/webhooks/999/deliveries"))[0] == 404
        status, bad = await call(http, "GET", srv, f"{path}?nextPageToken=nonsense")
        assert status == 400 and "nextPageToken" in bad["message"]

        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
            stub = pb_grpc.ModelRegistryServiceStub(channel)
            request = pb.GetWebhookDeliveriesRequest(webhook_id=hook["id"], page_size=2)
            top = await stub.GetWebhookDeliveries(request)
            rest_of = await stub.GetWebhookDeliveries(
                pb.GetWebhookDeliveriesRequest(
                    webhook_id=hook["id"], page_size=2, next_page_token=top.next_page_token
                )
            )
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.GetWebhookDeliveries(pb.GetWebhookDeliveriesRequest(webhook_id="999"))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    items = whole["items"]
    names = [json.loads(body)["entity"]["name"] for _, body in hook_server.requests]
    assert names == ["m0", "m0", "m1", "m2"]  # m0's first attempt got a 503
    delivery_ids = [h["X-Model-Registry-Delivery-Id"] for h, _ in hook_server.requests]
    assert [d["id"] for d in items] == [delivery_ids[3], delivery_ids[2], delivery_ids[0]]
    cursors = [int(d["cursor"]) for d in items]
    assert cursors == sorted(cursors, reverse=True)  # newest first
    assert [(d["status"], d["attempts"], d.get("httpStatus")) for d in items] == [
        ("failed", 1, 400),
        ("delivered", 1, 204),
        ("delivered", 2, 204),
    ]
    assert items[0]["error"] == "HTTP 400" and "error" not in items[1]
    assert {d["eventType"] for d in items} == {"registered_model.created"}
    assert {d["webhookId"] for d in items} == {hook["id"]}
    by_grpc = [*top.items, *rest_of.items]
    assert [(d.id, d.cursor, d.status, d.attempts, d.http_status) for d in by_grpc] == [
        (d["id"], d["cursor"], d["status"], d["attempts"], d["httpStatus"]) for d in items
    ]
    assert (top.size, top.page_size, rest_of.next_page_token) == (2, 2, "")


async def test_the_webhook_list_is_paged_by_id(database_url: str) -> None:
    async with run_server(database_url) as srv, aiohttp.ClientSession() as http:
        made = []
        for i in range(3):
            _, hook = await call(
                http, "POST", srv, "/webhooks",
                {"url": f"https://hooks.example.com/{i}", "secret": SECRET, "events": ["*"]},
            )  # fmt: skip
            made.append(hook["id"])
        _, first = await call(http, "GET", srv, "/webhooks?pageSize=2")
        _, second = await call(
            http, "GET", srv, f"/webhooks?pageSize=2&nextPageToken={first['nextPageToken']}"
        )
        _, whole = await call(http, "GET", srv, "/webhooks")
    assert [h["id"] for h in first["items"]] == made[:2]
    assert [h["id"] for h in second["items"]] == made[2:] and second["nextPageToken"] == ""
    assert [h["id"] for h in whole["items"]] == made and whole["nextPageToken"] == ""
