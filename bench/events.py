"""The ``events`` group: what the event log costs writes, and how soon a watcher hears.

``python -m bench --only events`` (also run by a full run and a smoke run):

- ``v_create_events_<db>`` / ``v_create_no_events_<db>``: create throughput of one server
  with the event log and of one whose service skips the event append (``--no-events`` of
  this module's server, ``python -m bench.events serve``: the same server, its events'
  rows (``RegistryService._event_rows``) and PostgreSQL's assigner monkeypatched away,
  nothing else different: a write's answers are kept alike), sequential (model + version) and 64 in
  flight, in alternating rounds on fresh databases so both see the same machine noise. The
  report gives the cost as ``1 - with / without`` (goal: at most 10%).
- ``w_watch_latency_<db>``: a watcher (``client.watch()`` over REST) and a writer creating
  models one at a time with a short pause: per event, the time from the event's server time
  (taken in the write's transaction, just before the commit) to its arrival at the watcher,
  and from the create call's start to the arrival (an upper bound of commit to arrival).
  Goal: 50 ms on one server. Reported, never asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import pg
from bench.scenarios import concurrent_creates, sequential_creates
from bench.server import ServerProcess
from bench.timing import Result, merge, percentile
from model_registry.core import ModelRegistryAPIClient
from model_registry.types import Event, RegisteredModel


@contextlib.contextmanager
def serve(database: Path, database_url: str | None, *, events: bool) -> Iterator[ServerProcess]:
    """This module's server (``python -m bench.events serve``) with or without the event log."""
    url = database_url or f"sqlite:///{database}"
    command = [sys.executable, "-m", "bench.events", "serve", url]
    if not events:
        command.append("--no-events")
    with ServerProcess(database, database_url=database_url, command=command) as server:
        yield server


def cost_rounds(
    scratch: Path,
    database_url: str | None,
    label: str,
    *,
    creates: int,
    concurrent: int,
    in_flight: int,
    rounds: int,
) -> list[Result]:
    """Create throughput with and without the event log, in alternating rounds."""
    seq: dict[bool, list[Result]] = {True: [], False: []}
    conc: dict[bool, list[Result]] = {True: [], False: []}
    n = 0
    for _ in range(rounds):
        for events in (False, True):
            n += 1
            with contextlib.ExitStack() as stack:
                url = database_url
                if database_url is not None:
                    url = stack.enter_context(pg.fresh_schema(database_url, f"ev{n}"))
                server = stack.enter_context(
                    serve(scratch / f"events-{label}-{n}.db", url, events=events)
                )
                seq[events].append(asyncio.run(sequential_creates(server, creates, "rest")))
                conc[events].append(
                    asyncio.run(concurrent_creates(server, concurrent, in_flight, "rest"))
                )
    out = []
    for events in (False, True):
        name = "events" if events else "no_events"
        title = "with the event log" if events else "event append skipped"
        out.append(
            merge(
                f"v_create_{name}_{label}",
                f"sequential create model + version, {title}",
                "ours-rest",
                "model+version",
                seq[events],
            )
        )
        out.append(
            merge(
                f"v_concurrent_{name}_{label}",
                f"create registered model, {in_flight} in flight, {title}",
                "ours-rest",
                "create",
                conc[events],
            )
        )
    return out


