"""The REST transport: the ``Transport`` primitives over the generated endpoint modules.

Each operation's request (method, path, body model) is built by its generated endpoint module
(``model_registry._generated.openapi``; the module of the chosen API version, named in the
operation table) and sent by :meth:`RestTransport._send_once` under the shared
:class:`~model_registry.transport.base.CallLoop`; :meth:`RestTransport._classify` maps
connection failures to :class:`~model_registry.exceptions.ConnectionFailed` and every non-2xx
answer to the :mod:`model_registry.exceptions` classes
(:func:`~model_registry.exceptions.from_http_response`). Answers are decoded by
``model_registry._convert`` rather than the generated parsers: those try each ``oneOf``
variant of every custom property in turn (measured: 2.5 ms for a page of 100 models, four times
the whole round trip), and their errors would not name the bad field.

One ``aiohttp.ClientSession`` (and so one connection pool) per transport, created lazily under a
lock on first use and reused; one SSL context, built once by the caller."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import orjson

from model_registry import _convert
from model_registry.exceptions import (
    ClientClosed,
    ConnectionFailed,
    InvalidResponse,
    ModelRegistryError,
    NotFound,
    Unsupported,
    from_http_response,
)
from model_registry.operations import (
    ARTIFACT,
    REST_APIS,
    TOKEN_OPS,
    V1,
    V1ALPHA3,
    Kind,
    Op,
    endpoint_module,
)
from model_registry.transport.auth import TokenProvider, TokenSource, bearer_header
from model_registry.transport.base import (
    CONTENT_CHUNK_BYTES,
    CONTENT_IDLE_SECONDS,
    CallLoop,
    ContentDownload,
    Failure,
    Transport,
    WatchFilter,
    with_article,
)
from model_registry.transport.hints import wrong_protocol_hint
from model_registry.transport.policy import (
    DEFAULT_TIMEOUT,
    PROJECT_HEADER,
    RetryPolicy,
    check_project,
    effective_project,
    parse_retry_after,
)
from model_registry.types import Artifact, BaseResource, CreatedToken, RawPage, Token

__all__ = ["RestTransport"]

E = TypeVar("E", bound=BaseResource)

_SUFFIX = {"create": "Create", "update": "Update", "full": ""}

AUTO = "auto"
"""``api_version`` that asks the server which REST API version it serves (see ``RestTransport``)."""
API_VERSION_CHOICES = (AUTO, V1, V1ALPHA3)
"""The values ``api_version`` takes."""

_BASE = "/api/model_registry/"
# The request the reference client 0.3.18 probes with: a 2xx means the server serves v1.
_V1_PROBE = f"{_BASE}{V1}/registered_models"
# The change events (server-sent events), an extension of v1 only.
_EVENTS = f"{_BASE}{V1}/events"
# A silent stream for this long is taken for a broken connection (the server sends a
# heartbeat every 15 s).
_EVENTS_IDLE_SECONDS = 45.0
# Most bytes of one server-sent event (an event carries one entity, at most 4 MiB encoded).
_MAX_SSE_BYTES = 8 * 1024 * 1024
# Asked only when an operation v1 lacks (experiments) is called after v1 was found.
_ALPHA_PROBE = f"{_BASE}{V1ALPHA3}/registered_models"
# Our extensions' probe: the names the server serves (a 404: none, as on the reference).
_EXTENSIONS_PROBE = f"{_BASE}{V1}/extensions"


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
        raise InvalidResponse(
            f"the server's answer to {request['method']} {request['url']} is not JSON"
        ) from None
    except RecursionError:  # orjson stops at 1,024 levels; json recurses until it cannot
        raise InvalidResponse(
            f"the server's answer to {request['method']} {request['url']} nests too deep to decode"
        ) from None


class _Status(Exception):
    """A non-2xx answer, raised by one attempt for the call loop to classify."""

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status, self.headers, self.content = status, headers, content


class _RawBody:
    """A plain JSON body where a generated endpoint expects a model (``body.to_dict()``)."""

    def __init__(self, value: Mapping[str, Any]) -> None:
        self._value = dict(value)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


class RestTransport(Transport):
    """``Transport`` over the REST API.

    Args:
        base_url: Scheme, host and port, e.g. ``"https://registry.example:443"``.
        user_token: Bearer token source (see :class:`~model_registry.transport.auth.TokenProvider`).
        ssl_context: SSL context for ``https`` (built once by the caller); ``None`` uses
            aiohttp's default verification; ``False`` disables certificate checks.
        timeout: Default timeout of a call in seconds, retries included (``None``: no limit).
        retry: The retry policy (default: :class:`RetryPolicy()`).
        connector_limit: Most connections kept open at once.
        api_version: The REST API version to call: ``"v1"``, ``"v1alpha3"``, or ``"auto"``
            (the default), which asks the server once, before the first call, with the
            request the reference client uses (``GET /api/model_registry/v1/registered_models
            ?pageSize=1``): a success means v1, a 404 means v1alpha3 only. Under ``auto``,
            operations v1 has use v1 and experiment operations use v1alpha3 when the server
            still serves it (asked once, the first time one is called); with ``"v1"``, or on a
            server that serves only v1, they raise
            :class:`~model_registry.exceptions.Unsupported`.
        project: The project (name or id) every call works in, sent as the
            ``X-Model-Registry-Project`` header (``None``: none is sent, and the server
            chooses: the token's first project, else ``default``); a call made inside
            ``call_options(project=...)`` sends that one instead.
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
        self.project = check_project(project)
        if api_version not in API_VERSION_CHOICES:
            raise ValueError(
                f"api_version must be one of {', '.join(API_VERSION_CHOICES)}, got {api_version!r}"
            )
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        # What the server was found to serve, remembered for the transport's life (auto).
        self._served: dict[str, bool] = {} if api_version == AUTO else {api_version: True}
        self._probe_lock = asyncio.Lock()
        self._extensions: frozenset[str] | None = None
        self._auth = TokenProvider(user_token)
        self._loop = CallLoop(self._auth, timeout, retry or RetryPolicy())
        self._ssl: ssl.SSLContext | bool = True if ssl_context is None else ssl_context
        self._connector_limit = connector_limit
        self._session: aiohttp.ClientSession | None = None
        self._modules: dict[str, ModuleType] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        project = "" if self.project is None else f", project={self.project!r}"
        return f"RestTransport({self.base_url!r}, auth={self._auth!r}{project})"

    # -- connection ----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is not None:
            return session
        async with self._lock:
            if self._closed:
                raise ClientClosed("the model registry client is closed")
            if self._session is None:
                connector = aiohttp.TCPConnector(limit=self._connector_limit, ssl=self._ssl)
                # Timeouts are applied per request (see _send_once); the session sets none.
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

    async def _send(self, request: dict[str, Any], *, scoped: bool = True) -> bytes:
        """Send one request through the call loop; return the body of the 2xx answer.

        ``scoped``: send the project header (the API-version probe does not: a 404 must mean
        "no such route", never "no such project").
        """
        if self._closed:
            raise ClientClosed("the model registry client is closed")
        session = await self._get_session()
        method, url = request["method"], request["url"]
        body = request.get("json")
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        params = request.get("params")
        full_url = self.base_url + url
        project = effective_project(self.project) if scoped else None

        async def send_once(token: str | None, remaining: float | None) -> bytes:
            if self._closed:
                raise ClientClosed("the model registry client is closed")
            headers = {"Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            if token:
                headers["Authorization"] = bearer_header(token)
            if project is not None:
                headers[PROJECT_HEADER] = project
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

    # -- streaming -----------------------------------------------------------------------

    async def _event_stream(
        self, since: int | None, wanted: WatchFilter
    ) -> AsyncIterator[tuple[int, Mapping[str, Any] | None]]:
        """``GET /api/model_registry/v1/events`` read as server-sent events; see
        :meth:`Transport._event_stream`."""
        if self._closed:
            raise ClientClosed("the model registry client is closed")
        session = await self._get_session()
        headers = {"Accept": "text/event-stream"}
        token = await self._auth.get() if self._auth.enabled else None
        if token:
            headers["Authorization"] = bearer_header(token)
        project = wanted.project if wanted.project is not None else effective_project(self.project)
        if project is not None:
            headers[PROJECT_HEADER] = project
        params = {}
        if since is not None:
            params["since"] = str(since)
        if wanted.kinds:
            params["kinds"] = ",".join(wanted.kinds)
        if wanted.actions:
            params["actions"] = ",".join(wanted.actions)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=DEFAULT_TIMEOUT, sock_read=_EVENTS_IDLE_SECONDS
        )
        try:
            async with session.get(
                self.base_url + _EVENTS, params=params, headers=headers, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise _Status(response.status, response.headers, await response.read())
                async for item in _server_sent_events(response.content):
                    yield item
        except ModelRegistryError:
            raise
        except Exception as exc:  # mapped as any call's failure; unknown ones re-raised
            raise self._classify(exc, "GET", _EVENTS).error from None

    # -- artifact content (our v1 extension) -----------------------------------------------

    def _content_request(self) -> tuple[dict[str, str], aiohttp.ClientTimeout]:
        headers: dict[str, str] = {}
        project = effective_project(self.project)
        if project is not None:
            headers[PROJECT_HEADER] = project
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=DEFAULT_TIMEOUT, sock_read=CONTENT_IDLE_SECONDS
        )
        return headers, timeout

    async def _authorize(self, headers: dict[str, str]) -> None:
        token = await self._auth.get() if self._auth.enabled else None
        if token:
            headers["Authorization"] = bearer_header(token)

    async def upload_content(
        self,
        artifact_id: str,
        chunks: AsyncIterable[bytes],
        *,
        size: int | None = None,
        sha256: str | None = None,
    ) -> Artifact:
        """``PUT /api/model_registry/v1/artifacts/{id}/content``, the body streamed; see
        :meth:`Transport.upload_content`."""
        if self._closed:
            raise ClientClosed("the model registry client is closed")
        session = await self._get_session()
        path = f"{_BASE}{V1}/artifacts/{quote(artifact_id, safe='')}/content"
        headers, timeout = self._content_request()
        headers.update({"Accept": "application/json", "Content-Type": "application/octet-stream"})
        if size is not None:
            headers["Content-Length"] = str(size)
        await self._authorize(headers)
        params = {"sha256": sha256} if sha256 else {}
        try:
            async with session.put(
                self.base_url + path, data=chunks, params=params, headers=headers, timeout=timeout
            ) as response:
                content = await response.read()
                if response.status != 200:
                    raise _Status(response.status, response.headers, content)
            return _convert.artifact_from_wire(orjson.loads(content))
        except ModelRegistryError:
            raise
        except Exception as exc:
            raise self._classify(exc, "PUT", path).error from None

    @contextlib.asynccontextmanager
    async def download_content(self, artifact_id: str) -> AsyncIterator[ContentDownload]:
        """``GET /api/model_registry/v1/artifacts/{id}/content``, streamed; see
        :meth:`Transport.download_content`."""
        if self._closed:
            raise ClientClosed("the model registry client is closed")
        session = await self._get_session()
        path = f"{_BASE}{V1}/artifacts/{quote(artifact_id, safe='')}/content"
        headers, timeout = self._content_request()
        await self._authorize(headers)

        async def chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_chunked(CONTENT_CHUNK_BYTES):
                    yield chunk
            except ModelRegistryError:
                raise
            except Exception as exc:
                raise self._classify(exc, "GET", path).error from None

        try:
            async with session.get(
                self.base_url + path, headers=headers, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise _Status(response.status, response.headers, await response.read())
                etag = response.headers.get("ETag", "").strip('"')
                digest = etag[len("sha256:") :] if etag.startswith("sha256:") else None
                yield ContentDownload(digest, response.content_length, chunks(response))
        except ModelRegistryError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise self._classify(exc, "GET", path).error from None

    # -- the API version -----------------------------------------------------------------

    async def _serves(self, version: str) -> bool:
        """Whether the server serves ``version`` (asked once per transport under ``auto``).

        Only a 404 answers "no": any other failure (unreachable, 401) propagates and the
        question is asked again on the next call.
        """
        known = self._served.get(version)
        if known is not None:
            return known
        async with self._probe_lock:
            if version not in self._served:
                probe = _V1_PROBE if version == V1 else _ALPHA_PROBE
                request = {"method": "GET", "url": probe, "params": {"pageSize": "1"}}
                try:
                    await self._send(request, scoped=False)
                    self._served[version] = True
                except NotFound:
                    self._served[version] = False
                    if version == V1:
                        # A server without v1 is one that predates it: v1alpha3 (no probe).
                        self._served[V1ALPHA3] = True
            return self._served[version]

    async def _has_extension(self, name: str) -> bool:
        """Whether the server serves our extension ``name`` (asked once per transport)."""
        if self._extensions is None:
            async with self._probe_lock:
                if self._extensions is None:
                    request = {"method": "GET", "url": _EXTENSIONS_PROBE}
                    try:
                        answer = _loads(await self._send(request, scoped=False), request)
                        names = answer.get("extensions") if isinstance(answer, dict) else None
                        self._extensions = frozenset(n for n in names or () if isinstance(n, str))
                    except NotFound:
                        self._extensions = frozenset()
        return name in self._extensions

    async def _version_for(self, label: str, op: Op | None, what: str) -> str:
        """The API version to call ``op`` with; Unsupported when none can (for one of our
        extensions also when the server does not serve it, such as the reference)."""
        version = await self._version_for_op(label, op, what)
        if (
            op is not None
            and op.extension is not None
            and not await self._has_extension(op.extension)
        ):
            raise Unsupported(
                f"the server does not serve the {op.extension!r} extension, needed to {what} "
                f"{with_article(label)} (the Kubeflow Model Registry API has no such "
                "operation)"
            )
        return version

    async def _version_for_op(self, label: str, op: Op | None, what: str) -> str:
        """The API version to call ``op`` with; Unsupported when none can."""
        rest = {} if op is None else op.rest
        if self.api_version != AUTO:
            if self.api_version in rest:
                return self.api_version
            reason = (
                f"api_version={self.api_version!r} was chosen"
                if any(v in rest for v in REST_APIS)
                else "neither REST API version has one; use the gRPC transport"
            )
            raise Unsupported(
                f"the REST API {self.api_version} has no endpoint to {what} "
                f"{with_article(label)} ({reason})"
            )
        # v1 is asked about before the first call, whichever operation that is.
        if await self._serves(V1) and V1 in rest:
            return V1
        if V1ALPHA3 in rest and await self._serves(V1ALPHA3):
            return V1ALPHA3
        if V1ALPHA3 in rest:
            raise Unsupported(
                f"the server serves only the REST API v1, which has no endpoint to {what} "
                f"{with_article(label)} (v1 has no experiments, experiment runs or metric "
                "history)"
            )
        if V1 in rest:
            raise Unsupported(
                f"the server serves only the REST API v1alpha3, which has no endpoint to {what} "
                f"{with_article(label)} (it is an extension of our REST API v1)"
            )
        raise Unsupported(
            f"the REST API has no endpoint to {what} {with_article(label)}; use the gRPC transport"
        )

    @property
    def api_versions_served(self) -> Mapping[str, bool]:
        """What is known of the REST API versions the server serves (filled as asked)."""
        return dict(self._served)

    async def _request(
        self,
        kind: Kind[Any],
        op: Op | None,
        what: str,
        *path: str,
        body: tuple[BaseResource, str] | None = None,
        query: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build the request of ``op`` with the generated endpoint module of its version
        (``body``: an entity in a mode; ``json_body``: a plain JSON object)."""
        version = await self._version_for(kind.label, op, what)
        assert op is not None  # _version_for refuses a missing operation
        package = REST_APIS[version]
        module = self._module(version, op.rest[version])
        extra: dict[str, Any] = {}
        if json_body is not None:
            extra["body"] = _RawBody(json_body)
        if body is not None:
            entity, mode = body
            models = importlib.import_module(f"{package}.models")
            names = [cls.__name__ + _SUFFIX[mode] for cls in type(entity).__mro__]
            model = next((getattr(models, n) for n in names if hasattr(models, n)), None)
            if model is None or not isinstance(entity, kind.domain):
                raise TypeError(f"{type(entity).__name__} is not a concrete {kind.label} kind")
            extra["body"] = _convert.to_model(
                model,
                entity,
                mode,  # type: ignore[arg-type]
                step_as_string=version == V1,
            )
        request: dict[str, Any] = module._get_kwargs(*path, **extra)
        if query:
            request["params"] = {_camel(key): value for key, value in query.items()}
        return request

    def _module(self, version: str, name: str) -> ModuleType:
        """The generated endpoint module ``name`` of API ``version`` (imported once)."""
        key = f"{version}.{name}"
        module = self._modules.get(key)
        if module is None:
            package = REST_APIS[version]
            module = importlib.import_module(f"{package}.api.{endpoint_module(name)}")
            self._modules[key] = module
        return module

    async def _token_request(
        self, name: str, what: str, *path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Build the request of token operation ``name`` (:data:`TOKEN_OPS`)."""
        op = TOKEN_OPS[name]
        version = await self._version_for("token", op, what)
        extra: dict[str, Any] = {}
        if body is not None:
            models = importlib.import_module(f"{REST_APIS[version]}.models")
            extra["body"] = models.TokenCreate.from_dict(dict(body))
        request: dict[str, Any] = self._module(version, op.rest[version])._get_kwargs(
            *path, **extra
        )
        return request

    async def create_token(
        self, subject: str, roles: Mapping[str, str], expires_time_since_epoch: int | None
    ) -> CreatedToken:
        body: dict[str, Any] = {"subject": subject, "roles": dict(roles)}
        if expires_time_since_epoch is not None:
            body["expiresTimeSinceEpoch"] = str(int(expires_time_since_epoch))
        request = await self._token_request("create", "create", body=body)
        # Token management works across projects: no project header.
        data = _loads(await self._send(request, scoped=False), request)
        secret = data.get("token") if isinstance(data, Mapping) else None
        if not isinstance(secret, str) or not secret:
            raise InvalidResponse("the server's answer to creating a token holds no token")
        return CreatedToken(_convert.token_from_wire(data), secret)

    async def list_tokens(self, fields: dict[str, str]) -> RawPage[Token]:
        request = await self._token_request("list", "list")
        request["params"] = {_camel(key): value for key, value in fields.items()}
        content = await self._send(request, scoped=False)

        def read() -> tuple[list[Any], str, int | None]:
            return _convert.page_parts(_loads(content, request))

        return RawPage(read, _convert.token_from_wire)

    async def revoke_token(self, token_id: str) -> None:
        await self._send(await self._token_request("revoke", "revoke", token_id), scoped=False)

    async def _one(self, kind: Kind[E], request: dict[str, Any]) -> E:
        content = await self._send(request)
        return _convert.decoder_for(kind.domain)(_loads(content, request))

    # -- the primitives ------------------------------------------------------------------

    def supports(self, op: Op | None) -> bool:
        """Whether the chosen API version (any, under ``auto``) has an endpoint for ``op``."""
        if op is None:
            return False
        return bool(op.rest) if self.api_version == AUTO else self.api_version in op.rest

    async def create(self, kind: Kind[E], entity: E, parent_id: str | None = None) -> E:
        path = () if parent_id is None else (parent_id,)
        return await self._one(
            kind,
            await self._request(kind, kind.create, "create", *path, body=(entity, "create")),
        )

    async def update(self, kind: Kind[E], entity: E, parent_id: str | None = None) -> E:
        request = await self._request(
            kind, kind.update, "update", str(entity.id), body=(entity, "update")
        )
        return await self._one(kind, request)

    async def link(self, parent: str, artifact: Artifact, parent_id: str) -> Artifact:
        op = ARTIFACT.links.get(parent)
        request = await self._request(ARTIFACT, op, "link", parent_id, body=(artifact, "full"))
        return await self._one(ARTIFACT, request)

    async def delete(
        self, kind: Kind[Any], id: str, *, cascade: bool = False, parent_id: str | None = None
    ) -> None:
        path = (id,) if parent_id is None else (parent_id, id)
        query = {"cascade": "true"} if cascade else None
        await self._send(await self._request(kind, kind.delete, "delete", *path, query=query))

    async def call(
        self,
        kind: Kind[E],
        name: str,
        path: Sequence[tuple[str, str]],
        body: Mapping[str, str] | None = None,
    ) -> E | None:
        op = kind.special.get(name)
        what = name.replace("_", " ")
        json_body = None if body is None else {_camel(k): v for k, v in body.items()}
        ids = tuple(value for _, value in path)
        request = await self._request(kind, op, what, *ids, json_body=json_body)
        content = await self._send(request)
        if not content:
            return None
        result: E = _convert.decoder_for(kind.domain)(_loads(content, request))
        return result

    async def _get(self, kind: Kind[E], op: Op, id: str) -> E:
        return await self._one(kind, await self._request(kind, op, "get", id))

    async def _find(self, kind: Kind[E], keys: tuple[str | None, str | None, str | None]) -> E:
        names = ("name", "external_id", "parent_resource_id")
        query = {name: value for name, value in zip(names, keys, strict=True) if value is not None}
        return await self._one(kind, await self._request(kind, kind.find, "find", query=query))

    async def _list(
        self, kind: Kind[E], op: Op | None, parent_id: str | None, fields: dict[str, str]
    ) -> RawPage[E]:
        path = () if parent_id is None else (parent_id,)
        request = await self._request(kind, op, "list", *path, query=fields)
        content = await self._send(request)

        def read() -> tuple[list[Any], str, int | None]:
            return _convert.page_parts(_loads(content, request))

        return RawPage(read, _convert.decoder_for(kind.domain))


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
