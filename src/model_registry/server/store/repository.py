"""Every query of the registry: generic row operations driven by the entity descriptors.

The service opens a transaction with :meth:`Store.transaction` and works through the
:class:`Tx` methods; rows come back as :class:`Record` (column values plus custom-property rows).
A unique-constraint violation becomes :class:`~model_registry.server.errors.Conflict`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Integer,
    Select,
    Table,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from model_registry.server.entities import ARTIFACT_UNION_FIELDS, KINDS, EntityKind, Field
from model_registry.server.errors import Conflict, Unavailable
from model_registry.server.filtering import FieldKind, KnownField, ValueType, build_filter
from model_registry.server.paging import PageRequest, apply_page, finish_page
from model_registry.server.store.engine import (
    create_engine_from_url,
    create_sync_sqlite_engine,
    is_sqlite,
    run_migrations,
)
from model_registry.server.store.schema import PROPERTY_TABLES, TABLES, attributions
from model_registry.server.store.writer import SqliteWriter

T = TypeVar("T")


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


@dataclass
class Record:
    """One stored entity.

    Attributes:
        values: Column name to value for the entity row.
        properties: Custom-property rows (column name to value), in name order.
    """

    values: dict[str, Any]
    properties: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> int:
        """The entity id."""
        return int(self.values["id"])


@dataclass(frozen=True)
class Scope:
    """Which rows of a table a list or find looks at.

    Attributes:
        kinds: The entity kinds (several for the generic artifact endpoints).
        parent_id: Only rows whose ``parent_id`` is this.
        context_id: Only artifacts linked to this context (through attributions).
        name: Only rows with this exact name.
        external_id: Only rows with this external id.
        steps: Only metric-history rows with one of these steps.
    """

    kinds: tuple[str, ...]
    parent_id: int | None = None
    context_id: int | None = None
    name: str | None = None
    external_id: str | None = None
    steps: tuple[int, ...] | None = None


_FIELD_KIND: dict[str, FieldKind] = {
    "str": "str",
    "enum": "enum",
    "id": "int",
    "int64str": "time",
    "int": "int",
    "double": "double",
}


class _Resolver:
    """Maps filter property names to the columns and custom properties of one table."""

    def __init__(self, table: Table, fields: Mapping[str, Field], *, artifact: bool) -> None:
        self._table = table
        self._props = PROPERTY_TABLES[str(table.name)]
        c = table.c
        self._known: dict[str, KnownField] = {
            "id": KnownField(c.id, "int"),
            "name": KnownField(c.name, "str"),
            "externalId": KnownField(c.external_id, "str"),
            "description": KnownField(c.description, "str"),
            "createTimeSinceEpoch": KnownField(c.create_time, "time"),
            "lastUpdateTimeSinceEpoch": KnownField(c.update_time, "time"),
        }
        if artifact:
            self._known["artifactType"] = KnownField(c.kind, "str")
        for wire, f in fields.items():
            kind = _FIELD_KIND.get(f.type)
            if kind is not None and f.column in c:
                values = f.enum if f.type == "enum" else None
                self._known[wire] = KnownField(c[f.column], kind, values)

    def known(self, name: str) -> KnownField | None:
        return self._known.get(name)

    def custom(
        self,
        name: str,
        value_type: ValueType,
        condition: Any,
    ) -> ColumnElement[bool]:
        p = self._props
        return exists(
            select(literal(1)).where(
                p.c.owner_id == self._table.c.id,
                p.c.name == name,
                condition(p.c[value_type]),
            )
        )


_RESOLVERS: dict[tuple[str, tuple[str, ...]], _Resolver] = {}


def _resolver(table: Table, kinds: Sequence[EntityKind]) -> _Resolver:
    key = (str(table.name), tuple(k.kind for k in kinds))
    found = _RESOLVERS.get(key)
    if found is None:
        fields = kinds[0].by_wire if len(kinds) == 1 else ARTIFACT_UNION_FIELDS
        found = _Resolver(table, fields, artifact=kinds[0].is_artifact)
        _RESOLVERS[key] = found
    return found


_GET_STATEMENTS: dict[tuple[str, ...], Select[Any]] = {}
_EXISTS_STATEMENTS: dict[str, Select[Any]] = {}
_PROPS_STATEMENTS: dict[str, Select[Any]] = {}
_PROPERTY_PREFIX = "property_"

# The hot statements are built once and take their values as bound parameters: building a
# statement costs about 100 µs per call, and SQLAlchemy's compiled cache only skips the
# compilation, not the building.


def _get_statement(kinds: Sequence[EntityKind]) -> Select[Any]:
    """SELECT an entity by id (bound as ``entity_id``) together with its property rows.

    The outer join returns one row per property (or one row of NULL property columns), so a
    get costs one statement instead of two; the properties come in name order, as in
    :meth:`Tx._with_props`.
    """
    key = tuple(k.kind for k in kinds)
    stmt = _GET_STATEMENTS.get(key)
    if stmt is None:
        table = TABLES[kinds[0].table]
        ptable = PROPERTY_TABLES[kinds[0].table]
        stmt = (
            select(table, *(c.label(_PROPERTY_PREFIX + c.name) for c in ptable.c))
            .select_from(table.outerjoin(ptable, ptable.c.owner_id == table.c.id))
            .where(table.c.id == bindparam("entity_id"), _kind_condition(table, key))
            .order_by(ptable.c.name)
        )
        _GET_STATEMENTS[key] = stmt
    return stmt


_GET_LAYOUTS: dict[tuple[str, tuple[str, ...]], tuple[int, tuple[str, ...], int]] = {}


def _get_layout(table_name: str, keys: tuple[str, ...]) -> tuple[int, tuple[str, ...], int]:
    """Where a get's row splits: entity column count, property keys, the property name's index."""
    layout = _GET_LAYOUTS.get((table_name, keys))
    if layout is None:
        width = len(TABLES[table_name].c)
        prop_keys = tuple(k[len(_PROPERTY_PREFIX) :] for k in keys[width:])
        layout = (width, prop_keys, width + prop_keys.index("name"))
        _GET_LAYOUTS[(table_name, keys)] = layout
    return layout


def _exists_statement(kind: EntityKind) -> Select[Any]:
    """SELECT the id of an entity of ``kind`` by id (bound as ``entity_id``)."""
    stmt = _EXISTS_STATEMENTS.get(kind.kind)
    if stmt is None:
        table = TABLES[kind.table]
        stmt = select(table.c.id).where(
            table.c.id == bindparam("entity_id"), table.c.kind == kind.kind
        )
        _EXISTS_STATEMENTS[kind.kind] = stmt
    return stmt


def _kind_condition(table: Table, kinds: Sequence[str]) -> ColumnElement[bool]:
    """``kind`` is one of ``kinds``, without an expanding ``IN`` (re-rendered per execution)."""
    if len(kinds) == 1:
        return table.c.kind == kinds[0]
    return or_(*(table.c.kind == k for k in kinds))


_INSERT_STATEMENTS: dict[tuple[str, bool], Any] = {}


def _insert_statement(table_name: str, *, whole_row: bool) -> Any:
    """INSERT into a table, returning the new row's id or (``whole_row``) every column.

    The values come as execution parameters, so one statement serves every create of the
    table and SQLAlchemy's compiled cache is hit without rebuilding the statement.
    """
    key = (table_name, whole_row)
    stmt = _INSERT_STATEMENTS.get(key)
    if stmt is None:
        table = TABLES[table_name]
        stmt = (
            insert(table).returning(*table.c) if whole_row else insert(table).returning(table.c.id)
        )
        _INSERT_STATEMENTS[key] = stmt
    return stmt


_PROPS_INSERTS = {name: insert(table) for name, table in PROPERTY_TABLES.items()}


def _props_statement(table_name: str) -> Select[Any]:
    """SELECT the property rows of one owner (bound as ``owner_id``) in name order."""
    stmt = _PROPS_STATEMENTS.get(table_name)
    if stmt is None:
        ptable = PROPERTY_TABLES[table_name]
        stmt = (
            select(ptable).where(ptable.c.owner_id == bindparam("owner_id")).order_by(ptable.c.name)
        )
        _PROPS_STATEMENTS[table_name] = stmt
    return stmt


def _dicts(result: Any) -> list[dict[str, Any]]:
    """Every row of ``result`` as a column-name dict.

    The keys are taken once per result: ``dict(row_mapping)`` rebuilds a key view per row,
    which costs about three times as much on a page of 1,000 rows.
    """
    return _as_dicts(tuple(result.keys()), result.all())


def _as_dicts(keys: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows of one result as column-name dicts.

    ``map`` over ``zip`` without ``strict``: every row of a result has its keys' width, and
    this form costs a third of a comprehension with ``zip(..., strict=True)`` (a page of
    1,000 items has 1,000 rows and 2,000 property rows).
    """
    return list(map(dict, map(zip, repeat(keys), rows)))


