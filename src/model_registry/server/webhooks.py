"""Webhooks: registrations (their rules) and the dispatcher that delivers events, signed.

A webhook names a URL, a secret and the event types it wants (MLflow's names:
``registered_model.created``, ``model_version.created``, ``model_version_alias.created``...;
``*`` for every type). It starts at the newest event when it is created and moves through the
event log in order: each matching event is POSTed as the event's JSON, signed as MLflow signs
its webhooks, so a receiver written for MLflow changes only the header names:

- ``X-Model-Registry-Delivery-Id``: a UUID per delivery (the same across its retries);
- ``X-Model-Registry-Timestamp``: seconds since the epoch;
- ``X-Model-Registry-Signature``: ``v1,`` + base64(HMAC-SHA256(secret,
  ``f"{delivery_id}.{timestamp}.{payload}"``)).

A 429 or 5xx answer, or a connection that fails, is retried with capped exponential backoff,
``Retry-After`` honoured, up to :data:`MAX_ATTEMPTS`; any other answer but a 2xx (a redirect
included: none is followed) fails the delivery at once. Each outcome is logged
(``webhook_deliveries``) and the webhook keeps its last status. One server delivers at a time:
it holds a lease row, renewed as it works (replicas on one database take over when it lapses).

Outbound safety: only ``https`` URLs unless ``serve --webhook-allow-http``; and unless
``serve --webhook-allow-private``, a host that is, or resolves to, a loopback, link-local,
private, reserved or multicast address is refused: the resolver of the delivery session drops
such addresses, so the address connected to is one that passed the check.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from model_registry.server.errors import BadRequest, NotFound, ServiceError
from model_registry.server.events import ACTIONS, EventFeed, event_kinds, event_to_wire
from model_registry.server.paging import PageRequest
from model_registry.server.store import Store
from model_registry.server.store.events import log_bounds, read_events
from model_registry.server.store.queries import now_ms
from model_registry.server.store.webhooks import (
    add_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
    record_delivery,
    remove_webhook,
    take_lease,
)
from model_registry.server.wire import parse_id

log = logging.getLogger("model_registry.server.webhooks")

__all__ = ["WebhookDispatcher", "WebhookPolicy", "Webhooks", "delivery_to_wire", "sign"]

MAX_ATTEMPTS = 5
"""Attempts of one delivery (the first and four retries)."""
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 60.0
LEASE_SECONDS = 15.0
POLL_SECONDS = 1.0
TIMEOUT_SECONDS = 10.0
MAX_URL_LENGTH = 2048
MAX_SECRET_LENGTH = 1024


def sign(secret: str, delivery_id: str, timestamp: int, payload: str) -> str:
    """The signature header value of a delivery: MLflow's computation and format."""
    message = f"{delivery_id}.{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


class RefusedAddress(OSError):
    """A webhook host that is, or resolves to, an address deliveries may not reach."""


