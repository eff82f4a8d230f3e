"""``Pager``: walk every page of a listing, sync or async by how it is iterated."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar, overload

from typing_extensions import TypeVar as DefaultTypeVar

from model_registry.exceptions import PagerLoopError
from model_registry.types.enums import OrderByField
from model_registry.types.options import ListOptions, Page, PageCall, RawPage

__all__ = ["DEFAULT_MAX_EMPTY_PAGES", "AnyPages", "AsyncPages", "Pager", "SyncPages"]

#: Consecutive empty pages that still name a next page after which a walk stops with
#: :class:`~model_registry.exceptions.PagerLoopError` (a server looping with fresh tokens).
DEFAULT_MAX_EMPTY_PAGES = 10

T = TypeVar("T")

#: A page function: takes the options of the page to read, returns its items (a ``Page`` or a
#: list; when it is a plain list, the next token is read from ``options.next_page_token``),
#: or an awaitable of them.
PageFn = Callable[[ListOptions], Any]


class _Walk:
    """Paging state of one walk: the token to send, tokens seen, items given out."""

    def __init__(self, start_token: str | None, max_empty_pages: int = DEFAULT_MAX_EMPTY_PAGES):
        self.token = start_token or None
        self.seen: set[str] = {start_token} if start_token else set()
        self.count = 0
        self.done = False
        self.empty_pages = 0
        self.max_empty_pages = max_empty_pages

    def accept(self, result: Iterable[T], sent: ListOptions, max_items: int | None) -> Page[T]:
        """Take one page's result, advance the state, and return the items to hand out."""
        token = getattr(result, "next_page_token", None)
        if token is None:
            # A plain list: the page function updated the options it was given (as list
            # methods do), or said nothing, which means there is no next page.
            token = sent.next_page_token if sent.next_page_token != self.token else None
        items = list(result)
        if max_items is not None:
            items = items[: max(0, max_items - self.count)]
        self.count += len(items)
        if token and token in self.seen:
            raise PagerLoopError(
                f"the server returned next page token {token!r} twice: it is looping; "
                f"stopped after {self.count} items"
            )
        self.empty_pages = self.empty_pages + 1 if token and not items else 0
        if self.empty_pages >= self.max_empty_pages:
            raise PagerLoopError(
                f"the server returned {self.empty_pages} empty pages in a row, each with a new "
                f"next page token: it is looping; stopped after {self.count} items"
            )
        if not token or (max_items is not None and self.count >= max_items):
            self.done = True
            self.token = None
        else:
            self.seen.add(token)
            self.token = token
        return Page(items, next_page_token=self.token or "")


_NOT_CALLED: Any = object()


class _Fetch:
    """One page request of an ``async for`` walk, running as its own task.

    When the page function returns a :class:`~model_registry.types.PageCall`, the task runs
    only its first phase (the answer, undecoded): once the walk gets to this page, its next
    page token is read and the next page asked for before this one is decoded (see
    :meth:`result`).
    """

    __slots__ = ("follow", "pager", "sent", "task", "two_phase", "walk")

    def __init__(
        self, pager: Pager[Any], walk: _Walk, sent: ListOptions, result: Any = _NOT_CALLED
    ) -> None:
        self.pager = pager
        self.walk = walk
        self.sent = sent
        self.follow: _Fetch | None = None  # the next page, asked for before this one is decoded
        if result is _NOT_CALLED:
            try:
                result = pager._page_fn(sent)
            except Exception as exc:  # surfaces when the walk reaches this page, as before
                result = _raise(exc)
        self.two_phase = isinstance(result, PageCall)
        if self.two_phase:
            result = result.fetch()
        if inspect.isawaitable(result):
            self.task: asyncio.Future[Any] = asyncio.ensure_future(result)
        else:  # a page function may mix plain and awaitable results
            self.task = asyncio.get_running_loop().create_future()
            self.task.set_result(result)
        # A page that failed but is never awaited (the walk stopped first) must not log
        # "exception was never retrieved": the walk either awaits it or drops it on purpose.
        self.task.add_done_callback(_retrieve)

    async def result(self) -> Any:
        """Wait for the page (the walk has got to it); of a two-phase call, ask for the next
        page as soon as its token is read, then decode this one."""
        result = await self.task
        if not self.two_phase:
            return result
        raw: RawPage[Any] = result
        token, count = raw.envelope()
        return await raw.decode(share_loop=self._start_follow(token, count))

    def _start_follow(self, token: str, count: int) -> bool:
        walk, max_items = self.walk, self.pager._max_items
        if (
            not token
            or token in walk.seen
            or (max_items is not None and walk.count + count >= max_items)
        ):
            # The last page, a loop (raised by ``accept``), or the cap reached: no request.
            return False
        self.follow = _Fetch(self.pager, walk, self.pager._options.copy(next_page_token=token))
        return True

    def cancel(self) -> None:
        """Stop the request (if still running) and its follow-up."""
        self.task.cancel()
        if self.follow is not None:
            self.follow.cancel()


