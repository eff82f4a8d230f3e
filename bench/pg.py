"""PostgreSQL for the bench: is it there, and a fresh schema per scenario, dropped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_URL = os.environ.get("MR_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
"""The PostgreSQL the bench uses when it answers: the tests' ``MR_TEST_DATABASE_URL`` when set,
else the local one (trust auth, database ``test``)."""


def _plain(url: str) -> str:
    """``url`` as asyncpg takes it: scheme ``postgresql``, no query."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql", query=""))


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path=schema`` (the server puts its tables there)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("search_path", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _execute(url: str, sql: str, timeout: float = 10.0) -> None:
    import asyncpg

    conn = await asyncpg.connect(_plain(url), timeout=timeout)
    try:
        await conn.execute(sql, timeout=600)
    finally:
        await conn.close()


def unavailable(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None when it answers."""
    try:
        asyncio.run(_execute(url, "SELECT 1", timeout=5.0))
    except Exception as exc:  # any failure to connect means: no PostgreSQL for this run
        return f"{type(exc).__name__}: {exc}"
    return None


@contextlib.contextmanager
def fresh_schema(url: str, label: str) -> Iterator[str]:
    """Create a new schema in ``url``'s database, yield a URL that uses it, then drop it."""
    schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_execute(url, f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_schema(url, schema)
    finally:
        asyncio.run(_execute(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
