"""The REST front door: translates HTTP to :class:`RegistryService` calls and back.

No rule lives here: handlers parse the path, query and body, call the service and write its
answer. Errors become ``{"code", "message"}`` bodies at one place (the error middleware).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web
from aiohttp.http_exceptions import (
    ContentEncodingError,
    ContentLengthError,
    HttpProcessingError,
    TransferEncodingError,
)

from model_registry.server.artifacts import SHA256_PROPERTY
from model_registry.server.auth import (
    API_KEY_HEADER,
    PROJECT_HEADER,
    RequestAuth,
    bearer_token,
)
from model_registry.server.entities import ANY_ARTIFACT, ARTIFACT_KINDS
from model_registry.server.errors import BadRequest, ServiceError
from model_registry.server.paging import ORDER_BY_FIELDS
from model_registry.server.ratelimit import RateLimiter
from model_registry.server.service import RegistryService, lists_as_text
from model_registry.server.versions import (
    API_VERSIONS,
    DEFAULT_API_VERSIONS,
    V1,
    V1ALPHA3,
    AlphaSunset,
    ApiVersion,
)

log = logging.getLogger("model_registry.server")

BASE_PATH = API_VERSIONS[V1ALPHA3].base_path
"""The base path of the v1alpha3 API (see :data:`API_VERSIONS` for every version)."""

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""Paths answered without a token (the probes)."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays/objects accepted in a body (the API needs at most a handful)."""

SERVICE_KEY: web.AppKey[RegistryService] = web.AppKey("registry_service", RegistryService)
VIEW_KEY: web.RequestKey[RegistryService] = web.RequestKey("registry_view", RegistryService)
"""The request key of the service view a request runs through (set by :func:`access_middleware`)."""
MAX_BODY_KEY: web.AppKey[int] = web.AppKey("max_body_bytes", int)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


_JSON_CONTENT_TYPE = "application/json"


def dump_json(body: Any) -> bytes:
    """Encode a response body as UTF-8 JSON bytes.

    orjson is several times faster than :func:`json.dumps` here. Where orjson refuses a value
    that :func:`json.dumps` takes (an int beyond 64 bits, a lone surrogate, a non-string key),
    the standard encoder answers instead, so no body that could be sent before fails now.
    Non-ASCII text goes out as UTF-8 rather than ``\\u`` escapes: the same JSON value.

    orjson writes a non-finite float as ``null`` where :func:`json.dumps` wrote the invalid
    token ``NaN``; the service refuses non-finite doubles on input, so none is ever stored.
    """
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(body).encode("ascii")


def json_response(body: Any, status: int = 200) -> web.Response:
    """A response with the JSON encoding of ``body`` (see :func:`dump_json`).

    Same headers as ``aiohttp.web.json_response`` (``application/json; charset=utf-8``).
    """
    return web.Response(
        body=dump_json(body), status=status, content_type=_JSON_CONTENT_TYPE, charset="utf-8"
    )


