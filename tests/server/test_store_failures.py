"""Which database failures the store answers as Unavailable (retry) and which it lets through."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from model_registry.server.errors import Conflict, Unavailable
from model_registry.server.store.failures import (
    is_connection_failure,
    unavailable_on_connection_failure,
)


def _wrapped(cls: type[sa_exc.DBAPIError], orig: Exception) -> sa_exc.DBAPIError:
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionRefusedError("connect refused"),
        TimeoutError("timed out"),
        sa_exc.TimeoutError("QueuePool limit reached, connection timed out"),
        _wrapped(sa_exc.OperationalError, sqlite3.OperationalError("disk I/O error")),
        _wrapped(sa_exc.InterfaceError, sqlite3.InterfaceError("connection closed")),
        _wrapped(sa_exc.DBAPIError, Exception("connection was closed in the middle of operation")),
        _wrapped(
            sa_exc.InternalError,
            Exception("cannot switch to state 12; another operation (2) is in progress"),
        ),
    ],
    ids=["refused", "os-timeout", "pool-timeout", "operational", "interface", "plain", "state"],
)
def test_connection_level_failures_become_unavailable(failure: Exception) -> None:
    assert is_connection_failure(failure)
    expected = f"database unavailable: {type(failure).__name__}"
    with pytest.raises(Unavailable, match=expected), unavailable_on_connection_failure():
        raise failure


@pytest.mark.parametrize(
    "failure",
    [
        _wrapped(sa_exc.IntegrityError, sqlite3.IntegrityError("UNIQUE constraint failed")),
        _wrapped(sa_exc.ProgrammingError, sqlite3.ProgrammingError("syntax error")),
        _wrapped(sa_exc.InternalError, Exception("some other internal error")),
        ValueError("not a database failure"),
        Conflict("a model named 'm' already exists"),
    ],
    ids=["integrity", "programming", "internal", "value", "service-error"],
)
def test_other_failures_pass_through_unchanged(failure: Exception) -> None:
    assert not is_connection_failure(failure)
    with pytest.raises(type(failure)) as raised, unavailable_on_connection_failure():
        raise failure
    assert raised.value is failure


def test_any_driver_error_while_connecting_is_unavailable() -> None:
    refused_login = _wrapped(sa_exc.ProgrammingError, Exception("password authentication failed"))
    with pytest.raises(Unavailable), unavailable_on_connection_failure(connecting=True):
        raise refused_login


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (sqlite3.OperationalError("database is locked"), "waited too long for a lock"),
        (
            _wrapped(sa_exc.OperationalError, sqlite3.OperationalError("database is locked")),
            "waited too long for a lock",
        ),
        (sqlite3.OperationalError("interrupted"), "ran past its time budget"),
    ],
    ids=["locked-raw", "locked-wrapped", "interrupted"],
)
def test_a_lock_wait_or_an_interrupt_past_the_budget_is_unavailable(
    failure: Exception, message: str
) -> None:
    with pytest.raises(Unavailable, match=message), unavailable_on_connection_failure():
        raise failure
