"""The bench's own pieces: statistics, targets, report, and scenarios against a real server."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from bench.paging_child import run_in_child
from bench.report import Target, markdown, run_stamp, targets
from bench.scenarios import seed_models, sequential_gets
from bench.seed import seed_versions_sync
from bench.server import ServerProcess
from bench.timing import Recorder, Result, merge, percentile


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
        rest = run_in_child("rest", server.host, server.port, model_id, 500, 1200)
        grpc = run_in_child("grpc", server.host, server.grpc_port, model_id, 500, 1000)
    assert (rest.ops, rest.errors, rest.extra["pages"]) == (1200, 0, 3)
    assert grpc.ops == 1000 and grpc.extra["pages"] == 2
    assert rest.extra["rss_peak_kb"] >= rest.extra["rss_start_kb"] > 0


def test_merge_adds_rounds_up_and_takes_percentiles_from_their_raw_latencies() -> None:
    first = _result("k", 2, 1.0, latencies_ms=[1.0, 3.0], first_error="x")
    second = _result("k", 2, 3.0, latencies_ms=[2.0, 4.0])
    second.errors = 1
    merged = merge("k", "t", "c", "op", [first, second])
    assert (merged.ops, merged.seconds, merged.errors) == (4, 4.0, 1)
    assert merged.ops_per_s == 1.0
    assert (merged.p50_ms, merged.p99_ms) == (2.0, 4.0)
    assert merged.extra == {"rounds": 2, "first_error": "x"}