def error_response(status: int, message: str, *, code: str | None = None) -> web.Response:
    """Build the JSON error body ``{"code", "message"}``."""
    body = {"code": code or HTTPStatus(status).phrase, "message": message}
    return json_response(body, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the JSON error body; log the unexpected ones as 500."""
    try:
        return await handler(request)
    except ServiceError as exc:
        response = error_response(exc.http_status, exc.message, code=exc.code)
        retry_after = exc.retry_after_header()
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.reason or HTTPStatus(exc.status).phrase
        limit = request.app.get(MAX_BODY_KEY)
        if isinstance(exc, web.HTTPRequestEntityTooLarge) and limit is not None:
            message = f"request body larger than {limit} bytes"
        response = error_response(exc.status, message)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal server error")


def request_token(request: web.Request) -> bytes | None:
    """The token of a request: ``Authorization: Bearer``, else the ``rime-api-key`` header."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        key = request.headers.get(API_KEY_HEADER, "").strip()
        token = key.encode("utf-8", "surrogateescape") if key else None
    return token


def _names_no_project(path: str) -> bool:
    """Whether ``path`` is one of the routes that work across projects (project and token
    management, the seed's front door, whose paths name their project)."""
    return _PROJECT_FREE.match(path) is not None


_PROJECT_FREE = re.compile(
    "^(?:"
    + re.escape(API_VERSIONS[V1].base_path)
    + "/(?:projects|project|tokens)(?:/.*)?|/v1/(?:projects|registry)(?:/.*)?)$"
)


def access_middleware(
    access: RequestAuth, *, exempt: Callable[[web.Request], bool] | None = None
) -> Any:
    """Resolve each request's principal once, and the service view it runs through.

    With auth on, every path but the probes (:data:`OPEN_PATHS`) needs a token, unknown
    paths included: without one a caller learns nothing, not even which paths exist. The view
    is scoped to the project of the ``X-Model-Registry-Project`` header (else the token's
    default project, else ``default``); project and token management get a view of the
    principal alone.

    Args:
        access: The principal resolver both front doors share.
        exempt: Requests another front door checks itself (the web UI's sign-in cookie).
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or (exempt is not None and exempt(request)):
            return await handler(request)
        principal = await access.principal(request_token(request))
        if _names_no_project(request.path):
            request[VIEW_KEY] = access.service.as_principal(principal)
        else:
            request[VIEW_KEY] = await access.service.acting_as(
                principal, request.headers.get(PROJECT_HEADER)
            )
        return await handler(request)

    return middleware


def bearer_key(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header (the rate limit's caller key)."""
    if not authorization:
        return ""
    return authorization.partition(" ")[2].strip()


def rate_limit_middleware(limiter: RateLimiter, *, by_token: bool) -> Any:
    """Refuse requests over the caller's rate with 429 and ``Retry-After`` (probes exempt).

    Args:
        limiter: The limiter both front doors share.
        by_token: Key callers by bearer token (auth on; runs after the token check), else by
            client address.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in OPEN_PATHS:
            # A request without a token (the UI signs in with a cookie) counts by address.
            key = bearer_key(request.headers.get("Authorization")) if by_token else ""
            limiter.check(key or request.remote or "")
        return await handler(request)

    return middleware


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` nests arrays/objects deeper than ``limit``.

    Checked on the raw text before parsing, so a hostile body never makes the parser recurse.
    Brackets inside strings do not count. The text need not be valid JSON.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets (the common, fast case)
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _BRACKETS)
    depth = 0
    for char in brackets:
        if char in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


# 19 digits in a row may be an integer beyond 64 bits, which orjson would decode as a float
# (json keeps it an int, and the service refuses it as out of range): such bodies take the
# standard parser. Digits in strings match too; they only cost the faster path.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body strictly: UTF-8 JSON whose top level is an object.

    orjson decodes the common body. Whatever it refuses, and any body that could hold an
    integer beyond 64 bits or nests too deep, goes through the standard parser and its checks,
    so every refused body gets the same 400 message as before orjson, and every accepted
    body the same value (a lone surrogate escape such as ``"\\ud800"`` included, which the
    service then refuses by field name).

    Raises:
        BadRequest: Empty body, invalid UTF-8, invalid JSON (NaN/Infinity included), nesting
            deeper than :data:`MAX_JSON_DEPTH`, or a top-level value that is not an object.
    """
    if not raw.strip():
        raise BadRequest("request body must be a JSON object")
    body: Any
    if _LONG_DIGITS.search(raw) is None and not json_too_deep(raw):
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = _parse_json_strictly(raw)
    else:
        body = _parse_json_strictly(raw)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def _parse_json_strictly(raw: bytes) -> Any:
    """The standard-library parse with its checks (the source of every 400 message)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid UTF-8") from None
    if json_too_deep(raw):
        raise BadRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"invalid JSON body: {str(exc)[:200]}") from None


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """Read and decode the request body with :func:`parse_json_object`.

    Raises:
        BadRequest: As :func:`parse_json_object`, or a body that cannot be read as its headers
            say (see :func:`undecodable_body`).
    """
    try:
        raw = await request.read()
    except (web.RequestPayloadError, HttpProcessingError) as exc:
        raise undecodable_body(exc) from None
    except ConnectionError:
        # The client left mid-body: nobody will read the answer, and it is no server failure.
        raise BadRequest("request body incomplete: the connection was closed") from None
    return parse_json_object(raw)


def undecodable_body(exc: BaseException) -> BadRequest:
    """The 400 for a body the HTTP layer could not read: a client mistake, never a 500.

    aiohttp raises :class:`~aiohttp.web.RequestPayloadError` caused by the parser's error.
    The message names what was wrong with the framing or encoding, never the bytes received.
    """
    if isinstance(exc, web.RequestPayloadError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, ContentEncodingError):
        return BadRequest("request body does not decode as its Content-Encoding says")
    if isinstance(exc, TransferEncodingError):
        return BadRequest("request body has broken chunked framing")
    if isinstance(exc, ContentLengthError):
        return BadRequest("request body is shorter than its Content-Length")
    return BadRequest("request body cannot be read")


_REFERENCE_ONLY = tuple(v.base_path + "/" for v in API_VERSIONS.values() if not v.extensions)
"""Path prefixes of the API versions that stay the reference's (no extension)."""


def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.rel_url.query.items())
    # orderBy=NAME is an extension of v1 (openapi/extensions-v1.yaml): the reference's
    # versions refuse it as the reference does any unknown ordering.
    if params.get("orderBy", "").upper() == "NAME" and request.path.startswith(_REFERENCE_ONLY):
        fields = ", ".join(f for f in ORDER_BY_FIELDS if f != "NAME")
        raise BadRequest(f"invalid orderBy 'NAME': must be one of {fields} (NAME is v1's)")
    return params


def service_of(request: web.Request) -> RegistryService:
    """The service view of a request (its principal, its project), for other front doors."""
    return request[VIEW_KEY]


def _service(request: web.Request) -> RegistryService:
    # The view the access middleware resolved for this request: its principal, its project.
    return request[VIEW_KEY]


def _ok(body: Any, status: int = 200) -> web.Response:
    return json_response(body, status=status)


_Shape = Callable[[dict[str, Any]], dict[str, Any]]


_ALIAS_CARRIERS = frozenset({"registered-model", "model-version"})
"""Kinds whose answers carry ``aliases`` (our extension), left out where it is not served."""


def _shapes(version: ApiVersion, kind: str) -> tuple[_Shape, _Shape]:
    """The body and answer conversions of ``version`` for a route of entities of ``kind``
    (identity where none)."""
    out: _Shape = _same
    if _is_artifact(kind) and version.step_as_string:
        out = version.artifact_out
    elif kind in _ALIAS_CARRIERS and not version.extensions:
        out = version.extensions_out
    return version.body_in, out


def _same(value: dict[str, Any]) -> dict[str, Any]:
    return value


def _as_text(version: ApiVersion, kind: str) -> tuple[bool, bool]:
    """Whether a list of ``kind`` is answered as the service's spliced JSON
    (:meth:`RegistryService.list_json`), and its options under ``version``: the only
    difference between the versions' answers of those kinds is our extension's ``aliases``."""
    return lists_as_text(kind), version.extensions


def _ok_json(body: bytes) -> web.Response:
    """A 200 whose body is JSON already encoded (headers as :func:`json_response`)."""
    return web.Response(body=body, content_type=_JSON_CONTENT_TYPE, charset="utf-8")


async def _body(request: web.Request, shape_in: _Shape) -> dict[str, Any]:
    return shape_in(await read_json_object(request))


def _collection(kind: str, version: ApiVersion) -> tuple[Handler, Handler]:
    shape_in, out = _shapes(version, kind)
    text, aliases = _as_text(version, kind)

    async def list_(request: web.Request) -> web.Response:
        if text:
            return _ok_json(
                await _service(request).list_json(kind, _params(request), aliases=aliases)
            )
        return _ok(out(await _service(request).list(kind, _params(request))))

    async def create(request: web.Request) -> web.Response:
        body = await _body(request, shape_in)
        return _ok(out(await _service(request).create(kind, body)), 201)

    return list_, create


def _item(kind: str, version: ApiVersion) -> tuple[Handler, Handler]:
    shape_in, out = _shapes(version, kind)

    async def get(request: web.Request) -> web.Response:
        return _ok(out(await _service(request).get(kind, request.match_info["id"])))

    async def patch(request: web.Request) -> web.Response:
        body = await _body(request, shape_in)
        return _ok(out(await _service(request).update(kind, request.match_info["id"], body)))

    return get, patch


def _find(kind: str, version: ApiVersion) -> Handler:
    _, out = _shapes(version, kind)

    async def find(request: web.Request) -> web.Response:
        return _ok(out(await _service(request).find(kind, _params(request))))

    return find


def _children(kind: str, version: ApiVersion) -> tuple[Handler, Handler]:
    shape_in, out = _shapes(version, kind)
    text, aliases = _as_text(version, kind)

    async def list_(request: web.Request) -> web.Response:
        service = _service(request)
        parent = request.match_info["id"]
        if text:
            return _ok_json(
                await service.list_json(kind, _params(request), parent_id=parent, aliases=aliases)
            )
        page = await service.list(kind, _params(request), parent_id=parent)
        return _ok(out(page))

    async def create(request: web.Request) -> web.Response:
        body = await _body(request, shape_in)
        service = _service(request)
        created = await service.create(kind, body, parent_id=request.match_info["id"], full=True)
        return _ok(out(created), 201)

    return list_, create


