"""A thin HTTP wrapper over aiohttp for driving the registry REST API in tests.

Every request goes through :meth:`RestApi.request`, which fails the test at once on any 5xx:
COMPAT.md says nothing a client sends may cause one, so no test ever has to remember to check.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiohttp

# The server sits on one machine with the tests; anything slower than this is a hang.
_TIMEOUT = aiohttp.ClientTimeout(total=30)
_NO_BODY: Any = object()


@dataclass(frozen=True)
class Reply:
    """One HTTP exchange, with the body decoded when it is JSON.

    Attributes:
        method: The request method.
        url: The full request URL.
        status: The HTTP status code.
        body: The decoded JSON body, or ``None`` when the body is not JSON.
        text: The raw body text.
        headers: The response headers.
    """

    method: str
    url: str
    status: int
    body: Any
    text: str
    headers: Mapping[str, str]

    def describe(self) -> str:
        """Return a one-line summary used in assertion messages."""
        return f"{self.method} {self.url} -> {self.status}: {self.text[:500]}"


class RestApi:
    """Requests against one registry base URL (``.../api/model_registry/v1alpha3``).

    Paths passed to the methods are relative to the base URL and start with ``/``.
    """

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        """Bind the wrapper to a session and a base URL.

        Args:
            session: The aiohttp session every request uses.
            base_url: The API base URL, without a trailing slash.
        """
        self.session = session
        self.base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _NO_BODY,
        params: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        absolute: bool = False,
    ) -> Reply:
        """Send one request and return the reply; a 5xx fails the calling test.

        Args:
            method: The HTTP method.
            path: The path relative to the base URL (or a full URL when ``absolute``).
            json_body: A value to send as JSON.
            params: Query parameters.
            data: A raw body, sent as is (for malformed-body tests).
            headers: Extra request headers.
            absolute: Treat ``path`` as a full URL.

        Returns:
            The reply.
        """
        url = path if absolute else self.base_url + path
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json_body is not _NO_BODY:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        async with self.session.request(method, url, **kwargs) as resp:
            text = await resp.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = None
            reply = Reply(method, str(resp.url), resp.status, body, text, dict(resp.headers))
        assert reply.status < 500, f"server error: {reply.describe()}"
        return reply

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Reply:
        """Send a GET."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any) -> Reply:
        """Send a POST with a JSON body."""
        return await self.request("POST", path, json_body=body)

    async def patch(self, path: str, body: Any) -> Reply:
        """Send a PATCH with a JSON body."""
        return await self.request("PATCH", path, json_body=body)

    async def ok(
        self,
        method: str,
        path: str,
        *,
        body: Any = _NO_BODY,
        params: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> Any:
        """Send a request that must succeed with ``status`` and return its JSON body."""
        reply = await self.request(method, path, json_body=body, params=params)
        assert reply.status == status, f"expected {status}: {reply.describe()}"
        assert isinstance(reply.body, (dict, list)), f"no JSON body: {reply.describe()}"
        return reply.body

    async def fetch(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a path that must answer 200 and return its JSON body."""
        return await self.ok("GET", path, params=params)

    async def create(self, path: str, body: Any) -> Any:
        """POST a body that must be created (201) and return the stored entity."""
        return await self.ok("POST", path, body=body, status=201)

    async def update(self, path: str, body: Any) -> Any:
        """PATCH a body that must succeed (200) and return the stored entity."""
        return await self.ok("PATCH", path, body=body)

    async def fails(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: Any = _NO_BODY,
        params: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> str:
        """Send a request that must fail with ``status`` and a well-formed error body.

        Args:
            method: The HTTP method.
            path: The path relative to the base URL.
            status: The expected HTTP status.
            body: A JSON body to send.
            params: Query parameters.
            message: When given, the exact expected ``message``.

        Returns:
            The error message.
        """
        reply = await self.request(method, path, json_body=body, params=params)
        assert reply.status == status, f"expected {status}: {reply.describe()}"
        return check_error_body(reply, status, message)


def error_code_for(status: int) -> str:
    """Return the ``code`` COMPAT.md expects in an error body for ``status``.

    The reference answers a missing required field with 422 but keeps ``"Bad Request"`` as
    the code; every other status carries its own reason phrase.
    """
    if status == HTTPStatus.UNPROCESSABLE_ENTITY:
        return "Bad Request"
    return HTTPStatus(status).phrase


def check_error_body(reply: Reply, status: int, message: str | None = None) -> str:
    """Assert that ``reply`` carries the ``{"code", "message"}`` error body for ``status``.

    Args:
        reply: The reply to check.
        status: The status the reply has.
        message: When given, the exact expected message.

    Returns:
        The error message.
    """
    body = reply.body
    assert isinstance(body, dict), f"error body is not a JSON object: {reply.describe()}"
    assert body.get("code") == error_code_for(status), f"bad error code: {reply.describe()}"
    assert isinstance(body.get("message"), str), f"no message: {reply.describe()}"
    assert body["message"], f"empty message: {reply.describe()}"
    if message is not None:
        assert body["message"] == message, reply.describe()
    return str(body["message"])


@asynccontextmanager
async def rest_api(base_url: str) -> AsyncIterator[RestApi]:
    """Open a session bound to ``base_url`` for the duration of a test."""
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
        yield RestApi(session, base_url)
