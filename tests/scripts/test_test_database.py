"""``scripts/test_database.py``: which PostgreSQL database ``make test`` uses, said in one line."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test_database.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("test_database_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_given_url_is_used_as_is() -> None:
    url, line = script.choose({"MR_TEST_DATABASE_URL": "postgresql://u@db:5432/x"})

    assert url == "postgresql://u@db:5432/x"
    assert (
        line
        == "make test: SQLite and PostgreSQL tests (MR_TEST_DATABASE_URL=postgresql://u@db:5432/x)"
    )


def test_off_runs_sqlite_only() -> None:
    assert script.choose({"MR_TEST_DATABASE_URL": "off"})[0] == ""


def test_nothing_answering_skips_postgresql_saying_why_and_how_to_enable() -> None:
    default = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test"

    url, line = script.choose({}, default=default, timeout=5)

    assert url == ""
    assert line.startswith(f"make test: PostgreSQL tests skipped ({default}: ")
    assert "\n" not in line
    assert line.endswith("export MR_TEST_DATABASE_URL=postgresql://USER@HOST:PORT/DB to run them")


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("MR_TEST_DATABASE_URL"), reason="needs MR_TEST_DATABASE_URL")
def test_a_database_that_answers_is_chosen() -> None:
    given = os.environ["MR_TEST_DATABASE_URL"]

    url, line = script.choose({}, default=given)

    assert url == given and line.endswith(f"({given} answers)")


def test_the_script_prints_the_url_on_stdout_and_the_line_on_stderr() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={**os.environ, "MR_TEST_DATABASE_URL": "off"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0
    assert done.stdout == "\n"
    assert (
        done.stderr == "make test: PostgreSQL tests off (MR_TEST_DATABASE_URL=off); SQLite only\n"
    )
