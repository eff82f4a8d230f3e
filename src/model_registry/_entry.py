"""The ``model-registry`` launcher: runs the command line, or names the extra it needs.

The console script and ``python -m model_registry`` start here. Nothing in this module
imports an extra, so with the client alone installed a command still answers with one line
(``error: ... pip install 'aio-model-registry[cli]'``) instead of a traceback.
"""

from __future__ import annotations

import sys

from model_registry._version import __version__

__all__ = [
    "DISTRIBUTION",
    "EXTRA_OF_MODULE",
    "extra_error",
    "extra_message",
    "main",
    "missing_extra",
]

DISTRIBUTION = "aio-model-registry"
"""The name this project is installed by (the import name stays ``model_registry``)."""

EXTRA_OF_MODULE: dict[str, str] = {
    "click": "cli",
    "rich": "cli",
    "sqlalchemy": "server",
    "aiosqlite": "server",
    "asyncpg": "server",
    "alembic": "server",
    "grpc_health": "server",
    "grpc_reflection": "server",
    "mlflow": "mlflow",
}
"""Top-level module of an optional dependency -> the extra that installs it."""


def missing_extra(exc: ImportError) -> tuple[str, str] | None:
    """The extra whose absence raised ``exc`` and its missing top-level module, if it is one."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    module = exc.name.partition(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    return None if extra is None else (extra, module)


def extra_message(exc: ImportError) -> str | None:
    """What to install when ``exc`` comes from a missing extra (None when it does not).

    Args:
        exc: The import error a command ran into.
    """
    found = missing_extra(exc)
    if found is None:
        return None
    extra, module = found
    return (
        f"this command needs the {extra!r} extra ({module} is not installed): "
        f"pip install '{DISTRIBUTION}[{extra}]'"
    )


def extra_error(exc: ImportError) -> str | None:
    """:func:`extra_message` as the one ``error:`` line a command prints."""
    message = extra_message(exc)
    return None if message is None else f"error: {message}"


def main(argv: list[str] | None = None) -> int:
    """Run ``model-registry`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        # Answered here so that it works with no extra installed.
        print(f"model-registry {__version__} ({DISTRIBUTION})")
        return 0
    try:
        from model_registry.cli import main as cli_main
    except ModuleNotFoundError as exc:
        line = extra_error(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 1
    return cli_main(args)
