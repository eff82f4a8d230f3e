"""What the server says about its requests: metrics (:mod:`~model_registry.server.metrics`)
and the access log, for both front doors, through one hook each.

REST: :func:`observe_middleware`, the outermost middleware, times every request (a
``loop.time()`` before and after), counts it under its route *template* and status, and
writes one access-log line when the access log is on. gRPC: :class:`CallObserver`, called by
the dispatch of every registry RPC with its method, code and duration.

The access log (``serve --access-log json``) is one JSON object per line on the logger
``model_registry.access``, for every request:
``{"time", "transport", "method", "route", "status", "duration_ms", "remote"}`` and
``"subject"`` when the auth layer has put the caller's subject on the request
(:data:`SUBJECT_KEY`). It never holds a token, a header, a query string or a body: the route
is the template (``/api/model_registry/v1/registered_models/{id}``), not the path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from model_registry.server.metrics import Metrics

__all__ = [
    "ACCESS_LOGGER",
    "ACCESS_LOG_FORMATS",
    "LOG_FORMATS",
    "SUBJECT_KEY",
    "CallObserver",
    "JsonLogFormatter",
    "observe_middleware",
    "route_template",
]

ACCESS_LOGGER = "model_registry.access"
"""The logger the access log is written to (INFO, one JSON object per message)."""

ACCESS_LOG_FORMATS = ("off", "json")
"""The values of ``serve --access-log``."""

LOG_FORMATS = ("text", "json")
"""The values of ``serve --log-format``."""

SUBJECT_KEY = "model_registry.subject"
"""The request key under which the auth layer may put the caller's subject (a name, never a
token); the access log writes it when present."""

UNMATCHED = "unmatched"
"""The route of a request no route serves (a 404, or a 401 before routing says so)."""

_access = logging.getLogger(ACCESS_LOGGER)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_template(request: web.Request) -> str:
    """The template of the route that serves ``request`` (bounded in number, unlike paths)."""
    resource = request.match_info.route.resource
    if resource is None:
        return UNMATCHED
    return resource.canonical


_second: list[Any] = [-1, ""]  # the last whole second formatted, and its text


def _now_iso() -> str:
    """The UTC time as ``2026-12-07T18:13:38.186Z``; the date and time part is formatted
    once a second (a ``datetime`` per request cost more than the rest of the line)."""
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second[0], _second[1] = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_second[1]}.{int((now - second) * 1000):03d}Z"


def access_line(**fields: Any) -> str:
    """One access-log line: the fields as a JSON object, ``None`` values left out."""
    record = {"time": _now_iso(), **{k: v for k, v in fields.items() if v is not None}}
    return orjson.dumps(record).decode()


class JsonLogFormatter(logging.Formatter):
    """``serve --log-format json``: every log record as one JSON object on one line
    (``time``, ``level``, ``logger``, ``message``, and ``exception`` with the traceback when
    there is one), so a log pipeline needs no parser of its own. An access-log record is
    already such an object and is written as it is."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as a JSON object (access-log records: unchanged)."""
        message = record.getMessage()
        if record.name == ACCESS_LOGGER:
            return message
        fields: dict[str, Any] = {
            "time": _now_iso(),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(fields).decode()


def observe_middleware(metrics: Metrics | None, *, access_log: bool) -> Any:
    """Count and time every REST request, and log it when ``access_log``.

    Args:
        metrics: Where the counts go (None: none kept).
        access_log: Write one JSON line per request to :data:`ACCESS_LOGGER`.
    """
    http = metrics.http if metrics is not None else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        if http is not None:
            http.started()
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # redirects (the UI's) and whatever passed the errors
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away before the answer (nginx's convention)
            raise
        finally:
            seconds = time.perf_counter() - started
            route = route_template(request)
            if http is not None:
                http.ended((request.method, route, str(status)), seconds)
            if access_log:
                _access.info(
                    access_line(
                        transport="rest",
                        method=request.method,
                        route=route,
                        status=status,
                        duration_ms=round(seconds * 1000, 3),
                        remote=request.remote,
                        subject=request.get(SUBJECT_KEY),
                    )
                )

    return middleware


class CallObserver:
    """Counts, times and logs gRPC registry calls (the dispatch calls :meth:`done`).

    Args:
        metrics: Where the counts go (None: none kept).
        access_log: Write one JSON line per call to :data:`ACCESS_LOGGER`.
    """

    __slots__ = ("_access_log", "_grpc")

    def __init__(self, metrics: Metrics | None, *, access_log: bool) -> None:
        self._grpc = metrics.grpc if metrics is not None else None
        self._access_log = access_log

    def start(self) -> float:
        """A call begins: its start time (pass it to :meth:`done`)."""
        if self._grpc is not None:
            self._grpc.started()
        return time.perf_counter()

    def done(self, method: str, code: str, started: float, peer: str | None = None) -> None:
        """A call ended with ``code`` (``OK``, ``NOT_FOUND``, ``CANCELLED``, ...)."""
        seconds = time.perf_counter() - started
        if self._grpc is not None:
            self._grpc.ended((method, code), seconds)
        if self._access_log:
            _access.info(
                access_line(
                    transport="grpc",
                    method=method,
                    route=method,
                    status=code,
                    duration_ms=round(seconds * 1000, 3),
                    remote=peer,
                )
            )
