"""One WARNING line instead of tracebacks when a client speaks HTTP/2 to the REST port.

A gRPC client (or ``curl --http2-prior-knowledge``) pointed at the REST port opens with the
HTTP/2 preface, which aiohttp's HTTP/1.1 parser refuses with an ERROR and a traceback per
connection, and a gRPC client retries several times. :class:`Http2OnRestFilter` turns the
first of them into one WARNING line saying what happened and where gRPC is, and drops the
others for a minute.

(The opposite mistake, an HTTP/1.1 client on the gRPC port, is refused by gRPC's core without
a log line at its default verbosity.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["Http2OnRestFilter", "install", "uninstall"]

_LOGGER = "aiohttp.server"


def _is_http2_preface(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    # aiohttp's parsers name the HTTP/2 preface ("PRI * HTTP/2.0") in their BadHttpMessage.
    return exc is not None and type(exc).__name__ == "BadHttpMessage" and "PRI" in str(exc)


class Http2OnRestFilter(logging.Filter):
    """A filter for aiohttp's server logger: HTTP/2 on the REST port is one WARNING a minute.

    Args:
        grpc_port: The gRPC port, named in the line (None when gRPC is off).
        interval: Seconds during which further such records are dropped.
        clock: Monotonic clock (seconds).
    """

    def __init__(
        self,
        grpc_port: int | None,
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._where = f"gRPC is on port {grpc_port}" if grpc_port else "gRPC is off"
        self._interval = interval
        self._clock = clock
        self._last: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the first HTTP/2 record to one WARNING line; drop repeats; pass the rest."""
        if not _is_http2_preface(record):
            return True
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return False
        self._last = now
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg = (
            "a client from %s spoke HTTP/2 (gRPC?) to the REST port; %s "
            "(such lines are dropped for the next %d s)"
        )
        record.args = (peer, self._where, int(self._interval))
        record.exc_info = record.exc_text = None
        return True


def install(grpc_port: int | None) -> Http2OnRestFilter:
    """Add a :class:`Http2OnRestFilter` to aiohttp's server logger; return it (to remove)."""
    found = Http2OnRestFilter(grpc_port)
    logging.getLogger(_LOGGER).addFilter(found)
    return found


def uninstall(found: Http2OnRestFilter) -> None:
    """Remove a filter :func:`install` added."""
    logging.getLogger(_LOGGER).removeFilter(found)
