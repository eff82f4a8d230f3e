"""The REST transport: the ``Transport`` primitives over the generated endpoint modules.

Each operation's request (method, path, body model) is built by its generated endpoint module
(of the API version chosen, named in the operation table) and sent by
:meth:`RestTransport._send` under the shared :class:`~model_registry.transport.base.CallLoop`
(a stream by :meth:`RestTransport._stream`); :meth:`RestTransport._classify` maps connection
failures to :class:`~model_registry.exceptions.ConnectionFailed` and every non-2xx answer
through :func:`~model_registry.exceptions.from_http_response`. Answers are decoded by
``model_registry._convert`` rather than the generated parsers: those try each ``oneOf``
variant of every custom property in turn (measured: 2.5 ms for a page of 100 models, four times
the whole round trip), and their errors would not name the bad field.

One ``aiohttp.ClientSession`` (and so one connection pool) per transport, created lazily under a
lock on first use and reused; one SSL context, built once by the caller."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib
import inspect
import json
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from types import ModuleType
from typing import Any

import aiohttp
import orjson

from model_registry import _convert
from model_registry.exceptions import (
    ConnectionFailed,
    InvalidResponse,
    ModelRegistryError,
    NotFound,
    Unsupported,
    from_http_response,
)
from model_registry.operations import REST_APIS, V1, V1ALPHA3, Op, endpoint_module
from model_registry.transport.auth import TokenSource
from model_registry.transport.base import (
    AUTO,
    CONTENT_CHUNK_BYTES,
    CONTENT_IDLE_SECONDS,
    V1_LACKS,
    ContentDownload,
    Failure,
    Request,
    Transport,
)
from model_registry.transport.hints import wrong_protocol_hint
from model_registry.transport.policy import DEFAULT_TIMEOUT, RetryPolicy, parse_retry_after
from model_registry.types import Artifact, RawPage

__all__ = ["RestTransport"]

_SUFFIX = {"create": "Create", "update": "Update", "full": ""}

_BASE = "/api/model_registry/"
# The query names of a find, alike for every kind (gRPC names them per kind: ``find_keys``).
_FIND_KEYS = ("name", "external_id", "parent_resource_id")
_EXTENSIONS = "extensions"
# What the server is asked before the calls that need to know: a 2xx means it serves the API
# version (or, for our extensions, lists the names it serves); a 404, that it does not.
_PROBES = {
    V1: f"{_BASE}{V1}/registered_models",
    V1ALPHA3: f"{_BASE}{V1ALPHA3}/registered_models",
    _EXTENSIONS: f"{_BASE}{V1}/extensions",
}
# Why an operation has no endpoint on the version the server serves.
_NOT_REST = "neither REST API version has one; use the gRPC transport"
_V1_EXTENSION = "it is an extension of our REST API v1"
# The change events (server-sent events), for errors the stream itself reports.
_EVENTS = f"{_BASE}{V1}/events"
# A silent stream for this long is taken for a broken connection (the server sends a
# heartbeat every 15 s).
_EVENTS_IDLE_SECONDS = 45.0
# Most bytes of one server-sent event (an event carries one entity, at most 4 MiB encoded).
_MAX_SSE_BYTES = 8 * 1024 * 1024


_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+)")


def _loads(content: bytes, request: Mapping[str, Any]) -> Any:
    """Decode a JSON answer: orjson (a page of 1,000 versions in half the time of ``json``).

    The standard library reads what orjson refuses, as before: ``NaN``/``Infinity`` (Python's
    ``json.dumps`` writes them for a float custom property) and UTF-16/32 bodies. One
    difference: orjson reads an integer beyond 64 bits as a float; the server stores none (its
    integer columns are 64-bit, int custom properties travel as strings).
    """
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(content)
    except ValueError:
        why = "is not JSON"
    except RecursionError:  # orjson stops at 1,024 levels; json recurses until it cannot
        why = "nests too deep to decode"
    raise InvalidResponse(f"the server's answer to {request['method']} {request['url']} {why}")


class _Status(Exception):
    """A non-2xx answer, raised by one attempt for the call loop to classify."""

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status, self.headers, self.content = status, headers, content


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


class RestTransport(Transport):
    """``Transport`` over the REST API.

    Args:
        base_url: Scheme, host and port, e.g. ``"https://registry.example:443"``.
        user_token: As :class:`~model_registry.transport.base.Transport`.
        ssl_context: SSL context for ``https`` (built once by the caller); ``None`` uses
            aiohttp's default verification; ``False`` disables certificate checks.
        timeout: As :class:`~model_registry.transport.base.Transport`.
        retry: As :class:`~model_registry.transport.base.Transport`.
        connector_limit: Most connections kept open at once.
        api_version: The REST API version to call: ``"v1"``, ``"v1alpha3"``, or ``"auto"``
            (the default), which asks the server once, before the first call, with the
            request the reference client uses (``GET /api/model_registry/v1/registered_models
            ?pageSize=1``): a success means v1, a 404 means v1alpha3 only. Under ``auto``,
            operations v1 has use v1 and experiment operations use v1alpha3 when the server
            still serves it (asked once, the first time one is called); with ``"v1"``, or on a
            server that serves only v1, they raise
            :class:`~model_registry.exceptions.Unsupported`.
        project: As :class:`~model_registry.transport.base.Transport`; sent as the
            ``X-Model-Registry-Project`` header.
    """

    def __init__(
        self,
        base_url: str,
        *,
        user_token: TokenSource | None = None,
        ssl_context: ssl.SSLContext | bool | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        connector_limit: int = 100,
        api_version: str = AUTO,
        project: str | None = None,
    ) -> None:
        super().__init__(user_token, timeout, retry, project, api_version)
        self.base_url = base_url.rstrip("/")
        # What the probes found (see _probe), remembered for the transport's life.
        self._known: dict[str, Any] = {} if api_version == AUTO else {api_version: True}
        self._probe_lock = asyncio.Lock()
        self._ssl: ssl.SSLContext | bool = True if ssl_context is None else ssl_context
        self._connector_limit = connector_limit
        self._session: aiohttp.ClientSession | None = None
        self._modules: dict[str, ModuleType] = {}
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        project = "" if self.project is None else f", project={self.project!r}"
        return f"RestTransport({self.base_url!r}, auth={self._auth!r}{project})"

    # -- connection ----------------------------------------------------------------------

    async def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is not None:
            return session
        async with self._lock:
            self._check_open()
            if self._session is None:
                connector = aiohttp.TCPConnector(limit=self._connector_limit, ssl=self._ssl)
                # Timeouts are applied per request (see _send); the session sets none.
                self._session = aiohttp.ClientSession(
                    connector=connector,
                    timeout=aiohttp.ClientTimeout(total=None),
                    raise_for_status=False,
                )
            return self._session

    async def aclose(self) -> None:
        """Close the session (idempotent)."""
        self._closed = True
        async with self._lock:
            session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    # -- one request ---------------------------------------------------------------------

    async def _send(self, http: dict[str, Any], request: Request | None) -> bytes:
        """Send one HTTP request through the call loop; return the body of the 2xx answer.

        ``request`` None: a probe, sent without a project (its 404 must mean "no such route",
        never "no such project").
        """
        self._check_open()
        session = await self._get_session()
        method, url = http["method"], http["url"]
        body = http.get("json")
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        params = http.get("params")
        full_url = self.base_url + url
        fixed = {"Accept": "application/json"}
        if payload is not None:
            fixed["Content-Type"] = "application/json"

        async def send_once(token: str | None, remaining: float | None) -> bytes:
            self._check_open()
            headers = dict(self._metadata(token, request))
            headers.update(fixed)
            async with session.request(
                method,
                full_url,
                params=params,
                data=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=remaining),
            ) as response:
                content = await response.read()
                if not 200 <= response.status < 300:
                    raise _Status(response.status, response.headers, content)
                return content

        def classify(exc: Exception) -> Failure:
            return self._classify(exc, method, url)

        return await self._loop.run(send_once, classify, method=method, path=url)

    def _classify(self, exc: Exception, method: str, url: str) -> Failure:
        where = {"method": method, "path": url}
        if isinstance(exc, _Status):
            error = from_http_response(exc.status, exc.content, **where)
            return Failure(
                error,
                retry={"status": exc.status},
                retry_after=parse_retry_after(exc.headers.get("Retry-After")),
                unauthenticated=exc.status == 401,
            )
        if isinstance(exc, asyncio.TimeoutError):
            return Failure(ConnectionFailed("timed out", **where), timeout=True)
        hint = wrong_protocol_hint(str(exc)) if isinstance(exc, aiohttp.ClientError) else None
        if hint is not None:
            # The wrong protocol on this port: asking again gets the same answer.
            return Failure(ConnectionFailed(f"{self.base_url}: {hint}", **where))
        if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
            message = f"TLS handshake with {self.base_url} failed: {exc}"
            return Failure(ConnectionFailed(message, **where))
        if isinstance(exc, aiohttp.ClientConnectorError):
            # The connection could not be opened: the request never left the client.
            message = f"cannot connect to {self.base_url}: {exc.os_error or exc}"
            retry = {"connection_error": True, "connect_phase": True}
            return Failure(ConnectionFailed(message, **where), retry=retry)
        if isinstance(exc, aiohttp.ClientError | OSError):
            message = f"connection to {self.base_url} failed: {exc!r}"
            return Failure(ConnectionFailed(message, **where), retry={"connection_error": True})
        raise exc

    # -- the primitives ------------------------------------------------------------------

    def supports(self, op: Op | None) -> bool:
        """Whether the chosen API version (any, under ``auto``) has an endpoint for ``op``."""
        if op is None:
            return False
        return bool(op.rest) if self.api_version == AUTO else self.api_version in op.rest

    async def _unary(self, request: Request) -> Any:
        http = await self._http(request)
        content = await self._send(http, request)
        if not content:
            return None
        domain = (request.op and request.op.answer) or request.kind.domain
        return _convert.decoder_for(domain)(_loads(content, http))

    async def _list_page(self, request: Request) -> RawPage[Any]:
        http = await self._http(request)
        content = await self._send(http, request)

        def read() -> tuple[list[Any], str, int | None]:
            return _convert.page_parts(_loads(content, http))

        return RawPage(read, _convert.decoder_for(request.kind.domain))

    # -- the streams (one request each, never repeated) ---------------------------------

    @contextlib.asynccontextmanager
    async def _stream(
        self, request: Request, idle: float, headers: Mapping[str, str]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open the streaming ``request``; yield its 2xx answer. A failure opening or reading
        it is classified as a call's; a stream silent for ``idle`` seconds is a broken one."""
        http = await self._http(request)
        sent = dict(await self._stream_metadata(request))
        sent.update(headers)
        session = await self._get_session()
        method, url = http["method"], http["url"]
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=DEFAULT_TIMEOUT, sock_read=idle)
        try:
            async with session.request(
                method,
                self.base_url + url,
                params=http.get("params"),
                data=http.get("data"),
                headers=sent,
                timeout=timeout,
            ) as response:
                if not 200 <= response.status < 300:
                    raise _Status(response.status, response.headers, await response.read())
                yield response
        except ModelRegistryError:
            raise
        except Exception as exc:  # mapped as any call's failure; unknown ones re-raised
            raise self._classify(exc, method, url).error from None

    async def _event_stream(
        self, request: Request
    ) -> AsyncIterator[tuple[int, Mapping[str, Any] | None]]:
        accept = {"Accept": "text/event-stream"}
        async with self._stream(request, _EVENTS_IDLE_SECONDS, accept) as response:
            async for item in _server_sent_events(response.content):
                yield item

    async def _upload(self, request: Request) -> Artifact:
        fields = dict(request.fields)
        size = fields.pop("size", None)  # the Content-Length, not a query parameter
        headers = {"Accept": "application/json", "Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        upload = dataclasses.replace(request, fields=fields)
        async with self._stream(upload, CONTENT_IDLE_SECONDS, headers) as response:
            content = await response.read()
        return _convert.artifact_from_wire(orjson.loads(content))

    @contextlib.asynccontextmanager
    async def _download(self, request: Request) -> AsyncIterator[ContentDownload]:
        resume = request.fields  # a Range and its If-Range (the digest as ETag), not a query
        headers = {}
        if resume:
            headers["Range"] = f"bytes={resume['start']}-"
            headers["If-Range"] = f'"sha256:{resume["sha256"]}"'
        plain = dataclasses.replace(request, fields={})
        async with self._stream(plain, CONTENT_IDLE_SECONDS, headers) as response:
            etag = response.headers.get("ETag", "").strip('"')
            digest = etag[len("sha256:") :] if etag.startswith("sha256:") else None
            chunks = response.content.iter_chunked(CONTENT_CHUNK_BYTES)
            part = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if response.status == 206 and part is not None:
                yield ContentDownload(digest, int(part[2]), chunks, start=int(part[1]))
            else:
                yield ContentDownload(digest, response.content_length, chunks)

    # -- the request of an operation -----------------------------------------------------

    async def _http(self, request: Request) -> dict[str, Any]:
        """The HTTP request of ``request``, built by the generated endpoint module of the API
        version chosen for it; its fields are the JSON body of an endpoint that takes one,
        else the query."""
        version = await self._version_for(request)
        op, kind, fields = request.op, request.kind, request.fields
        assert op is not None  # _version_for refuses a missing operation
        module = self._module(version, op.rest[version])
        body_model = _body_model(module)
        extra: dict[str, Any] = {}
        if request.entity is not None:
            entity, mode = request.entity
            models = importlib.import_module(f"{REST_APIS[version]}.models")
            names = [cls.__name__ + _SUFFIX[mode] for cls in type(entity).__mro__]
            model = next((getattr(models, n) for n in names if hasattr(models, n)), None)
            if model is None or not isinstance(entity, kind.domain):
                raise TypeError(f"{type(entity).__name__} is not a concrete {kind.label} kind")
            step_as_string = version == V1
            extra["body"] = _convert.to_model(model, entity, mode, step_as_string=step_as_string)  # type: ignore[arg-type]
        elif body_model is not None and body_model.__name__ == "File":
            extra["body"] = body_model(payload=request.body)
        elif body_model is not None:
            extra["body"] = body_model.from_dict({_camel(k): v for k, v in fields.items()})
            fields = {}
        elif op is kind.find:  # REST names the find keys alike for every kind
            rest_keys = dict(zip(kind.find_keys, _FIND_KEYS, strict=True))
            fields = {rest_keys[key]: value for key, value in fields.items()}
        http: dict[str, Any] = module._get_kwargs(*(value for _, value in request.path), **extra)
        if fields:  # a repeated field travels comma-separated
            http["params"] = {
                _camel(key): value if isinstance(value, str) else ",".join(value)
                for key, value in fields.items()
                if isinstance(value, str) or value
            }
        return http

    def _module(self, version: str, name: str) -> ModuleType:
        """The generated endpoint module ``name`` of API ``version`` (imported once)."""
        key = f"{version}.{name}"
        module = self._modules.get(key)
        if module is None:
            package = REST_APIS[version]
            module = importlib.import_module(f"{package}.api.{endpoint_module(name)}")
            self._modules[key] = module
        return module

    # -- the API version and our extensions -----------------------------------------------

    async def _version_for(self, request: Request) -> str:
        """The API version to call ``request.op`` with; Unsupported, naming why, when none can
        (for one of our extensions also when the server does not serve it: the reference)."""
        op, api = request.op, self.api_version
        rest = {} if op is None else op.rest
        if api != AUTO:
            version = api if api in rest else None
        elif await self._probe(V1) and V1 in rest:  # v1 is asked about first, whatever the op
            version = V1
        elif V1ALPHA3 in rest and await self._probe(V1ALPHA3):
            version = V1ALPHA3
        else:
            version = None
        if version is None:
            raise Unsupported(self._no_endpoint(request, rest))
        assert op is not None  # an API version has it
        if op.extension is not None and op.extension not in await self._probe(_EXTENSIONS):
            raise Unsupported(
                f"the server does not serve the {op.extension!r} extension, needed to "
                f"{request.what} {request.label} (the Kubeflow Model Registry API has no such "
                "operation)"
            )
        return version

    def _no_endpoint(self, request: Request, rest: Mapping[str, str]) -> str:
        """Why no API version the server serves (or the one chosen) can call ``request.op``."""
        what, api = f"{request.what} {request.label}", self.api_version
        if api != AUTO:
            why = f"api_version={api!r} was chosen" if rest else _NOT_REST
            return f"the REST API {api} has no endpoint to {what} ({why})"
        if not rest:
            return f"the REST API has no endpoint to {what}; use the gRPC transport"
        only, why = (V1, V1_LACKS) if V1ALPHA3 in rest else (V1ALPHA3, _V1_EXTENSION)
        return (
            f"the server serves only the REST API {only}, which has no endpoint to {what} ({why})"
        )

    async def _probe(self, key: str) -> Any:
        """What the server answers probe ``key``, asked once per transport: for an API version
        whether it serves it, for ``"extensions"`` the names of ours it serves. Only a 404
        answers "no": any other failure propagates, and it is asked again on the next call."""
        if key not in self._known:
            async with self._probe_lock:
                if key not in self._known:
                    http: dict[str, Any] = {"method": "GET", "url": _PROBES[key]}
                    if key != _EXTENSIONS:  # as the reference client 0.3.18 asks
                        http["params"] = {"pageSize": "1"}
                    try:
                        content = await self._send(http, None)
                        self._known[key] = (
                            _names(_loads(content, http)) if key == _EXTENSIONS else True
                        )
                    except NotFound:
                        self._known[key] = frozenset() if key == _EXTENSIONS else False
                        if key == V1:  # a server without v1 predates it: v1alpha3 (no probe)
                            self._known[V1ALPHA3] = True
        return self._known[key]

    @property
    def api_versions_served(self) -> Mapping[str, bool]:
        """What is known of the REST API versions the server serves (filled as asked)."""
        return {key: value for key, value in self._known.items() if key in REST_APIS}


@functools.cache
def _body_model(module: ModuleType) -> Any:
    """The model class of an endpoint's body, from its generated signature (None: no body)."""
    body = inspect.signature(module._get_kwargs).parameters.get("body")
    return None if body is None else getattr(module, str(body.annotation), None)


def _names(answer: Any) -> frozenset[str]:
    names = answer.get("extensions") if isinstance(answer, dict) else None
    return frozenset(name for name in names or () if isinstance(name, str))


async def _server_sent_events(
    content: aiohttp.StreamReader,
) -> AsyncIterator[tuple[int, Mapping[str, Any] | None]]:
    """The events of a ``text/event-stream``: ``ready`` as ``(cursor, None)``, each change as
    ``(cursor, event JSON)``; an ``error`` event is raised as the error it names."""
    buffer = b""
    fields: dict[str, str] = {}
    async for chunk in content.iter_any():
        buffer += chunk
        if len(buffer) > _MAX_SSE_BYTES:
            raise InvalidResponse("a server-sent event is larger than the client reads")
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if line:
                if not line.startswith(":"):  # a comment (heartbeat)
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data" and "data" in fields:
                        value = fields["data"] + "\n" + value
                    fields[name] = value
                continue
            event, fields = fields, {}
            kind = event.get("event")
            if kind == "error":
                body = orjson.loads(event.get("data") or "{}")
                status = 410 if body.get("code") == "Gone" else 503
                raise from_http_response(status, body, method="GET", path=_EVENTS)
            if "id" not in event or "data" not in event:
                continue
            try:
                cursor = int(event["id"])
                data = orjson.loads(event["data"])
            except ValueError:
                raise InvalidResponse(f"the server sent a broken event: {event!r}"[:500]) from None
            yield cursor, None if kind == "ready" else data
