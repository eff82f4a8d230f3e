"""``ListOptions``, the list result type ``Page``, and the two-phase list call ``PageCall``."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from model_registry.types.enums import OrderByField

__all__ = ["MAX_WIRE_PAGE_SIZE", "ListOptions", "Page", "PageCall", "RawPage"]

T = TypeVar("T")

#: Largest page size the wire carries (REST ``pageSize`` has at most 9 digits; it also fits
#: gRPC's int32). Servers clamp far below it, so a larger ``limit`` is sent as this.
MAX_WIRE_PAGE_SIZE = 999_999_999


@dataclass
class ListOptions:
    """How to list: page size, ordering, page token and filter.

    List methods update ``next_page_token`` in the options they were given, so calling a list
    method again with the same options object reads the next page.

    Attributes:
        limit: Page size (a positive int); ``None`` lets the server choose (all rows).
        order_by: ``OrderByField`` (or its string) to order by; ``None`` means by id.
        is_asc: Ascending (default) or descending order.
        next_page_token: Token of the page to read; ``None`` or ``""`` for the first page.
        filter_query: A filter such as ``"name='x' AND state='LIVE'"``.
    """

    limit: int | None = None
    order_by: OrderByField | str | None = None
    is_asc: bool = True
    next_page_token: str | None = None
    filter_query: str | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and (
            isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1
        ):
            raise ValueError(f"limit must be a positive int or None, got {self.limit!r}")
        if self.order_by is not None and not isinstance(self.order_by, OrderByField):
            try:
                self.order_by = OrderByField(str(self.order_by).upper())
            except ValueError:
                choices = ", ".join(m.value for m in OrderByField)
                raise ValueError(
                    f"order_by must be one of {choices}, got {self.order_by!r}"
                ) from None

    @classmethod
    def order_by_creation_time(cls, is_asc: bool = True, **kwargs: Any) -> ListOptions:
        """Options ordering by creation time (ascending unless ``is_asc=False``)."""
        return cls(order_by=OrderByField.CREATE_TIME, is_asc=is_asc, **kwargs)

    @classmethod
    def order_by_update_time(cls, is_asc: bool = True, **kwargs: Any) -> ListOptions:
        """Options ordering by last update time (ascending unless ``is_asc=False``)."""
        return cls(order_by=OrderByField.LAST_UPDATE_TIME, is_asc=is_asc, **kwargs)

    @classmethod
    def order_by_id(cls, is_asc: bool = True, **kwargs: Any) -> ListOptions:
        """Options ordering by id (ascending unless ``is_asc=False``)."""
        return cls(order_by=OrderByField.ID, is_asc=is_asc, **kwargs)

    @property
    def wire_page_size(self) -> int | None:
        """The page size to send: ``limit`` capped at :data:`MAX_WIRE_PAGE_SIZE`."""
        return None if self.limit is None else min(self.limit, MAX_WIRE_PAGE_SIZE)

    def copy(self, **changes: Any) -> ListOptions:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


class Page(list[T]):
    """One page of a listing: a ``list`` of items that also carries the next page's token.

    Attributes:
        next_page_token: Token of the next page; ``""`` on the last page.
        page_size: The page size the server used, when it said.
    """

    next_page_token: str
    page_size: int | None

    def __init__(
        self, items: Iterable[T] = (), next_page_token: str = "", page_size: int | None = None
    ) -> None:
        super().__init__(items)
        self.next_page_token = next_page_token or ""
        self.page_size = page_size

    def __repr__(self) -> str:
        return f"Page({list.__repr__(self)}, next_page_token={self.next_page_token!r})"


#: Items converted between two event-loop turns when a page is decoded while the next one is
#: being asked for: about 0.4 ms of work at a few µs per item, so that request goes out (and
#: its answer is read) while this page is converted.
_CHUNK = 100

#: What a transport reads from a list answer: the raw items, the next page token, the page size.
Envelope: TypeAlias = "tuple[Sequence[Any], str, int | None]"


class RawPage(Generic[T]):
    """A list answer as received: first its envelope, then, when asked, its decoded items.

    Transports return it from the first phase of a list call; the envelope (the next page
    token and how many items) is read without converting the items, so a ``Pager`` can ask
    for the next page before it converts this one.

    Args:
        read: Reads the answer's envelope: ``(raw items, next page token, page size)``;
            called once, when first needed (e.g. parses the JSON body).
        convert: Wire item -> domain object.
    """

    __slots__ = ("_convert", "_parts", "_read")

    def __init__(self, read: Callable[[], Envelope], convert: Callable[[Any], T]) -> None:
        self._read: Callable[[], Envelope] | None = read
        self._convert = convert
        self._parts: Envelope | None = None

    @classmethod
    def empty(cls) -> RawPage[T]:
        """The answer with no items and no next page."""
        return cls(lambda: ((), "", None), lambda item: item)

    def envelope(self) -> tuple[str, int]:
        """The next page token (``""`` on the last page) and the number of items."""
        parts = self._parts
        if parts is None:
            assert self._read is not None
            parts = self._parts = self._read()
            self._read = None  # drop what the reader holds (the raw bytes)
        return parts[1], len(parts[0])

    async def decode(self, *, share_loop: bool = False) -> Page[T]:
        """Convert the items into a ``Page``.

        Args:
            share_loop: Give the event loop a turn every ``_CHUNK`` items (set it when a
                request was just started, so it leaves while this page is converted).
        """
        self.envelope()
        assert self._parts is not None
        items, token, page_size = self._parts
        self._parts = ((), token, page_size)
        convert = self._convert
        if not share_loop:
            return Page([convert(item) for item in items], token, page_size)
        converted: list[T] = []
        for start in range(0, len(items), _CHUNK):
            await asyncio.sleep(0)
            converted += [convert(item) for item in items[start : start + _CHUNK]]
        if not items:
            await asyncio.sleep(0)
        return Page(converted, token, page_size)


class PageCall(Coroutine[Any, Any, Page[T]]):
    """What a list method returns: ``await`` it for the :class:`Page`.

    Awaiting it sends the request, decodes the answer, and stores the next page token in the
    ``options`` the list method was given. A :class:`~model_registry.types.Pager` instead
    takes the two phases apart: :meth:`fetch` (the answer, undecoded) and
    :meth:`RawPage.decode`, so it can ask for the next page in between. It is a coroutine
    (``asyncio.create_task``, ``asyncio.run`` and ``asyncio.gather`` take it) that runs
    nothing until it is awaited.

    Args:
        fetch: The first phase: send the request, return the raw answer.
        options: Where to store the next page token once awaited (``None``: nowhere).
    """

    __slots__ = ("_coro", "_fetch", "_options")

    def __init__(
        self, fetch: Callable[[], Awaitable[RawPage[T]]], options: ListOptions | None = None
    ) -> None:
        self._fetch = fetch
        self._options = options
        self._coro: Coroutine[Any, Any, Page[T]] | None = None

    async def fetch(self) -> RawPage[T]:
        """The first phase alone: the answer, not yet decoded (the options are not updated)."""
        return await self._fetch()

    async def _run(self) -> Page[T]:
        page = await (await self._fetch()).decode()
        if self._options is not None:
            self._options.next_page_token = page.next_page_token
        return page

    def _inner(self) -> Coroutine[Any, Any, Page[T]]:
        if self._coro is None:
            self._coro = self._run()
        return self._coro

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self._inner().__await__()

    def send(self, value: Any) -> Any:
        """Coroutine protocol: run to the next suspension point."""
        return self._inner().send(value)

    def throw(self, *args: Any) -> Any:
        """Coroutine protocol: raise an exception at the suspension point."""
        return self._inner().throw(*args)

    def close(self) -> None:
        """Coroutine protocol: close it (nothing was sent if it never ran)."""
        if self._coro is not None:
            self._coro.close()

    def __repr__(self) -> str:
        return f"PageCall({self._fetch!r})"
