"""The statements of the store's queries, built once per entity kind and kept.

Building a statement costs about 100 µs per call, and SQLAlchemy's compiled cache only skips the
compilation, not the building: the hot statements (get, exists, insert, property rows) are built
once per kind and take their values as bound parameters. The list statements are built per
request from a :class:`Scope`, a ``filterQuery`` (compiled by :mod:`.filters`) and a page
request (:mod:`.keyset`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from model_registry.server.entities import ARTIFACT_UNION_FIELDS, KINDS, EntityKind, Field
from model_registry.server.filtering import FieldKind, ValueType
from model_registry.server.paging import PageRequest
from model_registry.server.store.filters import KnownField, build_filter
from model_registry.server.store.keyset import apply_page
from model_registry.server.store.schema import (
    PROPERTY_TABLES,
    TABLES,
    attributions,
    contexts,
    model_version_aliases,
)


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

    def __init__(
        self, table: Table, fields: Mapping[str, Field], *, artifact: bool, aliases: bool = False
    ) -> None:
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
        if aliases:
            a = model_version_aliases

            def has_alias(condition: ColumnElement[bool]) -> ColumnElement[bool]:
                return exists(
                    select(literal(1)).where(a.c.model_version_id == table.c.id, condition)
                )

            self._known["alias"] = KnownField(a.c.alias, "str", related=has_alias)
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

    def custom_row(
        self,
        name: str,
        value_type: ValueType,
        condition: Any,
    ) -> ColumnElement[bool]:
        p = self._props
        return and_(p.c.name == name, condition(p.c[value_type]))

    def custom_all(self, rows: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        # One pass over the entity's property rows; each comparison is one aggregate that is 1
        # when some row meets it. Grouped, the subquery is never turned into joins, so its cost
        # (to plan and to run) grows with the number of comparisons, not faster.
        p = self._props
        met = [func.max(case((row, 1), else_=0)) == 1 for row in rows]
        return exists(
            select(literal(1))
            .where(p.c.owner_id == self._table.c.id)
            .group_by(p.c.owner_id)
            .having(and_(*met))
        )


_RESOLVERS: dict[tuple[str, tuple[str, ...]], _Resolver] = {}


def _resolver(table: Table, kinds: Sequence[EntityKind]) -> _Resolver:
    key = (str(table.name), tuple(k.kind for k in kinds))
    found = _RESOLVERS.get(key)
    if found is None:
        fields = kinds[0].by_wire if len(kinds) == 1 else ARTIFACT_UNION_FIELDS
        found = _Resolver(
            table,
            fields,
            artifact=kinds[0].is_artifact,
            aliases=key[1] == (MODEL_VERSION_KIND,),
        )
        _RESOLVERS[key] = found
    return found


MODEL_VERSION_KIND = "model-version"
"""The kind whose rows carry aliases (``filterQuery`` may name ``alias``)."""

_GET_STATEMENTS: dict[tuple[str, ...], Select[Any]] = {}
_EXISTS_STATEMENTS: dict[str, Select[Any]] = {}
_PROPS_STATEMENTS: dict[str, Select[Any]] = {}
_PROPERTY_PREFIX = "property_"

# The hot statements are built once and take their values as bound parameters: building a
# statement costs about 100 µs per call, and SQLAlchemy's compiled cache only skips the
# compilation, not the building.


def get_statement(kinds: Sequence[EntityKind]) -> Select[Any]:
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
            .where(
                table.c.id == bindparam("entity_id"),
                table.c.project_id == bindparam("project_id"),
                kind_condition(table, key),
            )
            .order_by(ptable.c.name)
        )
        _GET_STATEMENTS[key] = stmt
    return stmt


_GET_LAYOUTS: dict[tuple[str, tuple[str, ...]], tuple[int, tuple[str, ...], int]] = {}


def get_layout(table_name: str, keys: tuple[str, ...]) -> tuple[int, tuple[str, ...], int]:
    """Where a get's row splits: entity column count, property keys, the property name's index."""
    layout = _GET_LAYOUTS.get((table_name, keys))
    if layout is None:
        width = len(TABLES[table_name].c)
        prop_keys = tuple(k[len(_PROPERTY_PREFIX) :] for k in keys[width:])
        layout = (width, prop_keys, width + prop_keys.index("name"))
        _GET_LAYOUTS[(table_name, keys)] = layout
    return layout


def exists_statement(kind: EntityKind) -> Select[Any]:
    """SELECT the id of an entity of ``kind`` by id (bound as ``entity_id``)."""
    stmt = _EXISTS_STATEMENTS.get(kind.kind)
    if stmt is None:
        table = TABLES[kind.table]
        stmt = select(table.c.id).where(
            table.c.id == bindparam("entity_id"),
            table.c.project_id == bindparam("project_id"),
            table.c.kind == kind.kind,
        )
        _EXISTS_STATEMENTS[kind.kind] = stmt
    return stmt


def kind_condition(table: Table, kinds: Sequence[str]) -> ColumnElement[bool]:
    """``kind`` is one of ``kinds``, without an expanding ``IN`` (re-rendered per execution)."""
    if len(kinds) == 1:
        return table.c.kind == kinds[0]
    return or_(*(table.c.kind == k for k in kinds))


_INSERT_STATEMENTS: dict[tuple[str, bool], Any] = {}


def insert_statement(table_name: str, *, whole_row: bool) -> Any:
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


PROPS_INSERTS = {name: insert(table) for name, table in PROPERTY_TABLES.items()}

KEEP_WIRE = (
    update(contexts)
    .where(contexts.c.id == bindparam("b_id"))
    .values(
        wire=bindparam("b_wire"), wire_pb=bindparam("b_pb"), wire_version=bindparam("b_version")
    )
)
"""Keep context rows' answers (``b_id``, ``b_wire``, ``b_pb``, ``b_version``; executemany)."""

