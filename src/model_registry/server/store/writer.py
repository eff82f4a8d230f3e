"""SQLite's single writer: one thread runs every write transaction, committing in groups.

SQLite lets one connection write at a time. Rather than have each request wait for the write
lock in turn (one ``BEGIN IMMEDIATE … COMMIT`` per request, each step a hop to a driver
thread), the requests of this process queue their write functions here. One thread drains the
queue and runs whatever has queued up in ONE transaction, each function inside its own
``SAVEPOINT``: a function that fails (a name conflict, a missing parent) rolls back only its own
savepoint and fails only its own request, the others commit together. Every caller gets its
answer after the ``COMMIT``, so nothing is acknowledged before it is durable.

The write functions are the service's ``async`` transaction bodies. Over a synchronous
connection their awaits never suspend, so the thread runs each coroutine to its end with one
``send`` and no event loop (:func:`run_to_end`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from bisect import bisect_left
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from model_registry.server.errors import Unavailable

__all__ = ["BATCH_SIZE_BUCKETS", "MAX_BATCH", "SqliteWriter", "run_to_end"]

log = logging.getLogger("model_registry.server")

T = TypeVar("T")

MAX_BATCH = 128
"""Most write functions committed by one transaction: bounds how long the lock is held."""

BATCH_SIZE_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, MAX_BATCH, float("inf"))
"""Upper bounds of the ``/metrics`` histogram of writes per committed transaction (the last
bucket stays empty: no batch holds more than :data:`MAX_BATCH`)."""

WriteFn = Callable[[Any], Coroutine[Any, Any, T]]
"""A write body: takes what ``make_tx`` made of the writer's connection (the store's ``Tx``)."""


def run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, without an event loop.

    Raises:
        RuntimeError: The coroutine suspended (it awaited real I/O, not the store's queries).
        Exception: Whatever the coroutine raised.
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a store write suspended: it may await only its transaction's queries")


@dataclass
class _Job(Generic[T]):
    fn: WriteFn[T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    result: Any = None
    error: BaseException | None = None


def _settle_all(jobs: list[_Job[Any]]) -> None:
    # Runs on the callers' loop; a caller that gave up (cancelled) has nothing to receive.
    for job in jobs:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


class SqliteWriter:
    """The thread that runs every write transaction of one SQLite store.

    Args:
        engine: The synchronous engine of the database file (see
            :func:`~model_registry.server.store.engine.create_sync_sqlite_engine`).
        make_tx: Wraps the writer's connection in what the write functions take.
        before_commit: Called with that after the batch's writes, before its ``COMMIT``
            (the writes' deferred work: their events); if it raises, nothing commits.
    """

    def __init__(
        self,
        engine: Engine,
        make_tx: Callable[[Connection], Any],
        before_commit: Callable[[Any], None] | None = None,
    ) -> None:
        self._engine = engine
        self._make_tx = make_tx
        self._before_commit = before_commit
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._closed = False
        # Transactions run and writes they held (their ratio: the mean batch size); written by
        # the writer thread only, read by /metrics.
        self.batches = 0
        self.batched_writes = 0
        # Transactions by how many writes they held, in BATCH_SIZE_BUCKETS (not cumulative).
        self.batch_sizes = [0] * len(BATCH_SIZE_BUCKETS)
        self._thread = threading.Thread(target=self._run, name="sqlite-store-writer", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        """How many writes wait for the thread now (approximate, as any queue size)."""
        return self._queue.qsize()

    async def submit(self, fn: WriteFn[T]) -> T:
        """Run ``fn(tx)`` in a write transaction on the writer thread; return what it returns.

        Raises:
            Unavailable: The store is closed, or the database refused the transaction.
            Exception: Whatever ``fn`` raised (its writes are rolled back).
        """
        if self._closed:
            raise Unavailable("the store is closed")
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(fn, loop, loop.create_future())
        self._queue.put(job)
        return await job.future

    async def close(self) -> None:
        """Finish the queued writes, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(batch)
            self.batches += 1
            self.batched_writes += len(batch)
            self.batch_sizes[bisect_left(BATCH_SIZE_BUCKETS, len(batch))] += 1
            _answer(batch)
            if stop:
                break
        # A write submitted from another thread while the store closed, after the stop mark.
        late: list[_Job[Any]] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.error = Unavailable("the store is closed")
                late.append(job)
        _answer(late)

    def _run_batch(self, batch: list[_Job[Any]]) -> None:
        """Run the batch in one transaction; leave each job's result or error on it."""
        try:
            with self._engine.connect() as raw:
                conn = raw.execution_options(sqlite_write=True)
                with conn.begin():
                    tx = self._make_tx(conn)
                    if len(batch) == 1:
                        # Alone, a job's failure may roll the whole transaction back.
                        job = batch[0]
                        job.result = run_to_end(job.fn(tx))
                    else:
                        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                        try:
                            for job in batch:
                                _run_in_savepoint(cursor, tx, job)
                        finally:
                            cursor.close()
                    if self._before_commit is not None:
                        self._before_commit(tx)
        except Exception as exc:
            # BEGIN, COMMIT, before_commit or a lone job failed: nothing of this batch was
            # committed.
            for job in batch:
                if job.error is None:
                    job.error = exc if len(batch) == 1 else _unavailable(exc)
        except BaseException as exc:  # pragma: no cover - interpreter shutting down
            for job in batch:
                job.error = _unavailable(exc)
            raise


def _run_in_savepoint(cursor: Any, tx: Any, job: _Job[Any]) -> None:
    """Run one job of a batch; on failure undo its writes only.

    The savepoint statements go straight to the driver's cursor: through SQLAlchemy's
    nested transactions they cost as much as the job's own INSERT.
    """
    cursor.execute("SAVEPOINT job")
    try:
        job.result = run_to_end(job.fn(tx))
    except Exception as exc:
        job.error = exc
        cursor.execute("ROLLBACK TO job")
    cursor.execute("RELEASE job")


def _answer(jobs: list[_Job[Any]]) -> None:
    """Hand each job's result to its caller: one wake-up per event loop, not one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Job[Any]]] = {}
    for job in jobs:
        by_loop.setdefault(job.loop, []).append(job)
    for loop, answered in by_loop.items():
        # A closed loop (RuntimeError) has nobody waiting for the answers.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle_all, answered)


def _unavailable(exc: BaseException) -> Unavailable:
    log.warning("a SQLite write transaction failed: %s", exc)
    return Unavailable.because(exc)
