"""The per-caller token buckets of the request-rate limit, on a clock the test moves."""

from __future__ import annotations

import pytest

from model_registry.server.errors import TooManyRequests
from model_registry.server.ratelimit import MAX_TRACKED_CALLERS, RateLimit, RateLimiter


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_gets_its_burst_then_waits_for_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(rate=2.0, burst=3), clock)
    assert [limiter.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a") > 0.0


def test_callers_have_buckets_of_their_own() -> None:
    limiter = RateLimiter(RateLimit(rate=1.0, burst=1), Clock())
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a") > 0.0
    assert limiter.wait("b") == 0.0


def test_check_refuses_with_the_seconds_to_wait() -> None:
    limiter = RateLimiter(RateLimit(rate=0.25), Clock())
    limiter.check("a")
    with pytest.raises(TooManyRequests) as info:
        limiter.check("a")
    assert info.value.http_status == 429 and info.value.grpc_code == "UNAVAILABLE"
    assert info.value.retry_after == pytest.approx(4.0)


def test_the_default_burst_is_the_rate_rounded_up() -> None:
    assert RateLimit(rate=2.5).capacity == 3
    assert RateLimit(rate=0.1).capacity == 1


@pytest.mark.parametrize(
    ("rate", "burst"), [(0.0, None), (-1.0, None), (float("inf"), None), (1.0, 0)]
)
def test_a_meaningless_limit_is_refused(rate: float, burst: int | None) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit(rate=rate, burst=burst)


def test_many_callers_do_not_grow_the_table_without_bound() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(rate=1.0, burst=1), clock)
    for i in range(MAX_TRACKED_CALLERS):
        limiter.wait(f"caller-{i}")
    clock.now += 2.0  # every bucket has refilled: forgettable
    limiter.wait("newcomer")
    assert len(limiter._buckets) == 1
