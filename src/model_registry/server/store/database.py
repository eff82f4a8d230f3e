"""The database behind the registry: engine, migrations, connections and transactions.

:class:`Store` runs transactions on pooled async connections (PostgreSQL);
:class:`SqliteStore` reads inline on the event loop and writes on one thread
(:mod:`.writer`). Both turn a connection-level failure into
:class:`~model_registry.server.errors.Unavailable` (:mod:`.failures`).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from model_registry.server.store.engine import (
    create_engine_from_url,
    create_sync_sqlite_engine,
    is_sqlite,
    run_migrations,
)
from model_registry.server.store.executor import SyncExecutor
from model_registry.server.store.failures import unavailable_on_connection_failure
from model_registry.server.store.queries import Tx, WriteBody
from model_registry.server.store.writer import SqliteWriter

T = TypeVar("T")


class Store:
    """The database behind the registry: engine, migrations, transactions.

    Reads run in :meth:`transaction`; writes hand their body to :meth:`write`, which lets
    the SQLite store run them on its writer thread (see :class:`SqliteStore`).

    Args:
        engine: The async engine of the database (migrated).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, database_url: str) -> Store:
        """Connect to ``database_url`` and migrate its schema to the newest version.

        Args:
            database_url: A ``sqlite:///`` or ``postgresql://`` URL.

        Returns:
            The ready store (a :class:`SqliteStore` for SQLite); close it with :meth:`close`.
        """
        engine = create_engine_from_url(database_url)
        try:
            await run_migrations(engine)
        except BaseException:
            await engine.dispose()
            raise
        if is_sqlite(engine):
            return SqliteStore(engine, create_sync_sqlite_engine(database_url))
        return cls(engine)

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

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[Tx]:
        with unavailable_on_connection_failure(connecting=True):
            conn_cm = self._engine.connect()
            conn = await conn_cm.__aenter__()
        # BEGIN, every statement, COMMIT, and the rollback and release after a failure.
        with unavailable_on_connection_failure():
            try:
                async with conn.begin():
                    yield Tx(conn)
            finally:
                await conn_cm.__aexit__(None, None, None)

    async def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True


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

    def __init__(self, engine: AsyncEngine, sync_engine: Engine) -> None:
        super().__init__(engine)
        self._sync_engine = sync_engine
        self._writer = SqliteWriter(sync_engine, lambda conn: Tx(SyncExecutor(conn)))
        # One read connection per thread that reads (the event loop's), kept open: taking one
        # from the pool and giving it back costs more than the query of a get.
        self._local = threading.local()
        self._read_connections: list[Connection] = []

    @property
    def query_engine(self) -> Engine:
        """The synchronous engine that runs the transactions."""
        return self._sync_engine

    async def close(self) -> None:
        """Finish queued writes, stop the writer thread, close every connection."""
        await self._writer.close()
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

    @contextmanager
    def _sync_transaction(self) -> Iterator[Tx]:
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
            yield Tx(SyncExecutor(conn))

    def _connect(self) -> Connection:
        with unavailable_on_connection_failure(connecting=True):
            return self._sync_engine.connect()

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
