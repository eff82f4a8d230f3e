"""Shared fixtures: a clean database per test and a real server on a free port.

``database_url`` is a fresh SQLite file, and, when ``MR_TEST_DATABASE_URL`` names a PostgreSQL
database, also (parametrised) a fresh schema in it, dropped after the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from model_registry.server import RunningServer, run_server
from model_registry.server.rest import BASE_PATH

PG_URL = os.environ.get("MR_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def with_search_path(url: str, schema: str) -> str:
    """Return ``url`` with ``search_path=schema`` added to its query."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("search_path", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _plain_dsn(url: str) -> str:
    """The URL as asyncpg understands it (no SQLAlchemy driver suffix, no query)."""
    parts = urlsplit(url)
    scheme = "postgresql"
    return urlunsplit(parts._replace(scheme=scheme, query=""))


async def create_pg_schema() -> tuple[str, str]:
    """Create a fresh schema in the test PostgreSQL database; return (schema, url)."""
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(_plain_dsn(PG_URL))
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return schema, with_search_path(PG_URL, schema)


async def drop_pg_schema(schema: str) -> None:
    """Drop a schema made by :func:`create_pg_schema`."""
    import asyncpg

    conn = await asyncpg.connect(_plain_dsn(PG_URL))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database of each backend under test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    schema, url = await create_pg_schema()
    try:
        yield url
    finally:
        await drop_pg_schema(schema)


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    """A running server (REST on a free port) over a clean database."""
    async with run_server(database_url) as srv:
        yield srv


@pytest.fixture
def base_url(server: RunningServer) -> str:
    """The REST API base URL of the running server."""
    return server.url + BASE_PATH
