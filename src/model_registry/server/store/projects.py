"""The queries of projects and tokens (the store's access tables).

Projects and tokens are not entities of a project: these queries see every row and run on
the :attr:`Tx.executor <model_registry.server.store.queries.Tx.executor>` of a transaction.
The service decides who may call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from model_registry.server.errors import Conflict
from model_registry.server.paging import PageRequest
from model_registry.server.store.executor import Executor, dicts, first_dict
from model_registry.server.store.keyset import apply_page, finish_page
from model_registry.server.store.queries import ORDER_VALUE
from model_registry.server.store.schema import (
    TABLES,
    events,
    projects,
    projects_properties,
    token_roles,
    tokens,
)


@dataclass
class ProjectRow:
    """One stored project.

    Attributes:
        values: Column name to value.
        properties: Custom-property rows, in name order.
    """

    values: dict[str, Any]
    properties: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> int:
        """The internal id (never on the wire: the public id is ``uuid``)."""
        return int(self.values["id"])


@dataclass(frozen=True)
class TokenRow:
    """One stored token (never its secret).

    Attributes:
        id: The token id.
        subject: Who the token was issued to.
        create_time: Creation time (ms since the epoch).
        expires_time: Expiry (ms since the epoch), or None for never.
        revoked: Whether the token was revoked.
        roles: ``(project id, role)`` in the order they were given.
    """

    id: int
    subject: str
    create_time: int
    expires_time: int | None
    revoked: bool
    roles: tuple[tuple[int, str], ...]


def _conflict(exc: IntegrityError) -> Conflict | None:
    text_ = str(exc.orig).lower()
    if "unique" not in text_ and "duplicate" not in text_:
        return None
    if "external_id" in text_:
        return Conflict("a project with this externalId already exists")
    return Conflict("a project with this name already exists")


async def insert_project(
    conn: Executor, values: Mapping[str, Any], props: Iterable[Mapping[str, Any]]
) -> int:
    """Insert a project and its custom properties; return its internal id.

    Raises:
        Conflict: The name or external id is taken.
    """
    try:
        result = await conn.execute(insert(projects).returning(projects.c.id), dict(values))
    except IntegrityError as exc:
        conflict = _conflict(exc)
        if conflict is None:
            raise
        raise conflict from None
    new_id = int(result.scalar_one())
    await _write_props(conn, new_id, props)
    return new_id


async def _write_props(conn: Executor, owner: int, props: Iterable[Mapping[str, Any]]) -> None:
    rows = [{**p, "owner_id": owner} for p in props]
    if rows:
        await conn.execute(insert(projects_properties), rows)


async def update_project(
    conn: Executor,
    project_id: int,
    values: Mapping[str, Any],
    props: Iterable[Mapping[str, Any]] | None,
    *,
    old_name: str | None = None,
) -> None:
    """Update a project's columns and, when ``props`` is not None, replace its properties.

    A new name is carried over to the project's change events (they name their project), so
    its watchers keep them and a later project of the old name inherits none.

    Raises:
        Conflict: The new name or external id is taken.
    """
    try:
        await conn.execute(update(projects).where(projects.c.id == project_id).values(**values))
    except IntegrityError as exc:
        conflict = _conflict(exc)
        if conflict is None:
            raise
        raise conflict from None
    new_name = values.get("name")
    if old_name is not None and new_name is not None and new_name != old_name:
        await conn.execute(
            update(events).where(events.c.project == old_name).values(project=new_name)
        )
    if props is not None:
        await conn.execute(
            delete(projects_properties).where(projects_properties.c.owner_id == project_id)
        )
        await _write_props(conn, project_id, props)


async def _with_props(conn: Executor, rows: list[dict[str, Any]]) -> list[ProjectRow]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    found = dicts(
        await conn.execute(
            select(projects_properties)
            .where(projects_properties.c.owner_id.in_(ids))
            .order_by(projects_properties.c.owner_id, projects_properties.c.name)
        )
    )
    by_owner: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for p in found:
        by_owner[p["owner_id"]].append(p)
    return [ProjectRow(r, by_owner[r["id"]]) for r in rows]


async def find_project(conn: Executor, **where: Any) -> ProjectRow | None:
    """The project whose columns equal ``where`` (``id``, ``uuid``, ``name``, ``external_id``)."""
    stmt = select(projects).where(*(projects.c[k] == v for k, v in where.items())).limit(1)
    row = first_dict(await conn.execute(stmt))
    if row is None:
        return None
    return (await _with_props(conn, [row]))[0]


async def list_projects(
    conn: Executor, page: PageRequest, only: Sequence[int] | None
) -> tuple[list[ProjectRow], str]:
    """One page of projects (``only`` these internal ids, when given)."""
    stmt = select(projects)
    if only is not None:
        stmt = stmt.where(projects.c.id.in_(list(only)))
    order_col = {
        "ID": projects.c.id,
        "CREATE_TIME": projects.c.create_time,
        "LAST_UPDATE_TIME": projects.c.update_time,
        "NAME": projects.c.name,
    }[page.order_by]
    rows = dicts(await conn.execute(apply_page(stmt, order_col, projects.c.id, page)))
    on_page, token = finish_page(rows, page, ORDER_VALUE[page.order_by], lambda r: r["id"])
    return await _with_props(conn, on_page), token


async def insert_token(
    conn: Executor,
    *,
    subject: str,
    secret_hash: str,
    create_time: int,
    expires_time: int | None,
    roles: Sequence[tuple[int, str]],
) -> int:
    """Store a new token (its hash) and its roles; return its id."""
    result = await conn.execute(
        insert(tokens).returning(tokens.c.id),
        {
            "subject": subject,
            "secret_hash": secret_hash,
            "create_time": create_time,
            "expires_time": expires_time,
            "revoked": False,
        },
    )
    token_id = int(result.scalar_one())
    await conn.execute(
        insert(token_roles),
        [
            {"token_id": token_id, "project_id": p, "role": r, "position": i}
            for i, (p, r) in enumerate(roles)
        ],
    )
    return token_id


async def _tokens_with_roles(conn: Executor, rows: list[dict[str, Any]]) -> list[TokenRow]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    found = dicts(
        await conn.execute(
            select(token_roles)
            .where(token_roles.c.token_id.in_(ids))
            .order_by(token_roles.c.token_id, token_roles.c.position)
        )
    )
    roles: dict[int, list[tuple[int, str]]] = {i: [] for i in ids}
    for r in found:
        roles[r["token_id"]].append((int(r["project_id"]), str(r["role"])))
    return [
        TokenRow(
            id=int(r["id"]),
            subject=str(r["subject"]),
            create_time=int(r["create_time"]),
            expires_time=None if r["expires_time"] is None else int(r["expires_time"]),
            revoked=bool(r["revoked"]),
            roles=tuple(roles[r["id"]]),
        )
        for r in rows
    ]


_TOKEN_COLUMNS = (
    tokens.c.id,
    tokens.c.subject,
    tokens.c.create_time,
    tokens.c.expires_time,
    tokens.c.revoked,
)


async def token_by_hash(conn: Executor, secret_hash: str) -> TokenRow | None:
    """The token whose secret hashes to ``secret_hash`` (revoked or not), or None."""
    stmt = select(*_TOKEN_COLUMNS).where(tokens.c.secret_hash == secret_hash)
    found = await _tokens_with_roles(conn, dicts(await conn.execute(stmt)))
    return found[0] if found else None


async def token_by_id(conn: Executor, token_id: int) -> TokenRow | None:
    """The token with this id, or None."""
    stmt = select(*_TOKEN_COLUMNS).where(tokens.c.id == token_id)
    found = await _tokens_with_roles(conn, dicts(await conn.execute(stmt)))
    return found[0] if found else None


async def list_tokens(conn: Executor, page: PageRequest) -> tuple[list[TokenRow], str]:
    """One page of the tokens that are not revoked, by id."""
    stmt = select(*_TOKEN_COLUMNS).where(tokens.c.revoked.is_(False))
    rows = dicts(await conn.execute(apply_page(stmt, tokens.c.id, tokens.c.id, page)))
    on_page, token = finish_page(rows, page, lambda r: int(r["id"]), lambda r: r["id"])
    return await _tokens_with_roles(conn, on_page), token


async def revoke_token(conn: Executor, token_id: int) -> None:
    """Mark a token revoked."""
    await conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked=True))


async def project_names(conn: Executor, ids: Iterable[int]) -> dict[int, str]:
    """The names of the projects with these internal ids."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = dicts(
        await conn.execute(select(projects.c.id, projects.c.name).where(projects.c.id.in_(wanted)))
    )
    return {int(r["id"]): str(r["name"]) for r in rows}


