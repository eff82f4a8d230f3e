"""The reference client's side of the bench; runs under ``bench/.ref-venv`` (model-registry 0.3.9).

Run from the repository root as ``bench/.ref-venv/bin/python -m bench.ref_client MODE ...``:
the ``model_registry`` it imports is then the reference package of that virtual environment (the
project's own package lives under ``src/`` and is not on this path). It prints one JSON
:class:`~bench.timing.Result` on stdout. Only the standard library and ``bench.timing`` (itself
standard library only) are imported besides the reference package.

Modes:
    ``get HOST PORT ID[,ID...] COUNT``: sequential ``get_registered_model_by_id``.
    ``create HOST PORT COUNT PREFIX``: sequential create registered model (named
    ``PREFIX-i``) + model version.
    ``page HOST PORT MODEL_ID PAGE_SIZE MAX_ITEMS``: ``Pager`` over the model's versions.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.metadata
import json
import sys
import time
from functools import partial
from typing import Any

from bench.timing import Recorder, Result, peak_rss, reset_peak_rss


def _ref() -> Any:
    """The reference client module (imported by name: it is not this project's package)."""
    return importlib.import_module("model_registry.core")


def _client(host: str, port: int) -> Any:
    return _ref().ModelRegistryAPIClient.insecure_connection(f"http://{host}", port)


async def _get(host: str, port: int, ids: list[str], count: int) -> Result:
    client = _client(host, port)
    for i in range(min(10, count)):  # warm-up: imports, first connection
        await client.get_registered_model_by_id(ids[i % len(ids)])
    rec = Recorder()
    with rec:
        for i in range(count):
            await rec.timed(partial(_expect_get, client, ids[i % len(ids)]))
    return rec.result(
        "f_get_ref",
        "sequential get_registered_model_by_id",
        "reference",
        "get",
        keep_latencies=True,
    )


async def _expect_get(client: Any, model_id: str) -> None:
    if await client.get_registered_model_by_id(model_id) is None:
        raise LookupError("the model was not found")


async def _create(host: str, port: int, count: int, prefix: str) -> Result:
    types = importlib.import_module("model_registry.types")
    client = _client(host, port)

    async def pair(i: int) -> None:
        rm = await client.upsert_registered_model(types.RegisteredModel(name=f"{prefix}-{i}"))
        await client.upsert_model_version(types.ModelVersion(name="v1", author="bench"), rm.id)

    await pair(-1)  # warm-up
    rec = Recorder()
    with rec:
        for i in range(count):
            await rec.timed(partial(pair, i))
    return rec.result(
        "f_create_ref",
        "sequential create model + version",
        "reference",
        "model+version",
        keep_latencies=True,
    )


async def _page(host: str, port: int, model_id: str, page_size: int, max_items: int) -> Result:
    types = importlib.import_module("model_registry.types")
    client = _client(host, port)

    # A coroutine *function* (not a lambda): the reference Pager picks async mode with
    # inspect.iscoroutinefunction.
    async def page_fn(options: Any) -> Any:
        return await client.get_model_versions(model_id, options)

    await page_fn(types.ListOptions(limit=page_size))  # warm-up: one page
    gc.collect()
    rss_start = reset_peak_rss()
    pager = types.Pager(page_fn).page_size(page_size)
    items = 0
    t0 = time.perf_counter()
    async for _item in pager:
        items += 1
        if items >= max_items:
            break
    seconds = time.perf_counter() - t0
    rss_peak = peak_rss()
    return Result(
        key="f_page_ref",
        title=f"Pager over versions, page size {page_size}",
        client="reference",
        ops=items,
        seconds=seconds,
        unit="item",
        extra={
            "rss_start_kb": rss_start,
            "rss_peak_kb": rss_peak,
            "rss_growth_kb": rss_peak - rss_start,
        },
    )


def main(argv: list[str]) -> int:
    """Run one mode and print its JSON result."""
    mode, host, port = argv[0], argv[1], int(argv[2])
    if mode == "get":
        result = asyncio.run(_get(host, port, argv[3].split(","), int(argv[4])))
    elif mode == "create":
        result = asyncio.run(_create(host, port, int(argv[3]), argv[4]))
    elif mode == "page":
        result = asyncio.run(_page(host, port, argv[3], int(argv[4]), int(argv[5])))
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    result.extra["version"] = importlib.metadata.version("model-registry")
    print(json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
