"""Error details the registry's gRPC server sends in trailing metadata, read by the client.

A gRPC status code alone is coarser than the REST answer (400 and 422 are both
``INVALID_ARGUMENT``) and does not tell a registry answer from a channel failure, so every
error the server answers carries these keys beside the code.
"""

from __future__ import annotations

__all__ = ["ERROR_HTTP_STATUS", "ERROR_MARK", "RETRY_AFTER"]

#: Trailing metadata key the registry's gRPC server sets on every error it answers with (the
#: value is the REST error ``code``, e.g. ``"Not Found"``). The client uses it to tell a
#: registry answer (say UNAVAILABLE: the database is not ready) from a channel failure.
ERROR_MARK = "mr-error-code"

#: Trailing metadata key carrying the HTTP status REST answers the same error with (e.g.
#: ``"422"``), so the client raises the same exception class over both transports even where
#: two HTTP statuses share one gRPC code (400 and 422 are both INVALID_ARGUMENT).
ERROR_HTTP_STATUS = "mr-http-status"

#: Trailing metadata key of the seconds (a decimal integer, e.g. ``"1"``) after which the call
#: may succeed if repeated, set on an UNAVAILABLE the registry answered itself (its database is
#: out of reach). The gRPC twin of REST's ``Retry-After`` header, with the same value.
RETRY_AFTER = "retry-after"
