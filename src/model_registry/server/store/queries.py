"""The query API of the store: generic row operations driven by the entity descriptors.

The service works through the :class:`Tx` of a transaction
(:meth:`~model_registry.server.store.database.Store.transaction`,
:meth:`~model_registry.server.store.database.Store.write`); rows come back as :class:`Record`
(column values plus custom-property rows). A unique-constraint violation becomes
:class:`~model_registry.server.errors.Conflict`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from model_registry.server.entities import EntityKind
from model_registry.server.errors import Conflict, NotFound
from model_registry.server.paging import OrderValue, PageRequest
from model_registry.server.store.events import append_events
from model_registry.server.store.executor import Executor, SyncExecutor, dicts, first_dict
from model_registry.server.store.keyset import finish_page
from model_registry.server.store.schema import (
    DEFAULT_PROJECT_ID,
    PROPERTY_TABLES,
    TABLES,
    artifacts,
    artifacts_properties,
    attributions,
    contexts,
    executions,
    metric_history,
    model_version_aliases,
)
from model_registry.server.store.statements import (
    ALIAS_OWNER_COLUMNS,
    FILL_WIRE,
    KEEP_WIRE,
    LAST_CONTEXT_ID,
    MISSING_WIRE,
    PROPS_INSERTS,
    SQLITE_ALIASES_SQL,
    SQLITE_PROPS_SQL,
    Scope,
    columns_of,
    exists_statement,
    get_layout,
    get_statement,
    insert_statement,
    kind_condition,
    newest_children_statement,
    page_statement,
    pg_aliases_statement,
    pg_props_statement,
    pg_row_aliases_columns,
    props_statement,
    scoped_statement,
)

T = TypeVar("T")
W = TypeVar("W", str, bytes)


@dataclass
class WirePage(Generic[W]):
    """A page of kept answers (see :meth:`Tx.list_page_wire`).

    Attributes:
        answers: Each item's answer (JSON text or serialized gRPC message), aliases left out.
        ids: Each item's id.
        order_values: Each item's value of the page's ordering (its id, a time, its name).
        next_page_token: The token of the next page (``""`` on the last).
        aliases: When asked for, the ``(alias, version id)`` pairs of the items that have
            aliases, by id, in alias order (items without aliases are absent).
    """

    answers: list[W]
    ids: list[int]
    order_values: list[OrderValue]
    next_page_token: str
    aliases: dict[int, list[tuple[str, int]]] = field(default_factory=dict)


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


@dataclass
class Record:
    """One stored entity.

    Attributes:
        values: Column name to value for the entity row.
        properties: Custom-property rows (column name to value), in name order.
        aliases: For a model version or registered model: its ``(alias, model version id)``
            pairs in alias order (read with the entity, one query per page); else None.
    """

    values: dict[str, Any]
    properties: list[dict[str, Any]] = field(default_factory=list)
    aliases: list[tuple[str, int]] | None = None

    @property
    def id(self) -> int:
        """The entity id."""
        return int(self.values["id"])


@dataclass
class Change:
    """One change made in a transaction, for the event log (see ``store/events.py``).

    Attributes:
        kind: The entity kind's descriptor, or None for a change that is not an entity's
            (an alias), which then gives ``event_kind`` and ``entity``.
        action: ``"created"``, ``"updated"``, ``"deleted"``...
        entity_id: The id of the entity changed.
        record: The entity as stored after the change, when the query had it at hand.
        event_kind: The event's kind when ``kind`` is None.
        entity: The event's entity (wire form) when ``kind`` is None.
        wire: ``record``'s answer as kept (``contexts.wire``: JSON, aliases left out), once
            the service rendered it at the end of the transaction; the event reuses it.
    """

    kind: EntityKind | None
    action: str
    entity_id: int | str
    record: Record | None = None
    event_kind: str | None = None
    entity: dict[str, Any] | None = None
    wire: str | None = None


def _is_unique_violation(exc: IntegrityError) -> bool:
    # Foreign-key and not-null failures are bugs, not conflicts: only unique clashes map to 409.
    text_ = str(exc.orig).lower()
    return "unique" in text_ or "duplicate" in text_


class Tx:
    """Queries inside one transaction, inside one project.

    Every entity statement of a ``Tx`` carries the condition ``project_id = <its project>`` and
    every insert the project's id, so a row of another project is, to this ``Tx``, a row that
    does not exist. A ``Tx`` starts in the project ``default``; :meth:`in_project` gives one
    over the same connection in another project (the service makes one per request).

    Args:
        conn: The transaction's connection.
        project_id: The internal id of the project the queries see.
    """

    def __init__(self, conn: Executor, project_id: int = DEFAULT_PROJECT_ID) -> None:
        self._conn = conn
        self.project_id = project_id
        self.changes: list[Change] = []
        """The changes made through this Tx, in order; the service turns them into events."""

    def in_project(self, project_id: int) -> Tx:
        """This transaction, seeing only the rows of the project ``project_id`` (its changes
        are this Tx's: the service turns them into events at the end of the transaction)."""
        if project_id == self.project_id:
            return self
        scoped = Tx(self._conn, project_id)
        scoped.changes = self.changes
        return scoped

    @property
    def executor(self) -> Executor:
        """Where this transaction's statements run (for the query modules beside this one:
        events, projects, tokens)."""
        return self._conn

    async def _execute(
        self, stmt: Any, kind: EntityKind, values: Mapping[str, Any], params: Any = None
    ) -> Any:
        try:
            return await self._conn.execute(stmt, params)
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(_conflict_message(exc, kind, values)) from None
            if "foreign key" in str(exc.orig).lower():
                # An entity row's one foreign key is its project: deleted meanwhile.
                raise NotFound("project not found (deleted meanwhile)") from None
            raise

    async def insert(
        self, kind: EntityKind, values: Mapping[str, Any], props: Iterable[Mapping[str, Any]]
    ) -> int:
        """Insert an entity row and its custom properties; return the new id.

        Raises:
            Conflict: The name or external id is taken.
        """
        row = _new_row(kind, values, self.project_id)
        stmt = insert_statement(kind.table, whole_row=False)
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
        row = _new_row(kind, values, self.project_id)
        stored = first_dict(
            await self._execute(insert_statement(kind.table, whole_row=True), kind, row, row)
        )
        assert stored is not None  # RETURNING of a single-row INSERT yields that row
        new_id = int(stored["id"])
        rows = list(props)
        await self._write_props(kind, new_id, rows)
        record = Record(stored, await self._read_props(kind, new_id) if rows else [])
        self.changes.append(Change(kind, "created", new_id, record))
        return record

    async def _read_props(self, kind: EntityKind, owner_id: int) -> list[dict[str, Any]]:
        stmt = props_statement(kind.table)
        return dicts(await self._conn.execute(stmt, {"owner_id": owner_id}))

    async def _write_props(
        self, kind: EntityKind, owner_id: int, props: Iterable[Mapping[str, Any]]
    ) -> None:
        rows = [{**p, "owner_id": owner_id} for p in props]
        if rows:
            await self._conn.execute(PROPS_INSERTS[kind.table], rows)

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
        changed: dict[str, Any] = {**values, "update_time": new_time}
        if table is contexts:
            # The kept answer is stale from here on: whatever the rest of the transaction
            # does, no page splices it (the service keeps a new one before the commit).
            changed.update(wire=None, wire_pb=None, wire_version=None)
        await self._execute(
            update(table)
            .where(table.c.id == entity_id, table.c.project_id == self.project_id)
            .values(changed),
            kind,
            values,
        )
        if props is not None:
            ptable = PROPERTY_TABLES[kind.table]
            await self._conn.execute(delete(ptable).where(ptable.c.owner_id == entity_id))
            await self._write_props(kind, entity_id, props)
        self.changes.append(Change(kind, "updated", entity_id))

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
        keys, rows = await self._rows(
            get_statement(kinds), {"entity_id": entity_id, "project_id": self.project_id}
        )
        if not rows:
            return None
        width, prop_keys, name_at = get_layout(kinds[0].table, keys)
        values = dict(zip(keys[:width], rows[0][:width], strict=True))
        # The property name is part of the key: NULL only on the outer join's empty side.
        props = [
            dict(zip(prop_keys, row[width:], strict=True))
            for row in rows
            if row[name_at] is not None
        ]
        record = Record(values, props)
        if values["kind"] in ALIAS_OWNER_COLUMNS:
            await self._attach_aliases(str(values["kind"]), [record])
        return record

    async def exists(self, kind: EntityKind, entity_id: int) -> bool:
        """Whether an entity of ``kind`` has this id."""
        _keys, rows = await self._rows(
            exists_statement(kind), {"entity_id": entity_id, "project_id": self.project_id}
        )
        return bool(rows)

    def _scoped(self, kinds: Sequence[EntityKind], scope: Scope) -> Select[Any]:
        return scoped_statement(kinds, scope, self.project_id)

    async def find(self, kinds: Sequence[EntityKind], scope: Scope) -> Record | None:
        """Return the first entity (lowest id) in ``scope``, or None."""
        table = TABLES[kinds[0].table]
        stmt = self._scoped(kinds, scope).order_by(table.c.id).limit(1)
        row = first_dict(await self._conn.execute(stmt))
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
        stmt = page_statement(kinds, scope, filter_query, page, self.project_id)
        rows = dicts(await self._conn.execute(stmt))
        on_page, token = finish_page(rows, page, ORDER_VALUE[page.order_by], lambda r: r["id"])
        return await self._with_props(kinds[0], on_page), token

    async def list_page_wire(
        self,
        kinds: Sequence[EntityKind],
        scope: Scope,
        filter_query: str | None,
        page: PageRequest,
        *,
        version: int,
        render: Callable[[Record], W],
        message: bool = False,
        aliases: bool = False,
    ) -> WirePage[W]:
        """One page of context rows as their kept answers (``contexts.wire``, or with
        ``message`` ``contexts.wire_pb``), for a list answer spliced from them: no object per
        row (bench/README.md, issue 24).

        The page's query selects the kept answer (NULL unless made by ``version``), the id and
        the order value, and nothing else (on PostgreSQL also the aliases, when asked). A row
        without a kept answer of this version (made before answers were kept, or by another
        rendering) is read as a record, with ONE query for all such rows of the page, and
        rendered by ``render``.

        Args:
            kinds: One kind of the ``contexts`` table.
            scope: As :meth:`list_page`.
            filter_query: As :meth:`list_page`.
            page: As :meth:`list_page`.
            version: The version of the rendering whose kept answers may be spliced.
            render: The answer of a record (the service's rendering, aliases left out).
            message: Read the serialized gRPC messages rather than the JSON texts.
            aliases: Read the aliases of the page's versions or models too
                (:attr:`WirePage.aliases`): on PostgreSQL in the page's statement, on SQLite
                (no round trip to save) in one more.

        Raises:
            FilterError: The filter does not parse or names a field with a wrong literal.
            PageTokenError: The page token is malformed.
        """
        kind = kinds[0]
        table = TABLES[kind.table]
        assert table is contexts, "only context rows keep their answer"
        order_col = {
            "ID": table.c.id,
            "CREATE_TIME": table.c.create_time,
            "LAST_UPDATE_TIME": table.c.update_time,
            "NAME": table.c.name,
        }[page.order_by]
        column = table.c.wire_pb if message else table.c.wire
        kept = case((table.c.wire_version == version, column), else_=None)
        aliases = aliases and kind.kind in ALIAS_OWNER_COLUMNS
        sqlite = isinstance(self._conn, SyncExecutor)
        columns = [kept, table.c.id, order_col]
        if aliases and not sqlite:
            columns += pg_row_aliases_columns(kind.kind)
        stmt = page_statement(kinds, scope, filter_query, page, self.project_id)
        result = await self._conn.execute(stmt.with_only_columns(*columns))
        # The driver's rows (sqlite3 tuples, asyncpg records) straight from its cursor: on a
        # page of 1,000 SQLAlchemy's row objects cost several times the query (bench/README.md).
        rows = result.cursor.fetchall()
        result.close()
        value_of = _ROW_ORDER_VALUE[page.order_by == "NAME"]
        on_page, token = finish_page(rows, page, value_of, lambda r: int(r[1]))
        answers: list[W] = [r[0] for r in on_page]
        ids = [int(r[1]) for r in on_page]
        missing = [i for i, answer in zip(ids, answers, strict=True) if answer is None]
        if missing:
            rendered = {r.id: render(r) for r in await self._records_by_id(kind, scope, missing)}
            # A row gone since the page's statement (another snapshot, another statement) is
            # left out, as if the page had been read a moment later.
            kept_rows = [
                (r, a if a is not None else rendered.get(i))
                for r, i, a in zip(on_page, ids, answers, strict=True)
            ]
            on_page = [r for r, a in kept_rows if a is not None]
            answers = [a for _r, a in kept_rows if a is not None]
            ids = [int(r[1]) for r in on_page]
        shown: dict[int, list[tuple[str, int]]] = {}
        if aliases and sqlite:
            shown = await self.aliases_of(kind.kind, ids)
        elif aliases:
            for r in on_page:
                if r[3] is not None:
                    ident = int(r[1])
                    # A version's aliases point to itself; a model's name their versions.
                    targets = [ident] * len(r[3]) if len(r) == 4 else r[4]
                    shown[ident] = list(zip(r[3], targets, strict=True))
        return WirePage(answers, ids, [value_of(r) for r in on_page], token, shown)

    async def _records_by_id(self, kind: EntityKind, scope: Scope, ids: list[int]) -> list[Record]:
        """The records of ``ids`` (of one kind, in ``scope``'s project), properties included."""
        table = TABLES[kind.table]
        stmt = self._scoped([kind], Scope(scope.kinds)).where(table.c.id.in_(ids))
        return await self._with_props(kind, dicts(await self._conn.execute(stmt)))

    async def aliases_of(self, kind: str, ids: list[int]) -> dict[int, list[tuple[str, int]]]:
        """The ``(alias, version id)`` pairs of model versions or registered models by id, in
        alias order, ONE query (see :meth:`_attach_aliases`); ids without aliases are absent."""
        by_owner: dict[int, list[tuple[str, int]]] = {}
        if not ids:
            return by_owner
        if isinstance(self._conn, SyncExecutor):  # SQLite
            found = self._conn.driver_execute(SQLITE_ALIASES_SQL[kind], (json.dumps(ids),))
        else:
            found = (await self._conn.execute(pg_aliases_statement(kind), {"ids": ids})).all()
        for owner, alias, version in found:
            by_owner.setdefault(int(owner), []).append((str(alias), int(version)))
        return by_owner

    async def keep_wire(self, kept: Sequence[tuple[int, str, bytes]], version: int) -> None:
        """Keep the answers of context rows: ``(id, JSON text, gRPC message)`` made by the
        rendering ``version``."""
        if kept:
            await self._conn.execute(
                KEEP_WIRE,
                [
                    {"b_id": i, "b_wire": text, "b_pb": message, "b_version": version}
                    for i, text, message in kept
                ],
            )

    async def finish_write(
        self,
        kept: Sequence[tuple[int, str, bytes]],
        version: int,
        rows: Sequence[Mapping[str, Any]],
    ) -> None:
        """The last statements of a write: keep the answers of its context rows (see
        :meth:`keep_wire`) and append its events (``store/events.py``).

        On PostgreSQL one statement does both (one round trip, where two would each cost
        more than the database's work); on SQLite the events wait for the end of the
        writer's batch.
        """
        if rows and kept and not isinstance(self._conn, SyncExecutor):
            await append_events(self._conn, rows, kept=kept, version=version)
            return
        await self.keep_wire(kept, version)
        await append_events(self._conn, rows)

    async def missing_wire(
        self, version: int, after: int, upto: int, batch: int
    ) -> list[tuple[int, str, int]]:
        """The context rows with ``after < id <= upto`` (any project) without an answer kept
        by the rendering ``version``: ``(id, kind, project id)``, at most ``batch``, by id."""
        result = await self._conn.execute(
            MISSING_WIRE, {"after": after, "upto": upto, "version": version, "batch": batch}
        )
        return [(int(i), str(k), int(p)) for i, k, p in result.all()]

    async def last_context_id(self) -> int:
        """The greatest id of the contexts table (0 when it is empty)."""
        return int((await self._conn.execute(LAST_CONTEXT_ID)).scalar_one())

    async def records_of(self, kind: EntityKind, ids: list[int]) -> list[Record]:
        """The records of ``ids`` of one kind in this Tx's project, properties and aliases
        included (one query each)."""
        return await self._records_by_id(kind, Scope((kind.kind,)), ids)

    async def fill_wire(self, filled: Sequence[tuple[int, int, str, bytes]], version: int) -> None:
        """Keep answers of rows read earlier: ``(id, update_time as read, JSON text, gRPC
        message)`` by the rendering ``version``; a row changed since it was read (or given an
        answer of this rendering meanwhile) is left as it is (see ``FILL_WIRE``)."""
        if filled:
            await self._conn.execute(
                FILL_WIRE,
                [
                    {"b_id": i, "b_time": t, "b_wire": text, "b_pb": pb, "b_version": version}
                    for i, t, text, pb in filled
                ],
            )

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
            found = self._conn.driver_dicts(SQLITE_PROPS_SQL[kind.table], (json.dumps(ids),))
        else:
            stmt = pg_props_statement(kind.table)
            found = dicts(await self._conn.execute(stmt, {"ids": ids}))
        for p in found:
            by_owner[p["owner_id"]].append(p)
        records = [Record(r, by_owner[r["id"]]) for r in rows]
        if kind.kind in ALIAS_OWNER_COLUMNS:
            await self._attach_aliases(kind.kind, records)
        return records

    async def _attach_aliases(self, kind: str, records: list[Record]) -> None:
        """Set the aliases of model versions or registered models, ONE query for them all.

        Like the properties, the ids go as one parameter, and the (version, alias) index or
        the (model, alias) key answers it: a page with aliases costs one indexed lookup more.
        """
        ids = [r.id for r in records]
        by_owner: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
        if isinstance(self._conn, SyncExecutor):  # SQLite
            found = self._conn.driver_dicts(SQLITE_ALIASES_SQL[kind], (json.dumps(ids),))
        else:
            found = dicts(await self._conn.execute(pg_aliases_statement(kind), {"ids": ids}))
        for row in found:
            by_owner[row["owner_id"]].append((row["alias"], int(row["model_version_id"])))
        for record in records:
            record.aliases = by_owner[record.id]

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
            .where(
                table.c.project_id == self.project_id,
                table.c.kind == kind.kind,
                table.c.parent_id == parent_id,
            )
            .order_by(table.c.create_time.desc(), table.c.id.desc())
            .limit(1)
        )
        row = first_dict(await self._conn.execute(stmt))
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
        stmt = newest_children_statement(kind)
        params = {"ids": list(dict.fromkeys(parent_ids)), "project_id": self.project_id}
        rows = dicts(await self._conn.execute(stmt, params))
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
            select(*columns_of(table, kinds), attributions.c.context_id.label("_context_id"))
            .select_from(table.join(attributions, attributions.c.artifact_id == table.c.id))
            .where(
                attributions.c.context_id.in_(list(dict.fromkeys(context_ids))),
                table.c.project_id == self.project_id,
                kind_condition(table, [k.kind for k in kinds]),
            )
            .order_by(attributions.c.context_id, table.c.id)
            .limit(limit)
        )
        rows = dicts(await self._conn.execute(stmt))
        contexts = [int(r.pop("_context_id")) for r in rows]
        records = await self._with_props(kinds[0], rows)
        return list(zip(contexts, records, strict=True))

    # -- locks: a write that depends on a row holds it until it commits ----------------------

    async def lock(self, kind: EntityKind, entity_id: int, *, exclusive: bool = False) -> bool:
        """Lock the entity's row for the rest of the transaction; whether it exists.

        PostgreSQL: ``FOR SHARE`` (a write depending on the row: a child's create, a link, a
        reference) or ``FOR UPDATE`` (``exclusive``: a delete). A delete and a write under
        the entity so wait for each other, and the second sees what the first committed.
        SQLite runs one write transaction at a time: the plain read is enough.
        """
        table = TABLES[kind.table]
        stmt = select(table.c.id).where(
            table.c.id == entity_id,
            table.c.project_id == self.project_id,
            table.c.kind == kind.kind,
        )
        if self._conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update(read=not exclusive)
        return (await self._conn.execute(stmt)).first() is not None

    async def lock_children(self, kind: EntityKind, parent_ids: Sequence[int]) -> list[int]:
        """Lock (``FOR UPDATE``) and return the ids of the children of ``kind`` under
        ``parent_ids``, in id order."""
        if not parent_ids:
            return []
        table = TABLES[kind.table]
        stmt = (
            select(table.c.id)
            .where(
                table.c.project_id == self.project_id,
                table.c.kind == kind.kind,
                table.c.parent_id.in_(list(parent_ids)),
            )
            .order_by(table.c.id)
        )
        if self._conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        return [int(row[0]) for row in (await self._conn.execute(stmt)).all()]

    # -- aliases --------------------------------------------------------------------------

    async def set_alias(self, model_id: int, alias: str, version_id: int) -> None:
        """Point ``alias`` of a registered model at a version (create or move), one statement."""
        dialect_insert = sqlite_insert if self._conn.dialect.name == "sqlite" else pg_insert
        stmt = dialect_insert(model_version_aliases).values(
            registered_model_id=model_id, alias=alias, model_version_id=version_id
        )
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[
                    model_version_aliases.c.registered_model_id,
                    model_version_aliases.c.alias,
                ],
                set_={"model_version_id": stmt.excluded.model_version_id},
            )
        )

    async def delete_alias(self, model_id: int, alias: str) -> bool:
        """Remove an alias; whether it was set."""
        a = model_version_aliases
        result = await self._conn.execute(
            delete(a).where(a.c.registered_model_id == model_id, a.c.alias == alias)
        )
        return bool(result.rowcount)

    async def alias_target(self, model_id: int, alias: str) -> int | None:
        """The version id an alias of a registered model points at, or None."""
        a = model_version_aliases
        stmt = select(a.c.model_version_id).where(
            a.c.registered_model_id == model_id, a.c.alias == alias
        )
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else int(row[0])

    async def aliases_on(self, version_ids: Sequence[int]) -> list[tuple[str, int, int]]:
        """The ``(alias, version id, registered model id)`` of the aliases pointing at any of
        ``version_ids``."""
        if not version_ids:
            return []
        a = model_version_aliases
        stmt = (
            select(a.c.alias, a.c.model_version_id, a.c.registered_model_id)
            .where(a.c.model_version_id.in_(list(version_ids)))
            .order_by(a.c.model_version_id, a.c.alias)
        )
        return [(str(r[0]), int(r[1]), int(r[2])) for r in await self._all(stmt)]

    # -- what a delete removes, and what stands in its way ---------------------------------

    async def linked_artifact_ids(self, context_ids: Sequence[int]) -> list[int]:
        """The ids of the artifacts linked to any of ``context_ids``."""
        if not context_ids:
            return []
        stmt = (
            select(attributions.c.artifact_id)
            .where(attributions.c.context_id.in_(list(context_ids)))
            .distinct()
            .order_by(attributions.c.artifact_id)
        )
        return [int(r[0]) for r in (await self._conn.execute(stmt)).all()]

    async def linked_elsewhere(
        self, artifact_ids: Sequence[int], context_ids: Sequence[int]
    ) -> set[int]:
        """Those of ``artifact_ids`` also linked to a context not in ``context_ids``."""
        if not artifact_ids:
            return set()
        stmt = select(attributions.c.artifact_id).where(
            attributions.c.artifact_id.in_(list(artifact_ids)),
            attributions.c.context_id.not_in(list(context_ids) or [0]),
        )
        return {int(r[0]) for r in (await self._conn.execute(stmt)).all()}

    async def serving_references(
        self, model_ids: Sequence[int], version_ids: Sequence[int]
    ) -> list[tuple[str, int]]:
        """The inference services and serve models pointing at any of these registered models
        or model versions: ``(kind, id)`` pairs in id order."""
        found: list[tuple[str, int]] = []
        c = contexts
        conditions = []
        if model_ids:
            conditions.append(c.c.registered_model_id.in_(list(model_ids)))
        if version_ids:
            conditions.append(c.c.model_version_id.in_(list(version_ids)))
        if conditions:
            stmt = (
                select(c.c.id)
                .where(
                    c.c.project_id == self.project_id,
                    c.c.kind == "inference-service",
                    or_(*conditions),
                )
                .order_by(c.c.id)
            )
            found += [("inference-service", int(r[0])) for r in await self._all(stmt)]
        if version_ids:
            e = executions
            stmt = (
                select(e.c.id)
                .where(
                    e.c.project_id == self.project_id,
                    e.c.kind == "serve-model",
                    e.c.model_version_id.in_(list(version_ids)),
                )
                .order_by(e.c.id)
            )
            found += [("serve-model", int(r[0])) for r in await self._all(stmt)]
        return found

    async def dataset_references(self, artifact_ids: Sequence[int]) -> list[int]:
        """The artifacts whose ``dataset_id`` custom property names one of ``artifact_ids``
        (predictions made on a dataset), in id order."""
        if not artifact_ids:
            return []
        p = artifacts_properties
        stmt = (
            select(p.c.owner_id)
            .where(
                p.c.name == "dataset_id",
                p.c.string_value.in_([str(i) for i in artifact_ids]),
                # Only this project's artifacts: another project's are none of its business.
                p.c.owner_id.in_(
                    select(artifacts.c.id).where(artifacts.c.project_id == self.project_id)
                ),
            )
            .order_by(p.c.owner_id)
        )
        return [int(r[0]) for r in await self._all(stmt)]

    async def count_metric_history(self, run_ids: Sequence[int]) -> int:
        """How many metric-history rows the runs have."""
        if not run_ids:
            return 0
        m = metric_history
        stmt = select(func.count()).select_from(m).where(m.c.parent_id.in_(list(run_ids)))
        return int((await self._conn.execute(stmt)).scalar_one())

    async def artifact_kinds(self, ids: Sequence[int]) -> list[tuple[int, str]]:
        """``(id, kind)`` of these artifacts, in id order."""
        return await self._kinds("artifacts", ids)

    async def context_kinds(self, ids: Sequence[int]) -> list[tuple[int, str]]:
        """``(id, kind)`` of these contexts, in id order."""
        return await self._kinds("contexts", ids)

    async def _kinds(self, table_name: str, ids: Sequence[int]) -> list[tuple[int, str]]:
        if not ids:
            return []
        table = TABLES[table_name]
        stmt = (
            select(table.c.id, table.c.kind)
            .where(table.c.id.in_(list(ids)), table.c.project_id == self.project_id)
            .order_by(table.c.id)
        )
        return [(int(r[0]), str(r[1])) for r in await self._all(stmt)]

    async def delete_rows(self, table_name: str, ids: Sequence[int]) -> None:
        """Delete rows of an entity table by id (their properties, links and aliases go with
        them: the foreign keys cascade)."""
        if ids:
            table = TABLES[table_name]
            await self._conn.execute(
                delete(table).where(
                    table.c.id.in_(list(ids)), table.c.project_id == self.project_id
                )
            )

    async def delete_metric_history(self, run_ids: Sequence[int]) -> None:
        """Delete the metric history of runs."""
        if run_ids:
            m = metric_history
            await self._conn.execute(delete(m).where(m.c.parent_id.in_(list(run_ids))))

    async def _all(self, stmt: Any) -> Sequence[Any]:
        return (await self._conn.execute(stmt)).all()  # type: ignore[no-any-return]

    async def count(self, kind: EntityKind) -> int:
        """How many entities of ``kind`` exist (for tests and diagnostics)."""
        table = TABLES[kind.table]
        stmt = (
            select(func.count())
            .select_from(table)
            .where(table.c.project_id == self.project_id, table.c.kind == kind.kind)
        )
        return int((await self._conn.execute(stmt)).scalar_one())


