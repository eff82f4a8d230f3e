"""``model-registry serve`` stops with ONE line, ``error: ...``, naming what is wrong.

Each case runs the real command in a subprocess (``serve_refused``), as a user would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability.serving import serve_refused


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something listens on already."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def one_line(err: bytes) -> str:
    text = err.decode()
    assert text.count("\n") == 1 and text.startswith("error: "), text
    return text.rstrip("\n")


def db(tmp_path: Path) -> list[str]:
    # WARNING: a new database's migrations log INFO lines before the ports are bound.
    return ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}", "--log-level", "WARNING"]


async def test_a_busy_rest_port_names_the_address(tmp_path: Path, busy_port: int) -> None:
    code, out, err = await serve_refused([*db(tmp_path), "--port", str(busy_port)])

    assert code == 1 and b"serving on" not in out
    assert one_line(err) == (
        f"error: cannot listen for REST on 127.0.0.1:{busy_port}: Address already in use"
    )


def test_a_busy_grpc_port_names_the_address(tmp_path: Path, busy_port: int) -> None:
    # Not serve_refused: it turns gRPC off.
    done = subprocess.run(
        [sys.executable, "-m", "model_registry", "serve", "--port", "0", *db(tmp_path),
         "--grpc-port", str(busy_port)],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"error: cannot listen for gRPC on 127.0.0.1:{busy_port}: Address already in use"
    )


@pytest.mark.parametrize(
    ("url", "named", "why"),
    [
        ("sqlite:///{tmp}/no/such/folder/registry.db", "{tmp}/no/such/folder/registry.db",
         "unable to open database file"),
        ("sqlite:///{tmp}/not-a-database.db", "{tmp}/not-a-database.db", "file is not a database"),
    ],
    ids=["missing-folder", "not-sqlite"],
)  # fmt: skip
async def test_a_sqlite_file_that_cannot_be_opened_is_named(
    tmp_path: Path, url: str, named: str, why: str
) -> None:
    (tmp_path / "not-a-database.db").write_bytes(b"plain text, not SQLite " * 100)

    code, _, err = await serve_refused(["--database-url", url.format(tmp=tmp_path)])

    assert code == 1
    assert one_line(err) == (
        f"error: cannot open the SQLite database {named.format(tmp=tmp_path)}: {why}"
    )


async def test_an_unsupported_database_url_is_one_line(tmp_path: Path) -> None:
    code, _, err = await serve_refused(["--database-url", "mysql://db/registry"])

    assert code == 1
    assert one_line(err) == (
        "error: unsupported database URL 'mysql://db/registry': use sqlite:/// or postgresql://"
    )


async def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "tokens.txt"

    code, _, err = await serve_refused([*db(tmp_path), "--auth-token-file", str(missing)])

    assert code == 1
    assert (
        one_line(err) == f"error: cannot read the token file {missing}: No such file or directory"
    )


async def test_usage_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    unknown = await serve_refused([*db(tmp_path), "--bogus"])
    lone_tls = await serve_refused([*db(tmp_path), "--tls-cert", str(tmp_path / "c.pem")])

    for code, _, err in (unknown, lone_tls):
        assert code == 2
        assert one_line(err).endswith("(see 'model-registry serve --help')")
    assert "--tls-cert and --tls-key go together" in lone_tls[2].decode()
