"""The queries of the change-event log (``events``, ``event_log``): append, read, prune.

A change and its event commit in the same transaction: the service appends the events of a
write at the end of its transaction body (:func:`append_events`). A reader hands out events
in cursor order and must never see a cursor commit below one it has handed out already.

On SQLite a write takes its cursors from the one row of ``event_log``: the single writer
thread commits in cursor order anyway.

On PostgreSQL that row would serialise every commit (its lock is held until the commit, so
no two commits could share a WAL flush), so a write stores its events under a *pending*
cursor instead, negative so no reader ever matches it: ``-(s * 2^20 + i)`` where ``s`` is one
``nextval`` of the sequence ``events_pending`` per transaction and ``i`` the event's place in
it. The appender takes ``nextval`` while it holds a shared advisory lock of the transaction
(:data:`_PG_APPEND`; the lock is dropped at its commit). An assigner (:func:`assign_round`,
one short transaction) first takes that lock exclusively, which waits for every appender
holding it to finish, and reads the sequence's last value ``H``: from then on every pending
event with ``s <= H`` is committed or rolled back for good, and every later appender draws a
greater ``s``. It then gives the committed ones (``s <= H``) the next cursors of
``event_log``, in ``(s, i)`` order, still holding that lock; assigners therefore take turns
and commit in cursor order, as SQLite's writes do. A transaction that had to wait for
another's row lock appends after that one committed, so its ``s`` and its cursors are
greater: causal order is kept.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update

from model_registry.server.store.executor import Executor, SyncExecutor, dicts, first_dict
from model_registry.server.store.schema import contexts, event_log, events, webhook_deliveries

__all__ = [
    "Kept",
    "append_events",
    "assign_round",
    "flush_events",
    "log_bounds",
    "prune_events",
    "read_events",
]

_EVENT_COLUMNS = ("time", "kind", "action", "entity_id", "project", "subject", "entity")

# SQLite's two statements, straight on the driver (see SyncExecutor.driver_execute): every
# write runs them, and SQLAlchemy's per-execution work costs several times SQLite's here.
_TAKE_SQL = "UPDATE event_log SET last_cursor = last_cursor + ? WHERE id = 1 RETURNING last_cursor"
_INSERT_SQL = (
    f"INSERT INTO events (cursor, {', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(_EVENT_COLUMNS) + 1))})"
)

# PostgreSQL: pending cursors. A transaction's events are -(s * _SPAN + i), i < _SPAN.
_SPAN = 1 << 20
# The advisory lock of the appenders (shared) and of the assigner's barrier (exclusive), one
# per registry: its second key is the OID of that schema's sequence (a database may hold
# several registries, one per schema, as the tests do).
_LOCK_KEY = "19794, (('events_pending'::regclass)::oid::bigint - 2147483648)::int"

# PostgreSQL's one statement per count of events (and of kept answers, see append_events):
# lock, draw s, insert, in one round trip. The CTEs hold volatile calls, so PostgreSQL runs
# each once and in dependency order (lk, then s, then the insert); a data-modifying CTE runs
# once whether or not the rest reads it.
_PG_APPEND: dict[tuple[int, int], Any] = {}


def _pg_append(count: int, kept: int) -> Any:
    if count > _SPAN:
        raise ValueError(f"a transaction may append at most {_SPAN} events")
    stmt = _PG_APPEND.get((count, kept))
    if stmt is None:
        rows = ", ".join(
            "(" + ", ".join([str(i)] + [f":{c}_{i}" for c in _EVENT_COLUMNS]) + ")"
            for i in range(count)
        )
        keep = ""
        if kept:
            keep = (
                "kept AS (UPDATE contexts SET wire = k.wire, wire_pb = k.pb, "
                "wire_version = :k_version FROM (VALUES "
                + ", ".join(f"(:k_id_{j}, :k_wire_{j}, :k_pb_{j})" for j in range(kept))
                + ") AS k(id, wire, pb) WHERE contexts.id = k.id RETURNING 1), "
            )
        stmt = text(
            f"WITH {keep}lk AS (SELECT pg_advisory_xact_lock_shared({_LOCK_KEY})), "
            "drawn AS (SELECT nextval('events_pending') AS s FROM lk) "
            f"INSERT INTO events (cursor, {', '.join(_EVENT_COLUMNS)}) "
            f"SELECT -(drawn.s * {_SPAN} + v.n), "
            + ", ".join(f"v.{c}" for c in _EVENT_COLUMNS)
            + f" FROM drawn CROSS JOIN (VALUES {rows}) AS v(n, {', '.join(_EVENT_COLUMNS)})"
        ).bindparams(
            *(
                bindparam(f"{c}_{i}", type_=events.c[c].type)
                for i in range(count)
                for c in _EVENT_COLUMNS
            ),
            *(
                bindparam(f"k_{c}_{j}", type_=t)
                for j in range(kept)
                for c, t in (
                    ("id", contexts.c.id.type),
                    ("wire", contexts.c.wire.type),
                    ("pb", contexts.c.wire_pb.type),
                )
            ),
            *([bindparam("k_version", type_=contexts.c.wire_version.type)] if kept else []),
        )
        _PG_APPEND[count, kept] = stmt
    return stmt


Kept = Sequence[tuple[int, str, bytes]]
"""Answers of context rows to keep: ``(id, JSON text, gRPC message)``."""


async def append_events(
    conn: Executor, rows: Sequence[Mapping[str, Any]], *, kept: Kept = (), version: int = 0
) -> None:
    """Append events (dicts of the ``events`` columns but ``cursor``).

    Must run last in its transaction: on SQLite the counter row, on PostgreSQL the shared
    lock that holds the assigner back, stay taken until the commit. On SQLite's writer
    thread the rows wait for the end of the writer's batch (:func:`flush_events`).

    Args:
        conn: The transaction's executor.
        rows: The events, in order.
        kept: PostgreSQL: the answers of context rows to keep (``contexts.wire``, by the
            rendering ``version``), written by the same statement, so that a write's two
            last statements cost one round trip. Only with ``rows``.
        version: The rendering of ``kept``.
    """
    if not rows:
        return
    if isinstance(conn, SyncExecutor):
        if kept:
            raise ValueError("SQLite keeps answers with Tx.keep_wire")
        values = [tuple(row.get(c) for c in _EVENT_COLUMNS) for row in rows]
        if conn.deferred_events is not None:
            conn.deferred_events.extend(values)
        else:
            _append_now(conn, values)
        return
    params = {f"{c}_{i}": row.get(c) for i, row in enumerate(rows) for c in _EVENT_COLUMNS}
    for j, (ident, wire, message) in enumerate(kept):
        params[f"k_id_{j}"] = ident
        params[f"k_wire_{j}"] = wire
        params[f"k_pb_{j}"] = message
    if kept:
        params["k_version"] = version
    await conn.execute(_pg_append(len(rows), len(kept)), params)


def _append_now(conn: SyncExecutor, values: Sequence[tuple[Any, ...]]) -> None:
    ((last,),) = conn.driver_execute(_TAKE_SQL, (len(values),))
    first = int(last) - len(values) + 1
    conn.driver_execute(_INSERT_SQL, [(first + i, *v) for i, v in enumerate(values)], many=True)


def flush_events(conn: SyncExecutor) -> None:
    """SQLite's writer, at the end of a batch, before its COMMIT: append the events its
    writes left (:func:`append_events`), with one take of cursors and one insert for them all.

    The writes of a batch commit together, so numbering their events in write order here is
    the commit order; a write that failed (rolled back to its savepoint) left none, as it
    leaves them only at its very end.
    """
    values = conn.deferred_events
    if values:
        conn.deferred_events = []
        _append_now(conn, values)


# The assigner's statements, straight on asyncpg (see assign_round).
_ANY_PENDING = "SELECT min(cursor) < 0 FROM events"
# The barrier and the high-water mark in one statement: the sequence is read in a subquery
# correlated with the lock's row, so only once the lock is held.
_BARRIER = (
    "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_pending "
    f"WHERE lk.one = 1) FROM (SELECT pg_advisory_xact_lock({_LOCK_KEY}), 1 AS one) AS lk"
)
# The head is read in the statement: only the assigner holding the barrier's lock writes it.
# $1: the floor (pending cursors above it have s <= H), $2: the batch.
_ASSIGN = (
    "WITH h AS (SELECT last_cursor AS head FROM event_log WHERE id = 1), "
    "p AS (SELECT cursor AS pending, row_number() OVER (ORDER BY cursor DESC) AS n "
    "FROM events WHERE cursor < 0 AND cursor > $1 ORDER BY cursor DESC LIMIT $2), "
    "moved AS (UPDATE events SET cursor = h.head + p.n FROM p, h "
    "WHERE events.cursor = p.pending RETURNING 1) "
    "UPDATE event_log SET last_cursor = last_cursor + (SELECT count(*) FROM moved) "
    "WHERE id = 1 RETURNING (SELECT count(*) FROM moved)"
)

ASSIGN_BATCH = 5000
"""Most events one assignment numbers (a statement well within its time budget)."""


async def assign_round(conn: Any, *, check: bool = True, batch: int = ASSIGN_BATCH) -> int:
    """PostgreSQL: one assignment, in one transaction: give the first ``batch`` committed
    pending events the next cursors, in ``(s, i)`` order; return how many got one (0 when
    none was pending).

    The barrier comes first: its exclusive lock waits (up to the connection's
    ``lock_timeout``) for every appender holding the shared one, and its high-water mark
    ``H`` is read once the lock is held. Held to the commit, the lock keeps new appends (and
    every other assigner) waiting for the rest of this short transaction: assigners take
    turns, and the assignment (a statement of its own, so a snapshot taken once the lock is
    held) sees every assignment committed before it and every pending event with ``s <= H``.

    A round runs after every few commits, so it is sent straight on the driver: BEGIN, two
    statements and COMMIT (it was two transactions of SQLAlchemy's, which cost the server
    more than the writes' own event rows).

    Args:
        conn: An asyncpg connection outside any transaction.
        check: Look whether anything is pending first (one index probe), and skip the
            barrier when nothing is; False when a commit just appended some.
        batch: Most events numbered.
    """
    if check and not await conn.fetchval(_ANY_PENDING):
        return 0
    async with conn.transaction():
        high_water = int(await conn.fetchval(_BARRIER))
        if not high_water:
            return 0
        floor = -(high_water + 1) * _SPAN
        return int(await conn.fetchval(_ASSIGN, floor, batch))


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
    enough), so "pruned through n" stays exact even when times are not monotonic. Pending
    events (PostgreSQL, no cursor yet) are kept for the assigner.
    """
    newest_old = (
        await conn.execute(
            select(func.max(events.c.cursor)).where(
                events.c.time < older_than_ms, events.c.cursor > 0
            )
        )
    ).scalar_one()
    if newest_old is not None:
        await conn.execute(delete(events).where(events.c.cursor > 0, events.c.cursor <= newest_old))
        await conn.execute(
            update(event_log)
            .where(event_log.c.id == 1, event_log.c.pruned_through < newest_old)
            .values(pruned_through=newest_old)
        )
    # The webhooks' delivery log is kept as long as the events it delivered.
    await conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.time < older_than_ms))
    return int((await log_bounds(conn))[1])
