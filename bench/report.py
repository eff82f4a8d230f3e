"""The bench's output: run stamp (commit, versions, machine), ratios, targets, JSON and markdown."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.timing import Result

_PACKAGES = (
    "aio-model-registry",
    "aiohttp",
    "grpcio",
    "protobuf",
    "SQLAlchemy",
    "aiosqlite",
    "attrs",
    "orjson",
    "uvloop",
)


def _git(*args: str, cwd: Path) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_stamp(repo: Path) -> dict[str, Any]:
    """What the run was measured on: commit, package versions, Python, machine, load."""
    # The bench's own output does not make the measured code dirty.
    status = _git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results", cwd=repo
    )
    return {
        "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _git("rev-parse", "--short=12", "HEAD", cwd=repo),
        "commit_dirty": bool(status and status != "unknown"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "packages": {name: _version(name) for name in _PACKAGES},
    }


@dataclass(frozen=True)
class Target:
    """One goal of the issue, checked against this run.

    Attributes:
        name: What is compared.
        value: The measured value (a ratio or a rate); NaN when a scenario is missing.
        goal: The threshold.
        kind: ``min`` (value >= goal) or ``max`` (value <= goal).
        unit: Unit shown after the numbers (``x`` for ratios).
    """

    name: str
    value: float
    goal: float
    kind: str = "min"
    unit: str = "x"

    @property
    def met(self) -> bool:
        """Whether the goal holds (False when the value is missing)."""
        if math.isnan(self.value):
            return False
        return self.value >= self.goal if self.kind == "min" else self.value <= self.goal

    def to_json(self) -> dict[str, Any]:
        """The target as a JSON-ready dict."""
        return {
            "name": self.name,
            "value": None if math.isnan(self.value) else self.value,
            "goal": self.goal,
            "kind": self.kind,
            "unit": self.unit,
            "met": self.met,
        }


def _rate(results: Mapping[str, Result], key: str) -> float:
    found = results.get(key)
    return found.ops_per_s if found is not None else math.nan


def _ratio(results: Mapping[str, Result], num: str, den: str) -> float:
    a, b = _rate(results, num), _rate(results, den)
    return a / b if b and not math.isnan(b) else math.nan


def _extra(results: Mapping[str, Result], key: str, name: str) -> float:
    found = results.get(key)
    if found is None or name not in found.extra:
        return math.nan
    return float(found.extra[name])


def _all_stored(results: Mapping[str, Result], key: str, count: int) -> float:
    found = results.get(key)
    if found is None:
        return math.nan
    return float(found.errors == 0 and found.extra.get("stored") == count)


def _page_cost_ratio(results: Mapping[str, Result], prefix: str) -> float:
    start, end = results.get(prefix + "_start"), results.get(prefix + "_end")
    if start is None or end is None or not start.p50_ms or end.p50_ms is None:
        return math.nan
    return end.p50_ms / start.p50_ms


def targets(results: Mapping[str, Result], *, create_count: int) -> list[Target]:
    """The issue's targets, as measured in this run.

    The scale targets are listed only when the run has scale results (``--scale``, smoke).
    """
    conc_ok = _all_stored(results, "c_concurrent_rest", create_count)
    rss_small = _extra(results, "d_page_rest_small", "rss_growth_kb")
    rss_large = _extra(results, "d_page_rest", "rss_growth_kb")
    goals = _sqlite_targets(results, conc_ok, rss_large - rss_small)
    goals += [
        Target("REST get / MLflow get (a/m)", _ratio(results, "a_get_rest", "m_get"), 25),
        Target(
            "REST create / MLflow create (b/m)", _ratio(results, "b_create_rest", "m_create"), 25
        ),
        Target(
            "64 in flight / MLflow 8 threads, creates (c/m)",
            _ratio(results, "c_concurrent_rest", "m_concurrent"),
            25,
        ),
        Target("REST paging / MLflow paging (d/m)", _ratio(results, "d_page_rest", "m_page"), 20),
        Target(
            "REST get, issued project token / auth off (a)",
            _ratio(results, "a_get_rest_auth_token", "a_get_rest_auth_off"),
            0.9,
        ),
        Target(
            "client CPU to decode a page of 1,000 versions, REST (k)",
            _extra(results, "k_decode_rest", "cpu_ms_per_page_best"),
            5,
            kind="max",
            unit=" ms",
        ),
        Target(
            "client CPU to decode a page of 1,000 versions, gRPC (k)",
            _extra(results, "k_decode_grpc", "cpu_ms_per_page_best"),
            5,
            kind="max",
            unit=" ms",
        ),
        Target(
            "PostgreSQL: REST get / floor (a/g)",
            _ratio(results, "a_get_rest_pg", "g_get_floor_pg"),
            0.7,
        ),
        Target(
            "PostgreSQL: REST create / MLflow create (b/m)",
            _ratio(results, "b_create_rest_pg", "m_create"),
            25,
        ),
        Target(
            "PostgreSQL: 64-in-flight creates/s (c)",
            _rate(results, "c_concurrent_rest_pg"),
            1500,
            unit="/s",
        ),
        Target(
            "PostgreSQL: 64-in-flight creates: no errors, all stored (c)",
            _all_stored(results, "c_concurrent_rest_pg", create_count),
            1.0,
            unit="",
        ),
        Target(
            "PostgreSQL: REST paging / paging floor (d/floor)",
            _ratio(results, "d_page_rest_pg", "d_page_floor"),
            0.5,
        ),
        Target(
            "PostgreSQL: gRPC paging / REST paging (e/d)",
            _ratio(results, "d_page_grpc_pg", "d_page_rest_pg"),
            1.0,
        ),
    ]
    if any(key.startswith(("v_", "w_")) for key in results):
        goals += _event_targets(results)
    if any(key.startswith("x_") for key in results):
        for direction in ("upload", "download"):
            for wire in ("rest", "grpc"):
                goals.append(
                    Target(
                        f"artifact {direction} MB/s, {wire} / floor (x)",
                        _ratio(results, f"x_{direction}_{wire}", f"x_{direction}_floor"),
                        0.7,
                    )
                )
    if any(key.startswith("s_") for key in results):
        for backend, name in (("sqlite", "SQLite"), ("pg", "PostgreSQL")):
            for walk in ("all", "filtered"):
                goals.append(
                    Target(
                        f"scale, {name}, {walk}: last page / first page (s)",
                        _page_cost_ratio(results, f"s_{backend}_{walk}"),
                        1.5,
                        kind="max",
                    )
                )
    return goals


def _event_targets(results: Mapping[str, Result]) -> list[Target]:
    """The event log's cost on creates (``1 - with / without``, percent) and the watcher
    latency (event time to arrival, p50), on each database."""
    goals = []
    for backend, name in (("sqlite", "SQLite"), ("pg", "PostgreSQL")):
        for kind, what in (("create", "sequential model+version"), ("concurrent", "64 in flight")):
            ratio = _ratio(results, f"v_{kind}_events_{backend}", f"v_{kind}_no_events_{backend}")
            goals.append(
                Target(
                    f"{name}: event log cost on creates, {what} (v)",
                    (1 - ratio) * 100,
                    10,
                    kind="max",
                    unit="%",
                )
            )
        found = results.get(f"w_watch_latency_{backend}")
        goals.append(
            Target(
                f"{name}: watcher latency from the event's commit, p50 (w)",
                found.p50_ms if found is not None and found.p50_ms is not None else math.nan,
                50,
                kind="max",
                unit=" ms",
            )
        )
    return goals


def _sqlite_targets(
    results: Mapping[str, Result], conc_ok: float, rss_growth_kb: float
) -> list[Target]:
    return [
        Target("REST get / floor (a/g)", _ratio(results, "a_get_rest", "g_get_floor"), 0.7),
        Target("REST get / reference (a/f)", _ratio(results, "a_get_rest", "f_get_ref"), 50),
        Target(
            "REST create / reference (b/f)", _ratio(results, "b_create_rest", "f_create_ref"), 10
        ),
        Target("gRPC get / REST get (e/a)", _ratio(results, "e_get_grpc", "a_get_rest"), 1.0),
        Target(
            "REST paging / paging floor (d/floor)",
            _ratio(results, "d_page_rest", "d_page_floor"),
            0.5,
        ),
        Target(
            "gRPC paging / REST paging (e/d)", _ratio(results, "d_page_grpc", "d_page_rest"), 1.0
        ),
        Target("REST paging items/s (d)", _rate(results, "d_page_rest"), 50_000, unit="/s"),
        Target("gRPC paging items/s (e)", _rate(results, "d_page_grpc"), 50_000, unit="/s"),
        Target(
            "paging peak RSS growth, 100k-item walk minus 10k-item walk (d)",
            rss_growth_kb / 1024,
            2.0,
            kind="max",
            unit=" MiB",
        ),
        Target("64-in-flight creates/s (c)", _rate(results, "c_concurrent_rest"), 1500, unit="/s"),
        Target("64-in-flight creates: no errors, all stored (c)", conc_ok, 1.0, unit=""),
    ]


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _note(result: Result) -> str:
    notes = []
    extra = result.extra
    if "rss_growth_kb" in extra:
        growth, start = extra["rss_growth_kb"] / 1024, extra["rss_start_kb"] / 1024
        notes.append(f"peak RSS +{growth:.1f} MiB over {start:.0f} MiB")
    if extra.get("latency_is_per") == "page":
        notes.append("latency per page")
    if "stored" in extra:
        notes.append(f"{extra['stored']} stored")
    if "walk_pages" in extra:
        notes.append(
            f"p50 = median of the page's fetches, p99 = slowest; walk of "
            f"{extra['walk_items']:,} items: {extra['walk_page_ms_median']:.1f} ms per page median"
        )
    if "page_bytes" in extra:
        notes.append(f"{extra['page_bytes']:,} bytes per page")
    if "total_cpu_ms_per_mb" in extra:
        notes.append(
            f"CPU ms/MB client {extra['client_cpu_ms_per_mb']:.2f}, server "
            f"{extra['server_cpu_ms_per_mb']:.2f}, both {extra['total_cpu_ms_per_mb']:.2f}"
        )
    if "first_error" in extra:
        notes.append(f"first error: {extra['first_error'][:80]}")
    return "; ".join(notes)


SIDE_BY_SIDE: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "sequential get (get/s)",
        ("a_get_rest", "a_get_rest_pg", "m_get", "f_get_ref", "g_get_floor"),
    ),
    (
        "sequential create model + version (pairs/s)",
        ("b_create_rest", "b_create_rest_pg", "m_create", "f_create_ref", ""),
    ),
    (
        "concurrent creates (creates/s; ours 64 in flight, MLflow 8 threads)",
        ("c_concurrent_rest", "c_concurrent_rest_pg", "m_concurrent", "", ""),
    ),
    (
        "paging by 1,000 (items/s)",
        ("d_page_rest", "d_page_rest_pg", "m_page", "f_page_ref", "d_page_floor"),
    ),
)
"""Rows of the side-by-side table: the scenario keys under each column of
:data:`SIDE_BY_SIDE_COLUMNS` ("" where that column has no such scenario)."""

SIDE_BY_SIDE_COLUMNS = (
    "ours REST, SQLite",
    "ours REST, PostgreSQL",
    "MLflow",
    "reference client",
    "bare aiohttp floor",
)


def _side_by_side(results: Sequence[Result]) -> list[str]:
    by_key = {r.key: r for r in results}
    lines = [
        "| scenario | " + " | ".join(SIDE_BY_SIDE_COLUMNS) + " |",
        "| --- |" + " ---: |" * len(SIDE_BY_SIDE_COLUMNS),
    ]
    for title, keys in SIDE_BY_SIDE:
        cells = [_fmt(by_key[k].ops_per_s) if k in by_key else "-" for k in keys]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return lines


def markdown(
    stamp: Mapping[str, Any],
    results: Sequence[Result],
    goals: Sequence[Target],
    failures: Mapping[str, str],
) -> str:
    """The run as a markdown document: stamp, results table, ratios/targets table."""
    packages = ", ".join(f"{k} {v}" for k, v in stamp["packages"].items())
    lines = [
        f"# Benchmark run {stamp['time_utc']}" + (" (smoke)" if stamp.get("smoke") else ""),
        "",
        f"- commit `{stamp['commit']}`"
        + (" (uncommitted changes)" if stamp["commit_dirty"] else ""),
        f"- Python {stamp['python']} ({stamp['implementation']}), {stamp['platform']}",
        f"- {stamp['cores']} cores, {stamp['cpu_model']}; load average at start "
        f"{stamp['load_average_start']}, at end {stamp.get('load_average_end', 'n/a')}",
        f"- {packages}; reference client model-registry {stamp.get('reference_version', 'n/a')}; "
        f"MLflow {stamp.get('mlflow_version', 'n/a')}",
        f"- total wall time {stamp.get('wall_seconds', 0):.0f} s",
        "",
        "| scenario | client | ops | unit | ops/s | p50 ms | p99 ms | errors | notes |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.key}: {r.title} | {r.client} | {r.ops:,} | {r.unit} | {_fmt(r.ops_per_s)} | "
            f"{_fmt(r.p50_ms, 2)} | {_fmt(r.p99_ms, 2)} | {r.errors} | {_note(r)} |"
        )
    if not all(r.key.startswith("s_") for r in results):
        lines += ["", *_side_by_side(results)]
    lines += ["", "| target | measured | goal | met |", "| --- | ---: | ---: | --- |"]
    for t in goals:
        sign = ">=" if t.kind == "min" else "<="
        goal = f"{sign} {_fmt(t.goal, 2)}{t.unit}"
        if math.isnan(t.value):
            lines.append(f"| {t.name} | not run | {goal} | - |")
            continue
        measured = f"{_fmt(t.value, 3 if t.unit == 'x' else 2)}{t.unit}"
        lines.append(f"| {t.name} | {measured} | {goal} | {'yes' if t.met else '**no**'} |")
    if failures:
        lines += ["", "Scenarios that failed:", ""]
        lines += [f"- `{key}`: {why}" for key, why in failures.items()]
    return "\n".join(lines) + "\n"


def write(
    out_dir: Path,
    stamp: Mapping[str, Any],
    results: Sequence[Result],
    goals: Sequence[Target],
    failures: Mapping[str, str],
    *,
    prefix: str = "",
) -> list[Path]:
    """Write ``latest.json``/``latest.md`` and a timestamped copy of both into ``out_dir``
    (each name after ``prefix``: the scale run writes ``scale-latest.md``...).

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "stamp": dict(stamp),
        "results": {r.key: r.to_json() for r in results},
        "targets": [t.to_json() for t in goals],
        "failures": dict(failures),
    }
    text_json = json.dumps(data, indent=2, sort_keys=False) + "\n"
    text_md = markdown(stamp, results, goals, failures)
    tag = str(stamp["time_utc"]).replace(":", "").replace("-", "")
    written = []
    for name, text in (
        ("latest.json", text_json),
        ("latest.md", text_md),
        (f"run-{tag}.json", text_json),
        (f"run-{tag}.md", text_md),
    ):
        path = out_dir / (prefix + name)
        path.write_text(text)
        written.append(path)
    return written
