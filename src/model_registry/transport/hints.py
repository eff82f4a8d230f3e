"""What to do when a client speaks the wrong protocol to a port: one table for both transports.

A REST client on the gRPC port, a gRPC client on the REST port, or TLS against a server that
speaks plain text each fail deep in the HTTP or TLS library with a message that names bytes or
OpenSSL codes. The transports look the library's text up here and report the hint instead.
"""

from __future__ import annotations

import re

__all__ = ["WRONG_PROTOCOL", "wrong_protocol_hint"]

PLAIN_HINT = (
    "the server speaks plain HTTP, not TLS; use is_secure=False "
    "(ModelRegistryAPIClient.insecure_connection, or an http:// URL on the command line)"
)

#: (pattern in the library's error text, what the user should do), first match wins.
WRONG_PROTOCOL: tuple[tuple[re.Pattern[str], str], ...] = (
    # aiohttp reading an HTTP/2 frame (gRPC's SETTINGS) where a status line should be.
    (
        re.compile(r"Expected HTTP/.*b'\\+x00\\+x00", re.S),
        "this port speaks gRPC; use transport='grpc'",
    ),
    # grpc-core reading an HTTP/1.1 answer where an HTTP/2 SETTINGS frame should be.
    (
        re.compile(r"http1\.x server|Expected SETTINGS frame", re.I),
        "this port speaks HTTP/1.1 (the REST API); use transport='rest', or the gRPC port",
    ),
    # OpenSSL reading a plain-text answer as a TLS record.
    (re.compile(r"WRONG_VERSION_NUMBER|wrong version number", re.I), PLAIN_HINT),
)


def wrong_protocol_hint(text: str) -> str | None:
    """The hint for a connection failure whose library text is ``text``, or None."""
    for pattern, hint in WRONG_PROTOCOL:
        if pattern.search(text):
            return hint
    return None
