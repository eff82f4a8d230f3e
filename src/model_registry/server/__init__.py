"""The embedded registry server: the Model Registry REST API (v1, v1alpha3) over SQLite/PostgreSQL.

``async with run_server() as srv:`` starts it on a free port (``srv.url``); the command
``model-registry serve`` runs it as a process, and ``with ServerThread() as srv:`` runs it on a
background thread for blocking (sync) code.

Layers: ``rest.py`` (aiohttp front door, only translates; both REST API versions from one route
table, their differences in ``versions.py``) and ``grpc.py`` (gRPC front door) call
``service.RegistryService`` (every rule), which works through ``store`` (every query; schema by
the alembic migrations in ``store/migrations``). ``entities.py`` describes each entity kind once.

Where this server deliberately does better than the reference server:

- every list endpoint applies ``filterQuery`` (the reference ignores it on some), and a bad
  filter is a 400 on all of them;
- client mistakes never produce a 5xx: malformed ids, tokens, page sizes, numbers out of range,
  strings a database cannot store (NUL, lone surrogates) are 400s;
- a PATCH may repeat ``name``/parent ids/``artifactType`` unchanged; only a change is refused.

Behaviour worth knowing: a metric or parameter posted again under the same name to one run
updates the stored one (a metric also appends to the run's metric history); artifact names are
unique per (artifact type, the version or run they were created in), and an artifact created
without one gets a UUID.
"""

from model_registry.server.app import RunningServer, create_app, run_server
from model_registry.server.thread import ServerThread

__all__ = ["RunningServer", "ServerThread", "create_app", "run_server"]