FILL_WIRE = KEEP_WIRE.where(
    contexts.c.update_time == bindparam("b_time"),
    or_(contexts.c.wire_version.is_(None), contexts.c.wire_version != bindparam("b_version")),
)
"""Keep the answer of a context row read earlier (the backfill), only if the row is still as
read: its ``update_time`` unchanged (every update moves it, and clears the kept answer, in the
same statement) and no answer of this rendering kept meanwhile (``b_time`` too)."""

MISSING_WIRE = (
    select(contexts.c.id, contexts.c.kind, contexts.c.project_id)
    .where(
        contexts.c.id > bindparam("after"),
        contexts.c.id <= bindparam("upto"),
        or_(contexts.c.wire_version.is_(None), contexts.c.wire_version != bindparam("version")),
    )
    .order_by(contexts.c.id)
    .limit(bindparam("batch"))
)
"""The context rows (id, kind, project) with ``after < id <= upto`` without an answer kept by
the rendering ``version``, at most ``batch``, by id. No index finds them: the id window bounds
the rows one statement looks at."""

LAST_CONTEXT_ID = select(func.coalesce(func.max(contexts.c.id), 0))
"""The greatest id of the contexts table (0 when empty)."""


def props_statement(table_name: str) -> Select[Any]:
    """SELECT the property rows of one owner (bound as ``owner_id``) in name order."""
    stmt = _PROPS_STATEMENTS.get(table_name)
    if stmt is None:
        ptable = PROPERTY_TABLES[table_name]
        stmt = (
            select(ptable).where(ptable.c.owner_id == bindparam("owner_id")).order_by(ptable.c.name)
        )
        _PROPS_STATEMENTS[table_name] = stmt
    return stmt


SQLITE_PROPS_SQL = {
    name: (
        f"SELECT {', '.join(c.name for c in table.c)} FROM {table.name} "
        "WHERE owner_id IN (SELECT value FROM json_each(?)) ORDER BY owner_id, name"
    )
    for name, table in PROPERTY_TABLES.items()
}
"""The property rows of a page's owners, given as a JSON array (SQLite)."""

_PG_PROPS_STATEMENTS: dict[str, Select[Any]] = {}


def pg_props_statement(table_name: str) -> Select[Any]:
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


def columns_of(table: Table, kinds: Sequence[EntityKind]) -> tuple[Any, ...]:
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