def _first_dict(result: Any) -> dict[str, Any] | None:
    """The first row of ``result`` as a column-name dict, or None when there is none."""
    keys = tuple(result.keys())
    row = result.first()
    return None if row is None else dict(zip(keys, row, strict=True))


def _is_unique_violation(exc: IntegrityError) -> bool:
    # Foreign-key and not-null failures are bugs, not conflicts: only unique clashes map to 409.
    text_ = str(exc.orig).lower()
    return "unique" in text_ or "duplicate" in text_


_SQLITE_PROPS_SQL = {
    name: (
        f"SELECT {', '.join(c.name for c in table.c)} FROM {table.name} "
        "WHERE owner_id IN (SELECT value FROM json_each(?)) ORDER BY owner_id, name"
    )
    for name, table in PROPERTY_TABLES.items()
}
"""The property rows of a page's owners, given as a JSON array (SQLite)."""

_PG_PROPS_STATEMENTS: dict[str, Select[Any]] = {}


def _pg_props_statement(table_name: str) -> Select[Any]:
    """The property rows of a page's owners, given as one array parameter ``ids``."""
    stmt = _PG_PROPS_STATEMENTS.get(table_name)
    if stmt is None:
        ptable = PROPERTY_TABLES[table_name]
        stmt = (
            select(ptable)
            .where(ptable.c.owner_id == any_(bindparam("ids", type_=ARRAY(Integer))))
            .order_by(ptable.c.owner_id, ptable.c.name)
        )
        _PG_PROPS_STATEMENTS[table_name] = stmt
    return stmt


