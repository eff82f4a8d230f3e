"""Database engines: URL handling, SQLite/PostgreSQL connection set-up, migrations at start."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any constant works: it only has to be the same in every server process, so that two replicas
# starting at once on one PostgreSQL database migrate one after the other.
_MIGRATION_LOCK_KEY = 0x6D6F64656C


def normalize_database_url(url: str) -> URL:
    """Turn a user-facing database URL into an async SQLAlchemy URL.

    ``sqlite:///path`` becomes ``sqlite+aiosqlite:///path`` and ``postgresql://`` (or
    ``postgres://``) becomes ``postgresql+asyncpg://``. Explicit async drivers pass unchanged.

    Args:
        url: The database URL given by the user.

    Returns:
        The SQLAlchemy URL to build the engine from.

    Raises:
        ValueError: The URL names a database this server does not support.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


DEFAULT_STATEMENT_TIMEOUT = 5.0
"""Seconds a statement may run (``serve --statement-timeout``); a lock may be waited for half."""


def check_sqlite_file(url: str) -> None:
    """Open a SQLite file database once with the standard ``sqlite3`` module.

    Why: when aiosqlite fails to connect, its worker thread answers the failure after the
    caller's event loop may already have closed (``serve`` with a path that cannot be opened),
    and prints a traceback from that thread. Opening the file here first reports the same
    driver error, synchronously, without a worker thread. In-memory databases are not checked.

    Args:
        url: A database URL; anything but a SQLite file is ignored.

    Raises:
        OperationalError: The file cannot be opened or is not a SQLite database.
    """
    sa_url = normalize_database_url(url)
    path = sa_url.database
    if sa_url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    if path.startswith("file:") or sa_url.query.get("mode") == "memory":
        return
    try:
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise OperationalError("open the database file", None, exc) from None


def create_engine_from_url(
    url: str, *, statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
) -> AsyncEngine:
    """Create the async engine for a database URL.

    SQLite connections get WAL, a busy timeout and foreign keys; the store opens write
    transactions with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout
    instead of failing on a lock upgrade. A PostgreSQL URL may carry ``?search_path=schema``
    (used by the tests to give each test its own schema); it is passed as a server setting.

    Every statement has ``statement_timeout`` seconds on PostgreSQL (its
    ``statement_timeout``); SQLite's heavy reads are interrupted by the store when theirs is
    over. A lock is waited for at most as long (SQLite's busy timeout) or half as long
    (PostgreSQL's ``lock_timeout``, so that a lock wait is told from a costly statement).

    Args:
        url: A ``sqlite:///`` or ``postgresql://`` URL.
        statement_timeout: The budget of a statement in seconds.

    Returns:
        A new engine; the caller disposes it.
    """
    sa_url = normalize_database_url(url)
    kwargs: dict[str, Any] = {}
    if sa_url.get_backend_name() == "postgresql":
        query = dict(sa_url.query)
        search_path = query.pop("search_path", None)
        sa_url = sa_url.set(query=query)
        settings = {
            "statement_timeout": str(_ms(statement_timeout)),
            "lock_timeout": str(max(1, _ms(statement_timeout) // 2)),
        }
        if search_path:
            settings["search_path"] = str(search_path)
        kwargs["connect_args"] = {"server_settings": settings}
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 10
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(sa_url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine.sync_engine, statement_timeout)
    else:
        # The check of a pooled connection before each use, on every request: one round trip
        # (an empty statement) instead of the asyncpg dialect's three (BEGIN, it, ROLLBACK,
        # for PgBouncer's transaction mode, which the dialect's named prepared statements do
        # not work with anyway): the three were 10-15% of a list page's CPU (bench/README.md).
        engine.dialect.do_ping = _ping_once  # type: ignore[method-assign]
    return engine


def _ping_once(dbapi_connection: Any) -> bool:
    """The asyncpg dialect's own ping of a connection in autocommit mode: ``;``, its failure
    translated as the dialect translates any other (a disconnect makes the pool reconnect)."""
    try:
        await_(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as error:
        dbapi_connection._handle_exception(error)
    return True


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def create_sync_sqlite_engine(
    url: str, *, statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
) -> Engine:
    """Create a synchronous (``sqlite3``) engine on the SQLite file of ``url``.

    The SQLite store runs its transactions on this engine: a read inline on the event loop
    and writes on one writer thread, so connections move between threads
    (``check_same_thread=False``); each is used by one thread at a time.

    Args:
        url: A ``sqlite:///`` URL (any SQLite driver name).

    Returns:
        A new engine with the same connection set-up as :func:`create_engine_from_url`.
    """
    sa_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_engine(sa_url, connect_args={"check_same_thread": False})
    _configure_sqlite(engine, statement_timeout)
    return engine


def _configure_sqlite(engine: Engine, statement_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let the store, not the driver, decide when a transaction begins (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_ms(statement_timeout)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the write lock up front: a deferred one that reads first
        # and writes later fails at once with SQLITE_BUSY when another writer got in between.
        write = conn.get_execution_options().get("sqlite_write", False)
        # Straight on the driver's cursor: through exec_driver_sql the BEGIN alone cost about
        # a third of an inline get.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        finally:
            cursor.close()


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def run_migrations(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database schema up to the newest migration (or to ``revision``).

    On PostgreSQL the upgrade holds a transaction-scoped advisory lock, so replicas starting
    together do not race each other.

    Args:
        engine: The engine of the database to upgrade.
        revision: The target revision; tests use older ones to check the upgrade path.
    """
    async with engine.connect() as conn:
        if is_sqlite(engine):
            conn = await conn.execution_options(sqlite_write=True)
            # A batch migration rebuilds a table (create a copy, drop the old one, rename):
            # with foreign keys enforced, the DROP would delete the rows of every table that
            # references it ON DELETE CASCADE (properties, links, aliases). The pragma only
            # takes effect outside a transaction, so it is set on the driver's connection
            # before BEGIN, and set back once the upgrade committed.
            await conn.run_sync(_sqlite_foreign_keys, False)
        try:
            await _upgrade_in_transaction(conn, engine, revision)
        finally:
            if is_sqlite(engine):
                await conn.run_sync(_sqlite_foreign_keys, True)


def _sqlite_foreign_keys(conn: Any, on: bool) -> None:
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


async def _upgrade_in_transaction(conn: Any, engine: AsyncEngine, revision: str) -> None:
    """Run the upgrade in one transaction (PostgreSQL: under the migration lock)."""
    async with conn.begin():
        if not is_sqlite(engine):
            # No statement budget for migrations: waiting for another replica's upgrade
            # (the advisory lock) or a long upgrade must not fail the start.
            await conn.execute(text("SET LOCAL statement_timeout = 0"))
            await conn.execute(text("SET LOCAL lock_timeout = 0"))
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        await conn.run_sync(_upgrade, revision)
