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


def targets(results: Mapping[str, Result], *, create_count: int) -> list[Target]:
    """The issue's targets, as measured in this run."""
    conc = results.get("c_concurrent_rest")
    conc_ok = math.nan
    if conc is not None:
        conc_ok = float(conc.errors == 0 and conc.extra.get("stored") == create_count)
    rss_small = _extra(results, "d_page_rest_small", "rss_growth_kb")
    rss_large = _extra(results, "d_page_rest", "rss_growth_kb")
    return [
        Target("REST get / floor (a/g)", _ratio(results, "a_get_rest", "g_get_floor"), 0.7),
        Target("REST get / reference (a/f)", _ratio(results, "a_get_rest", "f_get_ref"), 50),
        Target(
            "REST create / reference (b/f)", _ratio(results, "b_create_rest", "f_create_ref"), 10
        ),
        Target("gRPC get / REST get (e/a)", _ratio(results, "e_get_grpc", "a_get_rest"), 1.0),
        Target(
            "gRPC paging / REST paging (e/d)", _ratio(results, "d_page_grpc", "d_page_rest"), 1.0
        ),
        Target("REST paging items/s (d)", _rate(results, "d_page_rest"), 50_000, unit="/s"),
        Target("gRPC paging items/s (e)", _rate(results, "d_page_grpc"), 50_000, unit="/s"),
        Target(
            "paging peak RSS growth, 100k-item walk minus 10k-item walk (d)",
            (rss_large - rss_small) / 1024,
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
    if "first_error" in extra:
        notes.append(f"first error: {extra['first_error'][:80]}")
    return "; ".join(notes)


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
        f"- {packages}; reference client model-registry {stamp.get('reference_version', 'n/a')}",
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
) -> list[Path]:
    """Write ``latest.json``/``latest.md`` and a timestamped copy of both into ``out_dir``.

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
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written
