"""The server stands without the client: importing any server module loads no client module.

The import-linter contract in ``pyproject.toml`` checks the import statements; this checks what
really gets loaded (package ``__init__`` files included) in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# The client's modules (and their subpackages), which no server module may load.
CLIENT_MODULES = (
    "model_registry.transport",
    "model_registry.core",
    "model_registry.client",
    "model_registry.types.pager",
)

# Walks every module of model_registry.server, importing one at a time, and reports which client
# modules each newly loaded. Alembic's migration scripts are skipped: alembic loads them by file
# path while it migrates, and ``env.py`` only runs inside an alembic context.
_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    client = tuple(json.loads(sys.argv[1]))

    def loaded():
        return {
            name for name in sys.modules
            if any(name == c or name.startswith(c + ".") for c in client)
        }

    import model_registry.server as server

    found = {"model_registry.server": sorted(loaded())}
    for info in pkgutil.walk_packages(server.__path__, "model_registry.server."):
        if info.name.startswith("model_registry.server.store.migrations"):
            continue
        before = loaded()
        importlib.import_module(info.name)
        found[info.name] = sorted(loaded() - before)
    print(json.dumps(found))
    """
)


def test_no_server_module_loads_a_client_module() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(CLIENT_MODULES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, list[str]] = json.loads(result.stdout)
    # The walk reached the modules that matter (not an empty package by mistake).
    assert {
        "model_registry.server.app",
        "model_registry.server.grpc",
        "model_registry.server.rest",
        "model_registry.server.cli",
        "model_registry.server.store.database",
    } <= set(found)
    assert {module: client for module, client in found.items() if client} == {}


def test_importing_the_package_root_loads_no_client_module() -> None:
    probe = (
        "import json, sys, model_registry; "
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('model_registry.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []
