"""Our client's paging run, alone in a child process so its peak RSS is its own.

``python -m bench.paging_child TRANSPORT HOST PORT MODEL_ID PAGE_SIZE MAX_ITEMS`` walks the
model's versions with ``Pager`` (``async for``), reads each version's ``id`` and ``name`` (what
any caller of a listing reads), keeps nothing but a count, and prints one JSON
:class:`~bench.timing.Result`: items/s, the time of each page as the walk sees it (p50/p99),
the walk's CPU time per page in this process, and the peak RSS before the walk (after imports
and one warm-up page) and after it. The growth between the two is what the walk itself needed at its
peak.

With TRANSPORT ``floor`` the walk is the paging floor instead: a bare ``aiohttp`` session
against :mod:`bench.floor` (MODEL_ID is then ignored), one ``orjson.loads`` per page and the
next token read from it, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import aiohttp
import orjson

from bench import profile
from bench.timing import Recorder, Result, peak_rss, reset_peak_rss, result_from_stdout
from model_registry.core import ModelRegistryAPIClient
from model_registry.types import ListOptions, Pager


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
        items = touched = 0
        cpu0 = time.process_time()
        t0 = mark = time.perf_counter()
        # The page function returns the list method's PageCall, as the docs call it: the
        # Pager then asks for page n+1 as soon as page n's token is read, before decoding it.
        # (A coroutine around the call hides that: each page would be asked for only once the
        # one before was decoded. So a page's time is taken here, between page boundaries.)
        pager = Pager(lambda o: client.get_model_versions(model_id, o))
        async for version in pager.page_size(page_size).max_items(max_items):
            # What a caller of a listing reads at the least: decoding left until first read
            # would not count if the walk read nothing.
            if version.id and version.name:
                touched += 1
            items += 1
            if items % page_size == 0 or items == max_items:
                now = time.perf_counter()
                pages.latencies.append(now - mark)
                mark = now
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        rss_peak = peak_rss()
    if touched != items:
        raise RuntimeError(f"{items - touched} of {items} versions came without an id or name")
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
            "client_cpu_ms_per_page": round(cpu * 1000 / max(1, len(pages.latencies)), 3),
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
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        while items < max_items:
            p0 = time.perf_counter()
            got, token = await page(token)
            pages.latencies.append(time.perf_counter() - p0)
            if not got:
                raise RuntimeError("the floor's page is empty")
            items += min(got, max_items - items)
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
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
            "client_cpu_ms_per_page": round(cpu * 1000 / max(1, len(pages.latencies)), 3),
            "rss_start_kb": rss_start,
            "rss_peak_kb": rss_peak,
            "rss_growth_kb": rss_peak - rss_start,
        },
    )


def run_in_child(
    transport: str,
    host: str,
    port: int,
    model_id: str,
    page_size: int,
    items: int,
    *,
    server_pid: int | None = None,
    profile_out: Path | None = None,
) -> Result:
    """Run :func:`walk` in a fresh child process and return its result.

    Args:
        server_pid: The server walked (when given, its CPU time per page, warm-up page
            included, goes to ``extra["server_cpu_ms_per_page"]``).
        profile_out: Where py-spy writes the walking process's samples (None: not profiled).

    Raises:
        RuntimeError: The child failed.
    """
    # Imported here: the walking child keeps the heap it always had (its size sets the cost
    # of the garbage collector's full passes, for ours and the floor's walk alike).
    from bench.page_cpu import server_cpu_ns

    args = [transport, host, str(port), model_id, str(page_size), str(items)]
    cpu0 = None if server_pid is None else server_cpu_ns(server_pid)
    with subprocess.Popen(
        [sys.executable, "-m", "bench.paging_child", *args],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        spy = profile.record(proc.pid, profile_out) if profile_out else contextlib.nullcontext()
        with spy:
            try:
                stdout, stderr = proc.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
    if proc.returncode != 0:
        raise RuntimeError(f"paging child ({transport}) failed: {stderr[-2000:]}")
    result = result_from_stdout(stdout)
    if cpu0 is not None and server_pid is not None:
        pages = int(result.extra.get("pages", 0)) + 1  # and the warm-up page
        cpu_ms = (server_cpu_ns(server_pid) - cpu0) / 1e6
        result.extra["server_cpu_ms_per_page"] = round(cpu_ms / pages, 3)
    return result


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
