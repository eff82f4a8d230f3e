"""Kept answers for the rows that have none: the backfill (issue 24).

A list page of registered models, versions, experiments, runs, serving environments or
inference services is spliced from each row's kept answer (``contexts.wire``, ``wire_pb``,
``wire_version``; see :func:`~model_registry.server.service.render_wire`). Every write keeps
the answers of the rows it changed, but a row written before migration 0010, or under another
rendering (a new field, another proto), has none of this rendering: a page renders it from its
columns on every read, the slow path, until the row is written again. The backfill renders them
once: in batches at ``serve`` start-up (:class:`AnswerFill`, in the background, so the server
answers at once) and with ``model-registry fill-answers``.

It never writes an outdated answer over a newer row: a batch is read in one read, rendered
outside any transaction, and each answer is kept only if its row's ``update_time`` is still the
one read (every update moves it, and clears the kept answer, in the same statement) and no
answer of this rendering was kept meanwhile (see ``FILL_WIRE`` in ``store/statements.py``). A
row updated between the read and the write keeps the answer its update's transaction made; two
servers filling at once do the same work twice, harmlessly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from model_registry._eventloop import cancel_and_wait
from model_registry.server.entities import KINDS, EntityKind
from model_registry.server.errors import Unavailable
from model_registry.server.service import WIRE_VERSION, render_message, render_wire
from model_registry.server.store import Record, Tx

__all__ = ["FILL_BATCH", "AnswerFill", "fill_kept_answers"]

log = logging.getLogger("model_registry.server")

FILL_BATCH = 500
"""Rows read, rendered and written per batch: one read and one write transaction each."""

WINDOW = 5_000
"""Ids one statement looks through: nothing indexes the rows without an answer, so a window
of the primary key keeps each statement short (on SQLite it runs on the event loop)."""

_Batch = tuple[int, list[tuple[EntityKind, Record]]]


async def _read_batch(tx: Tx, *, after: int, upto: int, batch: int) -> _Batch:
    """The rows of ids in (``after``, ``upto``] without an answer of this rendering, at most
    ``batch``, as records: (the id the next batch starts after; the records)."""
    missing = await tx.missing_wire(WIRE_VERSION, after, upto, batch)
    groups: dict[tuple[str, int], list[int]] = {}
    for ident, kind, project in missing:
        groups.setdefault((kind, project), []).append(ident)
    records: list[tuple[EntityKind, Record]] = []
    for (kind, project), ids in groups.items():
        desc = KINDS[kind]
        records += [(desc, r) for r in await tx.in_project(project).records_of(desc, ids)]
    return (missing[-1][0] if len(missing) == batch else upto), records


async def _last_id(tx: Tx) -> int:
    return await tx.last_context_id()


async def fill_kept_answers(store: Any, *, batch: int = FILL_BATCH, pause: float = 0.0) -> int:
    """Keep the answers of every context row that has none of this rendering (the rows there
    are when it starts: later ones get theirs from their own writes).

    Args:
        store: The registry's :class:`~model_registry.server.store.Store`.
        batch: Rows per batch.
        pause: Seconds to wait between batches (the background fill leaves room for requests).

    Returns:
        How many rows were rendered (a row changed while its batch was rendered keeps the
        answer its own write kept instead).

    Raises:
        Unavailable: The database cannot be reached.
    """
    rendered = 0
    last = await store.read(_last_id)
    after = 0
    while after < last:
        upto = min(after + WINDOW, last)
        after, records = await store.read(
            functools.partial(_read_batch, after=after, upto=upto, batch=batch)
        )
        rows = [
            (r.id, int(r.values["update_time"]), render_wire(kind, r), render_message(kind, r))
            for kind, r in records
        ]
        if rows:
            await store.write(functools.partial(_fill, rows=rows))
            rendered += len(rows)
            await asyncio.sleep(pause)
        else:
            await asyncio.sleep(0)  # a window with nothing to do: let requests in
    return rendered


async def _fill(tx: Tx, *, rows: list[tuple[int, int, str, bytes]]) -> None:
    await tx.fill_wire(rows, WIRE_VERSION)


class AnswerFill:
    """The backfill in the background of a running server, once, from its start.

    A database that cannot be reached (not up yet, a failover) is tried again later, with
    capped backoff; any other failure is logged and ends the fill (pages stay right without
    it, only slower).

    Args:
        store: The server's store (a deferred one too).
        pause: Seconds between batches.
    """

    def __init__(self, store: Any, *, pause: float = 0.05) -> None:
        self._store = store
        self._pause = pause
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the fill (once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def wait(self) -> None:
        """Wait until the fill is over (tests, the CLI)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        delay = 1.0
        while True:
            try:
                count = await fill_kept_answers(self._store, pause=self._pause)
            except Unavailable:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            except Exception:
                log.exception("the kept answers' backfill failed (pages stay right, slower)")
                return
            if count:
                log.info("kept the answers of %d rows written without one", count)
            return

    async def close(self) -> None:
        """Stop the fill if it still runs."""
        await cancel_and_wait(self._task)
        self._task = None
