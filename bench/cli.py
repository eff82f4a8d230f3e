"""``python -m bench [--smoke] [--scale] [--out DIR] [--profile DIR] [--only GROUP ...]``.

Runs the scenarios and writes the results.

Exit status: 0 when every scenario ran without error (targets missed or not), 1 when a scenario
raised or an operation inside one failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import artifacts as bench_artifacts
from bench import auth as bench_auth
from bench import decode, floor, guard, pg, profile, report, scale
from bench import events as bench_events
from bench.mlflow_peer import MlflowCounts, mlflow_version
from bench.mlflow_peer import run_scenarios as run_mlflow
from bench.paging_child import run_in_child
from bench.reference import REF_VERSION, ReferenceUnavailable, run_reference
from bench.scenarios import concurrent_creates, seed_models, sequential_creates, sequential_gets
from bench.seed import seed_versions_sync
from bench.server import ServerProcess
from bench.timing import Result, merge
from bench.ui import seed_ui_sync, ui_pages

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"


@dataclass(frozen=True)
class Counts:
    """How much each scenario does."""

    get_models: int
    gets: int
    get_rounds: int
    get_warmup: int
    creates: int
    create_rounds: int
    concurrent_creates: int
    in_flight: int
    page_size: int
    page_items: int
    page_items_small: int
    ref_gets: int
    ref_creates: int
    ref_page_items: int
    mlflow: MlflowCounts
    scale_versions: int
    scale_page_size: int
    ui_models: int = 2000
    ui_metric_points: int = 1000
    ui_requests: int = 30
    guard_gets: int = 1000
    guard_connections: int = 300
    guard_rounds: int = 6
    hostile_seconds: float = 10.0
    hostile_rows: int = 8
    event_rounds: int = 3
    event_watched: int = 200
    artifact_mb: int = 200
    artifact_rounds: int = 5
    decode_rounds: int = 50
    page_rounds: int = 3


FULL = Counts(
    get_models=100,
    gets=2000,
    get_rounds=4,
    get_warmup=50,
    creates=500,
    create_rounds=4,
    concurrent_creates=2000,
    in_flight=64,
    page_size=1000,
    page_items=100_000,
    page_items_small=10_000,
    # The reference client opens a new session (and TCP connection) per call: bounded counts,
    # compared as ops/s.
    ref_gets=200,
    ref_creates=100,
    ref_page_items=100_000,
    # MLflow answers tens of calls per second: bounded counts, compared as ops/s.
    mlflow=MlflowCounts(
        gets=300,
        creates=60,
        concurrent_creates=200,
        page_versions=2000,
        page_size=1000,
        page_walks=3,
    ),
    scale_versions=1_000_000,
    scale_page_size=1000,
)

SMOKE = Counts(
    get_models=5,
    gets=40,
    get_rounds=2,
    get_warmup=3,
    creates=10,
    create_rounds=2,
    concurrent_creates=128,
    in_flight=64,
    page_size=1000,
    page_items=3000,
    page_items_small=1000,
    ref_gets=5,
    ref_creates=3,
    ref_page_items=2000,
    ui_models=30,
    ui_metric_points=20,
    ui_requests=3,
    guard_gets=50,
    guard_connections=20,
    guard_rounds=1,
    hostile_seconds=1.0,
    hostile_rows=2,
    # Pages of 10 so that the walk follows page tokens.
    mlflow=MlflowCounts(
        gets=5, creates=3, concurrent_creates=16, page_versions=30, page_size=10, page_walks=1
    ),
    scale_versions=3000,
    scale_page_size=100,
    event_rounds=1,
    event_watched=10,
    artifact_mb=8,
    artifact_rounds=1,
    decode_rounds=3,
    page_rounds=1,
)

GROUPS = (
    "get",
    "create",
    "concurrent",
    "paging",
    "mlflow",
    "postgresql",
    "events",
    "artifacts",
    "ui",
    "scale",
    "guard",
    "decode",
    "auth",
)
"""Scenario groups ``--only`` can pick: get = a, e (get), g and the reference's gets;
create = b and the reference's creates; concurrent = c; paging = d, e (paging), the paging
floor and the reference's Pager; mlflow = the m_ scenarios against an ``mlflow server``;
postgresql = gets, creates, 64 in flight and paging on PostgreSQL; events = the event log's
cost on creates (v, with and without it) and the watcher latency (w), on both databases;
artifacts = x, artifact content upload and download MB/s over REST and gRPC against an aiohttp
floor that hashes and writes the same file (bench/artifacts.py);
ui = u, the web UI's pages on a registry of ``page_items`` versions; scale = the s_ page
costs over ``scale_versions``; guard = h, the connection guard's and the observe
middleware's cost (A/B against plain aiohttp) and gets under a hostile load on SQLite and
PostgreSQL (bench/guard.py); decode = k, the client's CPU to decode one page of versions over
each transport (bench/decode.py); auth = gets with auth off, with the admin token and with an
issued project token, interleaved on two servers (bench/auth.py)."""
DEFAULT_GROUPS = (
    "get",
    "create",
    "concurrent",
    "paging",
    "mlflow",
    "postgresql",
    "events",
    "artifacts",
    "decode",
    "auth",
)
"""What a full run without ``--only`` runs: ui and guard only on request (``--only ui``, it
seeds its own 100,000-version registry; ``--only guard``, minutes of A/B rounds), scale only
with ``--scale`` (a million versions, both databases);
a smoke run runs every group, so none rots."""


class Run:
    """One bench run: a scratch directory for databases, the results and failures so far."""

    def __init__(
        self,
        counts: Counts,
        scratch: Path,
        profile_dir: Path | None = None,
        pg_url: str = pg.DEFAULT_URL,
    ) -> None:
        self.counts = counts
        self.scratch = scratch
        self.profile_dir = profile_dir
        self.pg_url = pg_url
        self.results: list[Result] = []
        self.failures: dict[str, str] = {}
        self._n = 0

    def fresh_db(self, template: Path | None = None) -> Path:
        """A new database file (a copy of ``template`` when given)."""
        self._n += 1
        path = self.scratch / f"scenario-{self._n:02d}.db"
        if template is not None:
            shutil.copyfile(template, path)
        return path

    @contextlib.contextmanager
    def serve(
        self, label: str, template: Path | None = None, database_url: str | None = None
    ) -> Iterator[ServerProcess]:
        """A server on a fresh database (or on ``database_url``); with ``--profile``, py-spy
        samples it and the bench."""
        with ServerProcess(self.fresh_db(template), database_url=database_url) as server:
            if self.profile_dir is None:
                yield server
                return
            with (
                profile.record(server.pid, self.profile_dir / f"{label}-server.txt"),
                profile.record(os.getpid(), self.profile_dir / f"{label}-bench.txt"),
            ):
                yield server

    def attempt(self, key: str, fn: Callable[[], list[Result] | Result]) -> None:
        """Run one scenario; record its results, or its failure without stopping the run."""
        print(f"bench: {key} ...", flush=True)
        t0 = time.perf_counter()
        try:
            got = fn()
        except ReferenceUnavailable as exc:
            self.failures[key] = f"skipped: {exc}"
            print(f"bench: {key} skipped: {exc}", flush=True)
            return
        except Exception as exc:  # one broken scenario must not hide the others' figures
            self.failures[key] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            return
        for r in got if isinstance(got, list) else [got]:
            self.results.append(r)
            errs = f", {r.errors} errors" if r.errors else ""
            print(
                f"bench:   {r.key:<22} {r.client:<10} {r.ops_per_s:>11,.1f} {r.unit}/s"
                f"{errs}  ({time.perf_counter() - t0:.1f}s)",
                flush=True,
            )


def _get_group(run: Run) -> list[Result]:
    c = run.counts
    with run.serve("get") as server:
        ids = asyncio.run(seed_models(server, c.get_models))
        results = asyncio.run(sequential_gets(server, ids, c.gets, c.get_rounds, c.get_warmup))
        try:
            ref = run_reference(
                "get", server.host, str(server.port), ",".join(ids), str(c.ref_gets)
            )
            results.append(merge(ref.key, ref.title, ref.client, ref.unit, [ref]))
        except ReferenceUnavailable as exc:
            run.failures["f_get_ref"] = f"skipped: {exc}"
    return results


def _create_group(run: Run) -> list[Result]:
    """(b) and the reference's (b) on one server, in alternating rounds (see the README)."""
    c = run.counts
    ours: list[Result] = []
    ref: list[Result] = []
    with run.serve("create") as server:
        for r in range(c.create_rounds):
            ours.append(
                asyncio.run(
                    sequential_creates(server, c.creates // c.create_rounds, "rest", f"ours-{r}")
                )
            )
            try:
                ref.append(
                    run_reference(
                        "create",
                        server.host,
                        str(server.port),
                        str(max(1, c.ref_creates // c.create_rounds)),
                        f"ref-{r}",
                    )
                )
            except ReferenceUnavailable as exc:
                run.failures["f_create_ref"] = f"skipped: {exc}"
    title = "sequential create model + version"
    results = [merge("b_create_rest", title, "ours-rest", "model+version", ours)]
    if ref:
        results.append(merge("f_create_ref", title, "reference", "model+version", ref))
    return results


def _concurrent(run: Run) -> Result:
    c = run.counts
    with run.serve("c_concurrent") as server:
        return asyncio.run(concurrent_creates(server, c.concurrent_creates, c.in_flight, "rest"))


def _paging(
    run: Run, template: Path, model_id: str, transport: str, items: int, label: str = ""
) -> Result:
    c = run.counts
    label = label or f"d_page_{transport}_{items}"
    walker = None if run.profile_dir is None else run.profile_dir / f"{label}-walker.txt"
    with run.serve(label, template) as server:
        port = server.port if transport == "rest" else server.grpc_port
        return run_in_child(
            transport,
            server.host,
            port,
            model_id,
            c.page_size,
            items,
            server_pid=server.pid,
            profile_out=walker,
        )


def _ref_paging(run: Run, template: Path, model_id: str) -> Result:
    c = run.counts
    with run.serve("f_page_ref", template) as server:
        return run_reference(
            "page",
            server.host,
            str(server.port),
            model_id,
            str(c.page_size),
            str(c.ref_page_items),
        )


def _floor_page(run: Run, template: Path, model_id: str) -> Path:
    """Our server's first page of ``model_id``'s versions, captured once for the floor."""
    body = run.scratch / "floor-page.json"
    with run.serve("floor_capture", template) as server:
        floor.capture_page(server, model_id, run.counts.page_size, body)
    return body


def _floor_paging(run: Run, body: Path, label: str = "d_page_floor") -> Result:
    """The paging floor: the captured page walked from a trivial server."""
    c = run.counts
    walker = None if run.profile_dir is None else run.profile_dir / f"{label}-walker.txt"
    with ServerProcess(run.scratch / "floor.db", command=floor.command(body)) as server:
        result = run_in_child(
            "floor",
            server.host,
            server.port,
            "-",
            c.page_size,
            c.page_items,
            server_pid=server.pid,
            profile_out=walker,
        )
    result.extra["page_bytes"] = body.stat().st_size
    return result


_WALKS = ("rest", "floor", "grpc")


def _paging_rounds(run: Run, template: Path, model_id: str) -> list[Result]:
    """d (REST), the paging floor and e (gRPC) taking turns for ``page_rounds`` rounds, each
    round starting with another walk and every walk on a fresh server; each keeps its best
    round, and the ratios of every round (REST / floor, gRPC / REST) go to the extras."""
    c = run.counts
    body = _floor_page(run, template, model_id)
    rounds: dict[str, list[Result]] = {}
    for r in range(c.page_rounds):
        for walk in _WALKS[r % 3 :] + _WALKS[: r % 3]:
            label = f"d_page_{walk}_round{r + 1}"
            if walk == "floor":
                result = _floor_paging(run, body, label)
            else:
                result = _paging(run, template, model_id, walk, c.page_items, label)
            rounds.setdefault(result.key, []).append(result)
    best: dict[str, Result] = {}
    for key, results in rounds.items():
        best[key] = max(results, key=lambda result: result.ops_per_s)
        best[key].extra["rounds_items_per_s"] = [round(result.ops_per_s) for result in results]
    for key, over, name in (
        ("d_page_rest", "d_page_floor", "to_floor"),
        ("d_page_grpc", "d_page_rest", "to_rest"),
    ):
        ratios = [a.ops_per_s / b.ops_per_s for a, b in zip(rounds[key], rounds[over], strict=True)]
        best[key].extra[f"ratio_{name}_by_round"] = [round(ratio, 3) for ratio in ratios]
        best[key].extra[f"ratio_{name}_median"] = round(statistics.median(ratios), 3)
    return list(best.values())


def _mlflow_group(run: Run) -> None:
    """The m_ scenarios; an MLflow server that cannot start is a failure of the run."""
    try:
        run_mlflow(run.counts.mlflow, run.attempt)
    except Exception as exc:  # reported, never skipped: the run then exits 1
        run.failures["m_mlflow_server"] = f"the MLflow server did not run: {exc}"
        print(f"bench: MLflow FAILED: {exc}", flush=True)


def _on_postgresql(results: list[Result]) -> list[Result]:
    for r in results:
        r.key += "_pg"
        r.title += " (PostgreSQL)"
    return results


def _pg_group(run: Run) -> None:
    """Gets, creates, 64 in flight and paging (REST and gRPC) on PostgreSQL, a fresh schema each."""
    c = run.counts

    def gets() -> list[Result]:
        with (
            pg.fresh_schema(run.pg_url, "get") as url,
            run.serve("pg_get", database_url=url) as server,
        ):
            ids = asyncio.run(seed_models(server, c.get_models))
            return _on_postgresql(
                asyncio.run(sequential_gets(server, ids, c.gets, c.get_rounds, c.get_warmup))
            )

    def creates() -> list[Result]:
        with (
            pg.fresh_schema(run.pg_url, "create") as url,
            run.serve("pg_create", database_url=url) as server,
        ):
            return _on_postgresql([asyncio.run(sequential_creates(server, c.creates, "rest"))])

    def concurrent() -> list[Result]:
        with (
            pg.fresh_schema(run.pg_url, "concurrent") as url,
            run.serve("pg_concurrent", database_url=url) as server,
        ):
            return _on_postgresql(
                [asyncio.run(concurrent_creates(server, c.concurrent_creates, c.in_flight, "rest"))]
            )

    def paging() -> list[Result]:
        with pg.fresh_schema(run.pg_url, "paging") as url:
            print(f"bench: seeding {c.page_items:,} versions in PostgreSQL ...", flush=True)
            t0 = time.perf_counter()
            model_id = seed_versions_sync(url, c.page_items)
            print(f"bench:   seeded in {time.perf_counter() - t0:.1f}s", flush=True)
            results = []
            for transport in ("rest", "grpc"):
                with run.serve(f"pg_page_{transport}", database_url=url) as server:
                    port = server.port if transport == "rest" else server.grpc_port
                    results.append(
                        run_in_child(
                            transport, server.host, port, model_id, c.page_size, c.page_items
                        )
                    )
            return _on_postgresql(results)

    why = pg.unavailable(run.pg_url)
    if why is not None:
        run.failures["postgresql"] = f"skipped: PostgreSQL does not answer at {run.pg_url}: {why}"
        print(f"bench: {run.failures['postgresql']}", flush=True)
        return
    run.attempt("PostgreSQL gets", gets)
    run.attempt("PostgreSQL creates", creates)
    run.attempt("PostgreSQL concurrent creates", concurrent)
    run.attempt("PostgreSQL paging", paging)


def _scale_group(run: Run) -> None:
    """Page costs at the start, middle and end of a walk over many versions, both databases."""
    c = run.counts

    def seeded(backend: str, database: Path | str) -> str:
        print(f"bench: seeding {c.scale_versions:,} versions ({backend}) ...", flush=True)
        t0 = time.perf_counter()
        model_id = seed_versions_sync(database, c.scale_versions, scale=True)
        print(f"bench:   seeded in {time.perf_counter() - t0:.1f}s", flush=True)
        return model_id

    def on_sqlite() -> list[Result]:
        db = run.fresh_db()
        model_id = seeded("SQLite", db)
        with run.serve("s_sqlite", db) as server:
            return scale.run(server, model_id, c.scale_page_size, "sqlite")

    def on_postgresql() -> list[Result]:
        with pg.fresh_schema(run.pg_url, "scale") as url:
            model_id = seeded("PostgreSQL", url)
            with run.serve("s_pg", database_url=url) as server:
                return scale.run(server, model_id, c.scale_page_size, "pg")

    run.attempt("scale SQLite", on_sqlite)
    why = pg.unavailable(run.pg_url)
    if why is None:
        run.attempt("scale PostgreSQL", on_postgresql)
    else:
        run.failures["s_pg"] = f"skipped: PostgreSQL does not answer at {run.pg_url}: {why}"


def execute(
    counts: Counts,
    groups: set[str],
    scratch: Path,
    profile_dir: Path | None = None,
    pg_url: str = pg.DEFAULT_URL,
) -> Run:
    """Run the chosen scenario groups, each on a fresh database and server."""
    run = Run(counts, scratch, profile_dir, pg_url)
    if "get" in groups:
        run.attempt("a/e/g/f sequential gets", lambda: _get_group(run))
    if "create" in groups:
        run.attempt("b/f sequential creates", lambda: _create_group(run))
    if "concurrent" in groups:
        run.attempt("c concurrent creates", lambda: _concurrent(run))
    if "paging" in groups:
        template = scratch / "paging-template.db"
        items = max(counts.page_items, counts.ref_page_items)
        print(f"bench: seeding {items:,} versions ...", flush=True)
        t0 = time.perf_counter()
        model_id = seed_versions_sync(template, items)
        print(f"bench:   seeded in {time.perf_counter() - t0:.1f}s", flush=True)
        run.attempt(
            f"d/e paging REST, floor, gRPC ({counts.page_rounds} interleaved rounds)",
            lambda: _paging_rounds(run, template, model_id),
        )

        def small() -> Result:
            r = _paging(run, template, model_id, "rest", counts.page_items_small)
            r.key = "d_page_rest_small"
            return r

        run.attempt("d paging REST (small, for RSS)", small)
        run.attempt("f reference paging", lambda: _ref_paging(run, template, model_id))
    if "ui" in groups:
        run.attempt("u web UI pages", lambda: _ui(run))
    if "mlflow" in groups:
        _mlflow_group(run)
    if "postgresql" in groups:
        _pg_group(run)
    if "events" in groups:
        _events_group(run)
    if "artifacts" in groups:
        _artifacts_group(run)
    if "scale" in groups:
        _scale_group(run)
    if "guard" in groups:
        _guard_group(run)
    if "auth" in groups:
        c = run.counts
        run.attempt(
            "a gets with auth on and off",
            lambda: bench_auth.auth_gets(
                run.scratch, c.get_models, c.gets, c.get_rounds, c.get_warmup
            ),
        )
    if "decode" in groups:
        run.attempt(
            "k client decoding of a page",
            lambda: decode.client_decode(
                run.scratch, run.counts.page_size, run.counts.decode_rounds
            ),
        )
    return run


def _artifacts_group(run: Run) -> None:
    c = run.counts
    source = bench_artifacts.make_file(run.scratch / "artifact.bin", c.artifact_mb)
    with run.serve("x_artifacts") as server:
        run.attempt(
            "x artifact content (floor, REST, gRPC)",
            lambda: bench_artifacts.interleaved_rounds(
                run.scratch, source, c.artifact_mb, c.artifact_rounds, server
            ),
        )


def _guard_group(run: Run) -> None:
    c = run.counts
    run.attempt(
        "h observe middleware in process", lambda: guard.observe_call_cost(c.guard_gets * 20)
    )
    run.attempt(
        "h guard cost (A/B)",
        lambda: guard.guard_cost(run.scratch, c.guard_gets, c.guard_connections, c.guard_rounds),
    )
    run.attempt(
        "h gets under hostile load (SQLite)",
        lambda: guard.hostile_gets(run.scratch, c.hostile_seconds, c.hostile_rows),
    )
    why = pg.unavailable(run.pg_url)
    if why is not None:
        run.failures["h_hostile_pg"] = f"skipped: PostgreSQL does not answer at {run.pg_url}: {why}"
        return

    def on_postgresql() -> list[Result]:
        with pg.fresh_schema(run.pg_url, "guard") as url:
            return guard.hostile_gets(run.scratch, c.hostile_seconds, c.hostile_rows, url)

    run.attempt("h gets under hostile load (PostgreSQL)", on_postgresql)


def _events_group(run: Run) -> None:
    c = run.counts
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    reason = pg.unavailable(run.pg_url)
    if reason is None:
        backends.append(("pg", run.pg_url))
    else:
        run.failures["v/w events on PostgreSQL"] = f"skipped: PostgreSQL unavailable ({reason})"
    for label, url in backends:
        run.attempt(
            f"v event log cost ({label})",
            lambda url=url, label=label: bench_events.cost_rounds(  # type: ignore[misc]
                run.scratch,
                url,
                label,
                creates=c.creates // c.create_rounds,
                concurrent=c.concurrent_creates,
                in_flight=c.in_flight,
                rounds=c.event_rounds,
            ),
        )
        run.attempt(
            f"w watcher latency ({label})",
            lambda url=url, label=label: bench_events.latency(  # type: ignore[misc]
                run.scratch, url, label, count=c.event_watched
            ),
        )


def _ui(run: Run) -> list[Result]:
    c = run.counts
    template = run.fresh_db()
    print(f"bench: seeding the UI registry ({c.page_items:,} versions) ...", flush=True)
    ids = seed_ui_sync(template, c.page_items, c.ui_models, c.ui_metric_points)
    with run.serve("u_ui", template) as server:
        return ui_pages(server, ids, c.ui_requests)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny counts (under a minute), results to a temp dir"
    )
    parser.add_argument(
        "--out", type=Path, help="results directory (default bench/results, smoke: a temp dir)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the server and the bench with py-spy into DIR (figures then run slower)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=GROUPS,
        help="run only these scenario groups (default: all but ui and scale; smoke: all)",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="run only the scale group (a million versions; results to scale-latest.*)",
    )
    parser.add_argument(
        "--pg-url",
        default=pg.DEFAULT_URL,
        help=f"PostgreSQL for the postgresql and scale groups (default {pg.DEFAULT_URL})",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run the bench; see the module docstring for the exit status."""
    args = _parser().parse_args(argv)
    counts = SMOKE if args.smoke else FULL
    if args.scale:
        groups = {"scale"}
    else:
        groups = set(args.only or (GROUPS if args.smoke else DEFAULT_GROUPS))
    stamp = report.run_stamp(BENCH_DIR.parent)
    stamp["smoke"] = args.smoke
    stamp["counts"] = asdict(counts)
    stamp["reference_version"] = REF_VERSION
    stamp["mlflow_version"] = mlflow_version()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mr-bench-") as scratch:
        run = execute(counts, groups, Path(scratch), args.profile, args.pg_url)
        out_dir = args.out or (Path(scratch) / "results" if args.smoke else RESULTS_DIR)
        stamp["wall_seconds"] = time.perf_counter() - t0
        stamp["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        goals = report.targets(
            {r.key: r for r in run.results}, create_count=counts.concurrent_creates
        )
        # A run of the guard, artifacts or ui group alone has files of its own: latest.*
        # stays a full run's.
        alone = {"guard", "artifacts", "ui"}
        prefix = (
            "scale-"
            if args.scale
            else f"{next(iter(groups))}-"
            if len(groups) == 1 and groups <= alone
            else ""
        )
        written = report.write(out_dir, stamp, run.results, goals, run.failures, prefix=prefix)
        print()
        print(written[1].read_text())
        if args.out or not args.smoke:
            print("bench: wrote " + ", ".join(str(p) for p in written))
    errors = [r.key for r in run.results if r.errors]
    real_failures = {k: v for k, v in run.failures.items() if not v.startswith("skipped:")}
    if real_failures or errors:
        print(f"bench: FAILED: {sorted(real_failures) + errors}")
        return 1
    return 0
