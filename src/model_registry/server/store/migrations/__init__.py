"""Alembic migrations of the registry store, run programmatically at server start."""
