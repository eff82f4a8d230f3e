"""A request-rate limit per caller, shared by both front doors (off by default).

A caller is its bearer token when authentication is on, else its client address. Each caller
has a token bucket: ``rate`` requests a second on average, bursts of up to ``burst``. A
request that finds the bucket empty is refused with ``429`` and ``Retry-After`` (gRPC:
``UNAVAILABLE``, as gRPC maps HTTP 429), before any work is done for it. The health checks
are never limited.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from model_registry.server.errors import TooManyRequests

__all__ = ["MAX_TRACKED_CALLERS", "RateLimit", "RateLimiter"]

MAX_TRACKED_CALLERS = 10_000
"""Buckets kept before the full ones (callers quiet long enough) are forgotten."""


@dataclass(frozen=True)
class RateLimit:
    """``serve --rate-limit``: requests a second per caller, and the burst allowed.

    Attributes:
        rate: Average requests a second allowed to one caller.
        burst: Requests one caller may send at once after being quiet; default ``rate``
            rounded up (at least 1).
    """

    rate: float
    burst: int | None = None

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError("the rate limit must be a positive number of requests a second")
        if self.burst is not None and self.burst < 1:
            raise ValueError("the rate limit burst must be at least 1")

    @property
    def capacity(self) -> int:
        """The bucket size."""
        return self.burst if self.burst is not None else max(1, math.ceil(self.rate))


class RateLimiter:
    """Token buckets by caller key.

    Args:
        limit: The rate and burst.
        clock: Seconds from a monotonic clock (tests pass their own).
    """

    def __init__(self, limit: RateLimit, clock: Callable[[], float] | None = None) -> None:
        self._rate = limit.rate
        self._capacity = float(limit.capacity)
        self._clock = clock or time.monotonic
        # key -> (tokens left, clock time they were counted at)
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, key: str) -> float:
        """Take one request from ``key``'s bucket.

        Returns:
            0.0 when the request may go on, else the seconds until the bucket has one again.
        """
        now = self._clock()
        tokens, stamp = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - stamp) * self._rate)
        if tokens >= 1.0:
            if key not in self._buckets and len(self._buckets) >= MAX_TRACKED_CALLERS:
                self._forget_full(now)
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self._rate

    def check(self, key: str) -> None:
        """Take one request from ``key``'s bucket or refuse it.

        Raises:
            TooManyRequests: The bucket is empty; carries the seconds to wait.
        """
        delay = self.wait(key)
        if delay:
            raise TooManyRequests("request rate limit exceeded", retry_after=delay)

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: they are as good as new ones."""
        full = [
            k
            for k, (tokens, stamp) in self._buckets.items()
            if tokens + (now - stamp) * self._rate >= self._capacity
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= MAX_TRACKED_CALLERS:  # all busy: forget the oldest counted
            for k in list(self._buckets)[: MAX_TRACKED_CALLERS // 10]:
                del self._buckets[k]
