"""Which PostgreSQL database ``make test`` runs the PostgreSQL tests against, if any.

Prints the URL to export as ``MR_TEST_DATABASE_URL`` (an empty line when none), and one line
on stderr saying which backends the tests use and, when PostgreSQL is skipped, how to enable it:

* ``MR_TEST_DATABASE_URL`` set: that database (``off`` turns the PostgreSQL tests off);
* else the local default, ``postgresql://postgres@127.0.0.1:5432/test``, when it answers a
  connection within two seconds (as on CI's machines);
* else none: the SQLite tests only.

Usage::

    MR_TEST_DATABASE_URL="$(python scripts/test_database.py)" python -m pytest
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping

ENV = "MR_TEST_DATABASE_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
HOW = f"export {ENV}=postgresql://USER@HOST:PORT/DB to run them"


async def _answers(url: str, timeout: float) -> str | None:
    """None when a session opens on ``url``, else why not."""
    try:
        import asyncpg
    except ModuleNotFoundError:
        return "asyncpg is not installed (the 'server' extra)"
    try:
        conn = await asyncio.wait_for(asyncpg.connect(url), timeout)
    except (OSError, TimeoutError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    await conn.close()
    return None


def choose(
    environ: Mapping[str, str], default: str = DEFAULT_URL, timeout: float = 2.0
) -> tuple[str, str]:
    """The URL to test against ("" for none) and the line that says so.

    Args:
        environ: The environment (``MR_TEST_DATABASE_URL``).
        default: The database tried when the variable is unset.
        timeout: Seconds to wait for ``default`` to answer.
    """
    given = environ.get(ENV, "").strip()
    if given.lower() == "off":
        return "", f"make test: PostgreSQL tests off ({ENV}=off); SQLite only"
    if given:
        return given, f"make test: SQLite and PostgreSQL tests ({ENV}={given})"
    why = asyncio.run(_answers(default, timeout))
    if why is None:
        return default, f"make test: SQLite and PostgreSQL tests ({default} answers)"
    return "", (
        f"make test: PostgreSQL tests skipped ({default}: {why}); start PostgreSQL there or {HOW}"
    )


def main() -> int:
    """Print the URL on stdout and the line on stderr."""
    url, line = choose(os.environ)
    print(line, file=sys.stderr)
    print(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
