"""``async for`` over a Pager reads one page ahead: order of calls, limits, errors, cancelling.

The page functions here are in-memory fakes that record what happens in which order (the real
transports are walked in ``tests/types/test_pager_prefetch_client.py``). No timing is asserted:
only the order of events.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

from model_registry.exceptions import PagerLoopError
from model_registry.types import ListOptions, Page, PageCall, Pager, RawPage


class Pages:
    """An async page function over ``n`` ints, ``size`` per page, that logs every step.

    ``log`` gets ``("start", page)`` when a page's call starts running, ``("end", page)`` when
    it returns, and the test adds ``("item", x)`` as it consumes. Page numbers start at 1.
    ``gates`` holds pages that wait for an event before answering; ``fail`` pages raise.
    ``announce`` makes it return a two-phase :class:`PageCall`, as the list methods do: the
    answer first (its token readable), ``("decode", page)`` logged when the walk reads it.
    """

    def __init__(self, n: int, size: int, *, announce: bool = False) -> None:
        self.rows = list(range(1, n + 1))
        self.size = size
        self.announce = announce
        self.log: list[tuple[str, Any]] = []
        self.calls: list[str | None] = []
        self.gates: dict[int, asyncio.Event] = {}
        self.fail: dict[int, Exception] = {}
        self.fail_converting: dict[int, Exception] = {}  # after its token was read
        self.cancelled: list[int] = []
        self.token_override: dict[int, str] = {}

    def page_of(self, options: ListOptions) -> int:
        start = int(options.next_page_token) if options.next_page_token else 0
        return start // self.size + 1

    def __call__(self, options: ListOptions) -> Any:
        self.calls.append(options.next_page_token)
        page = self.page_of(options)
        if self.announce:
            return PageCall(lambda: self._answer(page))
        return self._whole(page)

    async def _answer(self, page: int) -> RawPage[int]:
        self.log.append(("start", page))
        try:
            if page in self.gates:
                await self.gates[page].wait()
            await asyncio.sleep(0)  # the "network"
            if page in self.fail:
                raise self.fail[page]
        except asyncio.CancelledError:
            self.cancelled.append(page)
            raise
        start = (page - 1) * self.size
        chunk = self.rows[start : start + self.size]
        token = str(start + self.size) if start + self.size < len(self.rows) else ""
        return _Answer(self, page, chunk, token)

    async def _whole(self, page: int) -> Page[int]:
        result = await (await self._answer(page)).decode()
        self.log.remove(("decode", page))  # one phase: no separate decode step to show
        return result


class _Answer(RawPage[int]):
    """One page as the fake "received" it: logs when its envelope is read and when decoded."""

    def __init__(self, pages: Pages, page: int, chunk: list[int], token: str) -> None:
        def read() -> tuple[list[int], str, None]:
            pages.log.append(("decode", page))
            return chunk, token, None

        super().__init__(read, lambda item: item)
        self.pages, self.page = pages, page

    async def decode(self, *, share_loop: bool = False) -> Page[int]:
        result = await super().decode(share_loop=share_loop)
        await asyncio.sleep(0)  # the "conversion", giving the loop turns
        await asyncio.sleep(0)
        if self.page in self.pages.fail_converting:
            raise self.pages.fail_converting[self.page]
        self.pages.log.append(("end", self.page))
        return Page(result, self.pages.token_override.get(self.page, result.next_page_token))


async def consume(pager: Pager[int], log: list[tuple[str, Any]]) -> list[int]:
    out = []
    async for x in pager:
        log.append(("item", x))
        out.append(x)
    return out


def before(log: list[tuple[str, Any]], first: tuple[str, Any], second: tuple[str, Any]) -> bool:
    return log.index(first) < log.index(second)


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What the running loop's exception handler receives (e.g. "exception never retrieved")."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


@pytest.mark.parametrize("announce", [False, True])
async def test_next_page_is_requested_before_the_caller_consumes_this_one(announce: bool) -> None:
    pages = Pages(6, 2, announce=announce)
    assert await consume(Pager(pages).page_size(2), pages.log) == [1, 2, 3, 4, 5, 6]
    for page, first_item in [(2, 1), (3, 3)]:
        assert before(pages.log, ("start", page), ("item", first_item))
    # Each page read once, the first page never again, nothing after the last page.
    assert pages.calls == [None, "2", "4"]


async def test_early_token_asks_for_the_next_page_before_this_call_returns() -> None:
    pages = Pages(6, 2, announce=True)
    pages.gates[2] = asyncio.Event()
    async for x in Pager(pages).page_size(2):
        pages.log.append(("item", x))
        if x == 2:
            # Page 2 answers only once the caller is done with page 1, so the walk is already
            # waiting for it when it announces page 3.
            pages.gates[2].set()
    assert before(pages.log, ("start", 2), ("end", 1))
    assert before(pages.log, ("start", 3), ("end", 2))


async def test_never_more_than_one_page_ahead_of_a_slow_caller() -> None:
    pages = Pages(8, 2, announce=True)
    async for x in Pager(pages).page_size(2):
        pages.log.append(("item", x))
        for _ in range(20):  # the caller's own awaits: plenty of turns for the pager's tasks
            await asyncio.sleep(0)
    # Page 3 is asked for only once the caller is done with page 1, and so on.
    assert before(pages.log, ("item", 2), ("start", 3))
    assert before(pages.log, ("item", 4), ("start", 4))
    assert before(pages.log, ("item", 6), ("start", 4)) is False
    assert pages.calls == [None, "2", "4", "6"]


@pytest.mark.parametrize("announce", [False, True])
@pytest.mark.parametrize(("cap", "calls"), [(4, 2), (5, 3), (1, 1), (6, 3)])
async def test_max_items_never_asks_for_a_page_past_the_cap(
    announce: bool, cap: int, calls: int
) -> None:
    pages = Pages(10, 2, announce=announce)
    got = await consume(Pager(pages).page_size(2).max_items(cap), pages.log)
    assert got == list(range(1, cap + 1))
    assert len(pages.calls) == calls
    assert pages.cancelled == []


async def test_max_items_zero_reads_nothing() -> None:
    pages = Pages(10, 2)
    assert await consume(Pager(pages).max_items(0), pages.log) == []
    assert pages.calls == []


@pytest.mark.parametrize("announce", [False, True])
async def test_an_error_on_page_two_surfaces_after_every_item_of_page_one(
    announce: bool, loop_errors: list[dict[str, Any]]
) -> None:
    pages = Pages(6, 2, announce=announce)
    pages.fail[2] = LookupError("page 2 broke")
    got: list[int] = []
    with pytest.raises(LookupError, match="page 2 broke"):
        async for x in Pager(pages).page_size(2):
            got.append(x)
    assert got == [1, 2]
    assert len(pages.calls) == 2  # nothing asked after the failed page
    assert loop_errors == []


async def test_a_page_function_that_raises_at_once_fails_at_its_own_page() -> None:
    inner = Pages(6, 2)

    def page_fn(options: ListOptions) -> Any:
        if options.next_page_token == "2":
            raise KeyError("no page 2")
        return inner(options)

    got: list[int] = []
    with pytest.raises(KeyError, match="no page 2"):
        async for x in Pager(page_fn).page_size(2):
            got.append(x)
    assert got == [1, 2]


@pytest.mark.parametrize("announce", [False, True])
@pytest.mark.parametrize("close", ["aclose", "garbage"])
async def test_break_cancels_the_request_in_flight_without_warnings(
    announce: bool, close: str, loop_errors: list[dict[str, Any]]
) -> None:
    pages = Pages(6, 2, announce=announce)
    pages.gates[2] = asyncio.Event()  # page 2 never answers on its own
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        walk = Pager(pages).page_size(2).__aiter__()
        assert await walk.__anext__() == 1
        assert ("start", 2) in pages.log  # in flight
        if close == "aclose":
            await walk.aclose()  # type: ignore[attr-defined]
        else:
            del walk  # the loop's async-generator hook closes it
            gc.collect()
        for _ in range(5):
            await asyncio.sleep(0)
        gc.collect()
    assert pages.cancelled == [2]
    assert loop_errors == []


async def test_break_while_the_next_page_has_failed_logs_nothing(
    loop_errors: list[dict[str, Any]],
) -> None:
    pages = Pages(6, 2)
    pages.fail[2] = LookupError("page 2 broke")
    async for x in Pager(pages).page_size(2):
        for _ in range(5):
            await asyncio.sleep(0)  # page 2 fails meanwhile
        assert x == 1
        break
    for _ in range(5):
        await asyncio.sleep(0)
    gc.collect()
    assert loop_errors == []


@pytest.mark.parametrize("announce", [False, True])
async def test_repeated_token_still_raises_and_is_not_fetched_again(announce: bool) -> None:
    calls: list[str | None] = []

    def looping(options: ListOptions) -> Any:
        calls.append(options.next_page_token)
        items = [len(calls)]

        async def answer() -> RawPage[int]:
            return RawPage(lambda: (items, "same", None), lambda item: item)

        async def whole() -> Page[int]:
            return Page(items, next_page_token="same")

        return PageCall(answer) if announce else whole()

    got: list[int] = []
    with pytest.raises(PagerLoopError, match="same"):
        async for x in Pager(looping):
            got.append(x)
    assert calls == [None, "same"]
    assert got == [1]  # page 2 repeats the token: it raises instead of being handed out


async def test_a_token_changed_after_the_announcement_is_followed() -> None:
    # The page function announces one token but returns another: the early request is
    # dropped and the returned token is the one read.
    pages = Pages(8, 2, announce=True)
    pages.token_override[1] = "4"  # skip page 2
    pages.gates[2] = asyncio.Event()  # page 2, asked for early, is still in flight when dropped
    assert await consume(Pager(pages).page_size(2), pages.log) == [1, 2, 5, 6, 7, 8]
    assert pages.cancelled == [2]
    assert pages.calls == [None, "2", "4", "6"]


async def test_a_page_call_awaited_outside_a_walk_decodes_and_stores_the_token() -> None:
    options = ListOptions()
    fetched: list[str] = []

    async def answer() -> RawPage[int]:
        fetched.append("sent")
        return RawPage(lambda: ([1, 2], "t", 2), lambda item: item * 10)

    call = PageCall(answer, options)
    assert fetched == []  # nothing is sent before it is awaited
    page = await call
    assert page == [10, 20] and page.next_page_token == "t" and page.page_size == 2
    assert options.next_page_token == "t"
    raw = await PageCall(answer, options).fetch()  # the first phase alone
    assert options.next_page_token == "t"  # ... leaves the options alone
    assert raw.envelope() == ("t", 2)
    assert await raw.decode(share_loop=True) == [10, 20]
    assert await RawPage.empty().decode() == Page()


async def test_a_sync_page_function_is_still_read_page_after_page() -> None:
    log: list[tuple[str, Any]] = []
    rows = [1, 2, 3, 4, 5]

    def page_fn(options: ListOptions) -> Page[int]:
        start = int(options.next_page_token or 0)
        log.append(("start", start // 2 + 1))
        more = start + 2 < len(rows)
        return Page(rows[start : start + 2], next_page_token=str(start + 2) if more else "")

    assert await consume(Pager(page_fn), log) == rows
    assert before(log, ("item", 2), ("start", 2))
    assert before(log, ("item", 4), ("start", 3))


async def test_each_async_for_starts_again_and_next_page_is_unchanged() -> None:
    pages = Pages(5, 2, announce=True)
    pager = Pager(pages).page_size(2)
    assert [x async for x in pager] == [1, 2, 3, 4, 5]
    assert [x async for x in pager] == [1, 2, 3, 4, 5]
    pages.calls.clear()
    assert await pager.next_page() == [1, 2]
    assert await pager.next_page() == [3, 4]
    assert pages.calls == [None, "2"]  # the manual cursor reads no page ahead
    pager.restart()
    assert await pager.next_page() == [1, 2]


async def test_a_page_read_ahead_is_decoded_only_when_the_walk_gets_to_it() -> None:
    # Memory stays flat: the answer of the page read ahead waits undecoded while the caller
    # still holds the page before it.
    pages = Pages(6, 2, announce=True)
    async for x in Pager(pages).page_size(2):
        pages.log.append(("item", x))
        for _ in range(20):
            await asyncio.sleep(0)
    assert before(pages.log, ("start", 2), ("item", 1))
    assert before(pages.log, ("item", 2), ("decode", 2))
    assert before(pages.log, ("item", 4), ("decode", 3))


async def test_a_page_call_never_awaited_sends_nothing_and_warns_nothing() -> None:
    sent: list[int] = []

    async def answer() -> RawPage[int]:
        sent.append(1)
        return RawPage.empty()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call = PageCall(answer)
        call.close()
        del call
        gc.collect()
    assert sent == []
    assert await asyncio.ensure_future(PageCall(answer)) == []  # a task takes it too
    assert sent == [1]


async def test_a_page_that_fails_after_announcing_cancels_the_page_asked_for_early(
    loop_errors: list[dict[str, Any]],
) -> None:
    pages = Pages(6, 2, announce=True)
    pages.gates[3] = asyncio.Event()  # page 3 would never answer
    pages.fail_converting[2] = LookupError("page 2 malformed")
    got: list[int] = []
    with pytest.raises(LookupError, match="page 2 malformed"):
        async for x in Pager(pages).page_size(2):
            got.append(x)
    assert got == [1, 2]
    for _ in range(5):
        await asyncio.sleep(0)
    assert ("start", 3) in pages.log  # asked for on page 2's token ...
    assert pages.cancelled == [3]  # ... and dropped with page 2's error
    assert loop_errors == []


async def test_cancelling_the_caller_cancels_the_page_in_flight(
    loop_errors: list[dict[str, Any]],
) -> None:
    pages = Pages(6, 2, announce=True)
    pages.gates[2] = asyncio.Event()
    walking = asyncio.ensure_future(consume(Pager(pages).page_size(2), pages.log))
    for _ in range(20):
        await asyncio.sleep(0)
    assert ("item", 2) in pages.log  # page 1 consumed, the walk waits for page 2
    assert ("start", 2) in pages.log
    walking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await walking
    for _ in range(5):
        await asyncio.sleep(0)
    assert pages.cancelled == [2]
    assert loop_errors == []
