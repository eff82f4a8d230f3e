"""The queries of the artifact content sweep: which stored content is in use, pinned or being
removed (table ``artifact_contents``; the protocol is described in
:mod:`model_registry.server.sweep`).

The table is not scoped to a project: the artifact store is one for the whole server, and the
same content uploaded in two projects is stored once, so whether a digest is still referenced
is asked of every project's artifacts.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from model_registry.server.store.executor import Executor
from model_registry.server.store.schema import (
    SHA256_PROPERTY_NAME,
    artifact_contents,
    artifacts_properties,
)

__all__ = [
    "adopt_contents",
    "claim_content",
    "content_digests",
    "forget_contents",
    "mark_unreferenced",
    "pin_content",
    "unmark_contents",
]

_c = artifact_contents
_p = artifacts_properties


async def pin_content(conn: Executor, sha256: str, now: int) -> bool:
    """Record that an upload is about to place ``sha256`` (insert its row, or refresh
    ``pinned``); False when a sweep is removing that content (the row is left as it is)."""
    dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    stmt = dialect_insert(_c).values(sha256=sha256, pinned=now)
    result = await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[_c.c.sha256],
            set_={"pinned": stmt.excluded.pinned},
            where=_c.c.sweep.is_(None),
        )
    )
    return bool(result.rowcount)


async def adopt_contents(conn: Executor, found: Sequence[tuple[str, int]]) -> int:
    """Give a row to stored content that has none (stored before the table existed), pinned
    at the time it was written: ``found`` are ``(digest, written ms)``; a digest with a row
    (an upload pinned it meanwhile, or it was known) keeps it as it is. How many were new."""
    if not found:
        return 0
    dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    stmt = dialect_insert(_c).values([{"sha256": d, "pinned": ms} for d, ms in found])
    result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=[_c.c.sha256]))
    return max(int(result.rowcount or 0), 0)


async def claim_content(conn: Executor, sha256: str, now: int) -> bool:
    """In the transaction that makes an artifact name ``sha256``: refresh its row and hold it
    (PostgreSQL: a row lock until commit, which a sweep skips); False when a sweep has taken it
    (or removed it already), so the content may be gone and the artifact must not name it."""
    result = await conn.execute(
        update(_c).where(_c.c.sha256 == sha256, _c.c.sweep.is_(None)).values(pinned=now)
    )
    return bool(result.rowcount)


async def content_digests(conn: Executor, artifact_ids: Sequence[int]) -> list[str]:
    """The content digests the artifacts ``artifact_ids`` name (to release after their
    delete), each once."""
    if not artifact_ids:
        return []
    stmt = (
        select(_p.c.string_value)
        .where(_p.c.name == SHA256_PROPERTY_NAME, _p.c.owner_id.in_(list(artifact_ids)))
        .distinct()
    )
    return [str(row[0]) for row in (await conn.execute(stmt)).all() if row[0]]


def _referenced() -> object:
    return exists().where(_p.c.name == SHA256_PROPERTY_NAME, _p.c.string_value == _c.c.sha256)


async def mark_unreferenced(
    conn: Executor,
    sweep: str,
    *,
    now: int,
    pinned_before: int,
    marked_before: int,
    only: Sequence[str] | None = None,
    limit: int = 1000,
) -> list[str]:
    """Take for the sweep ``sweep`` the content no artifact names that no upload pinned since
    ``pinned_before`` (and content another sweep took before ``marked_before`` and never
    finished: a sweep that stopped), at most ``limit`` digests, ``only`` these when given.

    PostgreSQL: the rows are locked ``FOR UPDATE SKIP LOCKED`` (a row an upload holds is left
    for a later sweep), and the references are read again once they are locked, by a
    statement that sees every transaction committed before the locks were taken.

    Returns:
        The digests now marked as this sweep's: no upload can pin or claim them any more.
    """
    stmt = (
        select(_c.c.sha256)
        .where(
            or_(
                and_(_c.c.sweep.is_(None), _c.c.pinned < pinned_before),
                and_(_c.c.sweep.is_not(None), _c.c.marked < marked_before),
            ),
            ~_referenced(),  # type: ignore[operator]
        )
        .order_by(_c.c.sha256)
        .limit(limit)
    )
    if only is not None:
        if not only:
            return []
        stmt = stmt.where(_c.c.sha256.in_(list(only)))
    postgres = conn.dialect.name != "sqlite"
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True, of=_c)
    taken = [str(row[0]) for row in (await conn.execute(stmt)).all()]
    if postgres and taken:
        still = select(_p.c.string_value).where(
            _p.c.name == SHA256_PROPERTY_NAME, _p.c.string_value.in_(taken)
        )
        named = {str(row[0]) for row in (await conn.execute(still)).all()}
        taken = [digest for digest in taken if digest not in named]
    if taken:
        await conn.execute(update(_c).where(_c.c.sha256.in_(taken)).values(sweep=sweep, marked=now))
    return taken


async def forget_contents(conn: Executor, sweep: str, digests: Sequence[str]) -> None:
    """Delete the rows of content the sweep ``sweep`` removed from the store."""
    if digests:
        await conn.execute(delete(_c).where(_c.c.sweep == sweep, _c.c.sha256.in_(list(digests))))


async def unmark_contents(conn: Executor, sweep: str, digests: Sequence[str]) -> None:
    """Give back content the sweep ``sweep`` could not remove (kept, and pinnable again)."""
    if digests:
        await conn.execute(
            update(_c)
            .where(_c.c.sweep == sweep, _c.c.sha256.in_(list(digests)))
            .values(sweep=None, marked=None)
        )
