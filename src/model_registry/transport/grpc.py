"""The gRPC transport: the ``Transport`` primitives over one ``grpc.aio`` channel.

One channel per transport, opened on the first call and reused by every call after it; the
stub's method objects are built once with it, so a call costs the message conversion and the
RPC, nothing more. Every RPC is sent by the shared
:class:`~model_registry.transport.base.CallLoop`, and its failures are mapped into
:mod:`model_registry.exceptions` by :func:`_classify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

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
from model_registry._wire.proto import enum_from_wire, message_to_wire
from model_registry.exceptions import (
    ConnectionFailed,
    InvalidResponse,
    ModelRegistryError,
    ResponseTooLarge,
    StatusError,
    Unsupported,
    error_class_for_http_status,
    from_grpc_status,
)
from model_registry.operations import KINDS, V1, V1ALPHA3, Op
from model_registry.transport.auth import TokenProvider, TokenSource
from model_registry.transport.base import (
    AUTO,
    V1_LACKS,
    ContentDownload,
    Failure,
    Request,
    Transport,
)
from model_registry.transport.hints import wrong_protocol_hint
from model_registry.transport.policy import (
    DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    DEFAULT_TIMEOUT,
    RetryPolicy,
    parse_retry_after,
)
from model_registry.types import Artifact, RawPage

__all__ = ["RETRY_AFTER", "GrpcTransport"]

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
_NOT_IN_V1 = (
    frozenset(pb.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name) - V1_RPCS
)


def rpc_names() -> set[str]:
    """Every RPC the operation table names (a test checks it covers the services)."""
    return {op.rpc for kind in KINDS.values() for op in kind.ops if op.rpc is not None}


class GrpcTransport(Transport):
    """The :class:`~model_registry.transport.base.Transport` over gRPC.

    Args:
        host: Server host name or address.
        port: Server gRPC port.
        secure: Use TLS (with the system roots, or ``custom_ca``).
        custom_ca: CA bundle to trust: PEM text/bytes or a path to a PEM file (TLS only).
        user_token: As :class:`~model_registry.transport.base.Transport`; sent as
            ``authorization: Bearer ...`` call metadata.
        timeout: As :class:`~model_registry.transport.base.Transport`.
        retry: As :class:`~model_registry.transport.base.Transport`.
        options: Extra channel options (``grpc.*`` arguments).
        max_receive_message_bytes: The largest answer accepted; a larger one raises
            :class:`~model_registry.exceptions.ResponseTooLarge` (not retried).
        project: As :class:`~model_registry.transport.base.Transport`; sent as the
            ``x-model-registry-project`` metadata.
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
        api_version: str = AUTO,
    ) -> None:
        super().__init__(user_token, timeout, retry, project, api_version)
        # Whether the server has the stable service: None until the first v1 call tells.
        self._v1_served: bool | None = {AUTO: None, V1: True, V1ALPHA3: False}[api_version]
        if max_receive_message_bytes < 1:
            raise ValueError("max_receive_message_bytes must be positive")
        self._target = f"{host}:{port}"
        self._secure = secure or custom_ca is not None
        self._root_certificates = _read_ca(custom_ca) if custom_ca is not None else None
        self._options = (
            *_CHANNEL_OPTIONS,
            ("grpc.max_receive_message_length", max_receive_message_bytes),
            *options,
        )
        self._channel: grpc.aio.Channel | None = None
        self._methods: dict[tuple[str, str], Any] = {}

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
        stubs = (
            (V1ALPHA3, pb_grpc.ModelRegistryServiceStub(channel)),
            (V1ALPHA3, pb_grpc.ArtifactContentServiceStub(channel)),
            (V1, pb_v1_grpc.ModelRegistryServiceStub(channel)),
        )
        names = rpc_names()
        self._methods = {
            (version, rpc): getattr(stub, rpc)
            for version, stub in stubs
            for rpc in names
            if hasattr(stub, rpc)
        }
        self._channel = channel

    async def aclose(self) -> None:
        """Close the channel (idempotent)."""
        self._closed = True
        channel, self._channel = self._channel, None
        self._methods = {}
        if channel is not None:
            await channel.close()

    # -- one RPC -------------------------------------------------------------------------

    def _rpc(self, request: Request) -> str:
        """The RPC of ``request`` (the channel opened); Unsupported when there is none."""
        op = request.op
        if op is None or op.rpc is None:
            raise Unsupported(f"the gRPC API has no call to {request.what} {request.label}")
        self._check_open()
        if self._channel is None:
            self._open()
        if op.rpc in _NOT_IN_V1 and self.api_version == V1:
            raise Unsupported(
                f"the gRPC API v1 has no call to {request.what} {request.label} ({V1_LACKS}); "
                "api_version='v1' was chosen"
            )
        return op.rpc

    def _method(self, rpc: str) -> tuple[str, Any]:
        """The service version to call ``rpc`` on, and its stub method."""
        version = V1 if rpc in V1_RPCS and self._v1_served is not False else V1ALPHA3
        return version, self._methods[version, rpc]

    async def _call(self, request: Request) -> Any:
        """Make the RPC of ``request`` under the call loop; return the response message."""
        rpc = self._rpc(request)
        message = _message(getattr(pb, rpc + "Request"), request)

        async def send_once(token: str | None, remaining: float | None) -> Any:
            metadata = self._metadata(token, request) or None
            version, method = self._method(rpc)
            try:
                answer = await method(message, timeout=remaining, metadata=metadata)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    if version == V1 and exc.code() not in _NOT_ANSWERED:
                        self._v1_served = True  # it answered, with an error of its own
                    raise
                # The server has no such call under this service name (the registry answers
                # UNIMPLEMENTED for nothing else).
                if version == V1 and self._v1_served is None:
                    # A server that predates the stable service: v1alpha3, now and from now on.
                    self._v1_served = False
                    return await send_once(token, remaining)
                raise Unsupported(_unserved(version, rpc, request)) from None
            if version == V1:
                self._v1_served = True
            return answer

        def classify(exc: Exception) -> Failure:
            return _classify(exc, rpc)

        # What the retry policy decides on: only reads are repeated after a request was sent.
        verb = "GET" if rpc.startswith("Get") else "POST"
        return await self._loop.run(send_once, classify, method=verb, path=rpc, shown="gRPC")

    # -- the primitives ------------------------------------------------------------------

    def supports(self, op: Op | None) -> bool:
        """Whether the service has an RPC for ``op``."""
        return op is not None and op.rpc is not None

    async def _unary(self, request: Request) -> Any:
        answer = await self._call(request)
        return None if isinstance(answer, pb.Deleted) else conv.message_to_domain(answer)

    async def _list_page(self, request: Request) -> RawPage[Any]:
        response = await self._call(request)

        def read() -> tuple[Any, str, int | None]:
            return response.items, response.next_page_token, response.page_size

        return RawPage(read, conv.message_to_domain)

    # -- the streams (one call each, never repeated) -------------------------------------

    @contextlib.asynccontextmanager
    async def _stream(self, request: Request, *message: Message) -> AsyncIterator[Any]:
        """Open the streaming RPC of ``request`` (``message``: its request, for a server
        stream); yield the call. A failure of the call is classified as a unary call's."""
        rpc = self._rpc(request)
        metadata = await self._stream_metadata(request)
        call = self._method(rpc)[1](*message, metadata=tuple(metadata) or None)
        try:
            yield call
        except grpc.aio.AioRpcError as exc:
            raise _classify(exc, rpc).error from None
        finally:
            call.cancel()  # the consumer stopped early: the server stops too (a no-op when done)

    async def _event_stream(
        self, request: Request
    ) -> AsyncIterator[tuple[int, Mapping[str, Any] | None]]:
        async with self._stream(request, _message(pb.WatchEventsRequest, request)) as call:
            async for message in call:
                data = message_to_wire(message)
                if data.pop("ready", False):
                    yield int(message.cursor), None
                    continue
                data["entity"] = orjson.loads(data.pop("entityJson", None) or "{}")
                yield int(message.cursor), data

    async def _upload(self, request: Request) -> Artifact:
        header: Any = _message(pb.ArtifactContentHeader, request)
        async with self._stream(request) as call:
            # Written message by message rather than from an iterator: when the server ends the
            # call early (over its size limit, content set already), the next write fails and
            # the call's own status, the server's answer, is what gets raised.
            try:
                await call.write(pb.UploadArtifactContentRequest(header=header))
                async for piece in request.body:
                    await call.write(pb.UploadArtifactContentRequest(chunk=piece))
                await call.done_writing()
            except (asyncio.InvalidStateError, grpc.aio.UsageError, grpc.aio.AioRpcError):
                pass  # the call has ended: its status says why
            answer = await call
        result: Artifact = conv.message_to_domain(answer)
        return result

    @contextlib.asynccontextmanager
    async def _download(self, request: Request) -> AsyncIterator[ContentDownload]:
        # No range in the RPC: a resumed download gets the whole content (start 0) again.
        whole = dataclasses.replace(request, fields={})
        message = _message(pb.DownloadArtifactContentRequest, whole)
        async with self._stream(request, message) as call:
            first = await call.read()
            if first is grpc.aio.EOF or first.WhichOneof("part") != "header":
                raise InvalidResponse("the server's download did not start with its header")

            async def chunks() -> AsyncIterator[bytes]:
                while (message := await call.read()) is not grpc.aio.EOF:
                    yield message.chunk

            header = first.header
            yield ContentDownload(
                header.sha256 if header.HasField("sha256") else None,
                header.size if header.HasField("size") else None,
                chunks(),
            )


