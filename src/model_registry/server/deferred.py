"""Start without the database: a stand-in store that keeps trying to connect.

A server that starts before its PostgreSQL database answers (both come up together in most
deployments) does not exit: it listens, answers 503 / UNAVAILABLE on the API and on the
readiness checks, and opens the real store in the background, with capped exponential backoff,
as soon as the database answers. From then on every call goes to the real store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from model_registry.server.errors import Unavailable
from model_registry.server.store import Store, WriteBody

T = TypeVar("T")

log = logging.getLogger("model_registry.server")

__all__ = ["UNREACHABLE_ERRORS", "DeferredStore"]

#: What opening the store raises when the database cannot be reached (yet).
UNREACHABLE_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, SQLAlchemyError)

FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 10.0


class DeferredStore:
    """Stands in for :class:`Store` until the database can be opened.

    Until then :meth:`ping` is False and every other use raises
    :class:`~model_registry.server.errors.Unavailable`; afterwards everything is forwarded to
    the opened store.

    Args:
        database_url: The database to open.
    """

    def __init__(self, database_url: str, *, statement_timeout: float = 5.0) -> None:
        self._database_url = database_url
        self._statement_timeout = statement_timeout
        self._store: Store | None = None
        self._task: asyncio.Task[None] | None = None
        self.opened = asyncio.Event()

    def start(self) -> None:
        """Start trying to open the store in the background."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._open_when_reachable())

    async def _open_when_reachable(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                self._store = await Store.open(
                    self._database_url, statement_timeout=self._statement_timeout
                )
            except UNREACHABLE_ERRORS as exc:
                log.warning("database not reachable yet, retrying in %.1fs: %s", delay, exc)
            except Exception:
                log.exception("opening the database failed, retrying in %.1fs", delay)
            else:
                log.info("database reachable: serving")
                self.opened.set()
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    def _ready_store(self) -> Store:
        if self._store is None:
            raise Unavailable("database not reachable yet")
        return self._store

    async def ping(self) -> bool:
        """Whether the database answers (False until it has been opened)."""
        return self._store is not None and await self._store.ping()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """The store's read transaction; Unavailable until the database has been opened."""
        async with self._ready_store().transaction() as tx:
            yield tx

    async def write(self, body: WriteBody[T]) -> T:
        """The store's write; Unavailable until the database has been opened."""
        return await self._ready_store().write(body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ready_store(), name)

    async def close(self) -> None:
        """Stop trying to connect; close the store if it was opened."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._store is not None:
            await self._store.close()
