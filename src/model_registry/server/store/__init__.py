"""The registry store: SQLAlchemy Core over SQLite or PostgreSQL, schema by alembic migrations."""

from model_registry.server.store.engine import create_engine_from_url, normalize_database_url
from model_registry.server.store.repository import Store

__all__ = ["Store", "create_engine_from_url", "normalize_database_url"]
