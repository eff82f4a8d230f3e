"""The database behind the registry: engine, migrations, connections and transactions.

:class:`Store` runs transactions on pooled async connections (PostgreSQL);
:class:`SqliteStore` reads inline on the event loop and writes on one thread
(:mod:`.writer`). Both turn a connection-level failure into
:class:`~model_registry.server.errors.Unavailable` (:mod:`.failures`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from model_registry.server.errors import StatementTimeout, Unavailable
from model_registry.server.store.engine import (
    DEFAULT_STATEMENT_TIMEOUT,
    check_sqlite_file,
    create_engine_from_url,
    create_sync_sqlite_engine,
    is_sqlite,
    run_migrations,
)
from model_registry.server.store.events import (
    ASSIGN_BATCH,
    assign_round,
    flush_events,
)
from model_registry.server.store.executor import SyncExecutor
from model_registry.server.store.failures import unavailable_on_connection_failure
from model_registry.server.store.queries import Tx, WriteBody
from model_registry.server.store.writer import BATCH_SIZE_BUCKETS, SqliteWriter, run_to_end

T = TypeVar("T")


HEAVY_READERS = 4
"""Threads that run SQLite's heavy reads (filtered lists) at once."""


def _readers_busy() -> Unavailable:
    """The 503 of a heavy read that waited for a reader thread past its budget."""
    return Unavailable("server busy: every reader was taken by other costly reads")


PoolStats = dict[
    str, list[tuple[dict[str, str], float]] | tuple[tuple[float, ...], list[int], float]
]
"""What a store reports for ``/metrics``: name -> samples (labels, value), or a histogram
(bucket bounds, count per bucket, sum)."""


class _Interrupt:
    """Stops a heavy read on a reader thread: its budget is over, or its request cancelled.

    ``sqlite3``'s ``interrupt()`` may be called from any thread; SQLite checks it between
    steps of the statement (between rows), so a single costly row still finishes first.
    """

    __slots__ = ("_connection", "_expired", "_fired", "_lock", "_started")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None
        self._fired = False
        self._started = False
        self._expired = False

    def start(self) -> None:
        """A reader thread takes the read up.

        Raises:
            Unavailable: The read waited for a thread past its budget (:meth:`expire`).
        """
        with self._lock:
            if self._expired:
                raise _readers_busy()
            self._started = True

    @property
    def expired(self) -> bool:
        """Whether the read was given up while it waited for a thread."""
        return self._expired

    def expire(self) -> bool:
        """Give up on a read still waiting for a reader thread; False once it has started."""
        with self._lock:
            if self._started:
                return False
            self._expired = True
            return True

    def attach(self, connection: Any) -> None:
        """The read runs on this ``sqlite3`` connection now."""
        with self._lock:
            self._connection = connection
            if self._fired:
                connection.interrupt()

    def detach(self) -> None:
        """The read is over: an interrupt must not reach the connection's next user."""
        with self._lock:
            self._connection = None

    def fire(self) -> None:
        """Interrupt the read (now, or as soon as it starts)."""
        with self._lock:
            self._fired = True
            if self._connection is not None:
                self._connection.interrupt()