def _new_row(kind: EntityKind, values: Mapping[str, Any], project_id: int) -> dict[str, Any]:
    """The full column values of a new entity row: project, kind, parent 0 and the times."""
    row = {"parent_id": 0, **values, "kind": kind.kind, "project_id": project_id}
    row.setdefault("create_time", now_ms())
    row.setdefault("update_time", row["create_time"])
    return row


def _conflict_message(exc: IntegrityError, kind: EntityKind, values: Mapping[str, Any]) -> str:
    if "external_id" in str(exc.orig).lower():
        return f"externalId {values.get('external_id')!r} is already used by another entity"
    where = f" in parent {values['parent_id']}" if values.get("parent_id") else ""
    return f"a {kind.label} named {values.get('name')!r} already exists{where}"


_ROW_ORDER_VALUE: tuple[Callable[[Sequence[Any]], OrderValue], ...] = (
    lambda r: int(r[2]),
    lambda r: None if r[2] is None else str(r[2]),
)
"""A kept-answer row's order value (its third column): an int, or for NAME the name."""

ORDER_VALUE: Mapping[str, Callable[[Mapping[str, Any]], OrderValue]] = {
    "ID": lambda r: int(r["id"]),
    "CREATE_TIME": lambda r: int(r["create_time"]),
    "LAST_UPDATE_TIME": lambda r: int(r["update_time"]),
    "NAME": lambda r: None if r["name"] is None else str(r["name"]),
}
"""A stored row's value of each ordering (its page token's position)."""


WriteBody = Callable[[Tx], Coroutine[Any, Any, T]]
"""A write transaction's body: takes the :class:`Tx`, awaits only its queries."""
