"""The ``Transport`` interface and what both transports share: the call loop, list fields.

The core client (``model_registry.core``) talks only to :class:`Transport`: a few generic
operations (create, update, get, find, list, link, delete, the special operations, the streams)
over the kinds of the operation table (:mod:`model_registry.operations`). Every one takes and
returns domain types (``model_registry.types``) and raises only ``model_registry.exceptions``
classes: an absent entity is :class:`~model_registry.exceptions.NotFound` (the core turns it
into ``None`` where the API says so).

They are written once, here, as :class:`Request` values; a transport supplies only "send one
request" (:meth:`Transport._unary`, :meth:`Transport._list_page`), "open one stream" (the
event stream, the content upload and download) and "classify this failure" (:class:`Failure`);
:class:`CallLoop` does the rest for both: the deadline, retries with capped backoff and jitter,
the server's retry hint, and the token re-read once after a 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from model_registry.exceptions import (
    ClientClosed,
    ConnectionFailed,
    InvalidResponse,
    ModelRegistryError,
    NotFound,
    ServerError,
    Timeout,
    Unavailable,
)
from model_registry.operations import (
    ARTIFACT,
    EVENT,
    INFERENCE_SERVICE,
    MODEL_VERSION,
    V1,
    V1ALPHA3,
    Kind,
    Op,
)
from model_registry.transport.auth import TokenProvider, TokenSource, bearer_header
from model_registry.transport.policy import (
    PROJECT_METADATA,
    RetryPolicy,
    check_project,
    effective_project,
    effective_timeout,
)
from model_registry.types import (
    Artifact,
    BaseResource,
    Event,
    ListOptions,
    Page,
    RawPage,
    ServeModel,
)

__all__ = [
    "API_VERSION_CHOICES",
    "AUTO",
    "CallLoop",
    "ContentDownload",
    "Failure",
    "Request",
    "Transport",
    "list_fields",
]

AUTO = "auto"
"""``api_version``: the transport finds out which API version the server serves."""
API_VERSION_CHOICES = (AUTO, V1, V1ALPHA3)
"""The values ``api_version`` takes."""
V1_LACKS = "v1 has no experiments, experiment runs or metric history"
"""Why API v1 has no call for an operation that v1alpha3 has."""

WATCH_FIRST_DELAY = 0.1
"""Seconds a watch waits before its first reconnection (doubled each failure in a row)."""
WATCH_MAX_DELAY = 5.0
"""Most seconds a watch waits between reconnections."""

# What a watch reconnects after: the server is away or restarting, or the stream broke.
_WATCH_TRANSIENT = (ConnectionFailed, Timeout, Unavailable, ServerError)

CONTENT_CHUNK_BYTES = 1024 * 1024
"""Size of the pieces artifact content is sent in (within every server's message limit)."""

CONTENT_IDLE_SECONDS = 300.0
"""A content transfer with no bytes moving for this long is taken for a broken connection
(a transfer as a whole has no time limit: a large file on a slow link takes what it takes)."""

E = TypeVar("E", bound=BaseResource)
T = TypeVar("T")  # what a list holds: an entity, or a token
R = TypeVar("R")

_log = logging.getLogger("model_registry.transport")


@dataclass
class ContentDownload:
    """Artifact content being downloaded (see :meth:`Transport.download_content`).

    Attributes:
        sha256: The hex digest the server names for it (verify the bytes against it).
        size: Its size in bytes, when the server says (it always does).
        chunks: The bytes, in pieces; read them once, inside the ``async with``.
        start: The offset of the first byte of ``chunks`` in the content: the one asked for
            when the server resumes, 0 when it sends the whole content.
    """

    sha256: str | None
    size: int | None
    chunks: AsyncIterator[bytes]
    start: int = 0


@dataclass
class Request:
    """One operation's request, as both wires read it.

    Attributes:
        kind: The kind the operation belongs to (its domain class decodes the answer).
        op: The operation (``None``: none; the transport raises ``Unsupported``).
        what: The verb messages name (``"create"``, ``"list"``).
        path: ``(gRPC request field, value)`` pairs in the order of the REST path ids (a
            ``None`` field: a REST path id only).
        fields: Further request fields by gRPC name, as wire strings (a sequence: a repeated
            field); REST sends them camelCased, as the JSON body of an endpoint that takes one,
            else as the query.
        entity: The entity sent (REST: the body; gRPC: field ``op.field``) and its mode
            (``"create"``, ``"update"`` or ``"full"``).
        body: A raw body (the content of an upload).
        project: The project of the call, over the client's.
    """

    kind: Kind[Any]
    op: Op | None
    what: str
    path: Sequence[tuple[str | None, str]] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    entity: tuple[BaseResource, str] | None = None
    body: Any = None
    project: str | None = None

    @property
    def label(self) -> str:
        """How messages name the operation's subject, with its article (``"an artifact"``)."""
        label = self.kind.label
        return f"an {label}" if label[:1] in "aeiou" else f"a {label}"


def list_fields(options: ListOptions, **filters: str | None) -> dict[str, str]:
    """The request fields of a list call, as wire strings (snake_case names).

    Args:
        options: Page size, ordering, page token and filter.
        filters: Further fields (``artifact_type``, ``name``, ``step_ids``); ``None`` is left
            out.
    """
    fields = {key: value for key, value in filters.items() if value is not None}
    if options.wire_page_size is not None:
        fields["page_size"] = str(options.wire_page_size)
    if options.order_by is not None:
        fields["order_by"] = str(options.order_by)
    if options.order_by is not None or not options.is_asc:
        fields["sort_order"] = "ASC" if options.is_asc else "DESC"
    if options.next_page_token:
        fields["next_page_token"] = options.next_page_token
    if options.filter_query:
        fields["filter_query"] = options.filter_query
    return fields


@dataclass
class Failure:
    """What a transport makes of one failed attempt.

    Attributes:
        error: The exception to raise when the attempt is not repeated.
        retry: Keywords of :meth:`RetryPolicy.should_retry` (``status``, ``grpc_code``,
            ``connection_error``, ``connect_phase``); ``None``: never repeated.
        retry_after: Seconds the server asked to wait (``Retry-After`` or the gRPC hint).
        unauthenticated: The server refused the token (a fresh one may be tried once).
        timeout: The call's deadline passed.
    """

    error: ModelRegistryError
    retry: dict[str, Any] | None = None
    retry_after: float | None = None
    unauthenticated: bool = False
    timeout: bool = False


class CallLoop:
    """The one call loop of both transports.

    Args:
        auth: The token source; the token is read once per call, and again once after a 401.
        timeout: Default timeout of a call in seconds, retries included (``None``: none).
        retry: The retry policy.
    """

    def __init__(self, auth: TokenProvider, timeout: float | None, retry: RetryPolicy) -> None:
        self.auth = auth
        self.timeout = timeout
        self.retry = retry

    async def run(
        self,
        send: Callable[[str | None, float | None], Awaitable[R]],
        classify: Callable[[Exception], Failure],
        *,
        method: str,
        path: str,
        shown: str | None = None,
    ) -> R:
        """Send until an attempt succeeds or the failure is final.

        Args:
            send: One attempt, given the token (``None``: none) and the seconds left
                (``None``: no limit); raises on any failure.
            classify: Turns what ``send`` raised into a :class:`Failure`.
            method: The HTTP method, or ``"GET"``/``"POST"`` for a reading/writing RPC (what
                the retry policy decides on).
            path: The request path or RPC name, for errors and logs.
            shown: The method errors show (default ``method``).
        """
        shown = shown or method
        loop = asyncio.get_running_loop()
        timeout = effective_timeout(self.timeout)
        deadline = None if timeout is None else loop.time() + timeout
        auth = self.auth
        token = await auth.get() if auth.enabled else None
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise Timeout(f"no answer within {timeout:g}s", method=shown, path=path)
            try:
                return await send(token, remaining)
            except Exception as exc:  # every failure is classified; unknown ones re-raised
                failure = classify(exc)
            if failure.timeout:
                limit = f"within {timeout:g}s" if timeout is not None else "(read timed out)"
                raise Timeout(f"no answer {limit}", method=shown, path=path) from None
            if failure.unauthenticated and auth.enabled and not refreshed:
                # The token may have been rotated: read it again once, retry if it changed.
                refreshed = True
                fresh = await auth.refresh()
                if fresh and fresh != token:
                    token = fresh
                    attempt -= 1  # the refresh does not use up a retry
                    continue
            if failure.retry is not None and self.retry.should_retry(
                attempt, method, **failure.retry
            ):
                delay = self.retry.backoff(attempt, failure.retry_after)
                if delay is not None and (deadline is None or loop.time() + delay < deadline):
                    fmt = "retrying %s %s in %.2fs (attempt %d): %s"
                    _log.debug(fmt, shown, path, delay, attempt, failure.error)
                    await asyncio.sleep(delay)
                    continue
            raise failure.error from None


async def _pieces(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` in pieces of at most :data:`CONTENT_CHUNK_BYTES`."""
    async for chunk in chunks:
        for start in range(0, len(chunk), CONTENT_CHUNK_BYTES):
            yield chunk[start : start + CONTENT_CHUNK_BYTES]


class Transport(ABC):
    """Abstract async transport: one connection pool, generic operations, mapped errors.

    Implementations open their connection lazily on first use and reuse it; ``aclose()`` is
    idempotent and a call after it raises :class:`~model_registry.exceptions.ClientClosed`.

    Args:
        user_token: Bearer token source (see :class:`~model_registry.transport.auth.
            TokenProvider`).
        timeout: Default timeout of a call in seconds, retries included (``None``: none).
        retry: The retry policy (default: ``RetryPolicy()``).
        project: As the attribute.
        api_version: One of :data:`API_VERSION_CHOICES` (see each transport).

    Attributes:
        project: The project (name or id) every call works in, sent with each call
            (``None``: none is sent; the server chooses: the token's first project, else
            ``default``); a call made inside ``call_options(project=...)`` sends that one
            instead.
    """

    def __init__(
        self,
        user_token: TokenSource | TokenProvider | None,
        timeout: float | None,
        retry: RetryPolicy | None,
        project: str | None,
        api_version: str,
    ) -> None:
        if api_version not in API_VERSION_CHOICES:
            choices = ", ".join(API_VERSION_CHOICES)
            raise ValueError(f"api_version must be one of {choices}, got {api_version!r}")
        self.api_version = api_version
        self.project = check_project(project)
        auth = user_token if isinstance(user_token, TokenProvider) else TokenProvider(user_token)
        self._auth = auth
        self._loop = CallLoop(auth, timeout, retry if retry is not None else RetryPolicy())
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosed("the model registry client is closed")

    def _metadata(self, token: str | None, request: Request | None) -> list[tuple[str, str]]:
        """The token and project of one attempt (``request`` None: no project), alike on both
        wires: lower-case keys, as gRPC metadata needs (HTTP header names ignore case)."""
        pairs = [("authorization", bearer_header(token))] if token else []
        if request is not None and request.kind.scoped:
            project = request.project or effective_project(self.project)
            if project is not None:
                pairs.append((PROJECT_METADATA, project))
        return pairs

    async def _stream_metadata(self, request: Request) -> list[tuple[str, str]]:
        """:meth:`_metadata` of a stream (sent once: no call loop reads the token for it)."""
        self._check_open()
        return self._metadata(await self._auth.get() if self._auth.enabled else None, request)

    # -- what a transport supplies -------------------------------------------------------

    @abstractmethod
    async def aclose(self) -> None:
        """Release the connection pool (idempotent)."""

    @abstractmethod
    def supports(self, op: Op | None) -> bool:
        """Whether this transport has a direct call for ``op``."""

    @abstractmethod
    async def _unary(self, request: Request) -> Any:
        """Send ``request`` under the call loop; the decoded answer (``None``: it has none)."""

    @abstractmethod
    async def _list_page(self, request: Request) -> RawPage[Any]:
        """Send the list ``request``; the first phase of its answer."""

    @abstractmethod
    def _event_stream(
        self, request: Request
    ) -> AsyncIterator[tuple[int, Mapping[str, Any] | None]]:
        """One connection's event stream (the ``watch`` request's fields: ``since``, ``kinds``,
        ``actions``): ``(cursor, None)`` once the server accepted the watch, then ``(cursor,
        event)`` with each event's wire form (REST JSON). Ends when the server ends it."""

    @abstractmethod
    async def _upload(self, request: Request) -> Artifact:
        """Stream ``request.body`` (pieces) as an artifact's content; one attempt."""

    @abstractmethod
    def _download(
        self, request: Request
    ) -> contextlib.AbstractAsyncContextManager[ContentDownload]:
        """The content of an artifact, streamed."""

    # -- the generic operations ----------------------------------------------------------

    async def _one(self, request: Request) -> Any:
        found = await self._unary(request)
        if found is None:
            raise InvalidResponse(f"the server's answer to {request.what} holds no entity")
        return found

    async def create(self, kind: Kind[E], entity: E, parent_id: str | None = None) -> E:
        """Create an entity (``parent_id``: of a kind created inside its parent's path)."""
        op = kind.create
        path = () if parent_id is None or op is None else ((op.parent_field, parent_id),)
        result: E = await self._one(Request(kind, op, "create", path, entity=(entity, "create")))
        return result

    async def update(self, kind: Kind[E], entity: E, parent_id: str | None = None) -> E:
        """Update an entity (``entity.id`` is set)."""
        op = kind.update
        # REST names the entity in its path; gRPC names the parent of a kind that has one.
        fields = {op.parent_field: parent_id} if op and op.parent_field and parent_id else {}
        path = ((None, str(entity.id)),)
        result: E = await self._one(Request(kind, op, "update", path, fields, (entity, "update")))
        return result

    async def link(self, parent: str, artifact: Artifact, parent_id: str) -> Artifact:
        """Create an artifact in a parent (``"model_version"``, ``"experiment_run"``), or link
        an existing one (``artifact.id`` set)."""
        op = ARTIFACT.links.get(parent)
        path = ((op.parent_field if op else None, parent_id),)
        result: Artifact = await self._one(
            Request(ARTIFACT, op, "link", path, entity=(artifact, "full"))
        )
        return result

    async def delete(
        self, kind: Kind[Any], id: str, *, cascade: bool = False, parent_id: str | None = None
    ) -> None:
        """Delete an entity (our extension ``delete``); ``parent_id``: the inference service of
        a serve model. NotFound when absent, Conflict when something is in the way,
        Unsupported when the server has no delete."""
        path = ((None, parent_id),) if parent_id is not None else ()
        fields = {"cascade": "true"} if cascade else {}
        await self._unary(Request(kind, kind.delete, "delete", (*path, ("id", id)), fields))

    async def call(
        self,
        kind: Kind[Any],
        name: str,
        path: Sequence[tuple[str, str]] = (),
        body: Mapping[str, Any] | None = None,
        *,
        required: bool = False,
    ) -> Any:
        """Call the special operation ``kind.special[name]``.

        Args:
            kind: The kind the operation belongs to.
            name: The operation's key in ``kind.special``.
            path: ``(gRPC request field, value)`` pairs, in the order of the REST path ids.
            body: Further request fields by gRPC name (see :attr:`Request.fields`).
            required: The operation answers something (an empty answer is InvalidResponse).

        Returns:
            The decoded answer, or None for an operation answering nothing.
        """
        request = Request(kind, kind.special.get(name), name.replace("_", " "), path, body or {})
        return await (self._one if required else self._unary)(request)

    async def find(
        self,
        kind: Kind[E],
        *,
        name: str | None = None,
        external_id: str | None = None,
        parent_id: str | None = None,
    ) -> E:
        """Find an entity by name (within a parent) or by external id; NotFound when absent."""
        keys = zip(kind.find_keys, (name, external_id, parent_id), strict=True)
        fields = {key: value for key, value in keys if key is not None and value is not None}
        result: E = await self._one(Request(kind, kind.find, "find", fields=fields))
        return result

    async def list(
        self,
        kind: Kind[T],
        options: ListOptions,
        parent: str | None = None,
        parent_id: str | None = None,
        **filters: str | None,
    ) -> RawPage[T]:
        """The first phase of a list call: the answer, undecoded.

        Args:
            kind: What to list.
            options: The page to read (not changed).
            parent: The parent kind's name when listing one parent's children.
            parent_id: That parent's id.
            filters: Further request fields (``artifact_type``, ``name``, ``step_ids``).
        """
        if parent is not None:
            op = kind.children.get(parent)
        elif self.supports(kind.list) or not any(map(self.supports, kind.children.values())):
            op = kind.list  # when nothing can list the kind, this call says why (Unsupported)
        else:
            owner = next(iter(kind.children)).replace("_", " ")
            raise ValueError(f"this transport lists {kind.label}s per {owner}: give its id")
        path = () if parent_id is None else ((op.field if op else None, parent_id),)
        fields = list_fields(options, **{**filters, **(kind.child_filters if parent else {})})
        return await self._list_page(Request(kind, op, "list", path, fields))

    async def page(
        self,
        kind: Kind[T],
        options: ListOptions,
        parent: str | None = None,
        parent_id: str | None = None,
        **filters: str | None,
    ) -> Page[T]:
        """Both phases of a list call: the decoded page (see :meth:`list`)."""
        return await (await self.list(kind, options, parent, parent_id, **filters)).decode()

    async def get(self, kind: Kind[E], id: str, parent_id: str | None = None) -> E:
        """Get an entity by id; NotFound when absent.

        A serve model without a direct call is looked up with an ``id`` filter on the serve
        models of ``parent_id`` (or of each inference service in turn when that is not
        given): one filtered query per service, nothing filtered on the client.
        """
        if kind.get is not None and (self.supports(kind.get) or kind.domain is not ServeModel):
            # Without an endpoint for it (experiments on REST v1, projects on v1alpha3) this
            # raises Unsupported, naming why: not an absent entity.
            result: E = await self._one(Request(kind, kind.get, "get", (("id", id),)))
            return result
        if kind.domain is not ServeModel:
            raise NotFound(f"no {kind.label} {id}")
        options = ListOptions(filter_query=f"id = {int(id)}" if id.isdigit() else f"id = '{id}'")
        if parent_id is not None:
            for found in await self.page(kind, options, INFERENCE_SERVICE.name, parent_id):
                return found
            raise NotFound(f"serve model {id} not found in inference service {parent_id}")
        services, seen = ListOptions(limit=100), set()
        while True:
            page = await self.page(INFERENCE_SERVICE, services)
            for isvc in page:
                if isvc.id is not None:
                    for found in await self.page(kind, options, INFERENCE_SERVICE.name, isvc.id):
                        return found
            token = page.next_page_token
            if not token or token in seen:
                raise NotFound(f"serve model {id} not found")
            seen.add(token)
            services = services.copy(next_page_token=token)

    async def get_by_inference_service(self, kind: Kind[E], inference_service_id: str) -> E:
        """The entity an inference service serves; NotFound when absent.

        A model artifact without a direct call is the first model artifact of the served
        version.
        """
        op = kind.by_inference_service
        if op is not None and self.supports(op):
            path = (("inference_service_id", inference_service_id),)
            result: E = await self._one(Request(kind, op, "get", path))
            return result
        version = await self.get_by_inference_service(MODEL_VERSION, inference_service_id)
        if version.id is not None:
            first = ListOptions(limit=1)
            for artifact in await self.page(kind, first, "model_version", version.id):
                return artifact
        raise NotFound(f"no model artifact served by inference service {inference_service_id}")

    # -- the streams ---------------------------------------------------------------------

    async def watch(
        self,
        since: int | None,
        kinds: Sequence[str] = (),
        actions: Sequence[str] = (),
        project: str | None = None,
    ) -> AsyncIterator[Event]:
        """The change events after ``since`` (None: from now), across reconnections: only of
        ``kinds`` and ``actions`` (empty: all), in ``project`` (None: the client's).

        The one reconnection loop of every transport: when a stream breaks or the server
        restarts, it connects again (capped backoff with jitter) from the last cursor it
        handed out, so no event is lost or repeated. Errors a retry cannot mend (a bad
        filter, an expired cursor, a refused token) are raised.
        """
        cursor = since
        delay = WATCH_FIRST_DELAY
        op = EVENT.special["watch"]
        fields: dict[str, Any] = {"kinds": kinds, "actions": actions}
        while True:
            if cursor is not None:
                fields["since"] = str(cursor)
            request = Request(EVENT, op, "watch", (), fields, project=project)
            try:
                async for position, data in self._event_stream(request):
                    if data is None:
                        cursor = position  # accepted: later failures resume from here
                        delay = WATCH_FIRST_DELAY
                        continue
                    event = Event.from_wire(data)
                    cursor = event.cursor
                    yield event
                _log.debug("the event stream ended; reconnecting after cursor %s", cursor)
            except _WATCH_TRANSIENT as exc:
                _log.debug("the event stream failed (%s); reconnecting in %.2fs", exc, delay)
            # Jitter, so the watchers of a restarted server do not all come back at once.
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, WATCH_MAX_DELAY)

    async def upload_content(
        self,
        artifact_id: str,
        chunks: AsyncIterable[bytes],
        *,
        size: int | None = None,
        sha256: str | None = None,
    ) -> Artifact:
        """Stream the content of an artifact to the registry's artifact store (one attempt:
        a stream cannot be sent twice); answer the artifact with its digest and size."""
        op = ARTIFACT.special["upload_content"]
        fields = {k: v for k, v in (("sha256", sha256 or None), ("size", size)) if v is not None}
        path = (("artifact_id", artifact_id),)
        request = Request(ARTIFACT, op, "upload content of", path, fields, body=_pieces(chunks))
        return await self._upload(request)

    def download_content(
        self, artifact_id: str, *, start: int = 0, sha256: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[ContentDownload]:
        """``async with transport.download_content(id) as download:`` the content, streamed.

        ``start``: resume at this byte if the content still has the digest ``sha256`` (REST:
        ``Range`` with ``If-Range``); a server that does not, and gRPC, send the whole
        content (``download.start`` says which came).
        """
        op = ARTIFACT.special["download_content"]
        path = (("artifact_id", artifact_id),)
        resume = {"start": start, "sha256": sha256} if start and sha256 else {}
        return self._download(Request(ARTIFACT, op, "download content of", path, resume))