_KINDS_BY_TABLE: dict[str, set[str]] = {
    name: {k.kind for k in KINDS.values() if k.table == name} for name in TABLES
}


_COMMON_COLUMNS = (
    "id",
    "kind",
    "parent_id",
    "name",
    "external_id",
    "description",
    "create_time",
    "update_time",
)
_COLUMNS_OF: dict[tuple[str, ...], tuple[Any, ...]] = {}


def _columns_of(table: Table, kinds: Sequence[EntityKind]) -> tuple[Any, ...]:
    """The columns ``kinds`` use: a table holds every kind's columns, a kind needs few of them.

    A page reads, converts and copies only these: a model version uses 12 of the 27 columns
    of its table.
    """
    key = tuple(k.kind for k in kinds)
    columns = _COLUMNS_OF.get(key)
    if columns is None:
        names = list(_COMMON_COLUMNS)
        for kind in kinds:
            names.extend(f.column for f in kind.fields if f.column in table.c)
        columns = tuple(table.c[name] for name in dict.fromkeys(names))
        _COLUMNS_OF[key] = columns
    return columns


def scoped_statement(kinds: Sequence[EntityKind], scope: Scope) -> Select[Any]:
    """SELECT the rows of ``kinds`` in ``scope`` (no ordering, no paging)."""
    table = TABLES[kinds[0].table]
    stmt = select(*_columns_of(table, kinds))
    kind_names = [k.kind for k in kinds]
    if len(kind_names) == 1 or set(kind_names) != _KINDS_BY_TABLE[str(table.name)]:
        stmt = stmt.where(_kind_condition(table, kind_names))
    # else: every kind the table holds; a kind condition would only steer the planner to a
    # kind index and a sort instead of the plain (order column, id) index.
    if scope.parent_id is not None:
        stmt = stmt.where(table.c.parent_id == scope.parent_id)
    if scope.context_id is not None:
        # IN over the context's attribution rows (not a correlated EXISTS): the planner then
        # walks the (context_id, artifact_id) key and looks artifacts up by id, instead of
        # scanning every artifact of the kind and probing attributions for each.
        linked = select(attributions.c.artifact_id).where(
            attributions.c.context_id == scope.context_id
        )
        stmt = stmt.where(table.c.id.in_(linked))
    if scope.name is not None:
        stmt = stmt.where(table.c.name == scope.name)
    if scope.external_id is not None:
        stmt = stmt.where(table.c.external_id == scope.external_id)
    if scope.steps is not None:
        stmt = stmt.where(table.c.step.in_(scope.steps))
    return stmt


