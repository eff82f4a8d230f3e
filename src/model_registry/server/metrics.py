"""``/metrics``: the server's measurements in the Prometheus text format, by ``prometheus_client``.

Each server (each :class:`Metrics`) has its own ``CollectorRegistry``, never the process-wide
default one: a program may run several servers (the tests do), and an application embedding
``run_server`` keeps its own default registry to itself. Label sets are the route *templates*
and status codes, never raw paths, so their number is bounded by the API; each label set's
counter and histogram children are looked up once and kept, so a request costs a dict look-up
and the client's own increments. Values that already exist elsewhere (the database pool, the
SQLite writer's queue and batch sizes) are read when scraped, never tracked per request.

Metrics (all but the standard ``process_*`` and ``python_*`` prefixed ``model_registry_``):

- ``http_requests_total{method,route,status}`` and
  ``http_request_duration_seconds{method,route,status}`` (histogram): every REST request,
  ``route`` being the route template (``/api/model_registry/v1/registered_models/{id}``),
  or ``unmatched`` for a path no route serves;
- ``http_requests_in_flight``: REST requests being handled now;
- ``grpc_requests_total{method,code}`` and ``grpc_request_duration_seconds{method,code}``
  (histogram), ``grpc_requests_in_flight``: the same for gRPC calls (registry and health);
- ``db_pool_connections{state}`` (PostgreSQL: ``size``, ``checked_out``, ``overflow``), or
  ``sqlite_writer_queue_depth``, ``sqlite_heavy_reads_queued``, the counters
  ``sqlite_writer_batches_total`` and ``sqlite_writer_batched_writes_total`` and the
  histogram ``sqlite_writer_batch_size`` (writes per committed transaction: the group
  commit at work) (SQLite): read at scrape time;
- the process's (CPU, memory, open files) and the interpreter's (garbage collector) standard
  metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics", "Scraped", "store_gauges"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of what ``generate_latest`` writes (the text format every Prometheus reads)."""

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

Sample = tuple[Mapping[str, str], float]
"""One value read at scrape time, with its labels."""
HistogramValue = tuple[Sequence[float], Sequence[int], float]
"""A histogram read at scrape time: bucket upper bounds (the last ``inf``), the count in each
bucket (not cumulative), the sum of the observations."""
Scraped = Mapping[str, Iterable[Sample] | HistogramValue]
Gauges = Callable[[], Scraped]
"""Values read when scraped: metric name (without prefix) -> samples, or a histogram; a name
ending in ``_total`` is a counter, any other list of samples a gauge."""


class _Family:
    """Request counts, latencies and the in-flight gauge under one prefix, by fixed labels."""

    __slots__ = ("_children", "_duration", "_in_flight", "_total")

    def __init__(
        self, registry: CollectorRegistry, name: str, labels: tuple[str, ...], what: str
    ) -> None:
        self._total = Counter(
            f"{_PREFIX}{name}_requests", f"{what} answered.", labels, registry=registry
        )
        self._duration = Histogram(
            f"{_PREFIX}{name}_request_duration_seconds",
            f"Seconds taken to answer {what}.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._in_flight = Gauge(
            f"{_PREFIX}{name}_requests_in_flight", f"{what} being handled now.", registry=registry
        )
        # labels() takes the family's lock and builds a key each time: kept per label set.
        self._children: dict[tuple[str, ...], tuple[Any, Any]] = {}

    def started(self) -> None:
        """A request begins."""
        self._in_flight.inc()

    def ended(self, values: tuple[str, ...], seconds: float) -> None:
        """A request begun with :meth:`started` was answered (``values``: its labels)."""
        self._in_flight.dec()
        children = self._children.get(values)
        if children is None:
            children = self._children[values] = (
                self._total.labels(*values),
                self._duration.labels(*values),
            )
        children[0].inc()
        children[1].observe(seconds)


class _ScrapedCollector:
    """Turns what :data:`Gauges` reads into metric families at each scrape."""

    def __init__(self, gauges: Gauges) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        try:
            values = self._gauges()
        except Exception:  # a store not open yet, or closing: nothing from it this time
            return
        for name, value in sorted(values.items()):
            full = _PREFIX + name
            if isinstance(value, tuple):
                bounds, counts, total = value
                cumulative, buckets = 0, []
                for bound, count in zip(bounds, counts, strict=True):
                    cumulative += count
                    # Written as prometheus_client writes its own bounds ("1.0", "+Inf").
                    le = "+Inf" if bound == float("inf") else repr(float(bound))
                    buckets.append((le, cumulative))
                histogram = HistogramMetricFamily(full, _help(name), labels=[])
                histogram.add_metric([], buckets, sum_value=total)
                yield histogram
                continue
            samples = list(value)
            keys = sorted({key for labels, _ in samples for key in labels})
            family = CounterMetricFamily if name.endswith("_total") else GaugeMetricFamily
            metric = family(full, _help(name), labels=keys)
            for labels, number in samples:
                metric.add_metric([labels.get(key, "") for key in keys], number)
            yield metric


def _help(name: str) -> str:
    return name.replace("_", " ").capitalize() + "."


class Metrics:
    """The server's metrics: REST and gRPC requests, values read at scrape time, the process's.

    Args:
        gauges: Returns the values to write (e.g. the database pool's); called on each
            scrape, and a failure leaves them out of that scrape.
    """

    def __init__(self, gauges: Gauges | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.http = _Family(self.registry, "http", ("method", "route", "status"), "REST requests")
        self.grpc = _Family(self.registry, "grpc", ("method", "code"), "gRPC calls")
        if gauges is not None:
            self.registry.register(_ScrapedCollector(gauges))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def render(self) -> str:
        """Everything, in the Prometheus text format."""
        return generate_latest(self.registry).decode()


def store_gauges(store: Any) -> Gauges:
    """The values of a store: its pool stats (see ``Store.pool_stats``), read when scraped."""

    def read() -> Scraped:
        stats: Scraped = store.pool_stats()
        return stats

    return read
