"""Our client's paging run, alone in a child process so its peak RSS is its own.

``python -m bench.paging_child TRANSPORT HOST PORT MODEL_ID PAGE_SIZE MAX_ITEMS`` walks the
model's versions with ``Pager`` (``async for``), keeps nothing but a count, and prints one JSON
:class:`~bench.timing.Result`: items/s, the latency of each page call (p50/p99), and
``ru_maxrss`` before the walk (after imports and one warm-up page) and after it. The growth
between the two is what the walk itself needed at its peak.

With TRANSPORT ``floor`` the walk is the paging floor instead: a bare ``aiohttp`` session
against :mod:`bench.floor` (MODEL_ID is then ignored), one ``orjson.loads`` per page and the
next token read from it, nothing more.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import aiohttp
import orjson

from bench.timing import Recorder, Result, peak_rss, reset_peak_rss, result_from_stdout
from model_registry.core import ModelRegistryAPIClient
from model_registry.types import ListOptions, ModelVersion, Page, Pager


async def walk(
    transport: Literal["rest", "grpc"],
    host: str,
    port: int,
    model_id: str,
    page_size: int,
    max_items: int,
) -> Result:
    """Page through ``max_items`` versions of ``model_id`` and measure it."""
    async with ModelRegistryAPIClient.insecure_connection(
        host, port, transport=transport, timeout=120.0
    ) as client:
        await client.get_model_versions(model_id, ListOptions(limit=page_size))  # warm-up
        gc.collect()
        rss_start = reset_peak_rss()
        pages = Recorder()

        async def page_fn(options: ListOptions) -> Page[ModelVersion]:
            t0 = time.perf_counter()
            page = await client.get_model_versions(model_id, options)
            pages.latencies.append(time.perf_counter() - t0)
            return page

        items = 0
        t0 = time.perf_counter()
        async for _version in Pager(page_fn).page_size(page_size).max_items(max_items):
            items += 1
        seconds = time.perf_counter() - t0
        rss_peak = peak_rss()
    page_stats = pages.result("pages", "", "", "page")
    return Result(
        key=f"d_page_{transport}",
        title=f"Pager over versions, page size {page_size}",
        client=f"ours-{transport}",
        ops=items,
        seconds=seconds,
        unit="item",
        p50_ms=page_stats.p50_ms,
        p99_ms=page_stats.p99_ms,
        extra={
            "pages": len(pages.latencies),
            "latency_is_per": "page",
            "rss_start_kb": rss_start,
            "rss_peak_kb": rss_peak,
            "rss_growth_kb": rss_peak - rss_start,
        },
    )


async def walk_floor(host: str, port: int, page_size: int, max_items: int) -> Result:
    """Walk ``max_items`` items of the floor server's identical pages and measure it."""
    url = f"http://{host}:{port}/page"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:

        async def page(token: str) -> tuple[int, str]:
            async with session.get(url, params={"nextPageToken": token} if token else None) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"floor page: HTTP {resp.status}")
                body = orjson.loads(await resp.read())
            return len(body["items"]), str(body["nextPageToken"])

        await page("")  # warm-up
        gc.collect()
        rss_start = reset_peak_rss()
        pages = Recorder()
        items, token = 0, ""
        t0 = time.perf_counter()
        while items < max_items:
            p0 = time.perf_counter()
            got, token = await page(token)
            pages.latencies.append(time.perf_counter() - p0)
            if not got:
                raise RuntimeError("the floor's page is empty")
            items += min(got, max_items - items)
        seconds = time.perf_counter() - t0
        rss_peak = peak_rss()
    page_stats = pages.result("pages", "", "", "page")
    return Result(
        key="d_page_floor",
        title=f"paging floor: bare aiohttp, identical pre-built pages of {page_size}",
        client="floor",
        ops=items,
        seconds=seconds,
        unit="item",
        p50_ms=page_stats.p50_ms,
        p99_ms=page_stats.p99_ms,
        extra={
            "pages": len(pages.latencies),
            "latency_is_per": "page",
            "rss_start_kb": rss_start,
            "rss_peak_kb": rss_peak,
            "rss_growth_kb": rss_peak - rss_start,
        },
    )


def run_in_child(
    transport: str, host: str, port: int, model_id: str, page_size: int, items: int
) -> Result:
    """Run :func:`walk` in a fresh child process and return its result.

    Raises:
        RuntimeError: The child failed.
    """
    args = [transport, host, str(port), model_id, str(page_size), str(items)]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.paging_child", *args],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"paging child ({transport}) failed: {proc.stderr[-2000:]}")
    return result_from_stdout(proc.stdout)


def main(argv: list[str]) -> int:
    """Run the walk described by ``argv`` and print its JSON result."""
    transport, host, port, model_id, page_size, max_items = argv
    if transport == "floor":
        result = asyncio.run(walk_floor(host, int(port), int(page_size), int(max_items)))
        print(json.dumps(result.to_json()))
        return 0
    if transport not in ("rest", "grpc"):
        print(f"transport must be rest, grpc or floor, got {transport!r}", file=sys.stderr)
        return 2
    result = asyncio.run(
        walk(transport, host, int(port), model_id, int(page_size), int(max_items))  # type: ignore[arg-type]
    )
    print(json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
