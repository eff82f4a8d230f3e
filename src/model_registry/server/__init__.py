"""The embedded registry server: the Model Registry REST API (v1alpha3) over SQLite/PostgreSQL.

``async with run_server() as srv:`` starts it on a free port (``srv.url``); the command
``model-registry serve`` runs it as a process.
"""

from model_registry.server.app import RunningServer, create_app, run_server

__all__ = ["RunningServer", "create_app", "run_server"]
