"""Alembic environment: runs on the connection handed over by the store.

The store calls ``alembic.command.upgrade`` with ``config.attributes["connection"]`` set to an
open synchronous connection (from ``AsyncConnection.run_sync``); there is no ini file and no
offline mode.
"""

from __future__ import annotations

from alembic import context

from model_registry.server.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
