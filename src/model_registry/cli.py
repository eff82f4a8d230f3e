"""The ``model-registry`` command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The process exit code.
    """
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "serve":
        from model_registry.server.cli import serve_main

        return serve_main(args[1:])
    print("usage: model-registry serve [options]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
