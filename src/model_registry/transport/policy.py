"""Timeouts and retries: pure maths and per-call settings shared by the REST and gRPC transports.

Nothing here does I/O. A transport asks :class:`RetryPolicy` whether to retry an attempt and how
long to sleep, and reads the per-call overrides set with :func:`call_options`.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = [
    "DEFAULT_MAX_RECEIVE_MESSAGE_BYTES",
    "DEFAULT_TIMEOUT",
    "PROJECT_HEADER",
    "PROJECT_METADATA",
    "RETRYABLE_GRPC_CODES",
    "RETRYABLE_HTTP_STATUSES",
    "SAFE_METHODS",
    "CallOptions",
    "RetryPolicy",
    "call_options",
    "check_project",
    "current_call_options",
    "effective_project",
    "effective_timeout",
    "parse_retry_after",
]

#: The REST header naming the project a call works in (its name or id).
PROJECT_HEADER = "X-Model-Registry-Project"
#: The gRPC metadata key naming it.
PROJECT_METADATA = "x-model-registry-project"

#: Default timeout of one call (seconds), retries included.
DEFAULT_TIMEOUT = 30.0

#: Largest gRPC answer the client accepts by default (gRPC's own default is 4 MiB).
DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024

#: HTTP statuses worth retrying: the server asks to come back later or a proxy failed.
RETRYABLE_HTTP_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})

#: gRPC status code names worth retrying (the gRPC twins of the statuses above).
RETRYABLE_GRPC_CODES: frozenset[str] = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED"})

#: Methods that are safe to repeat without the caller's consent.
SAFE_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class CallOptions:
    """Per-call overrides, set for a block of calls with :func:`call_options`.

    Attributes:
        timeout: Timeout of each call in seconds (``None``: the transport's default).
        retry_unsafe: Whether POST/PATCH calls may be retried (``None``: the policy's default).
        project: The project (name or id) the calls work in (``None``: the client's).
    """

    timeout: float | None = None
    retry_unsafe: bool | None = None
    project: str | None = None


_CALL_OPTIONS: contextvars.ContextVar[CallOptions] = contextvars.ContextVar(
    "model_registry_call_options",
    default=CallOptions(),  # noqa: B039 - frozen dataclass, never mutated
)


def current_call_options() -> CallOptions:
    """The per-call overrides in effect in the current context."""
    return _CALL_OPTIONS.get()


@contextlib.contextmanager
def call_options(
    *,
    timeout: float | None = None,
    retry_unsafe: bool | None = None,
    project: str | None = None,
) -> Iterator[CallOptions]:
    """Override the timeout, retry consent and/or project of every call made inside the block.

    Works across ``await`` within the same task (a context variable), so it is safe with
    concurrent tasks::

        with call_options(timeout=2.0):
            await client.get_registered_models()

    Args:
        timeout: Seconds each call may take (retries included).
        retry_unsafe: Allow retrying POST/PATCH calls (they may then be applied twice).
        project: The project (name or id) the calls work in, instead of the client's
            (see :func:`check_project`).
    """
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    outer = _CALL_OPTIONS.get()
    inner = CallOptions(
        timeout=timeout if timeout is not None else outer.timeout,
        retry_unsafe=retry_unsafe if retry_unsafe is not None else outer.retry_unsafe,
        project=check_project(project) if project is not None else outer.project,
    )
    token = _CALL_OPTIONS.set(inner)
    try:
        yield inner
    finally:
        _CALL_OPTIONS.reset(token)


def effective_timeout(default: float | None) -> float | None:
    """The timeout of a call now: the per-call override, else ``default``."""
    override = _CALL_OPTIONS.get().timeout
    return override if override is not None else default


def check_project(project: str | None) -> str | None:
    """Check a project name or id before it travels in a header (``None`` passes).

    The project is sent as the ``X-Model-Registry-Project`` header (REST) or the
    ``x-model-registry-project`` metadata (gRPC), whose values are printable ASCII: a name
    with other characters is refused here rather than mangled on the wire.

    Raises:
        ValueError: The project is empty, not a string, or not printable ASCII.
    """
    if project is None:
        return None
    if not isinstance(project, str):
        raise ValueError(f"project must be a name or id (a string), got {project!r}")
    if not project.strip():
        raise ValueError("project must be a non-empty name or id")
    if project != project.strip():
        # HTTP drops the spaces around a header value: the server would see another name.
        raise ValueError(f"project {project!r} has spaces around it")
    if not all(" " <= ch <= "~" for ch in project):
        raise ValueError(
            f"project {project!r} cannot travel in a header (printable ASCII only): "
            "select it by its id"
        )
    return project


def effective_project(default: str | None) -> str | None:
    """The project of a call now: the per-call override, else ``default`` (``None``: none is
    sent and the server chooses)."""
    override = _CALL_OPTIONS.get().project
    return override if override is not None else default


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns:
        Seconds to wait (never negative), or ``None`` when absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry and how long to wait: capped exponential backoff with full jitter.

    The wait before retry ``n`` (1-based) is uniform in ``[0, min(max_backoff,
    initial_backoff * multiplier ** (n - 1))]``; a ``Retry-After`` from the server replaces it
    (capped at ``max_retry_after``).

    What is retried: connection failures, and the statuses in ``retry_statuses``
    (429/502/503/504), only for requests safe to repeat: GET always; POST/PATCH only with
    ``retry_unsafe`` (here or per call with :func:`call_options`). A connection that could not
    be *opened* is retried for every method, as the request never left the client.

    Attributes:
        max_attempts: Attempts in total, the first included (1 disables retries).
        initial_backoff: Upper bound of the first wait (seconds).
        max_backoff: Cap of the wait bound (seconds).
        multiplier: Growth of the wait bound per attempt.
        max_retry_after: Longest ``Retry-After`` honoured (seconds); longer ones give up.
        retry_unsafe: Retry POST/PATCH too.
        retry_statuses: HTTP statuses to retry.
    """

    max_attempts: int = 3
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0
    max_retry_after: float = 30.0
    retry_unsafe: bool = False
    retry_statuses: frozenset[int] = field(default=RETRYABLE_HTTP_STATUSES)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoff values must be non-negative and multiplier >= 1")

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def may_repeat(self, method: str) -> bool:
        """Whether a request with this method may be sent again after it reached the server."""
        if method.upper() in SAFE_METHODS:
            return True
        override = _CALL_OPTIONS.get().retry_unsafe
        return override if override is not None else self.retry_unsafe

    def should_retry(
        self,
        attempt: int,
        method: str,
        *,
        status: int | None = None,
        grpc_code: str | None = None,
        connection_error: bool = False,
        connect_phase: bool = False,
    ) -> bool:
        """Decide whether to retry after attempt number ``attempt`` (1-based) failed.

        Args:
            attempt: The attempt that just failed (1 for the first).
            method: HTTP method (use ``"GET"`` for a read-only RPC, ``"POST"`` otherwise).
            status: The HTTP status answered, if any.
            grpc_code: The gRPC status code name answered, if any.
            connection_error: The connection failed or broke.
            connect_phase: The connection could not be opened (the request was never sent).
        """
        if attempt >= self.max_attempts:
            return False
        if connection_error and connect_phase:
            return True
        if not self.may_repeat(method):
            return False
        if connection_error:
            return True
        if status is not None:
            return status in self.retry_statuses
        if grpc_code is not None:
            return grpc_code in RETRYABLE_GRPC_CODES
        return False

    def backoff(
        self,
        attempt: int,
        retry_after: float | None = None,
        *,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before the attempt after ``attempt``, or ``None`` to give up.

        Args:
            attempt: The attempt that just failed (1 for the first).
            retry_after: Seconds asked by the server (``Retry-After``), if any.
            rand: Source of uniform numbers in ``[0, 1)`` (injectable for tests).
        """
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        bound = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return rand() * bound