def _context_artifacts(context_kind: str, version: ApiVersion) -> tuple[Handler, Handler]:
    shape_in, out = _shapes(version, ANY_ARTIFACT)

    async def list_(request: web.Request) -> web.Response:
        service = _service(request)
        page = await service.list_context_artifacts(
            context_kind, request.match_info["id"], _params(request)
        )
        return _ok(out(page))

    async def upsert(request: web.Request) -> web.Response:
        body = await _body(request, shape_in)
        service = _service(request)
        artifact, created = await service.upsert_context_artifact(
            context_kind, request.match_info["id"], body
        )
        return _ok(out(artifact), 201 if created else 200)

    return list_, upsert


def _is_artifact(kind: str) -> bool:
    return kind == ANY_ARTIFACT or kind in ARTIFACT_KINDS


async def _only_get(request: web.Request) -> web.Response:
    raise web.HTTPMethodNotAllowed(request.method, ["GET"])


async def _metric_history_all(request: web.Request) -> web.Response:
    return _ok(await _service(request).list_metric_history(_params(request)))


async def _metric_history_run(request: web.Request) -> web.Response:
    service = _service(request)
    return _ok(await service.list_metric_history(_params(request), run_id=request.match_info["id"]))


def _inference_service_model(version: ApiVersion) -> Handler:
    _, out = _shapes(version, "registered-model")

    async def get(request: web.Request) -> web.Response:
        service = _service(request)
        return _ok(out(await service.get_inference_service_model(request.match_info["id"])))

    return get


def _inference_service_version(version: ApiVersion) -> Handler:
    _, out = _shapes(version, "model-version")

    async def get(request: web.Request) -> web.Response:
        service = _service(request)
        return _ok(out(await service.get_inference_service_version(request.match_info["id"])))

    return get


# (collection path, find path, entity kind) of every top-level entity collection.
_COLLECTIONS = (
    ("registered_models", "registered_model", "registered-model"),
    ("model_versions", "model_version", "model-version"),
    ("model_artifacts", "model_artifact", "model-artifact"),
    ("artifacts", "artifact", "artifact"),
    ("experiments", "experiment", "experiment"),
    ("experiment_runs", "experiment_run", "experiment-run"),
    ("serving_environments", "serving_environment", "serving-environment"),
    ("inference_services", "inference_service", "inference-service"),
)

# (parent collection, child segment, child kind) of the nested create/list endpoints.
_NESTED = (
    ("registered_models", "versions", "model-version"),
    ("experiments", "experiment_runs", "experiment-run"),
    ("serving_environments", "inference_services", "inference-service"),
    ("inference_services", "serves", "serve-model"),
)

# (parent collection, context kind) of the artifacts of versions and runs.
_CONTEXTS = (("model_versions", "model-version"), ("experiment_runs", "experiment-run"))


# ---------------------------------------------------------------------------------------------
# Artifact content (our v1 extension): the body is streamed, never read whole.