async def project_contents(conn: Executor, project_id: int) -> dict[tuple[str, str], int]:
    """How many rows of each ``(entity table, kind)`` the project holds (none: empty)."""
    out: dict[tuple[str, str], int] = {}
    for name, table in TABLES.items():
        stmt = (
            select(table.c.kind, func.count())
            .where(table.c.project_id == project_id)
            .group_by(table.c.kind)
            .order_by(table.c.kind)
        )
        for kind, count in (await conn.execute(stmt)).all():
            out[(name, str(kind))] = int(count)
    return out


async def delete_project(conn: Executor, project_id: int, name: str) -> None:
    """Delete a project with everything in it, in the caller's transaction: its entities
    (their properties, links and aliases go with them: the foreign keys cascade), its change
    events (a later project of the same name must not inherit them), its roles, and the
    tokens left with no role.

    Raises:
        Conflict: A row was added to the project meanwhile (PostgreSQL: its foreign key).
    """
    # Locked first: a write that added to the project after this is refused by the foreign
    # key below rather than left pointing at nothing.
    await conn.execute(select(projects.c.id).where(projects.c.id == project_id).with_for_update())
    holders = select(token_roles.c.token_id).where(token_roles.c.project_id == project_id)
    held = [int(r[0]) for r in (await conn.execute(holders)).all()]
    await conn.execute(delete(token_roles).where(token_roles.c.project_id == project_id))
    if held:
        still = select(token_roles.c.token_id).where(token_roles.c.token_id.in_(held))
        kept = {int(r[0]) for r in (await conn.execute(still)).all()}
        orphans = [t for t in held if t not in kept]
        if orphans:
            await conn.execute(update(tokens).where(tokens.c.id.in_(orphans)).values(revoked=True))
    for table in TABLES.values():
        await conn.execute(delete(table).where(table.c.project_id == project_id))
    await conn.execute(delete(events).where(events.c.project == name))
    try:
        await conn.execute(delete(projects).where(projects.c.id == project_id))
    except IntegrityError:
        raise Conflict(
            f"project {name!r} was written to while it was being deleted; try again"
        ) from None
