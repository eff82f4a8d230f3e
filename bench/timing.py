"""Measurements: latency samples, throughput, percentiles, and the result record of a scenario."""

from __future__ import annotations

import json
import math
import os
import resource
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest-rank; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Result:
    """The outcome of one scenario.

    Attributes:
        key: Short id of the scenario (``a_get_rest``, ``g_floor``...).
        title: What was measured, for the table.
        client: Which client ran it (``ours-rest``, ``ours-grpc``, ``reference``, ``floor``).
        ops: Operations done (items for paging).
        seconds: Wall time of the timed part.
        unit: What one op is (``get``, ``model+version``, ``item``...).
        errors: Operations that raised.
        p50_ms: Median latency of one op (None when latencies were not sampled per op).
        p99_ms: 99th percentile latency of one op.
        extra: Scenario-specific figures (peak RSS, counts...).
    """

    key: str
    title: str
    client: str
    ops: int
    seconds: float
    unit: str
    errors: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ops_per_s(self) -> float:
        """Throughput: ops per second of wall time."""
        return self.ops / self.seconds if self.seconds > 0 else math.nan

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (with ``ops_per_s``)."""
        data = asdict(self)
        data["ops_per_s"] = self.ops_per_s
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """Rebuild a result from :meth:`to_json` output (``ops_per_s`` is recomputed)."""
        fields = {k: v for k, v in data.items() if k != "ops_per_s"}
        return cls(**fields)


@dataclass
class Recorder:
    """Collects per-op latencies and errors of a timed run."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    started: float = 0.0
    elapsed: float = 0.0

    async def timed(self, op: Callable[[], Awaitable[object]]) -> None:
        """Run one op, record its latency, count (and remember the first) failure."""
        t0 = time.perf_counter()
        try:
            await op()
        except Exception as exc:  # a failed op is a measured outcome, not a crash
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {exc}"
        self.latencies.append(time.perf_counter() - t0)

    def call(self, op: Callable[[], object]) -> None:
        """:meth:`timed` for a synchronous op (the MLflow client)."""
        t0 = time.perf_counter()
        try:
            op()
        except Exception as exc:  # a failed op is a measured outcome, not a crash
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {exc}"
        self.latencies.append(time.perf_counter() - t0)

    def __enter__(self) -> Recorder:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed += time.perf_counter() - self.started

    def result(
        self,
        key: str,
        title: str,
        client: str,
        unit: str,
        *,
        keep_latencies: bool = False,
        **extra: Any,
    ) -> Result:
        """Summarise the run as a :class:`Result`.

        With ``keep_latencies`` the raw per-op latencies go into ``extra["latencies_ms"]``, so
        that :func:`merge` can combine rounds measured separately.
        """
        lat = sorted(self.latencies)
        if self.first_error is not None:
            extra["first_error"] = self.first_error
        if keep_latencies:
            extra["latencies_ms"] = [x * 1000 for x in self.latencies]
        return Result(
            key=key,
            title=title,
            client=client,
            ops=len(lat),
            seconds=self.elapsed,
            unit=unit,
            errors=self.errors,
            p50_ms=percentile(lat, 0.50) * 1000 if lat else None,
            p99_ms=percentile(lat, 0.99) * 1000 if lat else None,
            extra=extra,
        )


def merge(key: str, title: str, client: str, unit: str, parts: Sequence[Result]) -> Result:
    """Combine rounds of one scenario: ops, time and errors add up; percentiles come from the
    rounds' raw latencies (``extra["latencies_ms"]``, removed from the parts)."""
    latencies = sorted(x for p in parts for x in p.extra.pop("latencies_ms", []))
    extra: dict[str, Any] = {"rounds": len(parts)}
    for p in parts:
        for name, value in p.extra.items():
            extra.setdefault(name, value)
    return Result(
        key=key,
        title=title,
        client=client,
        ops=sum(p.ops for p in parts),
        seconds=sum(p.seconds for p in parts),
        unit=unit,
        errors=sum(p.errors for p in parts),
        p50_ms=percentile(latencies, 0.50) if latencies else None,
        p99_ms=percentile(latencies, 0.99) if latencies else None,
        extra=extra,
    )


def result_from_stdout(stdout: str) -> Result:
    """Parse the one-line JSON result a child process printed (its last non-empty line)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("the child printed no result")
    return Result.from_json(json.loads(lines[-1]))


def _status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> int:
    """Start a peak-RSS measurement; return the current RSS in KiB.

    ``ru_maxrss`` is useless in a child: Linux carries the parent's high-water mark across
    fork and exec. On Linux the process's own mark (``VmHWM``) is reset to the current RSS by
    writing ``5`` to ``/proc/self/clear_refs``; elsewhere this falls back to ``ru_maxrss``.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass
    current = _status_kb("VmRSS")
    return current if current is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss() -> int:
    """The peak RSS in KiB since :func:`reset_peak_rss` (``VmHWM``, else ``ru_maxrss``)."""
    peak = _status_kb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` used so far, over all its threads, those that
    ended included (``/proc/<pid>/stat``, in clock ticks: 10 ms resolution).

    Load on a shared machine stretches wall time, not CPU time: a figure of CPU seconds per
    unit of work is what compares across runs.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu_seconds() -> float:
    """User + system CPU seconds this process used so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
