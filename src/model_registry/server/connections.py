"""The REST front door's connection guard: caps, a header deadline, and safe protocol errors.

aiohttp parses requests in its :class:`~aiohttp.web.RequestHandler` protocol, one per
connection. It bounds how long a connection may stay idle between requests (its keep-alive
timeout) but not how long a client may take to send a request head, so connections whose
headers never finish ("slowloris") pile up until the process runs out of file descriptors and
nobody is served, ``/healthz`` included. :class:`GuardedRequestHandler` adds, at the protocol
level and before any request exists:

- a **header deadline**: a request head must be complete within ``header_timeout`` seconds
  of its first byte, or the connection gets a ``408`` and is closed;
- a **body deadline**: a request body must be complete within ``body_timeout`` seconds of
  the end of its head, or the connection gets a ``408`` (when no answer has begun) and is
  closed, and the request's handler is cancelled with it, so a client that sends its headers
  and then trickles or stalls the body holds its slot for a bounded time. One sweep per
  second checks both deadlines on every open connection (a ``loop.time()`` per request is all
  they cost on the hot path, no timer per request);
- **caps on open connections** per client address and in total. A connection over either is
  answered ``503`` with ``Retry-After`` and closed at once, so one address cannot take every
  slot and starve the other clients (a cap in total alone would);
- **protocol errors that repeat nothing**: aiohttp's own plain-text ``400`` for a malformed
  request line or header quotes the offending bytes, a bearer token included, and logs them
  with a traceback. Here the answer is the usual ``{"code", "message"}`` body naming only the
  kind of error, logged at debug level without the bytes.

:class:`GuardedSite` listens with this protocol (and bounds the TLS handshake by the same
deadline). The keep-alive timeout is aiohttp's own, passed through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import resource
import socket
import ssl
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

import orjson
from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMessage,
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)

from model_registry._eventloop import cancel_and_wait

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_GRPC_KEEPALIVE_TIME",
    "DEFAULT_GRPC_MAX_CALLS_PER_ADDRESS",
    "DEFAULT_GRPC_MAX_CONCURRENT_STREAMS",
    "DEFAULT_GRPC_MAX_CONNECTION_AGE",
    "DEFAULT_GRPC_MAX_WATCHES_PER_ADDRESS",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_KEEPALIVE_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_CONNECTIONS_PER_ADDRESS",
    "ConnectionGuard",
    "ConnectionLimits",
    "GuardedRequestHandler",
    "GuardedSite",
    "protocol_error_message",
]

log = logging.getLogger("model_registry.server")

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a client has to finish a request head once it sent its first byte."""
DEFAULT_BODY_TIMEOUT = 30.0
"""Seconds a client has to send a request body once its head is complete (a 4 MiB body, the
default size limit, needs about 1.1 Mbit/s)."""
DEFAULT_KEEPALIVE_TIMEOUT = 75.0
"""Seconds an idle keep-alive connection (no request in progress) stays open."""
DEFAULT_MAX_CONNECTIONS = 1024
"""Most open REST connections in total (lowered to fit the process's file limit)."""
DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 128
"""Most open REST connections from one client address."""
DEFAULT_GRPC_KEEPALIVE_TIME = 60.0
"""Seconds between the gRPC server's keepalive pings on a connection (dead peers are dropped)."""
DEFAULT_GRPC_MAX_CONNECTION_AGE = 1800.0
"""Seconds after which a gRPC connection is asked to go away (clients reconnect on their own)."""
DEFAULT_GRPC_MAX_CONCURRENT_STREAMS = 100
"""Most calls in flight on one gRPC connection; more wait in the client."""
DEFAULT_GRPC_MAX_CALLS_PER_ADDRESS = 128
"""Most gRPC registry calls in the server's hands at once from one client address (as many as
the REST connections one address may hold, each of which carries one request at a time)."""
DEFAULT_GRPC_MAX_WATCHES_PER_ADDRESS = 16
"""Most gRPC event watches (``WatchEvents``) open at once from one client address: a cap of
their own, so long-lived watchers never take the slots of calls."""