def page_statement(
    kinds: Sequence[EntityKind], scope: Scope, filter_query: str | None, page: PageRequest
) -> Select[Any]:
    """The query of one list page: scope, filter, keyset condition, order and limit.

    Raises:
        FilterError: The filter does not parse or does not fit the fields.
        PageTokenError: The page token is malformed.
    """
    table = TABLES[kinds[0].table]
    stmt = scoped_statement(kinds, scope)
    condition = build_filter(filter_query, _resolver(table, kinds))
    if condition is not None:
        stmt = stmt.where(condition)
    order_col = {
        "ID": table.c.id,
        "CREATE_TIME": table.c.create_time,
        "LAST_UPDATE_TIME": table.c.update_time,
    }[page.order_by]
    return apply_page(stmt, order_col, table.c.id, page)


_NEWEST_CHILDREN: dict[str, Select[Any]] = {}


def _newest_children_statement(kind: EntityKind) -> Select[Any]:
    """SELECT the newest child of ``kind`` of each parent whose id is in ``ids`` (expanding)."""
    stmt = _NEWEST_CHILDREN.get(kind.kind)
    if stmt is None:
        assert kind.parent is not None, f"{kind.kind} has no parent"
        table = TABLES[kind.table]
        child = table.alias("child")
        parent = TABLES[KINDS[kind.parent.kind].table].alias("parent")
        newest = (
            select(child.c.id)
            .where(child.c.kind == kind.kind, child.c.parent_id == parent.c.id)
            .order_by(child.c.create_time.desc(), child.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        of_parents = select(newest).where(parent.c.id.in_(bindparam("ids", expanding=True)))
        stmt = select(*_columns_of(table, [kind])).where(table.c.id.in_(of_parents))
        _NEWEST_CHILDREN[kind.kind] = stmt
    return stmt


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
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

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

    def driver_dicts(self, sql: str, parameters: tuple[Any, ...]) -> list[dict[str, Any]]:
        """Run SQL text and return its rows as dicts of the driver's own values.

        For many small rows, where building SQLAlchemy rows costs more than the query; the
        statement still passes through the engine's events.
        """
        result = self._conn.exec_driver_sql(sql, parameters)
        keys = tuple(result.keys())
        rows = result.cursor.fetchall() if result.cursor is not None else []
        result.close()
        return _as_dicts(keys, rows)


class Tx:
    """Queries inside one transaction."""

    def __init__(self, conn: Executor) -> None:
        self._conn = conn

    async def _execute(
        self, stmt: Any, kind: EntityKind, values: Mapping[str, Any], params: Any = None
    ) -> Any:
        try:
            return await self._conn.execute(stmt, params)
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(_conflict_message(exc, kind, values)) from None
            raise

    async def insert(
        self, kind: EntityKind, values: Mapping[str, Any], props: Iterable[Mapping[str, Any]]
    ) -> int:
        """Insert an entity row and its custom properties; return the new id.

        Raises:
            Conflict: The name or external id is taken.
        """
        row = _new_row(kind, values)
        stmt = _insert_statement(kind.table, whole_row=False)
        result = await self._execute(stmt, kind, row, row)
        new_id = int(result.scalar_one())
        await self._write_props(kind, new_id, props)
        return new_id

    async def create(
        self, kind: EntityKind, values: Mapping[str, Any], props: Iterable[Mapping[str, Any]]
    ) -> Record:
        """Insert an entity row and its custom properties; return the stored record.

        The row comes back from ``INSERT ... RETURNING`` (SQLite >= 3.35, PostgreSQL), so it is
        not read again; the properties are read back only when there are some, because their
        order is the database's name order (its collation, on PostgreSQL).

        Raises:
            Conflict: The name or external id is taken.
        """
        row = _new_row(kind, values)
        stored = _first_dict(
            await self._execute(_insert_statement(kind.table, whole_row=True), kind, row, row)
        )
        assert stored is not None  # RETURNING of a single-row INSERT yields that row
        new_id = int(stored["id"])
        rows = list(props)
        await self._write_props(kind, new_id, rows)
        return Record(stored, await self._read_props(kind, new_id) if rows else [])

    async def _read_props(self, kind: EntityKind, owner_id: int) -> list[dict[str, Any]]:
        stmt = _props_statement(kind.table)
        return _dicts(await self._conn.execute(stmt, {"owner_id": owner_id}))

    async def _write_props(
        self, kind: EntityKind, owner_id: int, props: Iterable[Mapping[str, Any]]
    ) -> None:
        rows = [{**p, "owner_id": owner_id} for p in props]
        if rows:
            await self._conn.execute(_PROPS_INSERTS[kind.table], rows)

    async def update(
        self,
        kind: EntityKind,
        entity_id: int,
        values: Mapping[str, Any],
        props: Iterable[Mapping[str, Any]] | None,
    ) -> None:
        """Update columns and, when ``props`` is not None, replace all custom properties.

        ``update_time`` becomes ``max(now, previous + 1)`` in the same statement, so it strictly
        increases on every update even within one millisecond and under concurrency.

        Raises:
            Conflict: The new external id is taken.
        """
        table = TABLES[kind.table]
        stamp = now_ms()
        new_time = case((table.c.update_time < stamp, stamp), else_=table.c.update_time + 1)
        await self._execute(
            update(table)
            .where(table.c.id == entity_id)
            .values({**values, "update_time": new_time}),
            kind,
            values,
        )
        if props is not None:
            ptable = PROPERTY_TABLES[kind.table]
            await self._conn.execute(delete(ptable).where(ptable.c.owner_id == entity_id))
            await self._write_props(kind, entity_id, props)

    async def _rows(
        self, stmt: Select[Any], params: Mapping[str, Any]
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]]]:
        """The column keys and rows of a prebuilt statement."""
        if isinstance(self._conn, SyncExecutor):
            return self._conn.prepared_rows(stmt, params)
        result = await self._conn.execute(stmt, params)
        return tuple(result.keys()), result.all()

    async def get(self, kinds: Sequence[EntityKind], entity_id: int) -> Record | None:
        """Return the entity with this id if it is of one of ``kinds``."""
        keys, rows = await self._rows(_get_statement(kinds), {"entity_id": entity_id})
        if not rows:
            return None
        width, prop_keys, name_at = _get_layout(kinds[0].table, keys)
        values = dict(zip(keys[:width], rows[0][:width], strict=True))
        # The property name is part of the key: NULL only on the outer join's empty side.
        props = [
            dict(zip(prop_keys, row[width:], strict=True))
            for row in rows
            if row[name_at] is not None
        ]
        return Record(values, props)

    async def exists(self, kind: EntityKind, entity_id: int) -> bool:
        """Whether an entity of ``kind`` has this id."""
        _keys, rows = await self._rows(_exists_statement(kind), {"entity_id": entity_id})
        return bool(rows)

    def _scoped(self, kinds: Sequence[EntityKind], scope: Scope) -> Select[Any]:
        return scoped_statement(kinds, scope)

    async def find(self, kinds: Sequence[EntityKind], scope: Scope) -> Record | None:
        """Return the first entity (lowest id) in ``scope``, or None."""
        table = TABLES[kinds[0].table]
        stmt = self._scoped(kinds, scope).order_by(table.c.id).limit(1)
        row = _first_dict(await self._conn.execute(stmt))
        if row is None:
            return None
        return (await self._with_props(kinds[0], [row]))[0]

    async def list_page(
        self,
        kinds: Sequence[EntityKind],
        scope: Scope,
        filter_query: str | None,
        page: PageRequest,
    ) -> tuple[list[Record], str]:
        """Return one page of entities in ``scope`` matching ``filter_query``.

        Returns:
            The records on the page and the next page token (``""`` on the last page).

        Raises:
            FilterError: The filter does not parse or names a field with a wrong literal.
            PageTokenError: The page token is malformed.
        """
        stmt = page_statement(kinds, scope, filter_query, page)
        rows = _dicts(await self._conn.execute(stmt))
        order_key = {"ID": "id", "CREATE_TIME": "create_time", "LAST_UPDATE_TIME": "update_time"}[
            page.order_by
        ]
        on_page, token = finish_page(rows, page, lambda r: int(r[order_key]), lambda r: r["id"])
        return await self._with_props(kinds[0], on_page), token

    async def _with_props(self, kind: EntityKind, rows: list[dict[str, Any]]) -> list[Record]:
        """Attach custom properties to rows with ONE query for the whole page.

        The page's ids go as ONE parameter (a JSON array on SQLite, an array on PostgreSQL):
        1,000 bound parameters of an ``IN`` list cost more to render and bind than the query.
        """
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        by_owner: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if isinstance(self._conn, SyncExecutor):  # SQLite
            found = self._conn.driver_dicts(_SQLITE_PROPS_SQL[kind.table], (json.dumps(ids),))
        else:
            stmt = _pg_props_statement(kind.table)
            found = _dicts(await self._conn.execute(stmt, {"ids": ids}))
        for p in found:
            by_owner[p["owner_id"]].append(p)
        return [Record(r, by_owner[r["id"]]) for r in rows]

    async def link(self, context_id: int, artifact_id: int) -> None:
        """Attribute an artifact to a context (no-op when already linked)."""
        # One statement: the primary key (context_id, artifact_id) makes a second link, also
        # one a concurrent request inserted first, a no-op (SQLite >= 3.24, PostgreSQL).
        dialect_insert = sqlite_insert if self._conn.dialect.name == "sqlite" else pg_insert
        await self._conn.execute(
            dialect_insert(attributions)
            .values(context_id=context_id, artifact_id=artifact_id)
            .on_conflict_do_nothing(
                index_elements=[attributions.c.context_id, attributions.c.artifact_id]
            )
        )

    async def newest_child(self, kind: EntityKind, parent_id: int) -> Record | None:
        """The child of ``kind`` under ``parent_id`` created last (ties: highest id)."""
        table = TABLES[kind.table]
        stmt = (
            select(table)
            .where(table.c.kind == kind.kind, table.c.parent_id == parent_id)
            .order_by(table.c.create_time.desc(), table.c.id.desc())
            .limit(1)
        )
        row = _first_dict(await self._conn.execute(stmt))
        if row is None:
            return None
        return (await self._with_props(kind, [row]))[0]

    async def newest_children(
        self, kind: EntityKind, parent_ids: Sequence[int]
    ) -> dict[int, Record]:
        """The newest child of ``kind`` under each parent (as :meth:`newest_child`), ONE query.

        Each parent's newest child is a correlated ``LIMIT 1`` subquery on the (kind, parent,
        create time, id) index, so the cost grows with the number of parents, not with their
        children; the statement is built once per kind (building one is most of the cost).

        Returns:
            The newest child by parent id; parents without children are absent.
        """
        if not parent_ids:
            return {}
        stmt = _newest_children_statement(kind)
        params = {"ids": list(dict.fromkeys(parent_ids))}
        rows = _dicts(await self._conn.execute(stmt, params))
        records = await self._with_props(kind, rows)
        return {int(r.values["parent_id"]): r for r in records}

    async def linked_artifacts(
        self, kinds: Sequence[EntityKind], context_ids: Sequence[int], limit: int
    ) -> list[tuple[int, Record]]:
        """The artifacts of ``kinds`` linked to any of ``context_ids``, in ONE query (+ props).

        Returns:
            ``(context id, artifact)`` pairs by context then artifact id, at most ``limit``.
        """
        if not context_ids:
            return []
        table = TABLES[kinds[0].table]
        stmt = (
            select(*_columns_of(table, kinds), attributions.c.context_id.label("_context_id"))
            .select_from(table.join(attributions, attributions.c.artifact_id == table.c.id))
            .where(
                attributions.c.context_id.in_(list(dict.fromkeys(context_ids))),
                _kind_condition(table, [k.kind for k in kinds]),
            )
            .order_by(attributions.c.context_id, table.c.id)
            .limit(limit)
        )
        rows = _dicts(await self._conn.execute(stmt))
        contexts = [int(r.pop("_context_id")) for r in rows]
        records = await self._with_props(kinds[0], rows)
        return list(zip(contexts, records, strict=True))

    async def count(self, kind: EntityKind) -> int:
        """How many entities of ``kind`` exist (for tests and diagnostics)."""
        table = TABLES[kind.table]
        stmt = select(func.count()).select_from(table).where(table.c.kind == kind.kind)
        return int((await self._conn.execute(stmt)).scalar_one())


