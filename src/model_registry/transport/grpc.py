"""The gRPC transport: the ``Transport`` primitives over one ``grpc.aio`` channel.

One channel per transport, opened on the first call and reused by every call after it; the
stub's method objects are built once with it, so a call costs the message conversion and the
RPC, nothing more. Every RPC is sent by the shared
:class:`~model_registry.transport.base.CallLoop` (token, deadline from the same timeout setting
as REST, retries by the same :class:`~model_registry.transport.policy.RetryPolicy`, the
server's retry hint, the token re-read once on ``UNAUTHENTICATED``), and its failures are
mapped into :mod:`model_registry.exceptions` by :func:`_classify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
import orjson
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from model_registry import _convert_grpc as conv
from model_registry._generated.grpc.model_registry.v1 import model_registry_pb2 as pb_v1
from model_registry._generated.grpc.model_registry.v1 import (
    model_registry_pb2_grpc as pb_v1_grpc,
)
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry._wire import errors as wire_errors
from model_registry._wire.proto import enum_from_wire
from model_registry.exceptions import (
    ClientClosed,
    ConnectionFailed,
    InvalidResponse,
    ModelRegistryError,
    ResponseTooLarge,
    StatusError,
    Unsupported,
    error_class_for_http_status,
    from_grpc_status,
)
from model_registry.operations import ARTIFACT, KINDS, TOKEN_OPS, Kind, Op
from model_registry.transport.auth import TokenProvider, TokenSource, bearer_header
from model_registry.transport.base import (
    CONTENT_CHUNK_BYTES,
    CallLoop,
    ContentDownload,
    Failure,
    Transport,
    WatchFilter,
    with_article,
)
from model_registry.transport.hints import wrong_protocol_hint
from model_registry.transport.policy import (
    DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    DEFAULT_TIMEOUT,
    PROJECT_METADATA,
    RetryPolicy,
    check_project,
    effective_project,
    parse_retry_after,
)
from model_registry.types import Artifact, BaseResource, CreatedToken, RawPage, Token

__all__ = ["RETRY_AFTER", "GrpcTransport"]

E = TypeVar("E", bound=BaseResource)

#: Trailing metadata key of the server's retry hint on ``UNAVAILABLE`` /
#: ``RESOURCE_EXHAUSTED``: seconds to wait, as in the HTTP ``Retry-After`` header.
RETRY_AFTER = wire_errors.RETRY_AFTER

_INTEGER_TYPES = frozenset(
    {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32}
)

# Built-in gRPC retries are off: the RetryPolicy is the one retry rule of both transports.
# Reconnection backoff starts small (gRPC's default is 1 s, then growing): while the channel
# waits to reconnect, calls fail at once, so a long wait would spend the policy's retries on a
# server that is already back.
_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.enable_retries", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 5000),
)


def _read_ca(custom_ca: str | bytes | os.PathLike[str]) -> bytes:
    """Return PEM bytes from PEM text/bytes or a path to a PEM file."""
    if isinstance(custom_ca, bytes):
        return custom_ca
    text = os.fspath(custom_ca)
    if "-----BEGIN" in text:
        return text.encode("ascii")
    try:
        return Path(text).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the CA file {text}: {exc.strerror}") from None


#: The RPCs of the stable service (``model_registry.v1``): all but experiments', runs' and
#: metric history's, as REST v1.
V1_RPCS = frozenset(pb_v1.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name)
_AUTO, _V1, _V1ALPHA3 = "auto", "v1", "v1alpha3"


STREAM_RPCS = frozenset({"WatchEvents"})
"""The server-streaming RPCs (behind :meth:`GrpcTransport._event_stream`, not the table)."""


def rpc_names() -> set[str]:
    """Every RPC the operation table names (a test checks it covers the service)."""
    ops = [*(op for kind in KINDS.values() for op in kind.ops), *TOKEN_OPS.values()]
    return {op.rpc for op in ops if op.rpc is not None}


class GrpcTransport(Transport):
    """The :class:`~model_registry.transport.base.Transport` over gRPC.

    Args:
        host: Server host name or address.
        port: Server gRPC port.
        secure: Use TLS (with the system roots, or ``custom_ca``).
        custom_ca: CA bundle to trust: PEM text/bytes or a path to a PEM file (TLS only).
        user_token: Bearer token source (see :class:`~model_registry.transport.auth.
            TokenProvider`), sent as ``authorization: Bearer ...`` call metadata.
        timeout: Default timeout of each call in seconds, retries included (``None``: none).
        retry: Retry policy; ``None`` uses ``RetryPolicy()``.
        options: Extra channel options (``grpc.*`` arguments).
        max_receive_message_bytes: The largest answer accepted; a larger one raises
            :class:`~model_registry.exceptions.ResponseTooLarge` (not retried).
        project: The project (name or id) every call works in, sent as the
            ``x-model-registry-project`` metadata (``None``: none, the server chooses); a call
            made inside ``call_options(project=...)`` sends that one instead.
        api_version: The registry service to call: ``"v1"`` (``model_registry.v1``, which
            has no experiment calls: they raise
            :class:`~model_registry.exceptions.Unsupported`), ``"v1alpha3"`` (every call), or
            ``"auto"`` (the default): v1 for what it has, until the server answers
            ``UNIMPLEMENTED`` for the service (a server that predates it: v1alpha3 from then
            on, the call made again there), and v1alpha3 for experiments, runs and metric
            history.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        secure: bool = False,
        custom_ca: str | bytes | os.PathLike[str] | None = None,
        user_token: TokenSource | TokenProvider | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        options: Sequence[tuple[str, Any]] = (),
        max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        project: str | None = None,
        api_version: str = _AUTO,
    ) -> None:
        self.project = check_project(project)
        if api_version not in (_AUTO, _V1, _V1ALPHA3):
            raise ValueError(f"api_version must be 'auto', 'v1' or 'v1alpha3', got {api_version!r}")
        self.api_version = api_version
        # Whether the server has the stable service: None until the first v1 call tells.
        self._v1_served: bool | None = {_AUTO: None, _V1: True, _V1ALPHA3: False}[api_version]
        if max_receive_message_bytes < 1:
            raise ValueError("max_receive_message_bytes must be positive")
        self._target = f"{host}:{port}"
        self._secure = secure or custom_ca is not None
        self._root_certificates = _read_ca(custom_ca) if custom_ca is not None else None
        token = user_token if isinstance(user_token, TokenProvider) else TokenProvider(user_token)
        self._auth = token
        self._loop = CallLoop(token, timeout, retry if retry is not None else RetryPolicy())
        self._options = (
            *_CHANNEL_OPTIONS,
            ("grpc.max_receive_message_length", max_receive_message_bytes),
            *options,
        )
        self._channel: grpc.aio.Channel | None = None
        self._methods: dict[tuple[str, str], Any] = {}
        self._closed = False

    def __repr__(self) -> str:
        scheme = "grpcs" if self._secure else "grpc"
        project = "" if self.project is None else f", project={self.project!r}"
        return f"GrpcTransport({scheme}://{self._target}{project})"

    # -- connection ----------------------------------------------------------------------

    def _open(self) -> None:
        # Synchronous and await-free, so two concurrent first calls cannot both open one.
        if self._secure:
            credentials = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
            channel = grpc.aio.secure_channel(self._target, credentials, options=self._options)
        else:
            channel = grpc.aio.insecure_channel(self._target, options=self._options)
        alpha = pb_grpc.ModelRegistryServiceStub(channel)
        stable = pb_v1_grpc.ModelRegistryServiceStub(channel)
        self._methods = {(_V1ALPHA3, rpc): getattr(alpha, rpc) for rpc in rpc_names()}
        self._methods.update({(_V1, rpc): getattr(stable, rpc) for rpc in rpc_names() & V1_RPCS})
        for rpc in STREAM_RPCS:
            self._methods[_V1ALPHA3, rpc] = getattr(alpha, rpc)
            self._methods[_V1, rpc] = getattr(stable, rpc)
        self._content = pb_grpc.ArtifactContentServiceStub(channel)
        self._channel = channel

    async def aclose(self) -> None:
        """Close the channel (idempotent)."""
        self._closed = True
        channel, self._channel = self._channel, None
        self._methods = {}
        if channel is not None:
            await channel.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    # -- one RPC -------------------------------------------------------------------------

    async def _call(self, label: str, op: Op | None, what: str, **fields: Any) -> Any:
        """Make the RPC of ``op`` with these request fields (wire strings are converted by the
        field's type); return the response message."""
        if op is None or op.rpc is None:
            raise Unsupported(f"the gRPC API has no call to {what} {with_article(label)}")
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._channel is None:
            self._open()
        rpc = op.rpc
        if rpc not in V1_RPCS and self.api_version == _V1:
            raise Unsupported(
                f"the gRPC API v1 has no call to {what} {with_article(label)} (v1 has no "
                "experiments, experiment runs or metric history); api_version='v1' was chosen"
            )
        request = _request(getattr(pb, rpc + "Request"), fields)
        project = effective_project(self.project)
        scope = () if project is None else ((PROJECT_METADATA, project),)

        async def send_once(token: str | None, remaining: float | None) -> Any:
            auth = (("authorization", bearer_header(token)),) if token else ()
            metadata = (*auth, *scope) or None
            version = _V1 if rpc in V1_RPCS and self._v1_served is not False else _V1ALPHA3
            try:
                answer = await self._methods[version, rpc](
                    request, timeout=remaining, metadata=metadata
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    if version == _V1 and exc.code() not in _NOT_ANSWERED:
                        self._v1_served = True  # it answered, with an error of its own
                    raise
                # The server has no such call under this service name (the registry answers
                # UNIMPLEMENTED for nothing else).
                if version == _V1 and self._v1_served is None:
                    # A server that predates the stable service: v1alpha3, now and from now on.
                    self._v1_served = False
                    return await send_once(token, remaining)
                raise Unsupported(_unserved(version, rpc, what, label)) from None
            if version == _V1:
                self._v1_served = True
            return answer

        def classify(exc: Exception) -> Failure:
            return _classify(exc, rpc)

        # What the retry policy decides on: only reads are repeated after a request was sent.
        verb = "GET" if rpc.startswith("Get") else "POST"
        return await self._loop.run(send_once, classify, method=verb, path=rpc, shown="gRPC")

    async def _event_stream(
        self, since: int | None, wanted: WatchFilter
    ) -> AsyncIterator[tuple[int, Mapping[str, Any] | None]]:
        """``WatchEvents`` (server streaming); see :meth:`Transport._event_stream`."""
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._channel is None:
            self._open()
        request = pb.WatchEventsRequest(kinds=wanted.kinds, actions=wanted.actions)
        if since is not None:
            request.since = str(since)
        auth = self._loop.auth
        token = await auth.get() if auth.enabled else None
        project = wanted.project if wanted.project is not None else effective_project(self.project)
        metadata = (
            *((("authorization", bearer_header(token)),) if token else ()),
            *(((PROJECT_METADATA, project),) if project is not None else ()),
        )
        version = _V1ALPHA3 if self._v1_served is False else _V1
        call = self._methods[version, "WatchEvents"](request, metadata=metadata or None)
        try:
            async for message in call:
                if message.ready:
                    yield int(message.cursor), None
                    continue
                event: dict[str, Any] = {
                    "cursor": message.cursor,
                    "type": message.type,
                    "kind": message.kind,
                    "action": message.action,
                    "entityId": message.entity_id,
                    "timeSinceEpoch": message.time_since_epoch,
                    "entity": orjson.loads(message.entity_json or "{}"),
                }
                if message.HasField("project"):
                    event["project"] = message.project
                if message.HasField("subject"):
                    event["subject"] = message.subject
                yield int(message.cursor), event
        except grpc.aio.AioRpcError as exc:
            raise _classify(exc, "WatchEvents").error from None
        finally:
            call.cancel()

    # -- artifact content (ArtifactContentService, our extension) -------------------------

    async def _content_metadata(self) -> tuple[tuple[str, str], ...]:
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._channel is None:
            self._open()
        token = await self._auth.get() if self._auth.enabled else None
        project = effective_project(self.project)
        return (
            *((("authorization", bearer_header(token)),) if token else ()),
            *(((PROJECT_METADATA, project),) if project is not None else ()),
        )

    async def upload_content(
        self,
        artifact_id: str,
        chunks: AsyncIterable[bytes],
        *,
        size: int | None = None,
        sha256: str | None = None,
    ) -> Artifact:
        """``UploadArtifactContent``, client-streaming; see :meth:`Transport.upload_content`."""
        metadata = await self._content_metadata()
        header = pb.ArtifactContentHeader(artifact_id=artifact_id, sha256=sha256, size=size)

        # Written message by message rather than from an iterator: when the server ends the
        # call early (over its size limit, content set already), the next write fails and the
        # call's own status, the server's answer, is what gets raised.
        call = self._content.UploadArtifactContent(metadata=metadata)
        try:
            try:
                await call.write(pb.UploadArtifactContentRequest(header=header))
                async for chunk in chunks:
                    for start in range(0, len(chunk), CONTENT_CHUNK_BYTES):
                        piece = chunk[start : start + CONTENT_CHUNK_BYTES]
                        await call.write(pb.UploadArtifactContentRequest(chunk=piece))
                await call.done_writing()
            except (asyncio.InvalidStateError, grpc.aio.UsageError, grpc.aio.AioRpcError):
                pass  # the call has ended: its status says why
            answer = await call
        except grpc.aio.AioRpcError as exc:
            raise _classify(exc, "UploadArtifactContent").error from None
        finally:
            if not call.done():
                call.cancel()  # the file could not be read: the server keeps nothing
        result: Artifact = conv.message_to_domain(answer)
        return result

    @contextlib.asynccontextmanager
    async def download_content(self, artifact_id: str) -> AsyncIterator[ContentDownload]:
        """``DownloadArtifactContent``, server-streaming; see
        :meth:`Transport.download_content`."""
        metadata = await self._content_metadata()
        call = self._content.DownloadArtifactContent(
            pb.DownloadArtifactContentRequest(artifact_id=artifact_id), metadata=metadata
        )
        try:
            first = await call.read()
            if first is grpc.aio.EOF or first.WhichOneof("part") != "header":
                raise InvalidResponse("the server's download did not start with its header")

            async def chunks() -> AsyncIterator[bytes]:
                while True:
                    try:
                        message = await call.read()
                    except grpc.aio.AioRpcError as exc:
                        raise _classify(exc, "DownloadArtifactContent").error from None
                    if message is grpc.aio.EOF:
                        return
                    yield message.chunk

            header = first.header
            yield ContentDownload(
                header.sha256 if header.HasField("sha256") else None,
                header.size if header.HasField("size") else None,
                chunks(),
            )
        except grpc.aio.AioRpcError as exc:
            raise _classify(exc, "DownloadArtifactContent").error from None
        finally:
            call.cancel()

    async def _one(self, kind: Kind[E], op: Op | None, what: str, **fields: Any) -> E:
        result: E = conv.message_to_domain(await self._call(kind.label, op, what, **fields))
        return result

    @staticmethod
    def _entity(kind: Kind[Any], op: Op | None, entity: BaseResource) -> dict[str, Any]:
        if op is None or op.field is None:
            return {}
        if kind.domain is Artifact:
            return {op.field: conv.domain_to_artifact(entity)}  # type: ignore[arg-type]
        return {op.field: conv.domain_to_message(entity)}

    # -- the primitives ------------------------------------------------------------------

    def supports(self, op: Op | None) -> bool:
        """Whether the service has an RPC for ``op``."""
        return op is not None and op.rpc is not None

    async def create(self, kind: Kind[E], entity: E, parent_id: str | None = None) -> E:
        fields = self._entity(kind, kind.create, entity)
        if parent_id is not None and kind.create is not None and kind.create.parent_field:
            fields[kind.create.parent_field] = parent_id
        return await self._one(kind, kind.create, "create", **fields)

    async def update(self, kind: Kind[E], entity: E, parent_id: str | None = None) -> E:
        fields = self._entity(kind, kind.update, entity)
        if parent_id is not None and kind.update is not None and kind.update.parent_field:
            fields[kind.update.parent_field] = parent_id
        return await self._one(kind, kind.update, "update", **fields)

    async def link(self, parent: str, artifact: Artifact, parent_id: str) -> Artifact:
        op = ARTIFACT.links.get(parent)
        fields = self._entity(ARTIFACT, op, artifact)
        if op is not None and op.parent_field:
            fields[op.parent_field] = parent_id
        return await self._one(ARTIFACT, op, "link", **fields)

    async def delete(
        self, kind: Kind[Any], id: str, *, cascade: bool = False, parent_id: str | None = None
    ) -> None:
        await self._call(kind.label, kind.delete, "delete", id=id, cascade=cascade)

    async def call(
        self,
        kind: Kind[E],
        name: str,
        path: Sequence[tuple[str, str]],
        body: Mapping[str, str] | None = None,
    ) -> E | None:
        fields = {**dict(path), **(body or {})}
        answer = await self._call(
            kind.label, kind.special.get(name), name.replace("_", " "), **fields
        )
        if isinstance(answer, pb.Deleted):
            return None
        result: E = conv.message_to_domain(answer)
        return result

    async def _get(self, kind: Kind[E], op: Op, id: str) -> E:
        key = "id" if op is kind.get else "inference_service_id"
        return await self._one(kind, op, "get", **{key: id})

    async def _find(self, kind: Kind[E], keys: tuple[str | None, str | None, str | None]) -> E:
        pairs = zip(kind.find_keys, keys, strict=True)
        fields = {name: value for name, value in pairs if name is not None and value is not None}
        return await self._one(kind, kind.find, "find", **fields)

    async def _list(
        self, kind: Kind[E], op: Op | None, parent_id: str | None, fields: dict[str, str]
    ) -> RawPage[E]:
        if parent_id is not None and op is not None and op.field is not None:
            fields[op.field] = parent_id
        response = await self._call(kind.label, op, "list", **fields)

        def read() -> tuple[Any, str, int | None]:
            return response.items, response.next_page_token, response.page_size

        return RawPage(read, conv.message_to_domain)

    # -- tokens (work across projects: the server ignores the project metadata) ----------

    async def create_token(
        self, subject: str, roles: Mapping[str, str], expires_time_since_epoch: int | None
    ) -> CreatedToken:
        fields: dict[str, Any] = {"subject": subject, "roles": dict(roles)}
        if roles:
            # A protobuf map keeps no order: the default project (the first) is named.
            fields["default_project"] = next(iter(roles))
        if expires_time_since_epoch is not None:
            fields["expires_time_since_epoch"] = int(expires_time_since_epoch)
        answer = await self._call("token", TOKEN_OPS["create"], "create", **fields)
        return CreatedToken(conv.token_from_message(answer.token), answer.secret)

    async def list_tokens(self, fields: dict[str, str]) -> RawPage[Token]:
        response = await self._call("token", TOKEN_OPS["list"], "list", **fields)

        def read() -> tuple[Any, str, int | None]:
            return response.items, response.next_page_token, response.page_size

        return RawPage(read, conv.token_from_message)

    async def revoke_token(self, token_id: str) -> None:
        await self._call("token", TOKEN_OPS["revoke"], "revoke", id=token_id)


_REQUEST_FIELDS: dict[type[Message], dict[str, Any]] = {}


def _request(cls: type[Message], fields: Mapping[str, Any]) -> Message:
    """Build a request message; wire strings of enum and integer fields are converted."""
    types = _REQUEST_FIELDS.get(cls)
    if types is None:
        types = _REQUEST_FIELDS[cls] = {
            fd.name: fd.enum_type.name if fd.enum_type is not None else fd.type
            for fd in cls.DESCRIPTOR.fields
        }
    kwargs: dict[str, Any] = {}
    for name, value in fields.items():
        kind = types[name]
        if isinstance(value, str) and isinstance(kind, str):
            value = enum_from_wire(kind, value)
        elif isinstance(value, str) and kind in _INTEGER_TYPES:
            value = int(value)
        kwargs[name] = value
    return cls(**kwargs)


# How grpc-core describes an answer over the channel's receive limit.
_TOO_LARGE = "larger than max"


def _never_sent(exc: grpc.aio.AioRpcError) -> bool:
    """Whether a connection-level failure happened before the request left (no connection)."""
    details = (exc.details() or "").lower()
    return "failed to connect" in details or "connection refused" in details


def _unserved(version: str, rpc: str, what: str, label: str) -> str:
    """Why a call the server answered ``UNIMPLEMENTED`` cannot be made."""
    if version == _V1:
        return (
            "the server has no gRPC service model_registry.v1 (it predates API v1): use "
            "api_version='auto' or 'v1alpha3'"
        )
    if rpc not in V1_RPCS:
        return (
            f"the server serves only the gRPC API v1, which has no call to {what} "
            f"{with_article(label)} (v1 has no experiments, experiment runs or metric history)"
        )
    return "the server does not serve the gRPC API v1alpha3: use api_version='auto' or 'v1'"


_NOT_ANSWERED = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
"""Codes of a call no server answered: they tell nothing about the services it has."""


def _classify(exc: Exception, rpc: str) -> Failure:
    """Map a failed RPC to the client's exceptions (the one mapping point of this transport).

    An UNAVAILABLE the registry answered itself (it marks its errors) is
    :class:`~model_registry.exceptions.Unavailable`; one from the channel (no server reached,
    connection broken) is :class:`~model_registry.exceptions.ConnectionFailed`, as on REST.
    A registry error carries the server's error ``code`` (e.g. ``"Not Found"``) as the REST
    error body does, and has the class REST gives the same error (the server sends the HTTP
    status too: 400 and 422 share INVALID_ARGUMENT but are BadRequest and
    UnprocessableEntity).
    """
    if not isinstance(exc, grpc.aio.AioRpcError):
        raise exc
    code = exc.code().name
    details = exc.details() or ""
    marks = _server_marks(exc)
    server_code = marks.get(wire_errors.ERROR_MARK)
    if code == "DEADLINE_EXCEEDED":
        return Failure(from_grpc_status(code, details, path=rpc), timeout=True)
    if code == "RESOURCE_EXHAUSTED" and server_code is None and _TOO_LARGE in details:
        # The channel refused an answer over max_receive_message_bytes: asking again gets the
        # same answer, so this is not retried.
        return Failure(
            ResponseTooLarge(
                f"the answer to {rpc} is larger than this client accepts ({details}): ask "
                "for a smaller page size (ListOptions(limit=...)), or raise the client's "
                "max_receive_message_bytes",
                method="gRPC",
                path=rpc,
            )
        )
    if code in ("UNAVAILABLE", "UNKNOWN", "INTERNAL") and server_code is None:
        hint = wrong_protocol_hint(details)
        if hint is not None:
            # The wrong protocol on this port: asking again gets the same answer.
            return Failure(ConnectionFailed(hint, method="gRPC", path=rpc))
    if code == "UNIMPLEMENTED" and server_code is None:
        # A server without the RPC: one of our extensions against the reference, or an older
        # version of this server.
        return Failure(
            Unsupported(
                f"the server has no {rpc} call (an extension the Kubeflow Model Registry API "
                "does not have)"
            )
        )
    if code == "UNAVAILABLE" and server_code is None:
        error: ModelRegistryError = ConnectionFailed(
            details or "connection failed", method="gRPC", path=rpc
        )
        retry = {"connection_error": True, "connect_phase": _never_sent(exc)}
        return Failure(error, retry=retry)
    error = from_grpc_status(code, details, path=rpc)
    if isinstance(error, ConnectionFailed):  # CANCELLED
        return Failure(error, retry={"connection_error": True, "connect_phase": _never_sent(exc)})
    if server_code is not None and isinstance(error, StatusError):
        http_status = marks.get(wire_errors.ERROR_HTTP_STATUS, "")
        cls = (
            error_class_for_http_status(int(http_status)) if http_status.isdigit() else type(error)
        )
        error = cls(details or code, status=code, code=server_code, method="gRPC", path=rpc)
    return Failure(
        error,
        retry={"grpc_code": code},
        retry_after=parse_retry_after(marks.get(RETRY_AFTER)),
        unauthenticated=code == "UNAUTHENTICATED",
    )


def _server_marks(exc: grpc.aio.AioRpcError) -> dict[str, str]:
    """The registry's error marks and retry hint from the trailing metadata (empty when it did
    not answer)."""
    marks: dict[str, str] = {}
    for key, value in exc.trailing_metadata() or ():
        if key in (wire_errors.ERROR_MARK, wire_errors.ERROR_HTTP_STATUS, RETRY_AFTER):
            marks[key] = (
                value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            )
    return marks