# File descriptors kept for everything but REST connections: the database pool, gRPC, logs.
_RESERVED_FDS = 128
_SWEEP_SECONDS = 1.0
# Seconds a refused connection is read before it is closed, and how many may be at once.
_REFUSAL_LINGER = 0.5
# A connection cut for a late body is closed once its client has been quiet for
# _REFUSAL_LINGER, and at the latest after this: a client still sending when the socket
# closes gets a reset, which can destroy the answer before it reads it.
_MAX_BODY_LINGER = 3.0
_MAX_LINGERING = 64


def fitting_max_connections(requested: int) -> int:
    """``requested`` lowered so that REST connections cannot exhaust the file limit.

    A process out of file descriptors cannot accept anything, health checks included.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return requested
    return max(1, min(requested, soft - _RESERVED_FDS))


@dataclass(frozen=True)
class ConnectionLimits:
    """Limits on REST connections (``serve --header-timeout`` etc.).

    Attributes:
        header_timeout: Seconds from a request head's first byte to its end (and for a TLS
            handshake); later, the client gets a 408 and the connection is closed.
        keepalive_timeout: Seconds an idle connection stays open between requests.
        body_timeout: Seconds from the end of a request head to the end of its body; later,
            the client gets a 408 (when no answer has begun) and the connection is closed.
        max_connections: Most open connections in total; more are answered 503 and closed.
            Lowered at start to stay under the process's file limit.
        max_connections_per_address: Most open connections from one client address; more are
            answered 503 and closed.
        grpc_keepalive_time: Seconds between gRPC keepalive pings (a peer that does not
            answer within 20 s is dropped).
        grpc_max_connection_age: Seconds after which a gRPC connection is sent GOAWAY (calls
            in flight get 30 s to finish); clients reconnect by themselves.
        grpc_max_concurrent_streams: Most calls in flight on one gRPC connection.
        grpc_max_calls_per_address: Most registry calls being handled at once for one
            client address, over all its connections; more are refused ``UNAVAILABLE`` with
            ``retry-after`` at once (health calls are not counted). A content stream
            (upload, download) is a call and holds its slot for its life.
        grpc_max_watches_per_address: Most event watches (``WatchEvents``) open at once for
            one client address; more are refused ``UNAVAILABLE`` with ``retry-after``. A
            watch lives as long as its client wants, so it is not counted among the calls.

    The gRPC front door also takes ``header_timeout`` (HTTP/2 and TLS handshake) and
    ``keepalive_timeout`` (idle connections are closed).
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_connections_per_address: int = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS
    grpc_keepalive_time: float = DEFAULT_GRPC_KEEPALIVE_TIME
    grpc_max_connection_age: float = DEFAULT_GRPC_MAX_CONNECTION_AGE
    grpc_max_concurrent_streams: int = DEFAULT_GRPC_MAX_CONCURRENT_STREAMS
    grpc_max_calls_per_address: int = DEFAULT_GRPC_MAX_CALLS_PER_ADDRESS
    grpc_max_watches_per_address: int = DEFAULT_GRPC_MAX_WATCHES_PER_ADDRESS

    def __post_init__(self) -> None:
        for name in (
            "header_timeout",
            "keepalive_timeout",
            "body_timeout",
            "grpc_keepalive_time",
            "grpc_max_connection_age",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in (
            "max_connections",
            "max_connections_per_address",
            "grpc_max_concurrent_streams",
            "grpc_max_calls_per_address",
            "grpc_max_watches_per_address",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    def grpc_options(self) -> list[tuple[str, int]]:
        """These limits as gRPC server channel arguments."""

        def ms(seconds: float) -> int:
            return max(1, round(seconds * 1000))

        return [
            ("grpc.server_handshake_timeout_ms", ms(self.header_timeout)),
            ("grpc.max_connection_idle_ms", ms(self.keepalive_timeout)),
            ("grpc.keepalive_time_ms", ms(self.grpc_keepalive_time)),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.max_connection_age_ms", ms(self.grpc_max_connection_age)),
            ("grpc.max_connection_age_grace_ms", 30_000),
            ("grpc.max_concurrent_streams", self.grpc_max_concurrent_streams),
        ]


STREAMED_BODY = re.compile(r"/api/model_registry/v1/artifacts/[^/]+/content")
"""Paths (of a ``PUT``) whose body is an artifact's content, which may take as long as it
keeps arriving: for them the body deadline counts from the last bytes received (a stalled
upload still ends after ``body_timeout``), since a large file on a slow link cannot arrive in
a fixed time."""


def _raw_error(status: int, message: str, *, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 error response with the JSON error body, closing the connection."""
    body = orjson.dumps({"code": HTTPStatus(status).phrase, "message": message})
    head = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if retry_after is not None:
        head.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


_TOO_MANY_FROM_ADDRESS = _raw_error(
    503, "too many open connections from this address", retry_after=1
)
_TOO_MANY = _raw_error(503, "too many open connections", retry_after=1)


class ConnectionGuard:
    """Counts the open connections of one listening site and enforces its limits.

    Args:
        limits: The limits (``max_connections`` already fitted to the file limit).
    """

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: set[GuardedRequestHandler] = set()
        self._by_address: dict[str, int] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._lingering = 0

    @property
    def open_connections(self) -> int:
        """How many connections are open now."""
        return len(self._open)

    def admit(self, handler: GuardedRequestHandler, address: str) -> bytes | None:
        """Count a new connection in; return the refusal to send instead when over a cap."""
        count = self._by_address.get(address, 0)
        if count >= self.limits.max_connections_per_address:
            return _TOO_MANY_FROM_ADDRESS
        if len(self._open) >= self.limits.max_connections:
            return _TOO_MANY
        self._by_address[address] = count + 1
        self._open.add(handler)
        return None

    def refuse(self, transport: asyncio.BaseTransport, refusal: bytes) -> None:
        """Answer a connection over a cap and close it.

        Closed at once, a connection whose request is still arriving is reset, and the client
        may lose the answer with it; so the answer is followed by a half-close and the request
        is read for a moment (:data:`_REFUSAL_LINGER`) before the close, for a bounded number
        of refused connections at a time (each holds a file descriptor meanwhile).
        """
        # uvloop's transports are not asyncio.WriteTransport subclasses, but write alike.
        writer = cast(asyncio.WriteTransport, transport)
        try:
            writer.write(refusal)
            if self._lingering >= _MAX_LINGERING:
                transport.close()
                return
        except Exception:  # the client is gone already
            transport.close()
            return
        self._lingering += 1

        def close() -> None:
            self._lingering -= 1
            transport.close()

        asyncio.get_running_loop().call_later(_REFUSAL_LINGER, close)

    def release(self, handler: GuardedRequestHandler, address: str) -> None:
        """Count a closed connection out."""
        self._open.discard(handler)
        left = self._by_address.get(address, 1) - 1
        if left > 0:
            self._by_address[address] = left
        else:
            self._by_address.pop(address, None)

    def start(self) -> None:
        """Start the once-a-second sweep that enforces the header deadline."""
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep())

    async def stop(self) -> None:
        """Stop the sweep."""
        await cancel_and_wait(self._sweeper)
        self._sweeper = None

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        head_timeout = self.limits.header_timeout
        body_timeout = self.limits.body_timeout
        pause = min(_SWEEP_SECONDS, head_timeout / 2, body_timeout / 2)
        while True:
            await asyncio.sleep(pause)
            now = loop.time()
            head_deadline = now - head_timeout
            body_deadline = now - body_timeout
            late_heads = [h for h in self._open if 0.0 < h.head_since < head_deadline]
            late_bodies = [h for h in self._open if 0.0 < h.body_since < body_deadline]
            for handler in late_heads:
                handler.head_timed_out()
            for handler in late_bodies:
                handler.body_timed_out()


class GuardedRequestHandler(web.RequestHandler):
    """aiohttp's request protocol under a :class:`ConnectionGuard` (see the module doc).

    Args:
        manager: The aiohttp server the connection belongs to.
        guard: The guard of the listening site.
        **kwargs: aiohttp's request handler options.
    """

    __slots__ = (
        "_address",
        "_body",
        "_cut_at",
        "_guard",
        "_quiet_since",
        "_refused",
        "_streamed",
        "body_since",
        "head_since",
    )

    def __init__(self, manager: web.Server, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._address: str | None = None
        self._refused = False
        # Loop time of the first byte of a request head not yet complete; 0.0 when none.
        self.head_since = 0.0
        # The body of the latest request while it is still arriving, and the loop time its
        # head was complete; None and 0.0 when none is.
        self._body: Any = None
        self.body_since = 0.0
        # Whether that body is an artifact's content (STREAMED_BODY): its deadline runs from
        # the last bytes received, not from the head.
        self._streamed = False
        # Loop times of the cut for a late body (0.0: not cut) and of the last bytes since.
        self._cut_at = 0.0
        self._quiet_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, (tuple, list)) and peer else ""
        refusal = self._guard.admit(self, address)
        if refusal is not None:
            # Never handed to aiohttp: no parser, no task, just the answer and the close.
            self._refused = True
            self._guard.refuse(transport, refusal)
            return
        self._address = address
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused:
            return
        if self._address is not None:
            self._guard.release(self, self._address)
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped, so that closing does not reset the connection
        if self._cut_at:
            self._quiet_since = self._loop.time()  # dropped; the close waits for quiet
            return
        if not self.head_since and self._awaiting_head():
            self.head_since = self._loop.time()
        super().data_received(data)
        messages = self._messages
        if messages:  # the head is complete (or was refused by the parser)
            self.head_since = 0.0
            message, body = messages[-1]
            if body is not self._body and not body.is_eof():
                self._body = body  # a new request whose body is still to come
                self.body_since = self._loop.time()
                method = getattr(message, "method", None)  # not on a parse error
                path = getattr(getattr(message, "url", None), "path", "")
                self._streamed = method == "PUT" and bool(STREAMED_BODY.fullmatch(path))
        elif self._streamed and self._body is not None and not self._body.is_eof():
            self.body_since = self._loop.time()  # content still arriving: the deadline moves

    def _awaiting_head(self) -> bool:
        """Whether the connection waits for a request head (not inside a request)."""
        waiter = self._waiter
        return self._request_count == 0 or (waiter is not None and not waiter.done())

    def head_timed_out(self) -> None:
        """Answer 408 and close: the request head did not finish in time."""
        self.head_since = 0.0
        if not self._awaiting_head() or self._messages:
            return  # a request is being handled: its head did finish
        transport = self.transport
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.write(_raw_error(408, "request head not received in time"))
        self.force_close()

    def body_timed_out(self) -> None:
        """Answer 408 (unless an answer has begun) and close: the body did not finish in time.

        Closing cancels the request's handler (``handler_cancellation``), which frees what it
        held. A body that did finish, or that aiohttp drains after an answer that did not read
        it (bounded by its own lingering time), is left alone.
        """
        body = self._body
        if body is None or body.is_eof():
            self._body, self.body_since = None, 0.0
            return
        request = self._current_request
        if request is None:
            # Not in a handler: answered already (aiohttp's lingering read of the rest ends
            # on its own) or queued behind another request; looked at again next sweep.
            return
        self._body, self.body_since = None, 0.0
        log.debug("closing a connection whose request body did not arrive in time")
        transport = self.transport
        if transport is None:
            self.force_close()
            return
        # The answer, a half-close, and what still arrives read and dropped for a moment
        # before the close: closed at once while the client is still sending, the connection
        # would be reset and the client could lose the answer with it (as for a refusal).
        self._force_close = True
        self._cut_at = self._quiet_since = self._loop.time()  # data_received drops the rest
        with contextlib.suppress(Exception):
            if request.writer.output_size == 0:
                cast(asyncio.WriteTransport, transport).write(
                    _raw_error(408, "request body not received in time")
                )
            cast(asyncio.WriteTransport, transport).write_eof()
        self._loop.call_later(_REFUSAL_LINGER, self._close_when_quiet, transport)

    def _close_when_quiet(self, transport: asyncio.BaseTransport) -> None:
        """Close a cut connection once its client has sent nothing for a moment (or it has
        lingered long enough). Closing cancels the handler (handler_cancellation), which
        frees what it held."""
        now = self._loop.time()
        quiet = now - self._quiet_since
        if quiet >= _REFUSAL_LINGER or now - self._cut_at >= _MAX_BODY_LINGER:
            transport.close()
        else:
            self._loop.call_later(_REFUSAL_LINGER - quiet, self._close_when_quiet, transport)

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """aiohttp's log of a failure; a request body that could not be read is the client's.

        The error middleware already answered such a request 400; aiohttp meets the same
        error again when it drains the rest of the body, which is no server failure.
        """
        exc = kwargs.get("exc_info")
        if isinstance(exc, (web.RequestPayloadError, HttpProcessingError)):
            log.debug("closed a connection after an unreadable body: %s", type(exc).__name__)
            return
        super().log_exception(*args, **kwargs)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's answer to a request it could not parse (or a failure outside the app).

        The JSON error body names the kind of error only: aiohttp's message quotes the raw
        line or header, which may hold a bearer token. Logged without it.
        """
        if status >= 500:
            log.error("HTTP protocol failure (%s)", type(exc).__name__ if exc else "no exception")
            text = HTTPStatus(status).phrase.lower()
        else:
            log.debug("refused a malformed HTTP request: %s", type(exc).__name__)
            text = protocol_error_message(exc)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started, cannot send the error")
        body = orjson.dumps({"code": HTTPStatus(status).phrase, "message": text})
        response = web.Response(
            status=status, body=body, content_type="application/json", charset="utf-8"
        )
        response.force_close()
        return response


def protocol_error_message(exc: BaseException | None) -> str:
    """What a malformed request is called in the error body, without any of its bytes."""
    if isinstance(exc, LineTooLong):
        return "malformed HTTP request: request line or header field too long"
    if isinstance(exc, InvalidHeader):
        return "malformed HTTP request: invalid header"
    if isinstance(exc, BadStatusLine):
        return "malformed HTTP request: invalid request line"
    if isinstance(exc, InvalidURLError):
        return "malformed HTTP request: invalid URL"
    if isinstance(exc, BadHttpMessage):
        return "malformed HTTP request"
    return "bad request"


class GuardedSite(web.BaseSite):
    """A listening socket served by :class:`GuardedRequestHandler` connections.

    Args:
        runner: The set-up app runner.
        sock: The bound socket to listen on.
        limits: The connection limits.
        handler_options: The aiohttp request handler options (as given to the runner).
        ssl_context: Serve TLS with this context; the handshake is bounded by the header
            deadline.
        backlog: The listen backlog.
    """

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        *,
        limits: ConnectionLimits,
        handler_options: dict[str, Any],
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 1024,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._sock = sock
        self._handler_options = {**handler_options, "keepalive_timeout": limits.keepalive_timeout}
        self.guard = ConnectionGuard(limits)
        host, port = sock.getsockname()[:2]
        self._name = f"{'https' if ssl_context else 'http'}://{host}:{port}"

    @property
    def name(self) -> str:
        """The URL the site listens on."""
        return self._name

    async def start(self) -> None:
        """Listen and start the header-deadline sweep."""
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        guard = self.guard
        options = self._handler_options

        def protocol() -> GuardedRequestHandler:
            return GuardedRequestHandler(server, guard=guard, loop=loop, **options)

        self._server = await loop.create_server(
            protocol,
            sock=self._sock,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=guard.limits.header_timeout if self._ssl_context else None,
        )
        guard.start()

    async def stop(self) -> None:
        """Stop listening and sweeping."""
        await self.guard.stop()
        await super().stop()