def _new_row(kind: EntityKind, values: Mapping[str, Any]) -> dict[str, Any]:
    """The full column values of a new entity row: kind, parent 0 and the times filled in."""
    row = {"parent_id": 0, **values, "kind": kind.kind}
    row.setdefault("create_time", now_ms())
    row.setdefault("update_time", row["create_time"])
    return row


def _conflict_message(exc: IntegrityError, kind: EntityKind, values: Mapping[str, Any]) -> str:
    if "external_id" in str(exc.orig).lower():
        return f"externalId {values.get('external_id')!r} is already used by another entity"
    where = f" in parent {values['parent_id']}" if values.get("parent_id") else ""
    return f"a {kind.label} named {values.get('name')!r} already exists{where}"


WriteBody = Callable[[Tx], Coroutine[Any, Any, T]]
"""A write transaction's body: takes the :class:`Tx`, awaits only its queries."""


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
        try:
            conn_cm = self._engine.connect()
            conn = await conn_cm.__aenter__()
        except (DBAPIError, OSError) as exc:
            raise Unavailable.because(exc) from None
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
        with self._sync_transaction() as tx:
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
        try:
            return self._sync_engine.connect()
        except (DBAPIError, OSError) as exc:
            raise Unavailable.because(exc) from None

    async def write(self, body: WriteBody[T]) -> T:
        """Run ``body(tx)`` on the writer thread; see :meth:`Store.write`."""
        return await self._writer.submit(body)

    async def ping(self) -> bool:
        """Whether the database file answers a trivial query."""
        try:
            with self._sync_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True
