"""Retry and timeout maths (no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from model_registry.transport.policy import (
    RetryPolicy,
    call_options,
    current_call_options,
    effective_timeout,
    parse_retry_after,
)


def test_backoff_bound_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff=0.5, multiplier=2, max_backoff=3)
    almost_one = 0.999999
    bounds = [policy.backoff(n, rand=lambda: almost_one) for n in range(1, 6)]
    assert bounds == pytest.approx([0.5, 1.0, 2.0, 3.0, 3.0], rel=1e-5)


def test_backoff_is_full_jitter() -> None:
    policy = RetryPolicy(initial_backoff=1)
    assert policy.backoff(1, rand=lambda: 0.0) == 0.0
    assert policy.backoff(1, rand=lambda: 0.5) == 0.5


def test_retry_after_replaces_the_backoff_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=10)
    assert policy.backoff(1, retry_after=4.0) == 4.0
    assert policy.backoff(1, retry_after=11.0) is None


def test_get_is_retried_on_retryable_statuses_only() -> None:
    policy = RetryPolicy(max_attempts=3)
    for status in (429, 502, 503, 504):
        assert policy.should_retry(1, "GET", status=status)
    for status in (400, 404, 409, 500):
        assert not policy.should_retry(1, "GET", status=status)
    assert not policy.should_retry(3, "GET", status=503)


def test_post_and_patch_are_retried_only_with_consent() -> None:
    assert not RetryPolicy().should_retry(1, "POST", status=503)
    assert not RetryPolicy().should_retry(1, "PATCH", connection_error=True)
    assert RetryPolicy(retry_unsafe=True).should_retry(1, "POST", status=503)
    with call_options(retry_unsafe=True):
        assert RetryPolicy().should_retry(1, "PATCH", status=503)
    assert not RetryPolicy().should_retry(1, "PATCH", status=503)


def test_a_connection_never_opened_is_retried_for_every_method() -> None:
    policy = RetryPolicy()
    assert policy.should_retry(1, "POST", connection_error=True, connect_phase=True)
    assert not RetryPolicy.none().should_retry(1, "GET", connection_error=True, connect_phase=True)


def test_grpc_codes() -> None:
    assert RetryPolicy().should_retry(1, "GET", grpc_code="UNAVAILABLE")
    assert not RetryPolicy().should_retry(1, "GET", grpc_code="NOT_FOUND")


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_call_options_nest_and_reset() -> None:
    assert effective_timeout(30.0) == 30.0
    with call_options(timeout=2.0):
        assert effective_timeout(30.0) == 2.0
        with call_options(retry_unsafe=True):
            assert current_call_options().timeout == 2.0
            assert current_call_options().retry_unsafe is True
        assert current_call_options().retry_unsafe is None
    assert effective_timeout(None) is None
    with pytest.raises(ValueError), call_options(timeout=0):
        pass


def test_policy_validates_its_numbers() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(multiplier=0.5)
