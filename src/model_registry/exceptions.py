"""The one exception hierarchy of the client.

Everything the client raises on purpose derives from :class:`ModelRegistryError`. Errors the
server answered with are :class:`StatusError` subclasses and carry the status (an HTTP status
code or a gRPC status code name), the server's ``code`` and ``message``, and the request that
failed (method and path, or the RPC name; never the token). Errors on the way to the server are
:class:`TransportError` subclasses: :class:`ConnectionFailed` and :class:`Timeout`.

Both transports map what they receive here, each at one choke point:
:func:`from_http_response` for REST and :func:`from_grpc_status` (with
:data:`GRPC_STATUS_TO_ERROR`) for gRPC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "GRPC_STATUS_TO_ERROR",
    "HTTP_STATUS_TO_ERROR",
    "BadRequest",
    "ClientClosed",
    "Conflict",
    "ConnectionFailed",
    "CursorExpired",
    "Forbidden",
    "InvalidResponse",
    "ModelRegistryError",
    "NotFound",
    "PagerLoopError",
    "ResponseTooLarge",
    "ServerError",
    "StatusError",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "UnprocessableEntity",
    "Unsupported",
    "error_class_for_http_status",
    "from_grpc_status",
    "from_http_response",
]


class ModelRegistryError(Exception):
    """Root of every error the client raises on purpose."""


class StatusError(ModelRegistryError):
    """The server answered with an error status.

    Attributes:
        status: The HTTP status code (``int``) or the gRPC status code name (``str``,
            e.g. ``"NOT_FOUND"``).
        code: The ``code`` field of the server's error body (e.g. ``"Bad Request"``), if any.
        message: The server's message, or a description of the failure.
        method: The HTTP method or ``"gRPC"``; ``None`` when unknown.
        path: The request path (without query string) or the RPC name; ``None`` when unknown.
    """

    #: Status the class stands for when none is given (HTTP).
    default_status: int | str = 0

    def __init__(
        self,
        message: str,
        *,
        status: int | str | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status: int | str = self.default_status if status is None else status
        self.code = code
        self.message = message
        self.method = method
        self.path = path
        super().__init__(message)

    @property
    def request(self) -> str | None:
        """The failed request as ``"METHOD path"``, or ``None`` when unknown."""
        if self.method is None and self.path is None:
            return None
        return " ".join(part for part in (self.method, self.path) if part)

    def __str__(self) -> str:
        head = f"{self.status}"
        if self.code:
            head += f" {self.code}"
        text = f"{head}: {self.message}"
        request = self.request
        if request:
            text += f" [{request}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, method={self.method!r}, path={self.path!r})"
        )


class BadRequest(StatusError):
    """The request was invalid (HTTP 400, gRPC ``INVALID_ARGUMENT``)."""

    default_status = 400


class Unauthorized(StatusError):
    """No token or a token the server refused (HTTP 401, gRPC ``UNAUTHENTICATED``)."""

    default_status = 401


class Forbidden(StatusError):
    """The token is valid but not allowed to do this (HTTP 403, gRPC ``PERMISSION_DENIED``)."""

    default_status = 403


class NotFound(StatusError):
    """The entity does not exist (HTTP 404, gRPC ``NOT_FOUND``)."""

    default_status = 404


class Conflict(StatusError):
    """A unique name or external id is taken (HTTP 409, gRPC ``ALREADY_EXISTS``)."""

    default_status = 409


class CursorExpired(StatusError):
    """A watch asked to resume from a cursor older than the events the server keeps (HTTP
    410, gRPC ``OUT_OF_RANGE`` marked 410): start again without ``since`` and re-read the
    state needed."""

    default_status = 410


class UnprocessableEntity(StatusError):
    """A required field is missing or a rule refused the entity (HTTP 422; over gRPC,
    ``INVALID_ARGUMENT`` marked with HTTP status 422, or ``FAILED_PRECONDITION``)."""

    default_status = 422


class ServerError(StatusError):
    """The server failed (HTTP 5xx other than 502/503/504, gRPC ``INTERNAL``/``UNKNOWN``)."""

    default_status = 500


class Unavailable(StatusError):
    """The server cannot serve now: retry later (HTTP 429/502/503/504, gRPC ``UNAVAILABLE``)."""

    default_status = 503


class TransportError(ModelRegistryError):
    """The request did not get an answer from the server.

    Attributes:
        method: The HTTP method or ``"gRPC"``; ``None`` when unknown.
        path: The request path or RPC name; ``None`` when unknown.
    """

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None):
        self.message = message
        self.method = method
        self.path = path
        super().__init__(message)

    def __str__(self) -> str:
        request = " ".join(part for part in (self.method, self.path) if part)
        return f"{self.message} [{request}]" if request else self.message


class ConnectionFailed(TransportError):
    """The server could not be reached or the connection broke."""


class Timeout(TransportError, TimeoutError):
    """The call did not finish within its timeout."""


class InvalidResponse(ModelRegistryError, ValueError):
    """The server answered with something the client cannot read (e.g. a malformed
    custom property value)."""


class ClientClosed(ModelRegistryError, RuntimeError):
    """The client was used after ``aclose()``."""


class Unsupported(ModelRegistryError, NotImplementedError):
    """The operation has no equivalent on this transport (e.g. updating a serve model over REST,
    which has no endpoint for it)."""


class PagerLoopError(ModelRegistryError, RuntimeError):
    """A paged listing does not end: a next-page token came twice, or page after page came
    empty with a new token (the server loops). The message counts the items received."""


class ResponseTooLarge(ModelRegistryError):
    """An answer larger than the client accepts (``max_receive_message_bytes`` over gRPC).

    Not retried: the same request gets the same answer. Ask for a smaller page size, or raise
    the limit.

    Attributes:
        method: ``"gRPC"``.
        path: The RPC name.
    """

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None):
        self.message = message
        self.method = method
        self.path = path
        super().__init__(message)


#: HTTP status -> error class. Statuses not listed fall back by class (4xx, 5xx).
HTTP_STATUS_TO_ERROR: Mapping[int, type[StatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: CursorExpired,
    422: UnprocessableEntity,
    429: Unavailable,
    500: ServerError,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}

#: gRPC status code name -> error class, for the gRPC transport. The registry's own server also
#: sends the HTTP status REST answers with, which picks the class where two share a code (400
#: and 422 are both ``INVALID_ARGUMENT``); this table serves errors without it.
GRPC_STATUS_TO_ERROR: Mapping[str, type[ModelRegistryError]] = {
    "INVALID_ARGUMENT": BadRequest,
    "OUT_OF_RANGE": BadRequest,
    "UNAUTHENTICATED": Unauthorized,
    "PERMISSION_DENIED": Forbidden,
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": Conflict,
    "ABORTED": Conflict,
    "FAILED_PRECONDITION": UnprocessableEntity,
    "RESOURCE_EXHAUSTED": Unavailable,
    "UNAVAILABLE": Unavailable,
    "DEADLINE_EXCEEDED": Timeout,
    "CANCELLED": ConnectionFailed,
    "INTERNAL": ServerError,
    "UNKNOWN": ServerError,
    "UNIMPLEMENTED": ServerError,
    "DATA_LOSS": ServerError,
}


def error_class_for_http_status(status: int) -> type[StatusError]:
    """Return the error class for an HTTP status (any 4xx/5xx; others give StatusError)."""
    cls = HTTP_STATUS_TO_ERROR.get(status)
    if cls is not None:
        return cls
    if 400 <= status < 500:
        return BadRequest
    if status >= 500:
        return ServerError
    return StatusError


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def from_http_response(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    method: str | None = None,
    path: str | None = None,
) -> StatusError:
    """Build the error for a non-2xx HTTP answer: the REST transport's one choke point.

    Args:
        status: The HTTP status code.
        body: The response body: raw bytes/str (parsed as the ``{"code", "message"}`` JSON
            when possible) or an already-parsed mapping.
        method: The request's HTTP method.
        path: The request path (never with credentials; the query string is dropped).

    Returns:
        An instance of the matching :class:`StatusError` subclass.
    """
    code: str | None = None
    message: str | None = None
    parsed: Any = body
    if isinstance(body, bytes | str):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            parsed = json.loads(text) if text.strip() else None
        except (ValueError, RecursionError):  # RecursionError: nested too deep to decode
            parsed = None
            message = text.strip()[:500] or None
    if isinstance(parsed, Mapping):
        raw_code = parsed.get("code")
        raw_message = parsed.get("message")
        code = str(raw_code) if raw_code is not None else None
        message = str(raw_message) if raw_message is not None else message
    if path is not None:
        path = path.split("?", 1)[0]
    return error_class_for_http_status(status)(
        message or _reason(status), status=status, code=code, method=method, path=path
    )


def from_grpc_status(
    code_name: str, message: str, *, method: str | None = "gRPC", path: str | None = None
) -> ModelRegistryError:
    """Build the error for a failed gRPC call: the gRPC transport's one choke point.

    Args:
        code_name: The gRPC status code name (``grpc.StatusCode.X.name``, e.g. ``"NOT_FOUND"``).
        message: The status details sent by the server.
        method: Shown as the request method (``"gRPC"`` by default).
        path: The RPC name (e.g. ``"GetRegisteredModel"``).

    Returns:
        A :class:`StatusError` subclass instance, or a :class:`Timeout` /
        :class:`ConnectionFailed` for ``DEADLINE_EXCEEDED`` / ``CANCELLED``.
    """
    cls = GRPC_STATUS_TO_ERROR.get(code_name, ServerError)
    if issubclass(cls, StatusError):
        return cls(message or code_name, status=code_name, code=code_name, method=method, path=path)
    if issubclass(cls, TransportError):
        return cls(message or code_name, method=method, path=path)
    return cls(message)  # pragma: no cover - every mapped class is one of the above