class Store:
    """The database behind the registry: engine, migrations, transactions.

    Reads run in :meth:`transaction`; writes hand their body to :meth:`write`, which lets
    the SQLite store run them on its writer thread (see :class:`SqliteStore`).

    Args:
        engine: The async engine of the database (migrated).
    """

    def __init__(
        self, engine: AsyncEngine, statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
    ) -> None:
        self._engine = engine
        self.statement_timeout = statement_timeout

    @classmethod
    async def open(
        cls, database_url: str, *, statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
    ) -> Store:
        """Connect to ``database_url`` and migrate its schema to the newest version.

        Args:
            database_url: A ``sqlite:///`` or ``postgresql://`` URL.
            statement_timeout: Seconds a statement may run (see
                :func:`~model_registry.server.store.engine.create_engine_from_url`).

        Returns:
            The ready store (a :class:`SqliteStore` for SQLite); close it with :meth:`close`.
        """
        check_sqlite_file(database_url)
        engine = create_engine_from_url(database_url, statement_timeout=statement_timeout)
        try:
            await run_migrations(engine)
        except BaseException:
            await engine.dispose()
            raise
        if is_sqlite(engine):
            sync_engine = create_sync_sqlite_engine(
                database_url, statement_timeout=statement_timeout
            )
            return SqliteStore(engine, sync_engine, statement_timeout)
        return cls(engine, statement_timeout)

    @property
    def engine(self) -> AsyncEngine:
        """The async SQLAlchemy engine (migrations, tests, seeding)."""
        return self._engine

    @property
    def query_engine(self) -> Engine:
        """The synchronous engine whose events see every statement of the transactions."""
        return self._engine.sync_engine

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Run a read-only block in one transaction (one consistent snapshot).

        Raises:
            Unavailable: The database cannot be reached.
        """
        async with self._begin() as tx:
            yield tx

    async def read(self, body: WriteBody[T], *, heavy: bool = False, autocommit: bool = False) -> T:
        """Run ``body(tx)`` in a read-only transaction and return what it returns.

        A read is safe to repeat: one that loses its connection (the database restarted, a
        failover) is run once more on a fresh connection before the failure is answered.

        Args:
            body: Awaits nothing but the queries of its ``tx``.
            heavy: The read may take long (a filter): on SQLite it then runs off the event
                loop (PostgreSQL reads never block the loop).
            autocommit: Run the body's statements on PostgreSQL without a transaction block
                (no ``BEGIN``, no ``COMMIT``: two round trips fewer). Safe for a body of
                plain ``SELECT`` statements (no locks, no ``SET LOCAL``): the engine runs
                at READ COMMITTED, where every statement of a transaction takes its own
                snapshot anyway, so the block gave them no common view; each statement
                alone still sees one consistent snapshot. SQLite ignores it (its reads run
                inline, where a ``BEGIN`` costs no round trip, and its snapshot spans the
                read).

        Raises:
            Unavailable: The database cannot be reached (twice), or the read ran past its
                budget (:class:`~model_registry.server.errors.StatementTimeout`).
        """
        try:
            async with self._begin(autocommit=autocommit) as tx:
                return await body(tx)
        except StatementTimeout:
            raise
        except Unavailable:
            pass
        async with self._begin(autocommit=autocommit) as tx:
            return await body(tx)

    async def write(self, body: WriteBody[T]) -> T:
        """Run ``body(tx)`` in a write transaction, committed when it returns.

        The body must await nothing but the queries of its ``tx``.

        Returns:
            What the body returns, once its transaction committed.

        Raises:
            Unavailable: The database cannot be reached.
            Exception: Whatever the body raised; its writes are rolled back.
        """
        async with self._begin() as tx:
            return await body(tx)

    assigns_event_cursors = True
    """Writes leave their events pending: :meth:`assign_event_cursors` gives them cursors."""

    async def assign_event_cursors(self, *, pending: bool = False) -> int:
        """Give the committed pending events their cursors; return how many got one.

        PostgreSQL's writes leave their events pending (``store/events.py`` says why and
        how): one short transaction per :data:`ASSIGN_BATCH` events
        (:func:`~model_registry.server.store.events.assign_round`); one index probe and
        nothing else when nothing is pending. SQLite's writes take their cursors themselves
        (:class:`SqliteStore`).

        Args:
            pending: Some are known to be pending (a commit just appended them): no probe.

        Raises:
            Unavailable: The database cannot be reached, or the barrier waited past the
                ``lock_timeout`` for an appender that does not commit.
        """
        import asyncpg  # type: ignore[import-untyped]  # PostgreSQL's driver, loaded with it

        with unavailable_on_connection_failure(connecting=True):
            conn_cm = self._engine.connect()
            conn = await conn_cm.__aenter__()
        try:
            driver = (await conn.get_raw_connection()).driver_connection
            count = await assign_round(driver, check=not pending)
            assigned = count
            while count == ASSIGN_BATCH:  # more are pending: the probe is moot
                count = await assign_round(driver, check=False)
                assigned += count
            return assigned
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise Unavailable.because(exc) from exc
        finally:
            with unavailable_on_connection_failure():
                await conn_cm.__aexit__(None, None, None)

    @asynccontextmanager
    async def _begin(self, *, autocommit: bool = False) -> AsyncIterator[Tx]:
        with unavailable_on_connection_failure(connecting=True):
            conn_cm = self._engine.connect()
            conn = await conn_cm.__aenter__()
            if autocommit:
                # Only a flag on the driver's connection (no round trip); the pool sets the
                # connection's own level back when it is returned.
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        # BEGIN, every statement, COMMIT, and the rollback and release after a failure.
        with unavailable_on_connection_failure():
            try:
                async with conn.begin():
                    yield Tx(conn)
            finally:
                await conn_cm.__aexit__(None, None, None)

    def pool_stats(self) -> PoolStats:
        """Gauges of the connection pool for ``/metrics``: ``db_pool_connections`` by state
        (``size``: kept open at most, ``checked_out``: in use, ``overflow``: open beyond the
        size). Read from the pool's counters, no query."""
        pool: Any = self._engine.sync_engine.pool
        states = (("size", "size"), ("checked_out", "checkedout"), ("overflow", "overflow"))
        samples = [
            ({"state": state}, float(getattr(pool, attr)()))
            for state, attr in states
            if callable(getattr(pool, attr, None))
        ]
        return {"db_pool_connections": samples}

    async def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True


