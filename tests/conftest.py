"""Shared fixtures: a clean database per test and a real server on a free port.

Code under test that blocks its caller (the sync facade, the CLI) talks to a ``threaded_server``:
the same server on its own thread (``ServerThread``), since it cannot share the test's loop.

``database_url`` is an empty registry database: a new SQLite file and, when
``MR_TEST_DATABASE_URL`` names a PostgreSQL database, also (parametrised) a schema of its own in
it, truncated before each test. ``fresh_database_url`` has not even the schema (migration tests).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from conformance.s3 import CREDENTIALS as S3_CREDENTIALS
from conformance.s3 import S3Server, running_s3_server
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from model_registry.core import ModelRegistryAPIClient
from model_registry.server import RunningServer, ServerThread, run_server
from model_registry.server.rest import BASE_PATH
from model_registry.server.store import Store
from model_registry.server.store.schema import metadata

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


@pytest.fixture(scope="session")
def _pg_migrated_schema() -> Iterator[tuple[str, str] | None]:
    """One migrated PostgreSQL schema for the session (None without PostgreSQL)."""
    if not PG_URL:
        yield None
        return

    async def create() -> tuple[str, str]:
        schema, url = await create_pg_schema()
        store = await Store.open(url)
        await store.close()
        return schema, url

    schema, url = asyncio.run(create())
    yield schema, url
    asyncio.run(drop_pg_schema(schema))


async def _truncate_pg_schema(schema: str) -> None:
    import asyncpg

    # The event log's counter row is the migration's: reset, not removed.
    tables = ", ".join(
        f'"{schema}"."{t.name}"'
        for t in metadata.sorted_tables
        if t.name not in ("event_log", "webhook_lease")
    )
    conn = await asyncpg.connect(_plain_dsn(PG_URL))
    try:
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        await conn.execute(f'UPDATE "{schema}".event_log SET last_cursor = 0, pruned_through = 0')
        await conn.execute(f'UPDATE "{schema}".webhook_lease SET holder = NULL, expires = 0')
        # Every database has the project named "default" (id 1), as the migration left it.
        await conn.execute(
            f'INSERT INTO "{schema}".projects (id, uuid, name, create_time, update_time) '
            "VALUES (1, $1, 'default', 0, 0)",
            str(uuid.uuid4()),
        )
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{schema}\".projects', 'id'), 1)"
        )
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _pg_migrated_schema: tuple[str, str] | None,
) -> AsyncIterator[str]:
    """A URL of an empty registry database of each backend under test.

    SQLite: a new file. PostgreSQL: the session's migrated schema with every table truncated
    (ids restart at 1), which is much faster than migrating a new schema for every test.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    assert _pg_migrated_schema is not None
    schema, url = _pg_migrated_schema
    await _truncate_pg_schema(schema)
    yield url


@pytest.fixture(params=BACKENDS)
async def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of a database with nothing in it at all (not even the schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
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


@pytest.fixture
async def grpc_server(database_url: str) -> AsyncIterator[RunningServer]:
    """A running server with REST and gRPC, both on free ports, over a clean database."""
    async with run_server(database_url, grpc_port=0) as srv:
        assert srv.grpc_port
        yield srv


#: The wires the async client is tested over (the ``client`` fixture): wire name ->
#: (transport, api_version). REST with each API version; gRPC with ``auto`` (its stable
#: ``model_registry.v1`` service for the registry, v1alpha3 for experiments: both services).
WIRES = {
    "rest-v1": ("rest", "v1"),
    "rest-v1alpha3": ("rest", "v1alpha3"),
    "grpc": ("grpc", "auto"),
}


@pytest.fixture(params=list(WIRES))
def wire(request: pytest.FixtureRequest) -> str:
    """The wire under test (a key of :data:`WIRES`)."""
    return str(request.param)


@pytest.fixture
def transport(wire: str) -> str:
    """The transport under test."""
    return WIRES[wire][0]


@pytest.fixture
def api_version(wire: str) -> str:
    """The REST API version the client under test is told to speak."""
    return WIRES[wire][1]


@pytest.fixture
async def registry(database_url: str, transport: str) -> AsyncIterator[RunningServer]:
    """A running server over a clean database, with gRPC on when the transport needs it."""
    async with run_server(database_url, grpc_port=0 if transport == "grpc" else None) as srv:
        yield srv


def port_for(server: RunningServer, transport: str) -> int:
    """The port ``transport`` talks to on ``server``."""
    if transport == "grpc":
        assert server.grpc_port is not None
        return server.grpc_port
    return server.port


@pytest.fixture
async def client(
    registry: RunningServer, transport: str, api_version: str
) -> AsyncIterator[ModelRegistryAPIClient]:
    """An async client connected to ``registry`` over ``transport`` and ``api_version`` (every
    client test takes it, so the same tests run over each wire in ``WIRES``)."""
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        port_for(registry, transport),
        transport=transport,  # type: ignore[arg-type]
        api_version=api_version,  # type: ignore[arg-type]
    ) as api:
        yield api


#: The bearer token the ``auth_server`` accepts.
AUTH_TOKEN = "s3cret"


@pytest.fixture
def threaded_server(database_url: str) -> Iterator[RunningServer]:
    """A running server (REST, port 0) on its own thread, over a clean database."""
    with ServerThread(database_url) as srv:
        yield srv


@pytest.fixture
def grpc_threaded_server(database_url: str) -> Iterator[RunningServer]:
    """Like ``threaded_server``, with the gRPC front door on a free port too."""
    with ServerThread(database_url, grpc_port=0) as srv:
        yield srv


@pytest.fixture
def auth_server(database_url: str) -> Iterator[RunningServer]:
    """A server on its own thread that requires the bearer token :data:`AUTH_TOKEN`."""
    with ServerThread(database_url, auth_tokens=[AUTH_TOKEN]) as srv:
        yield srv


@pytest.fixture(params=BACKENDS)
async def scratch_engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An empty database for tests that bring their own tables (no registry schema).

    An in-memory SQLite database, or (parametrised, with ``MR_TEST_DATABASE_URL``) a fresh
    PostgreSQL schema dropped afterwards.
    """
    schema: str | None = None
    if request.param == "sqlite":
        engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    else:
        schema, _ = await create_pg_schema()
        url = urlunsplit(urlsplit(_plain_dsn(PG_URL))._replace(scheme="postgresql+asyncpg"))
        engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield engine
    finally:
        await engine.dispose()
        if schema is not None:
            await drop_pg_schema(schema)


@pytest.fixture(scope="session")
def _s3_process() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


@pytest.fixture
def s3_server(_s3_process: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """A real S3-wire server (moto's, in its own process), with its credentials in the
    environment for the code under test."""
    for key, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return _s3_process
