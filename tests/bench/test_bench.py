"""The bench's own pieces: statistics, targets, report, and scenarios against a real server."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import urllib.request
from pathlib import Path

import pytest

from bench import floor, pg, scale
from bench.cli import SMOKE, Run, _paging_rounds
from bench.mlflow_peer import MlflowCounts, run_scenarios
from bench.paging_child import run_in_child
from bench.report import Target, markdown, run_stamp, targets, write
from bench.scenarios import concurrent_creates, seed_models, sequential_gets
from bench.seed import scale_accuracy, seed_versions_sync
from bench.server import ServerProcess
from bench.timing import Recorder, Result, merge, percentile

PG_URL = os.environ.get("MR_TEST_DATABASE_URL", "")


def test_percentile_is_nearest_rank_and_nan_when_empty() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert math.isnan(percentile([], 0.5))


async def test_recorder_counts_failed_ops_and_keeps_the_first_error() -> None:
    rec = Recorder()

    async def ok() -> None:
        await asyncio.sleep(0)

    async def boom() -> None:
        raise LookupError("gone")

    with rec:
        for op in (ok, boom, ok, boom):
            await rec.timed(op)
    result = rec.result("k", "title", "client", "op")
    assert (result.ops, result.errors) == (4, 2)
    assert result.extra["first_error"] == "LookupError: gone"
    assert result.seconds > 0 and result.p50_ms is not None


def _result(key: str, ops: int, seconds: float, **extra: object) -> Result:
    return Result(key, "t", "c", ops, seconds, "op", extra=dict(extra))


def test_targets_compare_rates_and_flag_missing_scenarios() -> None:
    results = {
        "a_get_rest": _result("a_get_rest", 900, 1.0),
        "g_get_floor": _result("g_get_floor", 1000, 1.0),
        "f_get_ref": _result("f_get_ref", 30, 1.0),
        "c_concurrent_rest": _result("c_concurrent_rest", 10, 0.001, stored=10),
    }
    by_name = {t.name: t for t in targets(results, create_count=10)}
    floor = by_name["REST get / floor (a/g)"]
    assert floor.value == 0.9 and floor.met
    assert by_name["REST get / reference (a/f)"].value == 30.0
    assert not by_name["REST get / reference (a/f)"].met
    assert by_name["64-in-flight creates: no errors, all stored (c)"].met
    missing = by_name["gRPC get / REST get (e/a)"]
    assert math.isnan(missing.value) and not missing.met
    assert missing.to_json()["value"] is None


def test_a_max_target_is_met_at_or_below_its_goal() -> None:
    assert Target("rss", 1.5, 2.0, kind="max").met
    assert not Target("rss", 2.5, 2.0, kind="max").met


def test_markdown_has_the_stamp_every_result_and_every_target(tmp_path: Path) -> None:
    stamp = run_stamp(Path(__file__).resolve().parents[2])
    stamp["wall_seconds"] = 1.0
    results = [_result("a_get_rest", 10, 0.01), _result("g_get_floor", 10, 0.01)]
    goals = targets({r.key: r for r in results}, create_count=1)
    text = markdown(stamp, results, goals, {"x": "boom"})
    assert stamp["commit"] in text and stamp["cpu_model"] in text
    assert "| a_get_rest: t | c | 10 | op | 1,000 |" in text
    assert "REST get / floor (a/g) | 1.000x | >= 0.70x | yes" in text
    assert "- `x`: boom" in text


async def test_sequential_gets_measure_ours_and_the_floor_against_a_served_database(
    tmp_path: Path,
) -> None:
    with ServerProcess(tmp_path / "gets.db") as server:
        ids = await seed_models(server, 3)
        results = await sequential_gets(server, ids, count=12, rounds=2, warmup=1)
    assert [r.key for r in results] == ["a_get_rest", "e_get_grpc", "g_get_floor"]
    for r in results:
        assert (r.ops, r.errors) == (12, 0), r.extra
        assert r.ops_per_s > 0


def test_paging_child_walks_seeded_versions_and_reports_its_peak_rss(tmp_path: Path) -> None:
    db = tmp_path / "paged.db"
    model_id = seed_versions_sync(db, 1200)
    with ServerProcess(db) as server:
        rest = run_in_child(
            "rest", server.host, server.port, model_id, 500, 1200, server_pid=server.pid
        )
        grpc = run_in_child("grpc", server.host, server.grpc_port, model_id, 500, 1000)
    assert (rest.ops, rest.errors, rest.extra["pages"]) == (1200, 0, 3)
    assert grpc.ops == 1000 and grpc.extra["pages"] == 2
    assert rest.extra["rss_peak_kb"] >= rest.extra["rss_start_kb"] > 0
    # The walker's CPU per page, and the server's (asked for the REST walk only).
    assert rest.extra["client_cpu_ms_per_page"] > 0 and rest.extra["server_cpu_ms_per_page"] > 0
    assert grpc.extra["client_cpu_ms_per_page"] > 0 and "server_cpu_ms_per_page" not in grpc.extra


def test_paging_rounds_interleave_rest_floor_and_grpc_and_keep_every_rounds_ratio(
    tmp_path: Path,
) -> None:
    counts = dataclasses.replace(SMOKE, page_size=500, page_items=1000, page_rounds=2)
    run = Run(counts, tmp_path)
    template = tmp_path / "template.db"
    model_id = seed_versions_sync(template, 1200)
    results = {r.key: r for r in _paging_rounds(run, template, model_id)}
    assert set(results) == {"d_page_rest", "d_page_floor", "d_page_grpc"}
    for r in results.values():
        assert (r.ops, r.errors) == (1000, 0)
        rounds = r.extra["rounds_items_per_s"]
        assert len(rounds) == 2 and max(rounds) == round(r.ops_per_s)
        assert r.extra["server_cpu_ms_per_page"] > 0
    to_floor = results["d_page_rest"].extra["ratio_to_floor_by_round"]
    assert len(to_floor) == 2 and all(ratio > 0 for ratio in to_floor)
    assert len(results["d_page_grpc"].extra["ratio_to_rest_by_round"]) == 2


def test_merge_adds_rounds_up_and_takes_percentiles_from_their_raw_latencies() -> None:
    first = _result("k", 2, 1.0, latencies_ms=[1.0, 3.0], first_error="x")
    second = _result("k", 2, 3.0, latencies_ms=[2.0, 4.0])
    second.errors = 1
    merged = merge("k", "t", "c", "op", [first, second])
    assert (merged.ops, merged.seconds, merged.errors) == (4, 4.0, 1)
    assert merged.ops_per_s == 1.0
    assert (merged.p50_ms, merged.p99_ms) == (2.0, 4.0)
    assert merged.extra == {"rounds": 2, "first_error": "x"}


def test_new_targets_are_ratios_to_the_floor_mlflow_and_first_page() -> None:
    results = {
        "d_page_rest": _result("d_page_rest", 30_000, 1.0),
        "d_page_floor": _result("d_page_floor", 100_000, 1.0),
        "m_page": _result("m_page", 1_000, 1.0),
        "a_get_rest": _result("a_get_rest", 2_000, 1.0),
        "m_get": _result("m_get", 50, 1.0),
        "s_sqlite_all_start": _result("s_sqlite_all_start", 1, 1.0),
        "s_sqlite_all_end": _result("s_sqlite_all_end", 1, 1.0),
    }
    results["s_sqlite_all_start"].p50_ms = 10.0
    results["s_sqlite_all_end"].p50_ms = 16.0
    by_name = {t.name: t for t in targets(results, create_count=1)}
    floor_ratio = by_name["REST paging / paging floor (d/floor)"]
    assert floor_ratio.value == 0.3 and not floor_ratio.met
    assert by_name["REST paging / MLflow paging (d/m)"].value == 30.0
    assert by_name["REST paging / MLflow paging (d/m)"].met
    assert by_name["REST get / MLflow get (a/m)"].value == 40.0
    last_first = by_name["scale, SQLite, all: last page / first page (s)"]
    assert last_first.value == 1.6 and not last_first.met
    assert math.isnan(by_name["scale, PostgreSQL, filtered: last page / first page (s)"].value)


def test_scale_targets_are_listed_only_when_the_run_measured_scale() -> None:
    names = [t.name for t in targets({}, create_count=1)]
    assert not [n for n in names if n.startswith("scale")]
    assert "PostgreSQL: REST paging / paging floor (d/floor)" in names


def test_markdown_sets_ours_postgresql_mlflow_and_the_floor_side_by_side() -> None:
    stamp = run_stamp(Path(__file__).resolve().parents[2])
    results = [
        _result("a_get_rest", 1000, 1.0),
        _result("a_get_rest_pg", 800, 1.0),
        _result("m_get", 40, 1.0),
    ]
    text = markdown(stamp, results, [], {})
    assert "| sequential get (get/s) | 1,000 | 800 | 40.0 | - | - |" in text


def test_write_puts_a_prefix_before_every_file_name(tmp_path: Path) -> None:
    stamp = run_stamp(Path(__file__).resolve().parents[2])
    written = write(tmp_path, stamp, [], [], {}, prefix="scale-")
    assert {p.name for p in written} >= {"scale-latest.json", "scale-latest.md"}


def test_paging_floor_serves_our_page_byte_for_byte_and_the_floor_walk_counts_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "paged.db"
    model_id = seed_versions_sync(db, 1200)
    body = tmp_path / "page.json"
    with ServerProcess(db) as server:
        floor.capture_page(server, model_id, 500, body)
    assert body.read_bytes().count(b'"name":"v0') == 500
    with ServerProcess(tmp_path / "floor.db", command=floor.command(body)) as server:
        with urllib.request.urlopen(f"{server.url}/page?nextPageToken=x") as resp:
            assert resp.read() == body.read_bytes()
        result = run_in_child("floor", server.host, server.port, "-", 500, 1200)
    assert (result.key, result.ops, result.errors, result.extra["pages"]) == (
        "d_page_floor",
        1200,
        0,
        3,
    )


def test_scale_walks_cost_first_middle_and_last_pages_of_all_and_of_the_filter(
    tmp_path: Path,
) -> None:
    db = tmp_path / "scale.db"
    model_id = seed_versions_sync(db, 1000, scale=True)
    with ServerProcess(db) as server:
        results = scale.run(server, model_id, 50, "sqlite")
    by_key = {r.key: r for r in results}
    assert set(by_key) == {
        f"s_sqlite_{walk}_{pos}" for walk in ("all", "filtered") for pos in scale.POSITIONS
    }
    assert by_key["s_sqlite_all_end"].extra["walk_items"] == 1000
    assert by_key["s_sqlite_all_end"].extra["page_index"] == 19
    # The template (version 1) has accuracy 0.5; copies 2..1000 follow scale_accuracy.
    matching = sum(1 for i in range(2, 1001) if scale_accuracy(i) > 0.9)
    assert by_key["s_sqlite_filtered_start"].extra["walk_items"] == matching
    for r in results:
        assert r.p50_ms is not None and r.p50_ms > 0


def test_mlflow_scenarios_run_against_a_real_mlflow_server() -> None:
    got: dict[str, Result] = {}
    failures: dict[str, str] = {}

    def record(key: str, fn: object) -> None:
        try:
            result = fn()  # type: ignore[operator]
        except Exception as exc:
            failures[key] = repr(exc)
            return
        got[key] = result

    counts = MlflowCounts(
        gets=3, creates=2, concurrent_creates=9, page_versions=12, page_size=5, page_walks=2
    )
    run_scenarios(counts, record)
    assert failures == {}
    assert set(got) == {"m_get", "m_create", "m_concurrent", "m_page"}
    assert all(r.errors == 0 for r in got.values()), {k: r.extra for k, r in got.items()}
    assert (got["m_get"].ops, got["m_create"].ops) == (3, 2)
    assert got["m_concurrent"].extra["stored"] == 9
    assert (got["m_page"].ops, got["m_page"].extra["pages"]) == (24, 6)


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (MR_TEST_DATABASE_URL)")
def test_postgresql_schema_is_seeded_served_paged_and_dropped(tmp_path: Path) -> None:
    with pg.fresh_schema(PG_URL, "test") as url:
        model_id = seed_versions_sync(url, 1100)
        with ServerProcess(tmp_path / "pg.db", database_url=url) as server:
            page = run_in_child("rest", server.host, server.port, model_id, 500, 1100)
            created = asyncio.run(concurrent_creates(server, 20, 8, "rest"))
    assert (page.ops, page.errors) == (1100, 0)
    # Every model in the schema is counted back: the 20 created and the seeded one.
    assert (created.errors, created.extra["stored"]) == (0, 21)
    assert pg.unavailable(url) is None
    schema = url.rsplit("search_path=", 1)[1]
    check = asyncio.run(_schema_exists(schema))
    assert check is False


async def _schema_exists(schema: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema
            )
        )
    finally:
        await conn.close()


def test_postgresql_is_reported_unavailable_with_the_reason_when_nothing_answers() -> None:
    why = pg.unavailable("postgresql://postgres@127.0.0.1:1/test")
    assert why is not None and "Error" in why


def test_guard_scenarios_serve_every_variant_and_time_gets_under_a_hostile_load(
    tmp_path: Path,
) -> None:
    from bench import guard
    from bench.guard_child import VARIANTS

    cost = guard.guard_cost(tmp_path, gets=20, connections=5, rounds=1)
    assert len(cost) == 2 * len(VARIANTS)
    assert all(r.ops > 0 and r.seconds > 0 and r.errors == 0 for r in cost)
    plain = [r for r in cost if r.key.endswith("_plain")]
    assert [r.extra["wall_ratio_to_plain"] for r in plain] == [1.0, 1.0]
    assert all(r.extra["server_cpu_us_per_request"] >= 0 for r in cost)

    hostile = guard.hostile_gets(tmp_path, seconds=0.5, large_rows=1)
    assert [r.key for r in hostile] == [
        "h_quiet_get_sqlite",
        "h_hostile_get_sqlite",
        "h_quiet_get_grpc_sqlite",
        "h_hostile_get_grpc_sqlite",
        "h_hostile_healthz_sqlite",
    ]
    for r in hostile:
        assert r.ops > 0 and r.p99_ms is not None and r.p50_ms is not None


def test_the_events_group_measures_creates_with_and_without_the_log_and_watch_latency(
    tmp_path: Path,
) -> None:
    from bench import events as bench_events

    results = bench_events.cost_rounds(
        tmp_path, None, "sqlite", creates=3, concurrent=8, in_flight=4, rounds=1
    )
    results.append(bench_events.latency(tmp_path, None, "sqlite", count=3))
    by_key = {r.key: r for r in results}
    assert set(by_key) == {
        "v_create_no_events_sqlite",
        "v_concurrent_no_events_sqlite",
        "v_create_events_sqlite",
        "v_concurrent_events_sqlite",
        "w_watch_latency_sqlite",
    }
    assert all(r.errors == 0 and r.ops_per_s > 0 for r in results)
    assert by_key["v_concurrent_events_sqlite"].extra["stored"] >= 8
    latency = by_key["w_watch_latency_sqlite"]
    assert latency.ops == 3
    assert latency.p50_ms is not None and latency.p50_ms >= 0
    goals = {t.name: t for t in targets(by_key, create_count=8)}
    cost = goals["SQLite: event log cost on creates, 64 in flight (v)"]
    assert not math.isnan(cost.value)
    assert math.isnan(goals["PostgreSQL: watcher latency from the event's commit, p50 (w)"].value)


def test_the_in_process_events_bench_switches_off_the_events_only_and_reports_both_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from sqlalchemy import text

    from bench import events_cpu
    from model_registry.server.service import RegistryService
    from model_registry.server.store import Store
    from model_registry.server.store.events import read_events

    async def created_events(on: bool) -> tuple[int, bool]:
        store = await Store.open(f"sqlite:///{tmp_path / f'switch-{on}.db'}")
        service = RegistryService(store)
        try:
            with events_cpu.switch(on):
                await service.create("registered-model", {"name": "m"})
            found = await store.read(lambda tx: read_events(tx.executor, 0))
            kept = await store.read(
                lambda tx: tx.executor.execute(text("SELECT wire FROM contexts"))
            )
            return len(found), '"name":"m"' in kept.scalar_one()
        finally:
            await service.events.close()
            await store.close()

    # Off leaves out the event, and only it: the write and its kept answer are made alike.
    assert asyncio.run(created_events(False)) == (0, True)
    assert asyncio.run(created_events(True)) == (1, True)

    monkeypatch.setattr(events_cpu, "SEQUENTIAL", 2)
    monkeypatch.setattr(events_cpu, "CONCURRENT", 4)
    summary = events_cpu.run("sqlite", 1, "")["summary"]
    assert set(summary) == {"sequential", "concurrent"}
    for mode in summary.values():
        assert mode["events"]["cpu_us"] > 0 and mode["no_events"]["cpu_us"] > 0
        assert not math.isnan(mode["cpu_cost_percent"])
