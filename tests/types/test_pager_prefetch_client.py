"""``async for`` over a Pager of real list calls reads one page ahead, over REST and gRPC.

Each test walks the running server through the ``client`` fixture (both transports; SQLite, and
PostgreSQL when ``MR_TEST_DATABASE_URL`` is set). A recording page function shows the order of
events; no timing is asserted.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import InvalidResponse
from model_registry.types import (
    ListOptions,
    ModelVersion,
    Page,
    PageCall,
    Pager,
    RawPage,
    RegisteredModel,
)


async def _versions(client: ModelRegistryAPIClient, n: int) -> tuple[str, list[str]]:
    rm = await client.upsert_registered_model(RegisteredModel("paged"))
    assert rm.id is not None
    names = [f"v{i:02d}" for i in range(n)]
    for name in names:
        await client.upsert_model_version(ModelVersion(name, author="me"), rm.id)
    return rm.id, names


class Recorder:
    """A page function over a model's versions that logs when each call starts and when its
    page is decoded; it hands the Pager the list method's two phases."""

    def __init__(self, client: ModelRegistryAPIClient, model_id: str) -> None:
        self.client = client
        self.model_id = model_id
        self.log: list[tuple[str, int]] = []
        self.calls = 0

    def __call__(self, options: ListOptions) -> PageCall[ModelVersion]:
        self.calls += 1
        page = self.calls
        call = self.client.get_model_versions(self.model_id, options)

        async def fetch() -> RawPage[ModelVersion]:
            self.log.append(("start", page))
            return _Logged(await call.fetch(), self.log, page)

        return PageCall(fetch)


class _Logged(RawPage[ModelVersion]):
    """A received page that logs ``("end", page)`` once decoded."""

    def __init__(self, raw: RawPage[ModelVersion], log: list[tuple[str, int]], page: int) -> None:
        self.raw, self.log, self.page = raw, log, page

    def envelope(self) -> tuple[str, int]:
        return self.raw.envelope()

    async def decode(self, *, share_loop: bool = False) -> Page[ModelVersion]:
        result = await self.raw.decode(share_loop=share_loop)
        self.log.append(("end", self.page))
        return result


async def test_the_next_request_leaves_before_this_page_is_converted(
    client: ModelRegistryAPIClient,
) -> None:
    model_id, names = await _versions(client, 7)
    pages = Recorder(client, model_id)
    got = [v.name async for v in Pager(pages).page_size(2)]
    assert got == names
    assert pages.calls == 4  # the first page never read again, nothing after the last
    # Page 1's token was read before its items were converted: the walk asked for page 2
    # before page 1 was decoded.
    assert pages.log.index(("start", 2)) < pages.log.index(("end", 1))


async def test_max_items_asks_for_no_page_past_the_cap(client: ModelRegistryAPIClient) -> None:
    model_id, names = await _versions(client, 7)
    pages = Recorder(client, model_id)
    got = [v.name async for v in Pager(pages).page_size(2).max_items(4)]
    assert got == names[:4]
    assert pages.calls == 2


async def test_break_cancels_the_prefetch_and_the_client_goes_on(
    client: ModelRegistryAPIClient,
) -> None:
    model_id, names = await _versions(client, 7)
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async for version in Pager(lambda o: client.get_model_versions(model_id, o)).limit(2):
            assert version.name == names[0]
            break
        for _ in range(10):
            await asyncio.sleep(0)
        gc.collect()
    assert errors == []
    # The connection pool is fine after the cancelled request.
    assert [v.name async for v in Pager(lambda o: client.get_model_versions(model_id, o))] == names


async def test_a_failing_next_page_surfaces_when_the_walk_reaches_it(
    client: ModelRegistryAPIClient,
) -> None:
    model_id, names = await _versions(client, 5)

    async def page_fn(options: ListOptions) -> Page[ModelVersion]:
        if options.next_page_token:
            # A page function that rejects what page 2 brings.
            page = await client.get_model_versions(model_id, options)
            raise InvalidResponse(f"page after {page[0].name} refused")
        return await client.get_model_versions(model_id, options)

    got: list[str] = []
    with pytest.raises(InvalidResponse, match="refused"):
        async for version in Pager(page_fn).page_size(2):
            got.append(version.name)
    assert got == names[:2]