async def watch_latency(server: ServerProcess, count: int, label: str) -> Result:
    """Per event: server event time -> arrival, and create call start -> arrival."""
    started: dict[str, float] = {}
    arrived: dict[str, tuple[float, Event]] = {}
    done = asyncio.Event()
    async with (
        ModelRegistryAPIClient.insecure_connection(server.host, server.port) as writer,
        ModelRegistryAPIClient.insecure_connection(server.host, server.port) as watcher,
    ):
        ready = asyncio.Event()

        async def watch() -> None:
            async with contextlib.aclosing(watcher.watch(kinds="registered_model")) as stream:
                async for event in stream:
                    arrived[event.entity["name"]] = (time.time(), event)
                    ready.set()
                    if len(started) == count and all(n in arrived for n in started):
                        done.set()

        task = asyncio.ensure_future(watch())
        while not ready.is_set():  # the watch starts "from now": write until it hears one
            await writer.upsert_registered_model(RegisteredModel(f"warm-{time.time_ns()}"))
            await asyncio.wait({asyncio.ensure_future(ready.wait())}, timeout=0.2)
        arrived.clear()
        t0 = time.perf_counter()
        for i in range(count):
            name = f"watched-{i}"
            started[name] = time.time()
            await writer.upsert_registered_model(RegisteredModel(name))
            await asyncio.sleep(0.01)
        if all(n in arrived for n in started):
            done.set()
        await asyncio.wait_for(done.wait(), 60)
        seconds = time.perf_counter() - t0
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    from_event = sorted(
        (arrived[n][0] - arrived[n][1].time_since_epoch / 1000) * 1000 for n in started
    )
    from_call = sorted((arrived[n][0] - started[n]) * 1000 for n in started)
    return Result(
        f"w_watch_latency_{label}",
        "watcher latency (REST SSE), one server",
        "ours-rest",
        count,
        seconds,
        "event",
        p50_ms=percentile(from_event, 0.5),
        p99_ms=percentile(from_event, 0.99),
        extra={
            "event_time_to_arrival_p95_ms": round(percentile(from_event, 0.95), 2),
            "call_start_to_arrival_p50_ms": round(percentile(from_call, 0.5), 2),
            "call_start_to_arrival_p95_ms": round(percentile(from_call, 0.95), 2),
        },
    )


def latency(scratch: Path, database_url: str | None, label: str, *, count: int) -> Result:
    """The watcher latency on one server with the event log."""
    with contextlib.ExitStack() as stack:
        url = database_url
        if database_url is not None:
            url = stack.enter_context(pg.fresh_schema(database_url, "evlat"))
        server = stack.enter_context(serve(scratch / f"latency-{label}.db", url, events=True))
        return asyncio.run(watch_latency(server, count, label))


def cost_percent(results: dict[str, Result], kind: str, label: str) -> float:
    """``1 - with / without`` of a pair of results, in percent (negative: no cost seen)."""
    with_ = results[f"v_{kind}_events_{label}"].ops_per_s
    without = results[f"v_{kind}_no_events_{label}"].ops_per_s
    return (1 - with_ / without) * 100


# -- the server ---------------------------------------------------------------------------


@contextlib.contextmanager
def events_switch(on: bool) -> Iterator[None]:
    """With ``on`` False, everything of a write but its event: no row built, none appended,
    and no assigner of PostgreSQL's pending cursors (part of what events cost)."""
    if on:
        yield
        return
    from model_registry.server.events import EventFeed
    from model_registry.server.service import RegistryService

    async def no_rows(self: RegistryService, tx: Any, changes: Any) -> list[Any]:
        return []

    saved = (RegistryService._event_rows, EventFeed._assigns)
    RegistryService._event_rows = no_rows  # type: ignore[method-assign]
    EventFeed._assigns = lambda self: False  # type: ignore[method-assign]
    try:
        yield
    finally:
        RegistryService._event_rows, EventFeed._assigns = saved  # type: ignore[method-assign]


async def _serve(database_url: str, events: bool) -> None:
    from model_registry.server import run_server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    with events_switch(events):
        async with run_server(database_url, grpc_port=0) as srv:
            print(f"serving on {srv.url}, gRPC on 127.0.0.1:{srv.grpc_port}", flush=True)
            await stop.wait()


def main(argv: list[str]) -> int:
    """``python -m bench.events serve DATABASE_URL [--no-events]``."""
    if len(argv) < 2 or argv[0] != "serve":
        print(main.__doc__, file=sys.stderr)
        return 2
    from model_registry._eventloop import resolve_loop, run_on_loop

    run_on_loop(_serve(argv[1], "--no-events" not in argv[2:]), resolve_loop("auto"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
