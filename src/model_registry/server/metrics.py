"""``/metrics``: the server's own measurements in the Prometheus text format (0.0.4).

A small registry written for this server rather than ``prometheus_client``: every update
happens on the event loop (aiohttp's handlers and grpc.aio's run there), so no lock is
needed, and a request costs one dict look-up keyed by its labels, one bisection into the
latency buckets and three additions; label sets are the route *templates* and status codes,
never raw paths, so their number is bounded by the API. ``prometheus_client`` is not a
dependency of the project, takes a lock on every observation, and the text format it would
write is a few lines of code here. Values that already exist elsewhere (the database pool,
the SQLite writer's queue) are read when scraped, never tracked per request.

Metrics (all prefixed ``model_registry_``):

- ``http_requests_total{method,route,status}`` and
  ``http_request_duration_seconds{method,route,status}`` (histogram): every REST request,
  ``route`` being the route template (``/api/model_registry/v1/registered_models/{id}``),
  or ``unmatched`` for a path no route serves;
- ``http_requests_in_flight``: REST requests being handled now;
- ``grpc_requests_total{method,code}`` and ``grpc_request_duration_seconds{method,code}``
  (histogram), ``grpc_requests_in_flight``: the same for registry RPCs;
- ``db_pool_connections{state}`` (PostgreSQL: ``size``, ``checked_out``, ``overflow``), or
  ``sqlite_writer_queue_depth``, ``sqlite_heavy_reads_queued`` and the counters
  ``sqlite_writer_batches_total`` and ``sqlite_writer_batched_writes_total`` (SQLite: their
  ratio is the mean group-commit size): read at scrape time.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "Histogram",
    "Metrics",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of the Prometheus text format."""

LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Upper bounds (seconds) of the latency buckets: from a get served inline (~1 ms) to a read
stopped by the statement budget (5 s by default)."""

_PREFIX = "model_registry_"


class Histogram:
    """Counts of observations per bucket (not cumulative until written), their sum and count."""

    __slots__ = ("count", "counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation (a bucket's bound is inclusive, as Prometheus says)."""
        self.counts[bisect_left(LATENCY_BUCKETS, value)] += 1
        self.sum += value
        self.count += 1


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class _Family:
    """Request counts and latencies under one pair of names, by a fixed tuple of labels."""

    def __init__(self, name: str, labels: tuple[str, ...], what: str) -> None:
        self.name = name
        self.labels = labels
        self.what = what
        self.series: dict[tuple[str, ...], Histogram] = {}
        self.in_flight = 0

    def observe(self, values: tuple[str, ...], seconds: float) -> None:
        histogram = self.series.get(values)
        if histogram is None:
            histogram = self.series[values] = Histogram()
        histogram.observe(seconds)

    def write(self, out: list[str]) -> None:
        total = f"{_PREFIX}{self.name}_requests_total"
        out.append(f"# HELP {total} {self.what} answered.")
        out.append(f"# TYPE {total} counter")
        series = sorted(self.series.items())
        for values, histogram in series:
            out.append(f"{total}{_labels(self.labels, values)} {histogram.count}")
        duration = f"{_PREFIX}{self.name}_request_duration_seconds"
        out.append(f"# HELP {duration} Seconds taken to answer {self.what}.")
        out.append(f"# TYPE {duration} histogram")
        for values, histogram in series:
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS, math.inf), histogram.counts, strict=True):
                cumulative += count
                le = f'le="{_number(bound)}"'
                out.append(f"{duration}_bucket{_labels(self.labels, values, le)} {cumulative}")
            out.append(f"{duration}_sum{_labels(self.labels, values)} {_number(histogram.sum)}")
            out.append(f"{duration}_count{_labels(self.labels, values)} {histogram.count}")
        gauge = f"{_PREFIX}{self.name}_requests_in_flight"
        out.append(f"# HELP {gauge} {self.what} being handled now.")
        out.append(f"# TYPE {gauge} gauge")
        out.append(f"{gauge} {self.in_flight}")


Gauges = Callable[[], Mapping[str, Iterable[tuple[Mapping[str, str], float]]]]
"""Values read when scraped: metric name (without prefix) -> (labels, value) pairs; a name
ending in ``_total`` is a counter, any other a gauge."""


class Metrics:
    """The server's metrics: REST and gRPC requests, plus gauges read at scrape time.

    Args:
        gauges: Returns the gauges to write (e.g. the database pool's); called on each
            scrape, and a failure leaves them out of that scrape.
    """

    def __init__(self, gauges: Gauges | None = None) -> None:
        self.http = _Family("http", ("method", "route", "status"), "REST requests")
        self.grpc = _Family("grpc", ("method", "code"), "gRPC registry calls")
        self._gauges = gauges

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a REST request answered with ``status`` after ``seconds``."""
        self.http.observe((method, route, str(status)), seconds)

    def observe_grpc(self, method: str, code: str, seconds: float) -> None:
        """Count a gRPC call ended with ``code`` (``OK``, ``NOT_FOUND``, ...) after ``seconds``."""
        self.grpc.observe((method, code), seconds)

    def render(self) -> str:
        """Everything, in the Prometheus text format."""
        out: list[str] = []
        self.http.write(out)
        self.grpc.write(out)
        gauges: Mapping[str, Iterable[tuple[Mapping[str, str], float]]] = {}
        if self._gauges is not None:
            try:
                gauges = self._gauges()
            except Exception:  # a store not open yet, or closing: no gauges this time
                gauges = {}
        for name, samples in sorted(gauges.items()):
            full = _PREFIX + name
            kind = "counter" if name.endswith("_total") else "gauge"
            out.append(f"# TYPE {full} {kind}")
            for labels, value in samples:
                keys = tuple(sorted(labels))
                text = _labels(keys, tuple(labels[k] for k in keys))
                out.append(f"{full}{text} {_number(value)}")
        return "\n".join(out) + "\n"


def store_gauges(store: Any) -> Gauges:
    """The gauges of a store: its pool stats (see ``Store.pool_stats``), read when scraped."""

    def read() -> Mapping[str, Iterable[tuple[Mapping[str, str], float]]]:
        stats: Mapping[str, Any] = store.pool_stats()
        return {name: list(samples) for name, samples in stats.items()}

    return read