async def _raise(exc: Exception) -> Any:
    raise exc


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class AnyPages:
    """Type marker: a :class:`Pager` whose page function may be sync or async (the type
    checker's view only; never instantiated)."""


class SyncPages(AnyPages):
    """Type marker of a :class:`Pager` over a sync page function."""


class AsyncPages(AnyPages):
    """Type marker of a :class:`Pager` over an async page function."""


#: Whether a ``Pager``'s page function is sync or async, as the type checker knows it from the
#: page function given: ``next_page()`` then returns a ``Page`` or an awaitable of one. A
#: ``Pager[T]`` written without it is either (``next_page()`` is then ``Any``).
K = DefaultTypeVar("K", bound=AnyPages, covariant=True, default=AnyPages)


class Pager(Generic[T, K]):
    """Iterate over every item of a paged listing.

    The pager is sync or async by how it is iterated: ``for`` calls ``page_fn`` directly;
    ``async for`` awaits what ``page_fn`` returns when it is awaitable, so
    ``Pager(lambda o: client.get_model_versions(model_id, o))`` works with ``async for``.
    A plain ``for`` over an async page function raises ``TypeError``.

    Each ``for``/``async for`` walks from the first page. The walk stops when a page comes with
    an empty or absent next-page token (the first page is never read again to find the end)
    and raises :class:`~model_registry.exceptions.PagerLoopError` when a token repeats, or
    after :meth:`max_empty_pages` empty pages in a row that still name a next page (10 by
    default), its message counting the items handed out.
    ``next_page()`` is a separate manual cursor, reset by ``restart()``.

    ``async for`` over an async page function reads one page ahead: while the caller goes
    through page *n*, page *n+1* is already being read. When the page function returns the
    :class:`~model_registry.types.PageCall` of a list method, page *n+1* is asked for as soon
    as page *n*'s token is read, before its items are converted, and an answer read ahead is
    decoded only when the walk gets to it (memory stays flat). Never more than one page ahead,
    never past ``max_items``; a page's error is raised when the walk reaches that page, and
    leaving the loop early cancels the request in flight. ``for`` and sync page functions read
    page after page.

    The setters return the pager, so they chain:
    ``Pager(fn).order_by_creation_time().descending().limit(100)``.

    Args:
        page_fn: Called with the ``ListOptions`` of each page; returns a ``Page`` (or list),
            or an awaitable of one.
        options: Starting options (copied); defaults to ``ListOptions()``.
    """

    @overload
    def __init__(
        self: Pager[T, AsyncPages],
        page_fn: Callable[[ListOptions], Awaitable[Iterable[T]]],
        options: ListOptions | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Pager[T, SyncPages],
        page_fn: Callable[[ListOptions], Iterable[T]],
        options: ListOptions | None = None,
    ) -> None: ...

    def __init__(self, page_fn: PageFn, options: ListOptions | None = None) -> None:
        if not callable(page_fn):
            raise TypeError(f"page_fn must be callable, got {type(page_fn).__name__}")
        self._page_fn = page_fn
        self._options = options.copy() if options is not None else ListOptions()
        self._max_items: int | None = None
        self._max_empty_pages = DEFAULT_MAX_EMPTY_PAGES
        self._cursor = self._new_walk()
        self._is_async: bool | None = None

    def _new_walk(self) -> _Walk:
        return _Walk(self._options.next_page_token, self._max_empty_pages)

    # -- options -------------------------------------------------------------------------

    @property
    def options(self) -> ListOptions:
        """A copy of the options every page is read with (without the page token)."""
        return self._options.copy()

    def _set(self, **changes: Any) -> Pager[T, K]:
        self._options = self._options.copy(**changes)
        self.restart()
        return self

    def limit(self, n: int) -> Pager[T, K]:
        """Set the page size (same as :meth:`page_size`)."""
        return self._set(limit=n)

    def page_size(self, n: int) -> Pager[T, K]:
        """Set the page size."""
        return self._set(limit=n)

    def max_items(self, n: int | None) -> Pager[T, K]:
        """Stop after ``n`` items in total (``None``: no cap)."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"max_items must be a non-negative int or None, got {n!r}")
        self._max_items = n
        self.restart()
        return self

    def max_empty_pages(self, n: int) -> Pager[T, K]:
        """Stop with :class:`~model_registry.exceptions.PagerLoopError` after ``n`` empty
        pages in a row that still name a next page (default
        :data:`DEFAULT_MAX_EMPTY_PAGES`)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"max_empty_pages must be a positive int, got {n!r}")
        self._max_empty_pages = n
        self.restart()
        return self

    def order_by_creation_time(self) -> Pager[T, K]:
        """Order by creation time."""
        return self._set(order_by=OrderByField.CREATE_TIME)

    def order_by_update_time(self) -> Pager[T, K]:
        """Order by last update time."""
        return self._set(order_by=OrderByField.LAST_UPDATE_TIME)

    def order_by_id(self) -> Pager[T, K]:
        """Order by id."""
        return self._set(order_by=OrderByField.ID)

    def ascending(self) -> Pager[T, K]:
        """Ascending order."""
        return self._set(is_asc=True)

    def descending(self) -> Pager[T, K]:
        """Descending order."""
        return self._set(is_asc=False)

    def filter(self, query: str | None) -> Pager[T, K]:
        """Set the filter query (``None`` removes it)."""
        return self._set(filter_query=query)

    def restart(self) -> Pager[T, K]:
        """Reset the :meth:`next_page` cursor to the first page."""
        self._cursor = self._new_walk()
        return self

    # -- pages ---------------------------------------------------------------------------

    def _options_for(self, walk: _Walk) -> ListOptions:
        return self._options.copy(next_page_token=walk.token)

    def _call(self, walk: _Walk) -> tuple[ListOptions, Any]:
        sent = self._options_for(walk)
        return sent, self._page_fn(sent)

    @overload
    def next_page(self: Pager[T, AsyncPages]) -> Awaitable[Page[T]]: ...

    @overload
    def next_page(self: Pager[T, SyncPages]) -> Page[T]: ...

    @overload
    def next_page(self: Pager[T, AnyPages]) -> Any: ...

    def next_page(self) -> Any:
        """Read the next page of the manual cursor.

        Returns:
            The next ``Page`` (empty once the listing is exhausted) for a sync page function,
            or an awaitable of it for an async one (``await pager.next_page()``).
        """
        walk = self._cursor
        if walk.done:
            empty: Page[T] = Page()
            if self._is_async:

                async def _empty() -> Page[T]:
                    return empty

                return _empty()
            return empty
        sent, result = self._call(walk)
        if inspect.isawaitable(result):
            self._is_async = True

            async def _finish(awaitable: Awaitable[Any]) -> Page[T]:
                return walk.accept(await awaitable, sent, self._max_items)

            return _finish(result)
        self._is_async = False
        return walk.accept(result, sent, self._max_items)

    def __iter__(self) -> Iterator[T]:
        walk = self._new_walk()
        while not walk.done:
            if self._max_items is not None and walk.count >= self._max_items:
                return
            sent, result = self._call(walk)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()  # never awaited: close it to avoid a "never awaited" warning
                raise TypeError(
                    "this Pager's page function is async (it returned an awaitable): "
                    "iterate it with `async for`, not `for`"
                )
            yield from walk.accept(result, sent, self._max_items)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[T]:
        walk = self._new_walk()
        if self._max_items is not None and self._max_items <= 0:
            return
        sent, result = self._call(walk)
        if not inspect.isawaitable(result):
            # A sync page function: page after page, as a plain ``for`` reads them.
            for item in walk.accept(result, sent, self._max_items):
                yield item
            while not walk.done:
                sent, result = self._call(walk)
                if inspect.isawaitable(result):
                    result = await result
                for item in walk.accept(result, sent, self._max_items):
                    yield item
            return
        # An async page function: while the caller goes through page n, page n+1 is already
        # being read (one page ahead at most, so memory stays flat).
        fetch: _Fetch | None = _Fetch(self, walk, sent, result)
        try:
            while fetch is not None:
                items = walk.accept(await fetch.result(), fetch.sent, self._max_items)
                fetch = self._next_fetch(fetch, walk)
                if fetch is not None and not fetch.task.done():
                    # One loop turn, so the next request goes out before the caller's work.
                    await asyncio.sleep(0)
                for item in items:
                    yield item
                del items
        finally:
            # ``break``, an error, or the walk closed: drop the request still in flight.
            if fetch is not None:
                fetch.cancel()

    def _next_fetch(self, fetch: _Fetch, walk: _Walk) -> _Fetch | None:
        """The request of the page after ``fetch`` (just accepted), or ``None`` at the end."""
        follow, fetch.follow = fetch.follow, None
        if walk.done:
            if follow is not None:
                follow.cancel()
            return None
        if follow is not None:
            if follow.sent.next_page_token == walk.token:
                return follow
            # The page function changed the token its answer carried: ask again.
            follow.cancel()
        return _Fetch(self, walk, self._options_for(walk))

    def __repr__(self) -> str:
        return f"Pager({self._page_fn!r}, {self._options!r}, max_items={self._max_items!r})"
