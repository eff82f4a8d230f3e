"""The event log's cost per create, in process: CPU time of the service with and without it.

``python -m bench.events_cpu [--db sqlite|pg|both] [--blocks 10] [--out DIR]``

One :class:`~model_registry.server.service.RegistryService` per database, no HTTP, on one
database: the event rows and PostgreSQL's assigner are switched off and on exactly as
``python -m bench.events serve --no-events`` does (:func:`switch`), in alternating blocks
(each pair of blocks starting with the other variant), so both variants see the same
machine and the same size of tables. A block is 100 sequential creates of a model and a
version, or 500 creates of models 64 in flight. Each block records this process's CPU time
per operation (``time.process_time``: the event loop and SQLite's writer thread;
PostgreSQL's own work is not in it, the wall time is) and its wall time. On a shared machine
the CPU time per operation is the figure to trust; the report gives the medians and the cost
``1 - without / with`` (per op; the same as ``1 - with / without`` of throughput).

It also runs on code older than ``RegistryService._event_rows`` (its event rows switched off
through ``_event_row`` and the service's ``append_events``): with ``PYTHONPATH`` at that
code's ``src`` (and this bench), for a before/after in one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from bench import pg
from bench.events import events_switch

SEQUENTIAL = 100
CONCURRENT = 500
IN_FLIGHT = 64


@contextlib.contextmanager
def switch(on: bool) -> Iterator[None]:
    """:func:`bench.events.events_switch`, or its form for code before ``_event_rows``."""
    from model_registry.server import service as service_module
    from model_registry.server.events import EventFeed
    from model_registry.server.service import RegistryService

    if on or hasattr(RegistryService, "_event_rows"):
        with events_switch(on):
            yield
        return

    async def no_row(self: Any, tx: Any, change: Any) -> None:
        return None

    async def no_append(executor: Any, rows: Any) -> None:
        return None

    service: Any = service_module
    saved = (RegistryService._event_row, service.append_events, EventFeed._assigns)
    RegistryService._event_row = no_row  # type: ignore[method-assign,assignment]
    service.append_events = no_append
    EventFeed._assigns = lambda self: False  # type: ignore[method-assign]
    try:
        yield
    finally:
        RegistryService._event_row, service.append_events, EventFeed._assigns = saved  # type: ignore[method-assign]


async def _sequential(service: Any, tag: str) -> int:
    for i in range(SEQUENTIAL):
        m = await service.create("registered-model", {"name": f"{tag}-{i}"})
        await service.create("model-version", {"name": "v1", "registeredModelId": m["id"]})
    return SEQUENTIAL


async def _concurrent(service: Any, tag: str) -> int:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with gate:
            await service.create("registered-model", {"name": f"{tag}-{i}"})

    await asyncio.gather(*(one(i) for i in range(CONCURRENT)))
    return CONCURRENT


async def _blocks(url: str, blocks: int) -> dict[str, dict[str, list[tuple[float, float]]]]:
    from model_registry.server.service import RegistryService
    from model_registry.server.store import Store

    runs: dict[str, Callable[[Any, str], Awaitable[int]]] = {
        "sequential": _sequential,
        "concurrent": _concurrent,
    }
    out: dict[str, dict[str, list[tuple[float, float]]]] = {
        mode: {"events": [], "no_events": []} for mode in runs
    }
    store = await Store.open(url)
    service = RegistryService(store)
    try:
        for mode, run in runs.items():
            await run(service, f"warm-{mode}")
            for b in range(blocks):
                for on in (True, False) if b % 2 else (False, True):
                    with switch(on):
                        c0, w0 = time.process_time(), time.perf_counter()
                        ops = await run(service, f"{mode}-{b}-{on}")
                        await service.events.assigned()  # the assigner's work is the write's
                        c1, w1 = time.process_time(), time.perf_counter()
                    variant = out[mode]["events" if on else "no_events"]
                    variant.append(((c1 - c0) / ops * 1e6, (w1 - w0) / ops * 1e6))
        await service.events.close()
    finally:
        await store.close()
    return out


@contextlib.contextmanager
def _database(db: str, pg_url: str) -> Iterator[str]:
    if db == "pg":
        with pg.fresh_schema(pg_url, "evcpu") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="evcpu-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'events.db'}"


def run(db: str, blocks: int, pg_url: str) -> dict[str, Any]:
    """The blocks of one database; every block's figures, the medians and the costs."""
    with _database(db, pg_url) as url:
        samples = asyncio.run(_blocks(url, blocks))
    summary: dict[str, Any] = {}
    for mode, variants in samples.items():
        med = {
            v: {
                "cpu_us": round(statistics.median(s[0] for s in rows), 1),
                "wall_us": round(statistics.median(s[1] for s in rows), 1),
            }
            for v, rows in variants.items()
        }
        summary[mode] = {
            **med,
            "cpu_cost_percent": round(
                (1 - med["no_events"]["cpu_us"] / med["events"]["cpu_us"]) * 100, 1
            ),
            "wall_cost_percent": round(
                (1 - med["no_events"]["wall_us"] / med["events"]["wall_us"]) * 100, 1
            ),
        }
    return {"blocks": samples, "summary": summary}


def main(argv: list[str]) -> int:
    """Run the A/B and print (and with ``--out`` write) its JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.events_cpu")
    parser.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("MR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--out", type=Path, help="write events_cpu[-LABEL].json here")
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"load_start": os.getloadavg()}
    for db in ("sqlite", "pg") if args.db == "both" else (args.db,):
        out[db] = run(db, args.blocks, args.pg_url)
        print(args.label, db, json.dumps(out[db]["summary"]), flush=True)
    out["load_end"] = os.getloadavg()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        name = f"events_cpu-{args.label}.json" if args.label else "events_cpu.json"
        (args.out / name).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
