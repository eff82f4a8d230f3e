"""The queries of the change-event log (``events``, ``event_log``): append, read, prune.

A change and its event commit in the same transaction: the service appends the events of a
write at the end of its transaction body (:func:`append_events`). Cursors come from the one
row of ``event_log``, incremented in that transaction: the row lock it takes (PostgreSQL) is
held until the commit, so the transaction holding cursor ``n`` commits before any other can
take ``n + 1``. A reader that has seen cursor ``n`` committed has therefore seen every cursor
below it, which a sequence cannot promise (a lower number may commit after a higher one has
been read). SQLite's single writer commits in cursor order anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update

from model_registry.server.store.executor import Executor, SyncExecutor, dicts, first_dict
from model_registry.server.store.schema import event_log, events, webhook_deliveries

__all__ = ["append_events", "log_bounds", "prune_events", "read_events"]

_EVENT_COLUMNS = ("time", "kind", "action", "entity_id", "project", "subject", "entity")

# SQLite's two statements, straight on the driver (see SyncExecutor.driver_execute): every
# write runs them, and SQLAlchemy's per-execution work costs several times SQLite's here.
_TAKE_SQL = "UPDATE event_log SET last_cursor = last_cursor + ? WHERE id = 1 RETURNING last_cursor"
_INSERT_SQL = (
    f"INSERT INTO events (cursor, {', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(_EVENT_COLUMNS) + 1))})"
)

# PostgreSQL's one statement per count of events: the counter row is taken and the events
# inserted in a single round trip, so the row stays locked only for it and the COMMIT.
_PG_APPEND: dict[int, Any] = {}


def _pg_append(count: int) -> Any:
    stmt = _PG_APPEND.get(count)
    if stmt is None:
        rows = ", ".join(
            "(" + ", ".join([str(i)] + [f":{c}_{i}" for c in _EVENT_COLUMNS]) + ")"
            for i in range(count)
        )
        stmt = text(
            f"WITH taken AS (UPDATE event_log SET last_cursor = last_cursor + {count} "
            "WHERE id = 1 RETURNING last_cursor) "
            f"INSERT INTO events (cursor, {', '.join(_EVENT_COLUMNS)}) "
            f"SELECT taken.last_cursor - {count - 1} + v.n, "
            + ", ".join(f"v.{c}" for c in _EVENT_COLUMNS)
            + f" FROM taken CROSS JOIN (VALUES {rows}) AS v(n, {', '.join(_EVENT_COLUMNS)}) "
            "RETURNING cursor"
        ).bindparams(
            *(
                bindparam(f"{c}_{i}", type_=events.c[c].type)
                for i in range(count)
                for c in _EVENT_COLUMNS
            )
        )
        _PG_APPEND[count] = stmt
    return stmt


async def append_events(conn: Executor, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Append events (dicts of the ``events`` columns but ``cursor``); return their cursors.

    Must run last in its transaction: the counter row stays locked until the commit.
    """
    if not rows:
        return []
    if isinstance(conn, SyncExecutor):
        ((last,),) = conn.driver_execute(_TAKE_SQL, (len(rows),))
        first = int(last) - len(rows) + 1
        values = [(first + i, *(row.get(c) for c in _EVENT_COLUMNS)) for i, row in enumerate(rows)]
        conn.driver_execute(_INSERT_SQL, values, many=True)
        return list(range(first, first + len(rows)))
    params = {f"{c}_{i}": row.get(c) for i, row in enumerate(rows) for c in _EVENT_COLUMNS}
    result = await conn.execute(_pg_append(len(rows)), params)
    return sorted(int(r[0]) for r in result.all())


async def log_bounds(conn: Executor) -> tuple[int, int]:
    """The newest committed cursor and the newest pruned one (0 when none)."""
    row = first_dict(
        await conn.execute(select(event_log.c.last_cursor, event_log.c.pruned_through))
    )
    assert row is not None  # the migration inserts the one row
    return int(row["last_cursor"]), int(row["pruned_through"])


async def read_events(
    conn: Executor,
    after: int,
    *,
    kinds: Collection[str] = (),
    actions: Collection[str] = (),
    projects: Collection[str] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Events with a cursor above ``after``, in cursor order, matching the filters.

    Args:
        conn: The transaction's executor.
        after: Return only cursors greater than this.
        kinds: Only these kinds (empty: all).
        actions: Only these actions (empty: all).
        projects: Only events of these projects (None: any project).
        limit: At most this many.
    """
    stmt = select(events).where(events.c.cursor > after)
    if kinds:
        stmt = stmt.where(events.c.kind.in_(sorted(kinds)))
    if actions:
        stmt = stmt.where(events.c.action.in_(sorted(actions)))
    if projects is not None:
        stmt = stmt.where(events.c.project.in_(sorted(projects)))
    return dicts(await conn.execute(stmt.order_by(events.c.cursor).limit(limit)))


async def prune_events(conn: Executor, older_than_ms: int) -> int:
    """Delete the events (and webhook delivery log rows) older than a time; return the newest
    pruned cursor (0: none ever).

    Only a prefix of the log is deleted (everything up to the newest cursor that is old
    enough), so "pruned through n" stays exact even when times are not monotonic.
    """
    newest_old = (
        await conn.execute(select(func.max(events.c.cursor)).where(events.c.time < older_than_ms))
    ).scalar_one()
    if newest_old is not None:
        await conn.execute(delete(events).where(events.c.cursor <= newest_old))
        await conn.execute(
            update(event_log)
            .where(event_log.c.id == 1, event_log.c.pruned_through < newest_old)
            .values(pruned_through=newest_old)
        )
    # The webhooks' delivery log is kept as long as the events it delivered.
    await conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.time < older_than_ms))
    return int((await log_bounds(conn))[1])
