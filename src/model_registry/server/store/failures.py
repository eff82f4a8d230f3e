"""Connection-level database failures, turned into one ``Unavailable`` at the store's boundary.

A database that went away (or never answered) fails in many shapes, depending on the driver and
on where the failure hits: connecting, ``BEGIN``, any statement, ``COMMIT``, or the rollback
after one of those. Every such failure is
:class:`~model_registry.server.errors.Unavailable` (REST 503 with ``Retry-After``, gRPC
``UNAVAILABLE`` with the same hint), so a client can tell "try again" from a bug; anything else
(a unique violation is already a ``Conflict``, a bad statement is a bug) goes on unchanged.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from model_registry.server.errors import StatementTimeout, Unavailable

__all__ = ["is_connection_failure", "over_budget", "unavailable_on_connection_failure"]

log = logging.getLogger("model_registry.server.store")

# asyncpg's protocol refusing to run anything on a connection a failure left half-way.
_BROKEN_STATE = "cannot switch to state"


def is_connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached, rather than what was asked of it.

    These are: the OS's network errors (``OSError``, timeouts included); the pool's
    ``TimeoutError`` (no connection free in time); SQLAlchemy's ``OperationalError`` and
    ``InterfaceError``; any driver error SQLAlchemy saw as a disconnect; a plain
    ``DBAPIError`` (asyncpg's "connection was closed in the middle of operation" arrives so);
    and the ``InternalError`` asyncpg raises on the same connection next ("cannot switch to
    state ...").
    """
    if isinstance(exc, (OSError, sa_exc.TimeoutError)):
        return True
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or type(exc) is sa_exc.DBAPIError:
            return True
        return isinstance(exc, sa_exc.InternalError) and _BROKEN_STATE in str(exc.orig)
    return False


# SQLSTATEs of PostgreSQL: statement_timeout (or a cancel) and lock_timeout.
_QUERY_CANCELED = "57014"
_LOCK_NOT_AVAILABLE = "55P03"


def over_budget(exc: BaseException) -> Unavailable | None:
    """The error for a statement stopped by its time budget, or None for any other failure.

    PostgreSQL stops it with ``query_canceled`` (``statement_timeout``, or the cancel sent
    when the request's client went away) or ``lock_not_available`` (``lock_timeout``); SQLite
    with ``interrupted`` (the store's interrupt) or ``database is locked`` (busy timeout).
    """
    if isinstance(exc, sqlite3.OperationalError):  # raised straight by the driver's cursor
        if "locked" in str(exc):
            return Unavailable("database busy: waited too long for a lock")
        return (
            StatementTimeout("the query ran past its time budget")
            if str(exc) == ("interrupted")
            else None
        )
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if isinstance(exc.orig, sqlite3.OperationalError):
        return over_budget(exc.orig)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == _LOCK_NOT_AVAILABLE:
        return Unavailable("database busy: waited too long for a lock")
    if sqlstate == _QUERY_CANCELED:
        return StatementTimeout("the query ran past its time budget")
    return None


@contextmanager
def unavailable_on_connection_failure(*, connecting: bool = False) -> Iterator[None]:
    """Raise :class:`Unavailable` for a connection-level failure inside the block.

    Args:
        connecting: The block only opens a connection: then any driver error counts (a
            refused login or a missing database also means no database to serve from).

    Raises:
        Unavailable: The block failed with :func:`is_connection_failure`.
    """
    try:
        yield
    except Exception as exc:
        over = over_budget(exc)
        if over is not None:
            raise over from None
        if not (is_connection_failure(exc) or (connecting and isinstance(exc, sa_exc.DBAPIError))):
            raise
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        raise Unavailable.because(exc) from None
