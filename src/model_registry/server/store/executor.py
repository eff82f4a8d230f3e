"""Where the store's statements run: the executor protocol and SQLite's synchronous one.

On PostgreSQL a :class:`~model_registry.server.store.queries.Tx` runs on an asyncpg
``AsyncConnection``; on SQLite on a :class:`SyncExecutor`, whose hot single-row reads skip
SQLAlchemy's per-execution work. Rows come back as plain column-name dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Protocol

from sqlalchemy import Connection, Dialect, Select
from sqlalchemy.exc import DBAPIError


def dicts(result: Any) -> list[dict[str, Any]]:
    """Every row of ``result`` as a column-name dict.

    The keys are taken once per result: ``dict(row_mapping)`` rebuilds a key view per row,
    which costs about three times as much on a page of 1,000 rows.
    """
    return as_dicts(tuple(result.keys()), result.all())


def as_dicts(keys: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows of one result as column-name dicts.

    ``map`` over ``zip`` without ``strict``: every row of a result has its keys' width, and
    this form costs a third of a comprehension with ``zip(..., strict=True)`` (a page of
    1,000 items has 1,000 rows and 2,000 property rows).
    """
    return list(map(dict, map(zip, repeat(keys), rows)))


def first_dict(result: Any) -> dict[str, Any] | None:
    """The first row of ``result`` as a column-name dict, or None when there is none."""
    keys = tuple(result.keys())
    row = result.first()
    return None if row is None else dict(zip(keys, row, strict=True))


class Executor(Protocol):
    """What :class:`Tx` runs its statements on: an ``AsyncConnection`` or :class:`SyncExecutor`."""

    @property
    def dialect(self) -> Dialect:
        """The database dialect."""

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        """Execute one statement (with a dict, or a list of dicts for many rows)."""


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled once for SQLite's positional parameters."""

    stmt: Select[Any]
    sql: str
    order: tuple[str, ...]
    defaults: Mapping[str, Any]
    keys: tuple[str, ...]

    @classmethod
    def compile(cls, stmt: Select[Any], dialect: Dialect) -> _Prepared:
        compiled = stmt.compile(dialect=dialect)
        assert compiled.positiontup is not None, "SQLite binds positionally"
        return cls(
            stmt,
            compiled.string,
            tuple(compiled.positiontup),
            compiled.params,
            tuple(stmt.selected_columns.keys()),
        )


# Keyed by id(): the statements are the module's prebuilt ones, alive for the process (the
# entry also holds the statement, and a reused id is detected by identity).
_PREPARED: dict[int, _Prepared] = {}


class SyncExecutor:
    """The async face of a synchronous connection: awaiting :meth:`execute` never suspends.

    The SQLite store runs :class:`Tx` on it, so a transaction body written once, with
    ``await``, runs inline on the event loop (reads) or to its end on the writer thread
    (writes), with no hop to a driver thread per statement.

    Args:
        conn: A synchronous SQLAlchemy connection inside a transaction.
        defer_events: Keep the events appended in :attr:`deferred_events` for the end of
            the transaction (SQLite's writer: one append per batch of writes).
    """

    def __init__(self, conn: Connection, *, defer_events: bool = False) -> None:
        self._conn = conn
        self.deferred_events: list[tuple[Any, ...]] | None = [] if defer_events else None
        """Events appended but not yet inserted (see ``store/events.py``), or None: insert
        them at once."""

    @property
    def dialect(self) -> Dialect:
        """The database dialect."""
        return self._conn.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        """Execute one statement on the synchronous connection."""
        return self._conn.execute(statement, parameters)

    def prepared_rows(
        self, stmt: Select[Any], params: Mapping[str, Any]
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]]]:
        """Run a prebuilt statement, compiled once, and return its keys and driver rows.

        For the hot single-row reads (a get, an existence check): SQLAlchemy's per-execution
        work costs more than SQLite's. These statements bypass the engine's events. The
        statement must be built once and kept (the module's statement caches), take no
        expanding parameters, and select no column whose type converts values (booleans come
        back as 0/1, as the driver returns them).
        """
        prepared = _PREPARED.get(id(stmt))
        if prepared is None or prepared.stmt is not stmt:
            prepared = _Prepared.compile(stmt, self.dialect)
            _PREPARED[id(stmt)] = prepared
        values = tuple(params[n] if n in params else prepared.defaults[n] for n in prepared.order)
        # Straight on the driver's cursor: even exec_driver_sql costs 4x the query here.
        dbapi = self.dialect.loaded_dbapi
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(prepared.sql, values)
            rows = cursor.fetchall()
        except dbapi.Error as exc:
            # The same exception SQLAlchemy raises, so the front doors map it the same way.
            raise DBAPIError.instance(prepared.sql, values, exc, dbapi.Error) from exc
        finally:
            cursor.close()
        return prepared.keys, rows

    def driver_execute(
        self, sql: str, parameters: Sequence[Any], *, many: bool = False
    ) -> list[tuple[Any, ...]]:
        """Run SQL text straight on the driver's cursor; return its rows (none for ``many``).

        For the event log's two statements, run by every write: SQLAlchemy's per-execution
        work costs several times SQLite's here. Like :meth:`prepared_rows`, this bypasses the
        engine's events.
        """
        dbapi = self.dialect.loaded_dbapi
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(sql, parameters)
                return []
            cursor.execute(sql, parameters)
            return list(cursor.fetchall())
        except dbapi.Error as exc:
            raise DBAPIError.instance(sql, parameters, exc, dbapi.Error) from exc
        finally:
            cursor.close()

    def driver_dicts(self, sql: str, parameters: tuple[Any, ...]) -> list[dict[str, Any]]:
        """Run SQL text and return its rows as dicts of the driver's own values.

        For many small rows, where building SQLAlchemy rows costs more than the query; the
        statement still passes through the engine's events.
        """
        result = self._conn.exec_driver_sql(sql, parameters)
        keys = tuple(result.keys())
        rows = result.cursor.fetchall() if result.cursor is not None else []
        result.close()
        return as_dicts(keys, rows)