class _GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and keeps only public addresses (none left: refused)."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if _public(r["host"])]
        if not allowed:
            shown = ", ".join(sorted({r["host"] for r in found}))
            raise RefusedAddress(f"{host} resolves to {shown}: not a public address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class WebhookPolicy:
    """Where deliveries may go.

    Args:
        allow_http: Accept ``http`` URLs (``serve --webhook-allow-http``).
        allow_private: Deliver to private, loopback and link-local addresses too.
        resolver: The DNS resolver (tests inject one); aiohttp's default when None.
    """

    def __init__(
        self,
        *,
        allow_http: bool = False,
        allow_private: bool = False,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.allow_http = allow_http
        self.allow_private = allow_private
        self.resolver = resolver

    def check_url(self, url: object) -> str:
        """The URL if deliveries may go to it.

        Raises:
            BadRequest: Not an absolute http(s) URL, http while not allowed, credentials in
                it, or a literal address that is not public (unless allowed).
        """
        if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
            raise BadRequest(f"url must be an absolute https URL of at most {MAX_URL_LENGTH} chars")
        parts = urlsplit(url)
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            allowed = " or ".join(schemes)
            raise BadRequest(
                f"url must be an absolute {allowed} URL, got {url!r}"
                + ("" if self.allow_http else " (serve --webhook-allow-http allows http)")
            )
        if parts.username is not None or parts.password is not None:
            raise BadRequest("url must not carry credentials: sign deliveries with the secret")
        self.check_host(parts.hostname)
        return url

    def check_host(self, host: str) -> None:
        """Refuse a literal address that is not public (names are checked when resolved).

        Raises:
            BadRequest: The host is such an address and private addresses are not allowed.
        """
        if self.allow_private:
            return
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            if host.lower() == "localhost" or host.lower().endswith(".localhost"):
                raise BadRequest(f"webhook host {host} is a loopback name") from None
            return
        if not _public(host):
            raise BadRequest(
                f"webhook host {host} is not a public address "
                "(serve --webhook-allow-private allows it)"
            )


def _events_list(value: object) -> list[str]:
    allowed = {f"{k}.{a}" for k in event_kinds() for a in ACTIONS} | {"*"}
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadRequest('events must be a non-empty list of event types (or ["*"])')
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise BadRequest(
            f"unknown event types {', '.join(unknown)}: use kind.action, as "
            "model_version.created, or * for every type"
        )
    return sorted(set(value))


def webhook_to_wire(row: Mapping[str, Any]) -> dict[str, Any]:
    """A webhook as its REST JSON (never with its secret)."""
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "url": row["url"],
        "events": json.loads(row["events"]),
        "createTimeSinceEpoch": str(row["create_time"]),
        "cursor": str(row["cursor"]),
    }
    if row.get("description") is not None:
        out["description"] = row["description"]
    if row.get("last_status") is not None:
        last: dict[str, Any] = {
            "status": row["last_status"],
            "timeSinceEpoch": str(row["last_time"]),
        }
        if row.get("last_error"):
            last["error"] = row["last_error"]
        out["lastDelivery"] = last
    return out


def delivery_to_wire(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of the delivery log as its REST JSON."""
    out: dict[str, Any] = {
        "id": row["id"],
        "webhookId": str(row["webhook_id"]),
        "cursor": str(row["cursor"]),
        "eventType": row["event_type"],
        "timeSinceEpoch": str(row["time"]),
        "attempts": int(row["attempts"]),
        "status": row["status"],
    }
    if row.get("http_status") is not None:
        out["httpStatus"] = int(row["http_status"])
    if row.get("error"):
        out["error"] = row["error"]
    return out


def _page_request(params: Mapping[str, str], order_by: str, *, desc: bool) -> PageRequest:
    """The page a webhook list asks for: its order is fixed, only the size and the position
    come from the query."""
    query = {
        "pageSize": params.get("pageSize", ""),
        "nextPageToken": params.get("nextPageToken", ""),
        "orderBy": order_by,
        "sortOrder": "DESC" if desc else "ASC",
    }
    try:
        return PageRequest.from_query(query)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _page(items: list[dict[str, Any]], token: str, page: PageRequest) -> dict[str, Any]:
    return {
        "items": items,
        "size": len(items),
        "pageSize": page.page_size if page.page_size is not None else len(items),
        "nextPageToken": token,
    }


class Webhooks:
    """The rules of webhook registrations.

    Args:
        store: The store.
        policy: Where deliveries may go.
    """

    def __init__(self, store: Store, policy: WebhookPolicy) -> None:
        self._store = store
        self.policy = policy

    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Register a webhook: ``url``, ``secret``, ``events``, ``description``.

        Raises:
            BadRequest: An unknown field, a refused URL, a missing secret, unknown events.
        """
        if not isinstance(body, Mapping):
            raise BadRequest("request body must be a JSON object")
        for key in body:
            if key not in ("url", "secret", "events", "description"):
                raise BadRequest(f"unknown field {key!r}")
        url = self.policy.check_url(body.get("url"))
        secret = body.get("secret")
        if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET_LENGTH:
            raise BadRequest(f"secret must be a string of 1 to {MAX_SECRET_LENGTH} characters")
        events = _events_list(body.get("events"))
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise BadRequest("description must be a string")

        async def insert(tx: Any) -> dict[str, Any]:
            head, _pruned = await log_bounds(tx.executor)
            return await add_webhook(
                tx.executor,
                {
                    "url": url,
                    "secret": secret,
                    "events": json.dumps(events),
                    "description": description,
                    "create_time": now_ms(),
                    "cursor": head,  # from now on
                },
            )

        return webhook_to_wire(await self._store.write(insert))

    async def list(self, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One page of the webhooks, by id (``pageSize``, ``nextPageToken``; every webhook
        when ``pageSize`` is absent).

        Raises:
            BadRequest: A bad ``pageSize`` or page token.
        """
        page = _page_request(params or {}, "ID", desc=False)
        try:
            rows, token = await self._store.read(lambda tx: list_webhooks(tx.executor, page))
        except ValueError as exc:  # a token that does not decode
            raise BadRequest(str(exc)) from None
        return _page([webhook_to_wire(r) for r in rows], token, page)

    async def deliveries(self, webhook_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One page of a webhook's delivery log, newest first (``pageSize``,
        ``nextPageToken``).

        Raises:
            BadRequest: A bad id, ``pageSize`` or page token.
            NotFound: No webhook has this id.
        """
        ident = parse_id(webhook_id)
        page = _page_request(params, "CREATE_TIME", desc=True)

        async def body(tx: Any) -> tuple[list[dict[str, Any]], str] | None:
            if await get_webhook(tx.executor, ident) is None:
                return None
            return await list_deliveries(tx.executor, ident, page)

        try:
            found = await self._store.read(body)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if found is None:
            raise NotFound(f"webhook with id {ident} not found")
        rows, token = found
        return _page([delivery_to_wire(r) for r in rows], token, page)

    async def get(self, webhook_id: str) -> dict[str, Any]:
        """One webhook.

        Raises:
            NotFound: No webhook has this id.
        """
        ident = parse_id(webhook_id)
        row = await self._store.read(lambda tx: get_webhook(tx.executor, ident))
        if row is None:
            raise NotFound(f"webhook with id {ident} not found")
        return webhook_to_wire(row)

    async def delete(self, webhook_id: str) -> None:
        """Remove a webhook and its delivery log.

        Raises:
            NotFound: No webhook has this id.
        """
        ident = parse_id(webhook_id)
        if not await self._store.write(lambda tx: remove_webhook(tx.executor, ident)):
            raise NotFound(f"webhook with id {ident} not found")


class WebhookDispatcher:
    """Delivers events to every webhook, from one server at a time (the lease).

    Args:
        store: The store.
        feed: Wakes the dispatcher after each commit of this server.
        policy: Where deliveries may go.
    """

    def __init__(self, store: Store, feed: EventFeed, policy: WebhookPolicy) -> None:
        self._store = store
        self._feed = feed
        self._policy = policy
        self._holder = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def start(self) -> None:
        """Start delivering in the background (until :meth:`close`)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        """Stop delivering (a delivery in flight is abandoned and sent again later)."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            inner = self._policy.resolver or aiohttp.DefaultResolver()
            resolver = inner if self._policy.allow_private else _GuardedResolver(inner)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False),
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            )
        return self._session

    async def _lease(self) -> bool:
        try:
            return await self._store.write(
                lambda tx: take_lease(tx.executor, self._holder, now_ms(), LEASE_SECONDS)
            )
        except ServiceError:
            return False

    async def _run(self) -> None:
        while not self._closed:
            changed = self._feed.changed
            try:
                # No webhook, no lease to take: a server without webhooks writes nothing here.
                hooks, _ = await self._store.read(lambda tx: list_webhooks(tx.executor))
                if hooks and await self._lease():
                    # What a killed replica committed but left pending (PostgreSQL).
                    await self._feed.settle()
                    await asyncio.gather(*(self._deliver_hook(hook) for hook in hooks))
            except ServiceError as exc:
                log.warning("webhook delivery paused: %s", exc)
            except Exception:
                log.exception("webhook delivery failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), POLL_SECONDS)

    async def _deliver_hook(self, hook: Mapping[str, Any]) -> None:
        wanted = set(json.loads(hook["events"]))
        cursor = int(hook["cursor"])
        while not self._closed:
            rows = await self._store.read(functools.partial(_events_after, after=cursor))
            if not rows:
                return
            recorded = cursor
            for row in rows:
                cursor = int(row["cursor"])
                if "*" not in wanted and f"{row['kind']}.{row['action']}" not in wanted:
                    continue
                if not await self._lease():
                    return  # another server delivers now
                delivery = await self._deliver(hook, event_to_wire(row))
                if delivery is None:
                    return  # the lease went to another server while this one waited to retry
                await self._record(delivery, int(hook["id"]), cursor)
                recorded = cursor
            if recorded < cursor:  # past events this webhook does not want
                await self._record(None, int(hook["id"]), cursor)

    async def _record(self, delivery: dict[str, Any] | None, webhook_id: int, cursor: int) -> None:
        async def body(tx: Any) -> None:
            await record_delivery(tx.executor, delivery, webhook_id, cursor)

        await self._store.write(body)

    async def _deliver(
        self, hook: Mapping[str, Any], event: dict[str, Any]
    ) -> dict[str, Any] | None:
        """POST one event until it is taken, refused or out of attempts; the log row (None:
        the lease was lost between attempts, the server now holding it delivers instead).

        The lease is renewed before each retry, and an attempt lasts less than the lease
        (:data:`TIMEOUT_SECONDS` < :data:`LEASE_SECONDS`), so two servers never deliver the
        same event at once."""
        delivery_id = str(uuid.uuid4())
        payload = json.dumps(event, separators=(",", ":"))
        url = hook["url"]
        delay = FIRST_RETRY_SECONDS
        status: int | None = None
        error: str | None = None
        attempts = 0
        outcome = "failed"
        while attempts < MAX_ATTEMPTS and not self._closed:
            if attempts and not await self._lease():
                return None
            attempts += 1
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "model-registry-webhooks",
                "X-Model-Registry-Delivery-Id": delivery_id,
                "X-Model-Registry-Timestamp": str(timestamp),
                "X-Model-Registry-Signature": sign(hook["secret"], delivery_id, timestamp, payload),
            }
            retry_after: float | None = None
            try:
                self._policy.check_url(url)  # the policy may have changed since it was stored
                async with self._http().post(
                    url, data=payload.encode(), headers=headers, allow_redirects=False
                ) as response:
                    status = response.status
                    if 200 <= status < 300:
                        outcome, error = "delivered", None
                        break
                    error = f"HTTP {status}"
                    if status != 429 and status < 500:
                        break  # refused (a redirect too): asking again gets the same answer
                    retry_after = _retry_after(response.headers.get("Retry-After"))
            except BadRequest as exc:
                error = exc.message
                break
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, RefusedAddress):
                    error = str(exc.os_error)
                    break
                error = f"cannot connect: {exc.os_error or exc}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempts < MAX_ATTEMPTS:
                await asyncio.sleep(max(delay, retry_after or 0.0))
                delay = min(delay * 2, MAX_RETRY_SECONDS)
        return {
            "id": delivery_id,
            "webhook_id": int(hook["id"]),
            "cursor": int(event["cursor"]),
            "event_type": event["type"],
            "time": now_ms(),
            "attempts": attempts,
            "status": outcome,
            "http_status": status,
            "error": error,
        }


async def _events_after(tx: Any, *, after: int) -> list[dict[str, Any]]:
    return await read_events(tx.executor, after, limit=100)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_SECONDS)
    except ValueError:
        return None
