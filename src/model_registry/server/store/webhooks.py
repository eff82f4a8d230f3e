"""The queries of webhooks: the registrations, their delivery log and the delivery lease."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from model_registry.server.paging import PageRequest
from model_registry.server.store.executor import Executor, dicts, first_dict
from model_registry.server.store.keyset import apply_page, finish_page
from model_registry.server.store.schema import webhook_deliveries, webhook_lease, webhooks

__all__ = [
    "add_webhook",
    "get_webhook",
    "list_deliveries",
    "list_webhooks",
    "record_delivery",
    "remove_webhook",
    "take_lease",
]


async def add_webhook(conn: Executor, values: Mapping[str, Any]) -> dict[str, Any]:
    """Insert a webhook; return its row."""
    row = first_dict(await conn.execute(insert(webhooks).values(**values).returning(webhooks)))
    assert row is not None  # RETURNING of a one-row INSERT
    return row


async def get_webhook(conn: Executor, webhook_id: int) -> dict[str, Any] | None:
    """The webhook with this id, or None."""
    return first_dict(await conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)))


async def list_webhooks(
    conn: Executor, page: PageRequest | None = None
) -> tuple[list[dict[str, Any]], str]:
    """One page of the webhooks, by id (every one when ``page`` is None), and the next
    page's token."""
    page = page or PageRequest()
    stmt = apply_page(select(webhooks), webhooks.c.id, webhooks.c.id, page)
    rows = dicts(await conn.execute(stmt))
    return finish_page(rows, page, lambda r: int(r["id"]), lambda r: int(r["id"]))


async def list_deliveries(
    conn: Executor, webhook_id: int, page: PageRequest
) -> tuple[list[dict[str, Any]], str]:
    """One page of a webhook's delivery log, and the next page's token.

    ``page`` orders by time (the delivery's outcome) and then by event cursor, which
    together name one delivery: a webhook delivers its events one at a time, in cursor order,
    so two deliveries of one event (a retry after a crash) are never logged in the same
    millisecond.
    """
    stmt = select(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
    stmt = apply_page(stmt, webhook_deliveries.c.time, webhook_deliveries.c.cursor, page)
    rows = dicts(await conn.execute(stmt))
    return finish_page(rows, page, lambda r: int(r["time"]), lambda r: int(r["cursor"]))


async def remove_webhook(conn: Executor, webhook_id: int) -> bool:
    """Delete a webhook (and its delivery log); whether it existed."""
    await conn.execute(
        delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
    )
    result = await conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
    return bool(result.rowcount)


async def record_delivery(
    conn: Executor, delivery: Mapping[str, Any] | None, webhook_id: int, cursor: int
) -> None:
    """Log a delivery (when given) and move the webhook's cursor to ``cursor``."""
    values: dict[str, Any] = {"cursor": cursor}
    if await get_webhook(conn, webhook_id) is None:
        return  # deleted while its delivery was under way
    if delivery is not None:
        await conn.execute(insert(webhook_deliveries).values(**delivery))
        values.update(
            last_status=delivery["status"], last_time=delivery["time"], last_error=delivery["error"]
        )
    await conn.execute(
        update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.cursor < cursor)
        .values(**values)
    )


async def take_lease(conn: Executor, holder: str, now_ms: int, seconds: float) -> bool:
    """Take or renew the delivery lease; whether ``holder`` holds it now."""
    result = await conn.execute(
        update(webhook_lease)
        .where(
            webhook_lease.c.id == 1,
            or_(webhook_lease.c.holder == holder, webhook_lease.c.expires < now_ms),
        )
        .values(holder=holder, expires=now_ms + int(seconds * 1000))
    )
    return bool(result.rowcount)
