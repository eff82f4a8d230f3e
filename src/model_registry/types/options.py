"""``ListOptions`` and the list result type ``Page``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from model_registry.types.enums import OrderByField

__all__ = ["MAX_WIRE_PAGE_SIZE", "ListOptions", "Page"]

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