_REQUEST_FIELDS: dict[type[Message], dict[str, Any]] = {}


def _message(cls: type[Message], request: Request) -> Message:
    """Build the request message of ``request``: its named path ids, fields and entity (wire
    strings of enum, integer and bool fields converted)."""
    types = _REQUEST_FIELDS.get(cls)
    if types is None:
        types = _REQUEST_FIELDS[cls] = {
            fd.name: fd.enum_type.name if fd.enum_type is not None else fd.type
            for fd in cls.DESCRIPTOR.fields
        }
    kwargs: dict[str, Any] = {name: value for name, value in request.path if name is not None}
    for name, value in request.fields.items():
        kind = types[name]
        if isinstance(value, str) and isinstance(kind, str):
            value = enum_from_wire(kind, value)
        elif isinstance(value, str) and kind in _INTEGER_TYPES:
            value = int(value)
        elif isinstance(value, str) and kind == FieldDescriptor.TYPE_BOOL:
            value = value == "true"
        kwargs[name] = value
    op = request.op
    if request.entity is not None and op is not None and op.field is not None:
        entity = request.entity[0]
        to_message = (
            conv.domain_to_artifact if request.kind.domain is Artifact else conv.domain_to_message
        )
        kwargs[op.field] = to_message(entity)  # type: ignore[arg-type]
    return cls(**kwargs)


# How grpc-core describes an answer over the channel's receive limit.
_TOO_LARGE = "larger than max"


def _never_sent(exc: grpc.aio.AioRpcError) -> bool:
    """Whether a connection-level failure happened before the request left (no connection)."""
    details = (exc.details() or "").lower()
    return "failed to connect" in details or "connection refused" in details


def _unserved(version: str, rpc: str, request: Request) -> str:
    """Why a call the server answered ``UNIMPLEMENTED`` cannot be made."""
    if version == V1:
        return (
            "the server has no gRPC service model_registry.v1 (it predates API v1): use "
            "api_version='auto' or 'v1alpha3'"
        )
    if rpc not in V1_RPCS:
        return (
            f"the server serves only the gRPC API v1, which has no call to {request.what} "
            f"{request.label} ({V1_LACKS})"
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
    error: ModelRegistryError
    if code == "UNAVAILABLE" and server_code is None:  # from the channel, not the registry
        error = ConnectionFailed(details or "connection failed", method="gRPC", path=rpc)
    else:
        error = from_grpc_status(code, details, path=rpc)
    if isinstance(error, ConnectionFailed):  # the channel's UNAVAILABLE, or CANCELLED
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