def scoped_statement(kinds: Sequence[EntityKind], scope: Scope, project_id: int) -> Select[Any]:
    """SELECT the rows of ``kinds`` of the project ``project_id`` in ``scope`` (no ordering,
    no paging)."""
    table = TABLES[kinds[0].table]
    if scope.context_id is None:
        # The project comes first: it leads every paging index.
        stmt = select(*columns_of(table, kinds)).where(table.c.project_id == project_id)
    else:
        # A context's artifacts are reached from its attribution rows (below), and the context
        # is one of the project's: here the project is only a check on each row found, kept
        # from steering the planner to the project's index (a scan of the whole project).
        stmt = select(*columns_of(table, kinds)).where(table.c.project_id + 0 == project_id)
    kind_names = [k.kind for k in kinds]
    if len(kind_names) == 1 or set(kind_names) != _KINDS_BY_TABLE[str(table.name)]:
        stmt = stmt.where(kind_condition(table, kind_names))
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
    kinds: Sequence[EntityKind],
    scope: Scope,
    filter_query: str | None,
    page: PageRequest,
    project_id: int,
) -> Select[Any]:
    """The query of one list page: scope, filter, keyset condition, order and limit.

    Raises:
        FilterError: The filter does not parse or does not fit the fields.
        PageTokenError: The page token is malformed.
    """
    table = TABLES[kinds[0].table]
    stmt = scoped_statement(kinds, scope, project_id)
    condition = build_filter(filter_query, _resolver(table, kinds))
    if condition is not None:
        stmt = stmt.where(condition)
    order_col = {
        "ID": table.c.id,
        "CREATE_TIME": table.c.create_time,
        "LAST_UPDATE_TIME": table.c.update_time,
        "NAME": table.c.name,
    }[page.order_by]
    return apply_page(stmt, order_col, table.c.id, page)


_NEWEST_CHILDREN: dict[str, Select[Any]] = {}


def newest_children_statement(kind: EntityKind) -> Select[Any]:
    """SELECT the newest child of ``kind`` of each parent whose id is in ``ids`` (expanding)."""
    stmt = _NEWEST_CHILDREN.get(kind.kind)
    if stmt is None:
        assert kind.parent is not None, f"{kind.kind} has no parent"
        table = TABLES[kind.table]
        child = table.alias("child")
        parent = TABLES[KINDS[kind.parent.kind].table].alias("parent")
        newest = (
            select(child.c.id)
            .where(
                child.c.project_id == bindparam("project_id"),
                child.c.kind == kind.kind,
                child.c.parent_id == parent.c.id,
            )
            .order_by(child.c.create_time.desc(), child.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        of_parents = select(newest).where(
            parent.c.id.in_(bindparam("ids", expanding=True)),
            parent.c.project_id == bindparam("project_id"),
        )
        stmt = select(*columns_of(table, [kind])).where(table.c.id.in_(of_parents))
        _NEWEST_CHILDREN[kind.kind] = stmt
    return stmt


# -- aliases (our extension): a page's aliases in ONE statement, the ids as one parameter --

ALIAS_OWNER_COLUMNS = {
    "model-version": "model_version_id",
    "registered-model": "registered_model_id",
}
"""The kinds whose answers carry aliases, and the alias column naming their rows."""

SQLITE_ALIASES_SQL = {
    kind: (
        f"SELECT {column} AS owner_id, alias, model_version_id FROM model_version_aliases "
        f"WHERE {column} IN (SELECT value FROM json_each(?)) ORDER BY {column}, alias"
    )
    for kind, column in ALIAS_OWNER_COLUMNS.items()
}
"""The aliases of a page's versions or models, given as a JSON array (SQLite)."""

_PG_ALIASES: dict[str, Select[Any]] = {}


def pg_aliases_statement(kind: str) -> Select[Any]:
    """The aliases of a page's versions or models, given as one array parameter ``ids``."""
    stmt = _PG_ALIASES.get(kind)
    if stmt is None:
        a = model_version_aliases
        owner = a.c[ALIAS_OWNER_COLUMNS[kind]]
        built: Any = (
            select(owner.label("owner_id"), a.c.alias, a.c.model_version_id)
            .where(owner == any_(bindparam("ids", type_=ARRAY(Integer))))
            .order_by(owner, a.c.alias)
        )
        stmt = _PG_ALIASES[kind] = built
    return stmt


def pg_row_aliases_columns(kind: str) -> list[ColumnElement[Any]]:
    """Columns for a page of versions or models (PostgreSQL): each row's alias names, and for
    a model the versions they point to, as arrays in alias order (NULL without aliases).

    They ride on the page's own statement, so a page shown with its aliases is one statement
    (one round trip) rather than two; each is one probe of the alias key or index per row.
    """
    a = model_version_aliases
    owner = a.c[ALIAS_OWNER_COLUMNS[kind]]
    columns = [a.c.alias] if kind == "model-version" else [a.c.alias, a.c.model_version_id]
    return [
        select(func.array_agg(aggregate_order_by(column, a.c.alias)))
        .where(owner == contexts.c.id)
        .scalar_subquery()
        for column in columns
    ]
