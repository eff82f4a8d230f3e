"""``model-registry backup|restore PATH``: SQLite with a server running and writing.

The server is a real ``model-registry serve`` process on a SQLite file; a client keeps
registering models over REST while backups are taken, and the restore happens under the
running server, which answers from the restored registry at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from reliability.serving import serve_process

from model_registry import ModelRegistryAPIClient, RegisteredModel

COMMAND = [sys.executable, "-m", "model_registry"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def names_in(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM contexts WHERE kind = 'registered-model'")
        return {row[0] for row in rows}


async def test_backup_while_writing_then_restore_under_the_running_server(
    tmp_path: Path,
) -> None:
    database = tmp_path / "registry.db"
    url = f"sqlite:///{database}"
    backups = [tmp_path / f"backup-{i}.db" for i in range(3)]
    written: list[str] = []
    serving = serve_process(["--database-url", url, "--log-level", "WARNING"], grpc=False)
    async with (
        serving as srv,
        ModelRegistryAPIClient.insecure_connection("127.0.0.1", srv.port) as client,
    ):
        stop = asyncio.Event()
        progress = asyncio.Condition()

        async def writer() -> None:
            while not stop.is_set():
                name = f"m{len(written):04d}"
                await client.upsert_registered_model(RegisteredModel(name))
                written.append(name)
                async with progress:
                    progress.notify_all()

        task = asyncio.create_task(writer())
        for index, target in enumerate(backups):
            async with progress:
                await progress.wait_for(lambda i=index: len(written) >= 5 * (i + 1))
            done = await asyncio.to_thread(run, "backup", str(target), "--database-url", url,
                                           "--json")  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["revision"]
        stop.set()
        await task

        # Each backup is a complete, consistent registry: it opens, passes the integrity
        # check, and holds a prefix of what was written (models are written in order).
        snapshots = []
        for target in backups:
            with sqlite3.connect(target) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            names = names_in(target)
            assert names == set(written[: len(names)])
            snapshots.append(names)
        # Taken after 5, 10 and 15 models were acknowledged, so each holds at least those.
        assert [len(s) >= 5 * (i + 1) for i, s in enumerate(snapshots)] == [True] * 3
        assert snapshots[0] <= snapshots[1] <= snapshots[2]

        restored = await asyncio.to_thread(run, "restore", str(backups[0]),
                                           "--database-url", url)  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.startswith(f"restore {backups[0]} -> {database}")

        # The running server answers from the restored registry, and keeps writing.
        listed = await client.get_registered_models()
        assert {m.name for m in listed} == snapshots[0]
        after = await client.upsert_registered_model(RegisteredModel("after-restore"))
        assert after.id is not None
    assert names_in(database) == snapshots[0] | {"after-restore"}


def test_backup_refuses_to_overwrite_and_restore_refuses_what_is_not_a_backup(
    tmp_path: Path,
) -> None:
    database = tmp_path / "registry.db"
    url = f"sqlite:///{database}"
    sqlite3.connect(database).close()  # an empty SQLite file: not a registry
    existing = tmp_path / "exists.db"
    existing.write_text("keep me")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite " * 200)

    not_registry = run("backup", str(tmp_path / "b.db"), "--database-url", url)
    no_overwrite = run("backup", str(existing), "--database-url", url)
    missing = run("restore", str(tmp_path / "absent.db"), "--database-url", url)
    damaged = run("restore", str(junk), "--database-url", url)

    for done in (not_registry, no_overwrite, missing, damaged):
        assert done.returncode == 1
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "is not a registry database" in not_registry.stderr
    assert f"{existing} exists already (--force replaces it)" in no_overwrite.stderr
    assert existing.read_text() == "keep me"
    assert "absent.db does not exist" in missing.stderr
    assert "junk.db" in damaged.stderr
    assert not (tmp_path / "b.db").exists()


def test_postgresql_without_pg_dump_says_what_to_do(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no PostgreSQL client tools on it

    done = run("backup", str(tmp_path / "b.dump"), "--database-url",
               "postgresql://postgres@127.0.0.1:5432/test", env=env)  # fmt: skip

    assert done.returncode == 1
    assert done.stderr == (
        "error: pg_dump is not installed (PostgreSQL's client tools): install them, or follow "
        "the procedure in docs/server.md#backup-and-restore\n"
    )


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_has_nothing_to_back_up(tmp_path: Path, url: str) -> None:
    done = run("backup", str(tmp_path / "b.db"), "--database-url", url)

    assert done.returncode == 1 and "in-memory database" in done.stderr