def _flush_events(tx: Tx) -> None:
    executor = tx.executor
    assert isinstance(executor, SyncExecutor)
    flush_events(executor)


class SqliteStore(Store):
    """The store on a SQLite file: reads inline, writes on one thread in group commits.

    A read transaction runs on a synchronous ``sqlite3`` connection right on the event loop:
    in WAL mode a reader never waits for the writer, and one local query costs less than a
    hand-off to a driver thread. Every write goes to the :class:`SqliteWriter` thread, which
    commits whatever has queued up in one transaction (a savepoint each), so a writer waiting
    on the lock, or on another process, never blocks the loop.

    Args:
        engine: The async engine (migrations, tests, seeding).
        sync_engine: The synchronous engine on the same file that runs the transactions.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        sync_engine: Engine,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    ) -> None:
        super().__init__(engine, statement_timeout)
        self._sync_engine = sync_engine
        # Heavy reads (filters) run here, off the event loop: sqlite3 lets go of the GIL
        # while a statement runs, so the loop keeps serving.
        self._readers = ThreadPoolExecutor(HEAVY_READERS, thread_name_prefix="sqlite-reader")
        # The events of a batch's writes are appended once, at its end (flush_events).
        self._writer = SqliteWriter(
            sync_engine,
            lambda conn: Tx(SyncExecutor(conn, defer_events=True)),
            _flush_events,
        )
        # One read connection per thread that reads (the event loop's), kept open: taking one
        # from the pool and giving it back costs more than the query of a get.
        self._local = threading.local()
        self._read_connections: list[Connection] = []

    @property
    def query_engine(self) -> Engine:
        """The synchronous engine that runs the transactions."""
        return self._sync_engine

    assigns_event_cursors = False
    """SQLite's writes take their cursors themselves (one writer commits in cursor order)."""

    async def assign_event_cursors(self, *, pending: bool = False) -> int:
        """Nothing is ever pending on SQLite."""
        return 0

    async def close(self) -> None:
        """Finish queued writes, stop the writer thread, close every connection."""
        await self._writer.close()
        await asyncio.to_thread(self._readers.shutdown, wait=True)
        for conn in self._read_connections:
            conn.close()
        self._read_connections.clear()
        self._sync_engine.dispose()
        await super().close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Run a read-only block in one transaction, inline on the event loop."""
        with unavailable_on_connection_failure(), self._sync_transaction() as tx:
            yield tx

    async def read(self, body: WriteBody[T], *, heavy: bool = False, autocommit: bool = False) -> T:
        """Run ``body(tx)`` in a read transaction: inline on the event loop (a get costs less
        than a hand-off to a thread), or, ``heavy``, on a reader thread; see
        :meth:`Store.read`. A heavy read whose request is cancelled (its client went away)
        is stopped at its next budget check."""
        if not heavy:
            with unavailable_on_connection_failure(), self._sync_transaction() as tx:
                return await body(tx)
        # The budget is the read's own run time: it starts when a reader thread takes the read
        # up. Time spent waiting for a thread is load, not cost: past the budget a read still
        # waiting is given up as Unavailable (503, retry), never StatementTimeout (400).
        stop = _Interrupt()
        loop = asyncio.get_running_loop()
        budget = self.statement_timeout
        deadline: list[asyncio.TimerHandle] = []

        def started() -> None:
            deadline.append(loop.call_later(budget, stop.fire))

        work = self._readers.submit(
            self._read_on_thread, body, stop, lambda: loop.call_soon_threadsafe(started)
        )

        def waited_too_long() -> None:
            if stop.expire():
                work.cancel()  # still queued: dropped; taken up meanwhile: start() refuses it

        queued = loop.call_later(budget, waited_too_long)
        try:
            return await asyncio.wrap_future(work)
        except asyncio.CancelledError:
            # Cancelled by the give-up above, not by the request's own cancellation.
            cancelling = getattr(asyncio.current_task(), "cancelling", None)  # Python 3.11+
            if stop.expired and work.cancelled() and not (cancelling and cancelling()):
                raise _readers_busy() from None
            stop.fire()
            raise
        finally:
            queued.cancel()
            for handle in deadline:
                handle.cancel()

    def _read_on_thread(
        self, body: WriteBody[T], stop: _Interrupt, started: Callable[[], object]
    ) -> T:
        stop.start()
        started()
        with unavailable_on_connection_failure(), self._sync_transaction(stop) as tx:
            return run_to_end(body(tx))

    @contextmanager
    def _sync_transaction(self, stop: _Interrupt | None = None) -> Iterator[Tx]:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and conn.in_transaction():
            # A read begun while another is open on this thread gets a connection of its own.
            with self._connect() as own, own.begin():
                yield Tx(SyncExecutor(own))
            return
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:  # invalidated by an error: replace it
                conn.close()
                self._read_connections.remove(conn)
            conn = self._local.conn = self._connect()
            self._read_connections.append(conn)
        with conn.begin():
            if stop is None:
                yield Tx(SyncExecutor(conn))
                return
            stop.attach(conn.connection.dbapi_connection)
            try:
                yield Tx(SyncExecutor(conn))
            finally:
                stop.detach()

    def _connect(self) -> Connection:
        with unavailable_on_connection_failure(connecting=True):
            return self._sync_engine.connect()

    def pool_stats(self) -> PoolStats:
        """Values for ``/metrics``: ``sqlite_writer_queue_depth`` (writes waiting for the
        writer thread), ``sqlite_heavy_reads_queued`` (filtered reads waiting for a reader
        thread, beyond those running), and the counters ``sqlite_writer_batches_total`` and
        ``sqlite_writer_batched_writes_total`` (transactions committed by the writer and the
        writes they held: their ratio is the mean group-commit size), and the histogram
        ``sqlite_writer_batch_size`` of writes per transaction. Read without a lock from the
        writer thread's counters: a scrape racing a commit may be one batch behind in places."""
        queued = float(self._readers._work_queue.qsize())  # the executor's own queue
        writer = self._writer
        return {
            "sqlite_writer_queue_depth": [({}, float(writer.queue_depth))],
            "sqlite_heavy_reads_queued": [({}, queued)],
            "sqlite_writer_batches_total": [({}, float(writer.batches))],
            "sqlite_writer_batched_writes_total": [({}, float(writer.batched_writes))],
            "sqlite_writer_batch_size": (
                BATCH_SIZE_BUCKETS,
                list(writer.batch_sizes),
                float(writer.batched_writes),
            ),
        }

    async def write(self, body: WriteBody[T]) -> T:
        """Run ``body(tx)`` on the writer thread; see :meth:`Store.write`."""
        with unavailable_on_connection_failure():
            return await self._writer.submit(body)

    async def ping(self) -> bool:
        """Whether the database file answers a trivial query."""
        try:
            with self._sync_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True
