"""Pager and ListOptions with synchronous page functions (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from model_registry.exceptions import PagerLoopError
from model_registry.types import ListOptions, OrderByField, Page, Pager
from model_registry.types.pager import AnyPages, AsyncPages, SyncPages


class Table:
    """A sync page function over ``n`` ints with an id-keyed cursor; records every call."""

    def __init__(self, n: int) -> None:
        self.rows = list(range(1, n + 1))
        self.calls: list[ListOptions] = []

    def __call__(self, options: ListOptions) -> Page[int]:
        self.calls.append(options.copy())
        rows = sorted(self.rows, reverse=not options.is_asc)
        start = int(options.next_page_token) if options.next_page_token else 0
        size = options.limit or len(rows)
        chunk = rows[start : start + size]
        more = start + size < len(rows)
        return Page(chunk, next_page_token=str(start + size) if more else "")


@pytest.mark.parametrize("n", [0, 1, 3, 4])
def test_sync_for_yields_every_item_once_with_page_size_3(n: int) -> None:
    table = Table(n)
    assert list(Pager(table).limit(3)) == list(range(1, n + 1))


@pytest.mark.parametrize(("n", "pages"), [(0, 1), (1, 1), (3, 1), (4, 2), (7, 3)])
def test_sync_pager_reads_each_page_once_and_never_page_one_again(n: int, pages: int) -> None:
    table = Table(n)
    list(Pager(table).page_size(3))
    assert len(table.calls) == pages
    assert [c.next_page_token for c in table.calls] == [None] + [
        str(3 * i) for i in range(1, pages)
    ]


def test_max_items_caps_the_total_and_stops_reading() -> None:
    table = Table(10)
    assert list(Pager(table).limit(3).max_items(4)) == [1, 2, 3, 4]
    assert len(table.calls) == 2
    assert list(Pager(table).limit(3).max_items(0)) == []


def test_descending_and_order_setters_reach_the_page_function() -> None:
    table = Table(5)
    pager = Pager(table).order_by_creation_time().descending().limit(2).filter("name='x'")
    assert list(pager) == [5, 4, 3, 2, 1]
    first = table.calls[0]
    assert first.order_by is OrderByField.CREATE_TIME
    assert first.is_asc is False
    assert first.limit == 2
    assert first.filter_query == "name='x'"
    assert Pager(table).order_by_update_time().options.order_by is OrderByField.LAST_UPDATE_TIME
    assert Pager(table).order_by_id().ascending().options.is_asc is True


def test_repeated_token_raises_instead_of_looping() -> None:
    def looping(options: ListOptions) -> Page[int]:
        return Page([1], next_page_token="same")

    with pytest.raises(PagerLoopError, match="same"):
        list(Pager(looping))


def test_empty_pages_with_fresh_tokens_stop_after_ten_counting_the_items_received() -> None:
    calls: list[ListOptions] = []

    def fresh_tokens(options: ListOptions) -> Page[int]:
        calls.append(options)
        if len(calls) == 1:
            return Page([1, 2, 3], next_page_token="t1")
        return Page([], next_page_token=f"t{len(calls)}")

    with pytest.raises(PagerLoopError, match=r"10 empty pages in a row.*after 3 items"):
        list(Pager(fresh_tokens))
    assert len(calls) == 11


def test_the_empty_page_bound_is_configurable_and_reset_by_a_page_with_items() -> None:
    calls: list[ListOptions] = []

    def sparse(options: ListOptions) -> Page[int]:
        calls.append(options)
        n = len(calls)
        if n > 12:
            return Page([n])
        return Page([n] if n % 3 == 0 else [], next_page_token=f"t{n}")

    assert list(Pager(sparse).max_empty_pages(3)) == [3, 6, 9, 12, 13]
    calls.clear()
    with pytest.raises(PagerLoopError, match=r"2 empty pages in a row.*after 0 items"):
        list(Pager(sparse).max_empty_pages(2))
    with pytest.raises(ValueError, match="max_empty_pages"):
        Pager(sparse).max_empty_pages(0)


def test_next_page_walks_pages_and_restart_goes_back() -> None:
    table = Table(5)
    pager = Pager(table).limit(2)
    assert pager.next_page() == [1, 2]
    assert pager.next_page() == [3, 4]
    assert pager.next_page() == [5]
    assert pager.next_page() == []
    assert len(table.calls) == 3
    pager.restart()
    assert pager.next_page() == [1, 2]


def test_each_for_loop_starts_from_the_first_page() -> None:
    pager = Pager(Table(3)).limit(2)
    assert list(pager) == [1, 2, 3]
    assert list(pager) == [1, 2, 3]


def test_plain_list_page_function_uses_the_token_it_stored_in_the_options() -> None:
    data = [[1, 2], [3]]

    def fn(options: ListOptions) -> list[int]:
        index = int(options.next_page_token or 0)
        options.next_page_token = str(index + 1) if index + 1 < len(data) else ""
        return data[index]

    assert list(Pager(fn)) == [1, 2, 3]


def test_plain_for_over_an_async_page_function_is_a_type_error() -> None:
    async def fn(options: ListOptions) -> Page[int]:
        return Page([1])

    with pytest.raises(TypeError, match="async for"):
        list(Pager(fn))
    with pytest.raises(TypeError, match="async for"):
        list(Pager(lambda o: fn(o)))


async def test_async_for_over_a_sync_page_function_works() -> None:
    assert [x async for x in Pager(Table(4)).limit(3)] == [1, 2, 3, 4]


async def test_async_for_awaits_an_async_page_function() -> None:
    table = Table(5)

    async def fn(options: ListOptions) -> Page[int]:
        return table(options)

    assert [x async for x in Pager(lambda o: fn(o)).limit(2)] == [1, 2, 3, 4, 5]
    pager = Pager(fn).limit(2)
    assert await pager.next_page() == [1, 2]
    assert await pager.next_page() == [3, 4]
    assert await pager.next_page() == [5]
    assert await pager.next_page() == []


def test_page_function_must_be_callable() -> None:
    with pytest.raises(TypeError):
        Pager(42)  # type: ignore[call-overload]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_bad_page_sizes_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        ListOptions(limit=bad)


def test_list_options_constructors() -> None:
    assert ListOptions.order_by_creation_time(is_asc=False) == ListOptions(
        order_by=OrderByField.CREATE_TIME, is_asc=False
    )
    assert ListOptions.order_by_update_time().order_by is OrderByField.LAST_UPDATE_TIME
    assert ListOptions.order_by_id(limit=5) == ListOptions(limit=5, order_by="ID")
    assert ListOptions(order_by="create_time").order_by is OrderByField.CREATE_TIME
    with pytest.raises(ValueError, match="order_by"):
        ListOptions(order_by="TITLE")


def test_page_is_a_list_carrying_the_next_token() -> None:
    page = Page([1, 2], next_page_token="t")
    assert page == [1, 2]
    assert isinstance(page, list)
    assert page.next_page_token == "t"
    assert Page().next_page_token == ""


def test_a_pager_type_says_whether_next_page_is_awaited() -> None:
    # The type checker learns from the page function whether next_page() gives a Page or an
    # awaitable of one; at run time the marker is only a type argument.
    def sync_fn(options: ListOptions) -> Page[int]:
        return Page([1])

    pager: Pager[int, SyncPages] = Pager(sync_fn)
    assert pager.next_page() == [1]
    assert Pager[int].__args__ == (int, AnyPages)  # type: ignore[attr-defined]
    assert issubclass(SyncPages, AnyPages) and issubclass(AsyncPages, AnyPages)