async def _request_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives (``client_max_size`` bounds only bodies read whole; the
    service applies ``--max-artifact-bytes`` to this stream)."""
    try:
        async for chunk in request.content.iter_any():
            yield chunk
    except (web.RequestPayloadError, HttpProcessingError) as exc:
        raise undecodable_body(exc) from None
    except ConnectionError:
        raise BadRequest("request body incomplete: the connection was closed") from None


def _upload_content(version: ApiVersion) -> Handler:
    _, out = _shapes(version, ANY_ARTIFACT)

    async def upload(request: web.Request) -> web.Response:
        artifact = await _service(request).upload_content(
            request.match_info["id"],
            _request_chunks(request),
            sha256=request.rel_url.query.get("sha256") or None,
            size=request.content_length,  # None for a chunked body
        )
        return _ok(out(artifact))

    return upload


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def content_disposition(name: str | None, fallback: str) -> str:
    """A ``Content-Disposition: attachment`` naming the file safely.

    The name (an artifact's, chosen by a client) keeps only its last path segment; the plain
    ``filename`` has only ASCII letters, digits, ``.``, ``_`` and ``-`` (no quote, no path, no
    leading dot), and ``filename*`` carries the segment percent-encoded (RFC 6266, 8187).
    """
    segment = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    segment = "".join(ch for ch in segment if ch.isprintable()).lstrip(".")[:200]
    plain = _UNSAFE_FILENAME.sub("_", segment).lstrip(".") or fallback
    value = f'attachment; filename="{plain}"'
    if segment and segment != plain:
        value += f"; filename*=UTF-8''{quote(segment, safe='')}"
    return value


def _download_content(version: ApiVersion) -> Handler:
    return _download


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(Exception):
    """A ``Range`` no byte of the content satisfies (416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The part of ``size`` bytes a ``Range`` header asks for (RFC 9110, 14.2).

    Returns:
        ``(start, stop)`` (``stop`` exclusive), or None to send the whole content: no header,
        one this server ignores as the RFC allows (another unit, several ranges, bad syntax),
        or one covering every byte anyway.

    Raises:
        RangeNotSatisfiable: A range that starts at or past the end (or any range of empty
            content, or a zero-length suffix).
    """
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None or (not match[1] and not match[2]):
        return None
    first, last = match[1], match[2]
    if not first:  # bytes=-N: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        start, stop = max(0, size - suffix), size
    else:
        start = int(first)
        if last and int(last) < start:
            return None  # invalid: ignored, as the RFC says
        if start >= size:
            raise RangeNotSatisfiable
        stop = size if not last else min(int(last) + 1, size)
    return None if (start, stop) == (0, size) else (start, stop)


async def _download(request: web.Request) -> web.StreamResponse:
    artifact_id = request.match_info["id"]
    artifact, blob = await _service(request).open_content(artifact_id)
    try:
        digest = artifact["customProperties"][SHA256_PROPERTY]["string_value"]
        etag = f'"sha256:{digest}"'
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": content_disposition(
                artifact.get("name"), f"artifact-{artifact['id']}"
            ),
            "ETag": etag,
            # The digest of the whole content, also on a part (RFC 9530: Repr-Digest).
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:",
            "Accept-Ranges": "bytes",
            "X-Content-Type-Options": "nosniff",
        }
        # If-Range: the part only while the content is still the one the client has (a
        # strong comparison: our ETag is the digest); otherwise the whole of it.
        if_range = request.headers.get("If-Range")
        wanted = request.headers.get("Range") if if_range in (None, etag) else None
        try:
            span = byte_range(wanted, blob.size)
        except RangeNotSatisfiable:
            refused = error_response(
                416, f"range {wanted!r} is outside the content's {blob.size} bytes"
            )
            refused.headers.update({"Content-Range": f"bytes */{blob.size}", "ETag": etag})
            return refused
        start, stop = span if span is not None else (0, blob.size)
        response = web.StreamResponse(status=200 if span is None else 206, headers=headers)
        if span is not None:
            response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{blob.size}"
        response.content_length = stop - start
        await response.prepare(request)
        async for chunk in blob.chunks(start, stop):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        await blob.close()


@dataclass(frozen=True)
class ExtensionRoute:
    """One REST operation of our extensions (an operation of ``openapi/extensions-v1.yaml``,
    or of ``openapi/extensions-v1alpha3.yaml`` for :data:`EXPERIMENT_EXTENSION_ROUTES`).

    Those of :data:`EXTENSION_ROUTES` are served on the API versions whose
    :attr:`ApiVersion.extensions` is set (v1), never on v1alpha3. A test checks that the routes
    are exactly the spec's operations.

    Attributes:
        method: The HTTP method (``"DELETE"``).
        path: The path below the version's base path, in aiohttp's form, the entity id named
            ``{id}`` as on every other route (``/registered_models/{id}/aliases/{alias}``).
        handler: Builds the handler for an API version (bodies and answers go through its
            shapes, as the reference routes' do).
    """

    method: str
    path: str
    handler: Callable[[ApiVersion], Handler]


def _sse(event: str | None, cursor: str | None, data: Any) -> bytes:
    """One server-sent event (``text/event-stream``): ``id``, ``event`` and one ``data`` line."""
    head = (f"id: {cursor}\n" if cursor is not None else "") + (
        f"event: {event}\n" if event is not None else ""
    )
    return head.encode() + b"data: " + dump_json(data) + b"\n\n"


def _watch_events(version: ApiVersion) -> Handler:
    """``GET /events``: the change events as server-sent events.

    The stream opens with a ``ready`` event whose ``id`` is the cursor it starts after (a
    client that reconnects before any event came resumes from it), then one event per
    change (``id`` its cursor, ``event`` its type such as ``model_version.created``, ``data``
    the event's JSON), a comment now and then while nothing happens, and, should the
    watcher fall behind the retention, an ``error`` event (``{"code", "message"}``).
    ``Last-Event-ID`` stands in for ``since`` (a browser's ``EventSource`` reconnecting).
    """

    async def handler(request: web.Request) -> web.StreamResponse:
        params = _params(request)
        for key in ("kinds", "actions"):
            values = request.rel_url.query.getall(key, [])
            if len(values) > 1:
                params[key] = ",".join(values)
        last_id = request.headers.get("Last-Event-ID")
        if not params.get("since") and last_id:
            params["since"] = last_id
        watch = await _service(request).watch(params)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(_sse("ready", str(watch.start), {"cursor": str(watch.start)}))
        try:
            async for event in watch:
                if event is None:
                    await response.write(b": heartbeat\n\n")
                else:
                    await response.write(_sse(event["type"], event["cursor"], event))
        except ServiceError as exc:
            await response.write(_sse("error", None, {"code": exc.code, "message": exc.message}))
        except (ConnectionResetError, OSError):  # the watcher went away
            return response
        with contextlib.suppress(ConnectionResetError, OSError):
            await response.write_eof()
        return response

    return handler


async def _projects_list(request: web.Request) -> web.Response:
    return _ok(await _service(request).list_projects(_params(request)))


async def _projects_create(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    return _ok(await _service(request).create_project(body), 201)


async def _project_get(request: web.Request) -> web.Response:
    return _ok(await _service(request).get_project(request.match_info["id"]))


async def _project_patch(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    return _ok(await _service(request).update_project(request.match_info["id"], body))


async def _project_delete(request: web.Request) -> web.Response:
    await _service(request).delete_project(request.match_info["id"], cascade=_cascade(request))
    return web.Response(status=_NO_CONTENT_STATUS)


async def _project_find(request: web.Request) -> web.Response:
    return _ok(await _service(request).find_project(_params(request)))


async def _tokens_list(request: web.Request) -> web.Response:
    return _ok(await _service(request).list_tokens(_params(request)))


async def _tokens_create(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    return _ok(await _service(request).create_token(body), 201)


async def _token_revoke(request: web.Request) -> web.Response:
    await _service(request).revoke_token(request.match_info["id"])
    return web.Response(status=204)


def _any_version(handler: Handler) -> Callable[[ApiVersion], Handler]:
    """A handler whose bodies and answers are the same on every API version."""
    return lambda version: handler


EXTENSIONS = ("aliases", "artifact-content", "delete", "events", "webhooks", "projects", "tokens")
"""The extensions this server serves, as ``GET /extensions`` names them (the client's probe:
a server answering 404 there has none, such as the reference)."""


def _extensions(version: ApiVersion) -> Handler:
    async def get(request: web.Request) -> web.Response:
        return _ok({"extensions": list(EXTENSIONS)})

    return get


_NO_CONTENT_STATUS = 204


def _cascade(request: web.Request) -> bool:
    """The ``cascade`` query parameter: ``true`` or ``false`` (default)."""
    value = request.rel_url.query.get("cascade", "false")
    if value not in ("true", "false"):
        raise BadRequest(f"invalid cascade {value[:20]!r}: must be true or false")
    return value == "true"


def _delete(kind: str) -> Callable[[ApiVersion], Handler]:
    def build(version: ApiVersion) -> Handler:
        async def delete(request: web.Request) -> web.Response:
            service = _service(request)
            await service.delete(kind, request.match_info["id"], cascade=_cascade(request))
            return web.Response(status=_NO_CONTENT_STATUS)

        return delete

    return build


def _delete_serve(version: ApiVersion) -> Handler:
    async def delete(request: web.Request) -> web.Response:
        service = _service(request)
        info = request.match_info
        cascade = _cascade(request)
        await service.delete("serve-model", info["serve_id"], cascade=cascade, parent_id=info["id"])
        return web.Response(status=_NO_CONTENT_STATUS)

    return delete


def _set_alias(version: ApiVersion) -> Handler:
    async def put(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        service = _service(request)
        info = request.match_info
        return _ok(await service.set_alias(info["id"], info["alias"], body))

    return put


def _delete_alias(version: ApiVersion) -> Handler:
    async def delete(request: web.Request) -> web.Response:
        info = request.match_info
        await _service(request).delete_alias(info["id"], info["alias"])
        return web.Response(status=_NO_CONTENT_STATUS)

    return delete


def _version_by_alias(version: ApiVersion) -> Handler:
    async def get(request: web.Request) -> web.Response:
        info = request.match_info
        return _ok(await _service(request).get_version_by_alias(info["id"], info["alias"]))

    return get


def _webhooks_list(version: ApiVersion) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return _ok(await _service(request).managed_webhooks().list(_params(request)))

    return handler


def _webhooks_create(version: ApiVersion) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        body = await read_json_object(request)
        return _ok(await _service(request).managed_webhooks().create(body), 201)

    return handler


def _webhook_get(version: ApiVersion) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return _ok(await _service(request).managed_webhooks().get(request.match_info["id"]))

    return handler


def _webhook_deliveries(version: ApiVersion) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        hooks = _service(request).managed_webhooks()
        return _ok(await hooks.deliveries(request.match_info["id"], _params(request)))

    return handler


def _webhook_delete(version: ApiVersion) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        await _service(request).managed_webhooks().delete(request.match_info["id"])
        return web.Response(status=204)

    return handler


EXTENSION_ROUTES: tuple[ExtensionRoute, ...] = (
    ExtensionRoute("GET", "/extensions", _extensions),
    ExtensionRoute("GET", "/events", _watch_events),
    ExtensionRoute("GET", "/webhooks", _webhooks_list),
    ExtensionRoute("POST", "/webhooks", _webhooks_create),
    ExtensionRoute("GET", "/webhooks/{id}", _webhook_get),
    ExtensionRoute("DELETE", "/webhooks/{id}", _webhook_delete),
    ExtensionRoute("GET", "/webhooks/{id}/deliveries", _webhook_deliveries),
    ExtensionRoute("PUT", "/artifacts/{id}/content", _upload_content),
    ExtensionRoute("GET", "/artifacts/{id}/content", _download_content),
    # delete
    ExtensionRoute("DELETE", "/registered_models/{id}", _delete("registered-model")),
    ExtensionRoute("DELETE", "/model_versions/{id}", _delete("model-version")),
    ExtensionRoute("DELETE", "/artifacts/{id}", _delete(ANY_ARTIFACT)),
    ExtensionRoute("DELETE", "/model_artifacts/{id}", _delete("model-artifact")),
    ExtensionRoute("DELETE", "/serving_environments/{id}", _delete("serving-environment")),
    ExtensionRoute("DELETE", "/inference_services/{id}", _delete("inference-service")),
    ExtensionRoute("DELETE", "/inference_services/{id}/serves/{serve_id}", _delete_serve),
    # aliases
    ExtensionRoute("PUT", "/registered_models/{id}/aliases/{alias}", _set_alias),
    ExtensionRoute("DELETE", "/registered_models/{id}/aliases/{alias}", _delete_alias),
    ExtensionRoute("GET", "/registered_models/{id}/versions/by_alias/{alias}", _version_by_alias),
    # Projects and tokens (issue 18): they work across projects, so the access middleware
    # hands them a view of the caller's principal alone (see _PROJECT_FREE).
    ExtensionRoute("GET", "/projects", _any_version(_projects_list)),
    ExtensionRoute("POST", "/projects", _any_version(_projects_create)),
    ExtensionRoute("GET", "/projects/{id}", _any_version(_project_get)),
    ExtensionRoute("PATCH", "/projects/{id}", _any_version(_project_patch)),
    ExtensionRoute("DELETE", "/projects/{id}", _any_version(_project_delete)),
    ExtensionRoute("GET", "/project", _any_version(_project_find)),
    ExtensionRoute("GET", "/tokens", _any_version(_tokens_list)),
    ExtensionRoute("POST", "/tokens", _any_version(_tokens_create)),
    ExtensionRoute("DELETE", "/tokens/{id}", _any_version(_token_revoke)),
)
"""Every route of our v1 extensions: adding an extension operation is a row here (and its
operation in ``openapi/extensions-v1.yaml``)."""

EXPERIMENT_EXTENSION_ROUTES: tuple[ExtensionRoute, ...] = (
    ExtensionRoute("DELETE", "/experiments/{id}", _delete("experiment")),
    ExtensionRoute("DELETE", "/experiment_runs/{id}", _delete("experiment-run")),
)
"""Our extensions of the API versions with experiments (v1alpha3), which v1 cannot carry: its
deletes of experiments and runs (operations of ``openapi/extensions-v1alpha3.yaml``)."""

EXPERIMENT_KINDS = frozenset({"experiment", "experiment-run"})
"""Kinds whose routes (and whose children's routes) only API versions with experiments serve."""

EXPERIMENT_SEGMENTS = frozenset({"experiment", "experiments", "experiment_run", "experiment_runs"})
"""First path segments (below the base path) of the routes of :data:`EXPERIMENT_KINDS`."""


def add_routes(app: web.Application, versions: Iterable[str] = DEFAULT_API_VERSIONS) -> None:
    """Register every operation of each REST API version named in ``versions``.

    v1alpha3 has 56 operations plus the deletes of experiments and runs
    (:data:`EXPERIMENT_EXTENSION_ROUTES`); v1 the 40 that are not about experiments, runs or
    metric history, plus our extensions (:data:`EXTENSION_ROUTES`). Both versions' routes call the
    same service methods.

    Args:
        app: The application to add the routes to.
        versions: Names out of :data:`~model_registry.server.versions.API_VERSIONS`.
    """
    for name in versions:
        _add_version_routes(app.router, API_VERSIONS[name])


def _add_version_routes(r: web.UrlDispatcher, version: ApiVersion) -> None:
    b = version.base_path

    def served(*kinds: str) -> bool:
        return version.experiments or not EXPERIMENT_KINDS.intersection(kinds)

    if version.experiments:
        # Static segments first: /experiment_runs/metric_history must win over /{id}, for every
        # method (a PATCH there is a 405, not a PATCH of a run with the id "metric_history").
        r.add_get(f"{b}/experiment_runs/metric_history", _metric_history_all, allow_head=False)
        r.add_route("*", f"{b}/experiment_runs/metric_history", _only_get)
    for collection, find_path, kind in _COLLECTIONS:
        if not served(kind):
            continue
        list_, create = _collection(kind, version)
        get, patch = _item(kind, version)
        r.add_get(f"{b}/{collection}", list_, allow_head=False)
        r.add_post(f"{b}/{collection}", create)
        r.add_get(f"{b}/{collection}/{{id}}", get, allow_head=False)
        r.add_patch(f"{b}/{collection}/{{id}}", patch)
        r.add_get(f"{b}/{find_path}", _find(kind, version), allow_head=False)
    for parent, segment, kind in _NESTED:
        if not served(kind):
            continue
        list_, create = _children(kind, version)
        r.add_get(f"{b}/{parent}/{{id}}/{segment}", list_, allow_head=False)
        r.add_post(f"{b}/{parent}/{{id}}/{segment}", create)
    for parent, context_kind in _CONTEXTS:
        if not served(context_kind):
            continue
        list_, upsert = _context_artifacts(context_kind, version)
        r.add_get(f"{b}/{parent}/{{id}}/artifacts", list_, allow_head=False)
        r.add_post(f"{b}/{parent}/{{id}}/artifacts", upsert)
    if version.experiments:
        r.add_get(
            f"{b}/experiment_runs/{{id}}/metric_history", _metric_history_run, allow_head=False
        )
    r.add_get(
        f"{b}/inference_services/{{id}}/model", _inference_service_model(version), allow_head=False
    )
    r.add_get(
        f"{b}/inference_services/{{id}}/version",
        _inference_service_version(version),
        allow_head=False,
    )
    routes = (EXTENSION_ROUTES if version.extensions else ()) + (
        EXPERIMENT_EXTENSION_ROUTES if version.experiments else ()
    )
    for route in routes:
        # add_route("GET") adds no HEAD, like add_get(allow_head=False) above.
        r.add_route(route.method, f"{b}{route.path}", route.handler(version))


def sunset_middleware(sunset: AlphaSunset, *, successor: bool) -> Any:
    """Mark every v1alpha3 answer (errors included) as deprecated, with its sunset day.

    Args:
        sunset: The header values.
        successor: Whether v1 is served too, so that a v1 path can be named as the successor
            (``Link: <...>; rel="successor-version"``) of every v1alpha3 route v1 also has.
    """
    alpha = API_VERSIONS[V1ALPHA3].base_path + "/"
    stable = API_VERSIONS[V1].base_path + "/"

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        path = request.path
        if path.startswith(alpha):
            response.headers["Deprecation"] = sunset.deprecation
            response.headers["Sunset"] = sunset.sunset
            rest = path[len(alpha) :]
            if (
                successor
                and request.match_info.route.resource is not None
                and rest.split("/", 1)[0] not in EXPERIMENT_SEGMENTS
            ):
                response.headers["Link"] = sunset.successor_link(stable + rest)
        return response

    return middleware
