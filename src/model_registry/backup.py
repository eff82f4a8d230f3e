"""Backup and restore of a registry database (``model-registry backup|restore PATH``).

SQLite goes through SQLite's online backup API (the standard library's
:meth:`sqlite3.Connection.backup`): the copy is made in one step under a read transaction,
so it is a consistent snapshot even while a server keeps writing (in WAL mode the writer is
not blocked), and it is checked (``PRAGMA integrity_check``) before it replaces ``PATH``.
A restore copies the same way in the other direction, under SQLite's write lock, so a server
running on the database sees the restored registry as one change.

PostgreSQL goes through ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists``
when they are installed; otherwise :class:`BackupError` says so, and docs/server.md gives the
procedure.

Nothing here needs an extra: ``sqlite3`` is in the standard library.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["BackupError", "BackupResult", "backup", "restore", "sqlite_path"]

#: The table every migrated registry database has (alembic's revision mark).
_MARK_TABLE = "alembic_version"


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why in one line."""


@dataclass(frozen=True)
class BackupResult:
    """What a backup or restore did.

    Attributes:
        path: The backup file written or read.
        database: The database, as a path (SQLite) or a URL without its password.
        revision: The schema revision the copied database carries.
        size: The backup file's size in bytes.
    """

    path: Path
    database: str
    revision: str
    size: int


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (relative to the working directory), else None.

    Raises:
        BackupError: An in-memory SQLite database (nothing to back up).
    """
    scheme, _, rest = database_url.partition("://")
    if scheme.split("+")[0] != "sqlite":
        return None
    path = unquote(rest[1:] if rest.startswith("/") else rest).split("?")[0]
    if not path or path == ":memory:":
        raise BackupError(f"{database_url!r} is an in-memory database: nothing to back up")
    return Path(path)


def _postgres_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    scheme = parts.scheme.split("+")[0]
    if scheme not in ("postgresql", "postgres"):
        raise BackupError(
            f"unsupported database URL {database_url!r}: use sqlite:/// or postgresql://"
        )
    # pg_dump takes libpq URLs: no SQLAlchemy driver suffix.
    return urlunsplit(parts._replace(scheme="postgresql"))


def _shown(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _revision(conn: sqlite3.Connection, what: str) -> str:
    try:
        row = conn.execute(f"SELECT version_num FROM {_MARK_TABLE}").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a registry database ({exc})") from None
    if row is None:
        raise BackupError(f"{what} is not a registry database (no schema revision)")
    return str(row[0])


def _check(conn: sqlite3.Connection, what: str) -> str:
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} cannot be read: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"{what} failed its integrity check: {verdict}")
    return _revision(conn, what)


def _open(path: Path, what: str, *, must_exist: bool) -> sqlite3.Connection:
    if must_exist and not path.is_file():
        raise BackupError(f"{what} {path} does not exist")
    try:
        # A long timeout: a server's writer may hold the lock for a moment.
        return sqlite3.connect(path, timeout=30.0)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {what} {path}: {exc}") from None


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, what: str) -> None:
    try:
        # pages=-1: the whole database in one step, one consistent snapshot of the source.
        source.backup(target, pages=-1)
    except sqlite3.Error as exc:
        raise BackupError(f"{what} failed: {exc}") from None


def backup(database_url: str, path: Path, *, overwrite: bool = False) -> BackupResult:
    """Write a backup of the registry at ``database_url`` to ``path``.

    Args:
        database_url: ``sqlite:///FILE`` or ``postgresql://...`` (as ``serve`` takes).
        path: The backup file to write (a SQLite file, or a ``pg_dump`` custom archive).
        overwrite: Replace ``path`` when it exists.

    Raises:
        BackupError: The database cannot be read, is not a registry, or the tools are missing.
    """
    if path.exists() and not overwrite:
        raise BackupError(f"{path} exists already (--force replaces it)")
    database = sqlite_path(database_url)
    if database is None:
        return _pg_backup(_postgres_url(database_url), path)
    source = _open(database, "the database", must_exist=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        revision = _revision(source, f"the database {database}")
        target = sqlite3.connect(partial)
        try:
            _copy(source, target, f"backup of {database}")
            # The copy keeps the source's journal mode (WAL): a single-file backup is easier
            # to move around, and restore turns WAL back on in the database itself.
            target.execute("PRAGMA journal_mode=DELETE")
            _check(target, f"the backup of {database}")
        finally:
            target.close()
        os.replace(partial, path)
    finally:
        source.close()
        partial.unlink(missing_ok=True)
    return BackupResult(path, str(database), revision, path.stat().st_size)


def restore(database_url: str, path: Path) -> BackupResult:
    """Replace the registry at ``database_url`` with the backup at ``path``.

    A SQLite database is overwritten in place under its write lock (a running server sees
    the restored registry from its next statement on); a missing file is created.

    Args:
        database_url: ``sqlite:///FILE`` or ``postgresql://...``.
        path: A file written by :func:`backup`.

    Raises:
        BackupError: The backup is missing, damaged or not a registry backup.
    """
    database = sqlite_path(database_url)
    if database is None:
        return _pg_restore(_postgres_url(database_url), path)
    source = _open(path, "the backup", must_exist=True)
    try:
        revision = _check(source, f"the backup {path}")
        target = _open(database, "the database", must_exist=False)
        try:
            _copy(source, target, f"restore into {database}")
            # As the server opens it (readers never wait for the writer).
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        source.close()
    return BackupResult(path, str(database), revision, path.stat().st_size)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed (PostgreSQL's client tools): install them, or follow "
            "the procedure in docs/server.md#backup-and-restore"
        )
    return found


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{what} failed: {last}")


def _pg_backup(url: str, path: Path) -> BackupResult:
    partial = path.with_name(f".{path.name}.partial")
    try:
        _run(
            [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", url],
            f"pg_dump of {_shown(url)}",
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(path, _shown(url), "pg_dump", path.stat().st_size)


def _pg_restore(url: str, path: Path) -> BackupResult:
    if not path.is_file():
        raise BackupError(f"the backup {path} does not exist")
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={url}",
            str(path),
        ],
        f"pg_restore into {_shown(url)}",
    )
    return BackupResult(path, _shown(url), "pg_dump", path.stat().st_size)
