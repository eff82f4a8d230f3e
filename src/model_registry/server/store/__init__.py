"""The registry store: SQLAlchemy Core over SQLite or PostgreSQL, schema by alembic migrations.

By job: ``database.py`` (:class:`Store`, :class:`SqliteStore`: engine, migrations, connections,
transactions), ``queries.py`` (the query API :class:`Tx` and its :class:`Record` rows),
``statements.py`` (statements built once per kind, the list query of a :class:`Scope`),
``executor.py`` (where statements run: asyncpg, or SQLite's synchronous connection),
``filters.py`` and ``keyset.py`` (the SQL of ``filterQuery`` and of paging), ``failures.py``
(connection-level failures become :class:`~model_registry.server.errors.Unavailable`),
``writer.py`` (SQLite's writer thread), ``engine.py``, ``schema.py`` and ``migrations/``.
"""

from model_registry.server.store.database import SqliteStore, Store
from model_registry.server.store.engine import create_engine_from_url, normalize_database_url
from model_registry.server.store.queries import Record, Tx, WriteBody
from model_registry.server.store.statements import Scope

__all__ = [
    "Record",
    "Scope",
    "SqliteStore",
    "Store",
    "Tx",
    "WriteBody",
    "create_engine_from_url",
    "normalize_database_url",
]
