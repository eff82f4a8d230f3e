"""Errors raised by the registry service, shared by the REST and gRPC front doors.

Each error knows its HTTP status, the status text used as the ``code`` of the REST error body
(``{"code": "Bad Request", "message": "..."}``) and the name of the matching gRPC status code, so
each front door maps errors at one place without a table of its own.
"""

from __future__ import annotations

import math
from http import HTTPStatus

#: The ``Retry-After`` (seconds) of an :class:`Unavailable` answer.
RETRY_AFTER_SECONDS = 1


class ServiceError(Exception):
    """A failure the client can act on, carrying the HTTP status and a message.

    Attributes:
        http_status: The HTTP status code of the REST answer.
        code: The ``code`` of the REST error body (the HTTP status text).
        message: The human readable detail.
        grpc_code: The name of the ``grpc.StatusCode`` member that stands for this error.
        retry_after: Seconds after which the same request may succeed (REST ``Retry-After``,
            gRPC trailing metadata ``retry-after``), or ``None`` when repeating will not help.
    """

    http_status: int = 500
    grpc_code: str = "INTERNAL"
    retry_after: float | None = None

    def retry_after_header(self) -> str | None:
        """:attr:`retry_after` as the whole seconds both front doors send (at least 1)."""
        if self.retry_after is None:
            return None
        return str(max(1, math.ceil(self.retry_after)))

    def __init__(self, *args: int | str, code: str | None = None) -> None:
        """Build the error as ``Subclass(message)`` or ``ServiceError(status, message)``."""
        if len(args) == 2 and isinstance(args[0], int):
            self.http_status = args[0]
            message = str(args[1])
        elif len(args) == 1:
            message = str(args[0])
        else:
            raise TypeError("ServiceError(message) or ServiceError(status, message)")
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else HTTPStatus(self.http_status).phrase

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadRequest(ServiceError):
    """The request is malformed (400)."""

    http_status = 400
    grpc_code = "INVALID_ARGUMENT"


class Unauthorized(ServiceError):
    """No or a bad bearer token (401)."""

    http_status = 401
    grpc_code = "UNAUTHENTICATED"


class Forbidden(ServiceError):
    """The caller is known but lacks the role this needs (403, gRPC ``PERMISSION_DENIED``)."""

    http_status = 403
    grpc_code = "PERMISSION_DENIED"


class NotFound(ServiceError):
    """The entity does not exist (404)."""

    http_status = 404
    grpc_code = "NOT_FOUND"


class Conflict(ServiceError):
    """A name or external id clashes with a stored entity (409)."""

    http_status = 409
    grpc_code = "ALREADY_EXISTS"


class UnprocessableEntity(ServiceError):
    """A required field is missing (422).

    The reference server answers these with the body code ``"Bad Request"``, so that is the
    default code here.
    """

    http_status = 422
    grpc_code = "INVALID_ARGUMENT"

    def __init__(self, *args: int | str, code: str | None = None) -> None:
        super().__init__(*args, code="Bad Request" if code is None else code)


class PayloadTooLarge(ServiceError):
    """The request body is too large (413)."""

    http_status = 413
    grpc_code = "RESOURCE_EXHAUSTED"


class EntityTooLarge(ServiceError):
    """An entity too large to be listed (413; gRPC INVALID_ARGUMENT, as repeating cannot help).

    gRPC answers are limited in size (:data:`MAX_RESPONSE_BYTES`); an entity that could not fit
    in one is refused when written, rather than break every list that holds it.
    """

    http_status = 413
    grpc_code = "INVALID_ARGUMENT"


MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""The largest gRPC answer the server sends: gRPC's default receive limit of its clients."""

MAX_ENTITY_BYTES = MAX_RESPONSE_BYTES - 64 * 1024
"""The largest entity, JSON-encoded, the server stores: it always fits in one gRPC answer
together with the list's own fields."""


class TooManyRequests(ServiceError):
    """The caller's request rate limit is used up (429; gRPC maps HTTP 429 to UNAVAILABLE).

    Attributes:
        retry_after: Seconds until the caller may send a request again.
    """

    http_status = 429
    grpc_code = "UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """The store cannot answer right now (503); worth trying again in a moment."""

    http_status = 503
    grpc_code = "UNAVAILABLE"
    # Short: the pool reconnects on the next call once the database answers again.
    retry_after = RETRY_AFTER_SECONDS

    @classmethod
    def because(cls, exc: BaseException) -> Unavailable:
        """The error for a database failure; names only the failure's type, not its text."""
        return cls(f"database unavailable: {type(exc).__name__}")


class StatementTimeout(Unavailable):
    """A statement ran past its time budget (``serve --statement-timeout``).

    A 503 by default (the database was slow: load, a lock); a read whose cost comes from what
    it asks (a filter) is answered 400 by the service instead, saying how to narrow it.
    """
