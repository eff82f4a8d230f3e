"""``--scale``: what a page costs at the start, the middle and the end of a walk over a million.

One registered model gets ``count`` versions (:func:`bench.seed.seed_versions` with
``scale=True``: 2 custom properties, ``accuracy`` spread over [0, 1)), then a server on that
database is walked twice by a bare aiohttp session, page by page with the server's keyset
tokens: all versions, and the versions matching :data:`FILTER` (about a tenth, spread over the
whole walk). Each walk keeps every page's token. Afterwards, the first, middle and last full
page of each walk are fetched again :data:`REPEATS` times each, and the median of those
fetches is that page's cost (request sent to body read: the server's work plus the wire, no
client decoding). The walk's own per-page times are summarised as well.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import aiohttp
import orjson

from bench.server import API_PATH, ServerProcess
from bench.timing import Result

FILTER = 'state = "LIVE" AND accuracy > 0.9'
"""The filtered walk's ``filterQuery`` (the issue's example)."""

REPEATS = 7
"""Fetches of each measured page (the median is reported)."""

POSITIONS = ("start", "middle", "end")


@dataclass
class Walk:
    """One keyset walk: the token that fetches each page, its size and its time."""

    tokens: list[str]
    sizes: list[int]
    seconds: list[float]


async def _fetch(
    session: aiohttp.ClientSession, url: str, params: dict[str, str]
) -> tuple[bytes, float]:
    t0 = time.perf_counter()
    async with session.get(url, params=params) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {url} {params}: HTTP {resp.status}: {body[:300]!r}")
    return body, time.perf_counter() - t0


async def _walk(session: aiohttp.ClientSession, url: str, base: dict[str, str]) -> Walk:
    walk = Walk([], [], [])
    token = ""
    while True:
        params = {**base, "nextPageToken": token} if token else dict(base)
        body, seconds = await _fetch(session, url, params)
        page = orjson.loads(body)
        walk.tokens.append(token)
        walk.sizes.append(len(page["items"]))
        walk.seconds.append(seconds)
        next_token = str(page.get("nextPageToken") or "")
        if next_token == token:
            raise RuntimeError(f"the server answered the same page token twice: {token!r}")
        token = next_token
        if not token:
            return walk


async def measure(
    server: ServerProcess, model_id: str, page_size: int, backend: str
) -> list[Result]:
    """Walk ``model_id``'s versions on ``server`` (all, then filtered) and cost 3 pages of each.

    Returns:
        One result per walk and position (``s_<backend>_<all|filtered>_<position>``): ``p50_ms``
        is the median fetch of that page; ``extra`` has the walk's own figures.
    """
    url = f"{server.url}{API_PATH}/registered_models/{model_id}/versions"
    results: list[Result] = []
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=600)
    ) as session:
        for walk_name, extra_params in (("all", {}), ("filtered", {"filterQuery": FILTER})):
            base = {"pageSize": str(page_size), **extra_params}
            t0 = time.perf_counter()
            walk = await _walk(session, url, base)
            walk_seconds = time.perf_counter() - t0
            full = [i for i, size in enumerate(walk.sizes) if size == page_size]
            if not full:
                raise RuntimeError(f"the {walk_name} walk has no full page of {page_size}")
            picks = dict(zip(POSITIONS, (full[0], full[len(full) // 2], full[-1]), strict=True))
            for position, index in picks.items():
                params = {**base, "nextPageToken": walk.tokens[index]} if index else dict(base)
                times = [(await _fetch(session, url, params))[1] for _ in range(REPEATS)]
                results.append(
                    Result(
                        key=f"s_{backend}_{walk_name}_{position}",
                        title=f"{backend}: page {index + 1} of {len(walk.sizes)} "
                        f"({walk_name}{', ' + FILTER if extra_params else ''})",
                        client="bare-aiohttp",
                        ops=REPEATS * page_size,
                        seconds=sum(times),
                        unit="item",
                        p50_ms=statistics.median(times) * 1000,
                        p99_ms=max(times) * 1000,
                        extra={
                            "latency_is_per": "page",
                            "page_index": index,
                            "walk_pages": len(walk.sizes),
                            "walk_items": sum(walk.sizes),
                            "walk_seconds": walk_seconds,
                            "walk_page_ms_median": statistics.median(walk.seconds) * 1000,
                            "walk_page_ms_here": walk.seconds[index] * 1000,
                        },
                    )
                )
    return results


def run(server: ServerProcess, model_id: str, page_size: int, backend: str) -> list[Result]:
    """:func:`measure` from synchronous code."""
    return asyncio.run(measure(server, model_id, page_size, backend))
