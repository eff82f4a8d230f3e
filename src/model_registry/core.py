"""``ModelRegistryAPIClient``: the async client, a mirror of the Go ``ModelRegistryApi``.

It talks to a :class:`~model_registry.transport.base.Transport` (REST by default, gRPC on
request) and knows nothing of HTTP or gRPC itself. Build it with
:meth:`ModelRegistryAPIClient.insecure_connection` or
:meth:`ModelRegistryAPIClient.secure_connection`; nothing touches the network until the first
call, which opens the one connection pool every later call reuses.

Conventions:

* ``upsert_x(entity)`` creates the entity when its ``id`` is ``None`` and updates it otherwise;
  it returns the stored entity and never changes the one given.
* ``get_x_by_id`` / ``get_x_by_params`` / ``get_x_by_inference_service`` return ``None`` when
  nothing matches. An id that is not a registry id (a decimal ``1..999999999``) names nothing:
  lookups return ``None`` and lists of its children are empty, without a request. (A
  project's id is a UUID: anything else names no project.)
* ``get_xs(options)`` return a :class:`~model_registry.types.PageCall`: awaited, it gives a
  :class:`~model_registry.types.Page` (a list with ``next_page_token``) and stores that token
  in ``options.next_page_token``, so calling again with the same options reads the next page.
* Each public method names its kind in the operation table (:mod:`model_registry.operations`)
  and delegates to one generic operation below; the transports are generic over the table.
* Everything else that fails raises a :mod:`model_registry.exceptions` class.
"""

from __future__ import annotations

import dataclasses
import os
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

from model_registry._content import Progress, download_file, require_content, upload_file
from model_registry.exceptions import ClientClosed, NotFound
from model_registry.operations import (
    ARTIFACT,
    EXPERIMENT,
    EXPERIMENT_RUN,
    INFERENCE_SERVICE,
    METRIC_HISTORY,
    MODEL_ARTIFACT,
    MODEL_VERSION,
    PROJECT,
    REGISTERED_MODEL,
    SERVE_MODEL,
    SERVING_ENVIRONMENT,
    TOKEN,
    WEBHOOK,
    WEBHOOK_DELIVERY,
    Kind,
)
from model_registry.transport.auth import TokenSource
from model_registry.transport.base import Transport
from model_registry.transport.policy import (
    DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    DEFAULT_TIMEOUT,
    CallOptions,
    RetryPolicy,
    call_options,
    check_project,
)
from model_registry.types import (
    Artifact,
    ArtifactType,
    BaseResource,
    CreatedToken,
    Event,
    Experiment,
    ExperimentRun,
    InferenceService,
    ListOptions,
    Metric,
    ModelArtifact,
    ModelVersion,
    PageCall,
    Project,
    RawPage,
    RegisteredModel,
    ServeModel,
    ServingEnvironment,
    Token,
    Webhook,
    WebhookDelivery,
)

__all__ = ["ModelRegistryAPIClient"]

T = TypeVar("T")
E = TypeVar("E", bound=BaseResource)

_ID = re.compile(r"^[1-9][0-9]{0,8}$")

TransportName = Literal["rest", "grpc"]
ApiVersionName = Literal["auto", "v1", "v1alpha3"]
"""The REST API version a client speaks (``"auto"``: the server's stable one, asked once)."""


def _is_id(value: object) -> bool:
    return value is not None and bool(_ID.match(str(value)))


def _uuid(value: object) -> str | None:
    """The canonical (lower-case) form of a UUID id, or ``None`` when it is not one."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _parent(what: str, value: str | None) -> str:
    if value is None:
        raise ValueError(f"{what} is required")
    return str(value)


def _split_address(server_address: str, default_scheme: str) -> tuple[str, str]:
    """Split ``"https://host"`` / ``"host"`` into (scheme, host)."""
    address = server_address.strip()
    scheme = default_scheme
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", address)
    if match:
        scheme = match.group(1).lower()
        address = address[match.end() :]
    host = address.split("/", 1)[0]
    if not host:
        raise ValueError(f"no host in server address {server_address!r}")
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {scheme!r} in {server_address!r}")
    return scheme, host


def _port_number(port: int | str) -> int | None:
    try:
        number = int(str(port).strip())
    except ValueError:
        return None
    return number if 0 < number < 65536 else None


def _ssl_context(custom_ca: str | os.PathLike[str] | ssl.SSLContext | None, verify: bool) -> Any:
    """Build the one SSL context of a secure client."""
    if isinstance(custom_ca, ssl.SSLContext):
        return custom_ca
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if custom_ca is None:
        return ssl.create_default_context()
    path = Path(os.fspath(custom_ca))
    if not path.is_file():
        raise ValueError(f"custom_ca {str(path)!r} is not a file")
    return ssl.create_default_context(cafile=str(path))


class ModelRegistryAPIClient:
    """Async client of a model registry.

    Use it as ``async with ModelRegistryAPIClient.insecure_connection(...) as client:``, or
    call :meth:`aclose` when done.

    Args:
        transport: The transport to talk through (built by the connection constructors).
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._config_error: str | None = None

    # -- construction --------------------------------------------------------------------

    @classmethod
    def insecure_connection(
        cls,
        server_address: str,
        port: int | str,
        user_token: TokenSource | None = None,
        *,
        transport: TransportName = "rest",
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        api_version: ApiVersionName = "auto",
        project: str | None = None,
    ) -> ModelRegistryAPIClient:
        """A client over plain HTTP (or plaintext gRPC).

        Args:
            server_address: Host name or address, with or without ``http://``.
            port: Port, as an int or a string.
            user_token: Optional bearer token: ``str``/``bytes``, a ``pathlib.Path`` to a file
                re-read when it changes, or a callable returning it.
            transport: ``"rest"`` (default) or ``"grpc"``.
            timeout: Default timeout of a call in seconds, retries included.
            retry: Retry policy (default :class:`~model_registry.transport.policy.RetryPolicy`).
            max_receive_message_bytes: The largest gRPC answer accepted (64 MiB by default); a
                larger one raises :class:`~model_registry.exceptions.ResponseTooLarge`.
            api_version: The API version: ``"auto"`` (the default: the server's stable v1
                when it serves it, v1alpha3 for experiments), ``"v1"`` or ``"v1alpha3"``; see
                :class:`~model_registry.transport.rest.RestTransport` and
                :class:`~model_registry.transport.grpc.GrpcTransport` (whose registry service
                is ``model_registry.v1`` or ``model_registry.v1alpha3``).
            project: The project (name or id) every call works in: sent as the
                ``X-Model-Registry-Project`` header (gRPC: ``x-model-registry-project``
                metadata). ``None`` sends none and the server chooses (the token's first
                project, else ``default``). One call or block of calls can work in another
                with :meth:`call_options` ``(project=...)``.
        """
        scheme, host = _split_address(server_address, "http")
        return cls._build(
            scheme,
            host,
            port,
            user_token,
            transport,
            timeout,
            retry,
            None,
            max_receive_message_bytes,
            api_version=api_version,
            project=project,
        )

    @classmethod
    def secure_connection(
        cls,
        server_address: str,
        port: int | str = 443,
        *,
        user_token: TokenSource | None,
        custom_ca: str | os.PathLike[str] | ssl.SSLContext | None = None,
        verify: bool = True,
        transport: TransportName = "rest",
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        api_version: ApiVersionName = "auto",
        project: str | None = None,
    ) -> ModelRegistryAPIClient:
        """A client over TLS.

        Args:
            server_address: Host name or address, with or without ``https://``.
            port: Port, as an int or a string (default 443).
            user_token: Bearer token: ``str``/``bytes``, a ``pathlib.Path`` to a file re-read
                when it changes (Kubernetes projected tokens), or a callable returning it.
            custom_ca: CA bundle to trust: a path to a PEM file, or a ready ``ssl.SSLContext``
                (REST only); ``None`` trusts the system roots.
            verify: Check the server's certificate; turn off only for a test server.
            transport: ``"rest"`` (default) or ``"grpc"``.
            timeout: Default timeout of a call in seconds, retries included.
            retry: Retry policy (default :class:`~model_registry.transport.policy.RetryPolicy`).
            max_receive_message_bytes: The largest gRPC answer accepted (64 MiB by default); a
                larger one raises :class:`~model_registry.exceptions.ResponseTooLarge`.
            api_version: The API version: ``"auto"`` (the default), ``"v1"`` or
                ``"v1alpha3"`` (see :meth:`insecure_connection`).
            project: The project (name or id) every call works in (see
                :meth:`insecure_connection`).
        """
        _, host = _split_address(server_address, "https")
        grpc = transport == "grpc"
        if grpc and not verify:
            raise ValueError("the gRPC transport cannot turn certificate checks off")
        # REST takes one SSL context, built here; gRPC reads the CA file itself.
        context = None if grpc else _ssl_context(custom_ca, verify)
        return cls._build(
            "https",
            host,
            port,
            user_token,
            transport,
            timeout,
            retry,
            context,
            max_receive_message_bytes,
            custom_ca if grpc else None,
            api_version=api_version,
            project=project,
        )

    @classmethod
    def _build(
        cls,
        scheme: str,
        host: str,
        port: int | str,
        user_token: TokenSource | None,
        transport: str,
        timeout: float | None,
        retry: RetryPolicy | None,
        ssl_context: Any = None,
        max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        custom_ca: Any = None,
        api_version: str = "auto",
        project: str | None = None,
    ) -> ModelRegistryAPIClient:
        number = _port_number(port)
        # A bad port is reported on the first call, not here: building a client never fails
        # for what only matters once it talks (and does no I/O).
        shown_port = number if number is not None else 1
        impl: Transport
        common: dict[str, Any] = {
            "user_token": user_token,
            "timeout": timeout,
            "retry": retry,
            "project": project,
            "api_version": api_version,
        }
        if transport == "rest":
            from model_registry.transport.rest import RestTransport

            base_url = f"{scheme}://{host}:{shown_port}"
            impl = RestTransport(base_url, ssl_context=ssl_context, **common)
        elif transport == "grpc":
            if isinstance(custom_ca, ssl.SSLContext):
                raise ValueError("the gRPC transport takes custom_ca as a PEM file path")
            from model_registry.transport.grpc import GrpcTransport

            limit = max_receive_message_bytes
            secure = scheme == "https"
            impl = GrpcTransport(
                host,
                shown_port,
                secure=secure,
                custom_ca=custom_ca,
                max_receive_message_bytes=limit,
                **common,
            )
        else:
            raise ValueError(f"transport must be 'rest' or 'grpc', got {transport!r}")
        client = cls(impl)
        if number is None:
            client._config_error = f"port {port!r} is not a port number (1-65535)"
        return client

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """The transport this client talks through."""
        return self._transport

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._transport.closed

    @property
    def project(self) -> str | None:
        """The project (name or id) the client's calls work in; ``None``: the server's choice
        (the token's first project, else ``default``)."""
        return self._transport.project

    def _t(self) -> Transport:
        if self._transport.closed:
            raise ClientClosed("this ModelRegistryAPIClient is closed")
        if self._config_error is not None:
            raise ValueError(self._config_error)
        return self._transport

    async def aclose(self) -> None:
        """Close the connection pool (idempotent). Calls after it raise ``ClientClosed``."""
        await self._transport.aclose()

    async def __aenter__(self) -> ModelRegistryAPIClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"ModelRegistryAPIClient({self._transport!r})"

    @staticmethod
    @contextmanager
    def call_options(
        *,
        timeout: float | None = None,
        retry_unsafe: bool | None = None,
        project: str | None = None,
    ) -> Iterator[CallOptions]:
        """Override the timeout (seconds), the retry consent for POST/PATCH and/or the project
        (name or id) of every call made in the block (in this task)::

            with client.call_options(timeout=2):
                await client.get_registered_models()
            with client.call_options(project="fraud"):
                await client.upsert_registered_model(RegisteredModel("scorer"))
        """
        with call_options(timeout=timeout, retry_unsafe=retry_unsafe, project=project) as opts:
            yield opts

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    async def _maybe(call: Awaitable[T]) -> T | None:
        try:
            return await call
        except NotFound:
            return None

    # -- the generic operations behind the public methods --------------------------------

    async def _upsert(
        self, kind: Kind[E], entity: E, parent_id: str | None = None, link: str | None = None
    ) -> E:
        """Create (``id`` is ``None``) or update; in ``parent_id`` where the kind has one, or
        linked into the ``link`` parent when ``parent_id`` is given."""
        t = self._t()
        # A kind created inside its parent's path (a serve model) needs the parent id always.
        field = kind.create.parent_field if kind.create and not kind.parent_attr else None
        in_path = field is not None
        if field is not None:
            parent_id = _parent(field, parent_id)
        if entity.id is not None:
            return await t.update(kind, entity, parent_id if in_path else None)
        if link is not None and parent_id is not None:
            return cast(E, await t.link(link, cast(Artifact, entity), str(parent_id)))
        if kind.parent_attr is not None:
            parent = parent_id or getattr(entity, kind.parent_attr)
            if parent is None:
                raise ValueError(f"upsert_{kind.name}: give the {kind.parent_attr}")
            changes: dict[str, Any] = {kind.parent_attr: str(parent)}
            entity = dataclasses.replace(entity, **changes)
        return await t.create(kind, entity, parent_id if in_path else None)

    async def _link(self, parent: str, artifact: Artifact, parent_id: str | None) -> Artifact:
        return await self._t().link(parent, artifact, _parent(f"{parent}_id", parent_id))

    async def _by_id(self, kind: Kind[E], id: str | None, parent_id: str | None = None) -> E | None:
        t = self._t()
        if kind.uuid_ids:
            id = _uuid(id)
            if id is None:
                return None
        elif not _is_id(id) or (parent_id is not None and not _is_id(parent_id)):
            return None
        parent = None if parent_id is None else str(parent_id)
        return await self._maybe(t.get(kind, str(id), parent))

    async def _served(self, kind: Kind[E], inference_service_id: str | None) -> E | None:
        t = self._t()
        if not _is_id(inference_service_id):
            return None
        return await self._maybe(t.get_by_inference_service(kind, str(inference_service_id)))

    async def _by_params(
        self,
        kind: Kind[E],
        name: str | None,
        external_id: str | None,
        parent_id: str | None = None,
    ) -> E | None:
        t = self._t()
        what = f"get_{kind.name}_by_params"
        name_key, _, parent_key = kind.find_keys
        if parent_key is None:
            if name is None and external_id is None:
                raise ValueError(f"{what}: give {name_key} or external_id")
        elif external_id is None:
            if name is None or parent_id is None:
                raise ValueError(f"{what}: give external_id, or {name_key} and {parent_key}")
            if not _is_id(parent_id):
                return None
        parent = None if parent_id is None else str(parent_id)
        return await self._maybe(t.find(kind, name=name, external_id=external_id, parent_id=parent))

    def _list(
        self,
        kind: Kind[T],
        options: ListOptions | None,
        parent: str | None = None,
        parent_id: str | None = None,
        *,
        required: str | None = None,
        page_only: bool = False,
        artifact_type: ArtifactType | str | None = None,
        runtime: str | None = None,
        **filters: str | None,
    ) -> PageCall[T]:
        """One page of ``kind``; of one parent when ``parent_id`` is given (``required``: the
        method that needs it): then empty, without a request, when the parent does not
        exist. ``page_only``: a list that pages but neither orders nor filters (tokens,
        webhooks): only the page size and page token of ``options`` are sent."""
        opts = options if options is not None else ListOptions()

        async def fetch() -> RawPage[T]:
            t = self._t()
            if required is not None and parent_id is None:
                raise ValueError(f"{required}: give the {parent}_id")
            kind_filter = None if artifact_type is None else str(ArtifactType(artifact_type))
            sent = (
                ListOptions(opts.limit, next_page_token=opts.next_page_token) if page_only else opts
            )
            if runtime is not None:
                # The runtime filter travels inside the request's filterQuery (server-side).
                if '"' in runtime and "'" in runtime:
                    raise ValueError(
                        f"cannot filter on a value with both quote characters: {runtime!r}"
                    )
                quote = "'" if '"' in runtime else '"'
                where = f"runtime = {quote}{runtime}{quote}"
                query = f"({opts.filter_query}) AND {where}" if opts.filter_query else where
                sent = opts.copy(filter_query=query)
            if parent is None or parent_id is None:
                return await t.list(kind, sent, artifact_type=kind_filter, **filters)
            if not _is_id(parent_id):
                return RawPage.empty()
            try:
                return await t.list(
                    kind, sent, parent, str(parent_id), artifact_type=kind_filter, **filters
                )
            except NotFound:
                return RawPage.empty()

        return PageCall(fetch, opts)

    # -- registered models ---------------------------------------------------------------

    async def upsert_registered_model(self, registered_model: RegisteredModel) -> RegisteredModel:
        """Create the registered model (``id`` is ``None``) or update it; return it stored."""
        return await self._upsert(REGISTERED_MODEL, registered_model)

    async def get_registered_model_by_id(self, id: str | None) -> RegisteredModel | None:
        """The registered model with this id, or ``None``."""
        return await self._by_id(REGISTERED_MODEL, id)

    async def get_registered_model_by_inference_service(
        self, inference_service_id: str | None
    ) -> RegisteredModel | None:
        """The registered model an inference service serves, or ``None``."""
        return await self._served(REGISTERED_MODEL, inference_service_id)

    async def get_registered_model_by_params(
        self, name: str | None = None, external_id: str | None = None
    ) -> RegisteredModel | None:
        """The registered model with this name or external id, or ``None``."""
        return await self._by_params(REGISTERED_MODEL, name, external_id)

    def get_registered_models(
        self, options: ListOptions | None = None
    ) -> PageCall[RegisteredModel]:
        """One page of registered models."""
        return self._list(REGISTERED_MODEL, options)

    # -- projects ------------------------------------------------------------------------

    async def upsert_project(self, project: Project) -> Project:
        """Create the project (``id`` is ``None``) or update it; return it stored.

        Projects are an extension of our REST API v1 (and of the gRPC service): over REST
        against a server that serves only v1alpha3, or with ``api_version="v1alpha3"``, this
        raises :class:`~model_registry.exceptions.Unsupported`, as do the other project
        methods.

        Raises:
            Conflict: A project with this name exists.
            BadRequest: ``model_task`` is not one of :data:`~model_registry.types.MODEL_TASKS`.
        """
        return await self._upsert(PROJECT, project)

    async def get_project_by_id(self, id: str | None) -> Project | None:
        """The project with this id (a UUID), or ``None`` (also for a project the token has
        no role in)."""
        return await self._by_id(PROJECT, id)

    async def get_project_by_params(
        self, name: str | None = None, external_id: str | None = None
    ) -> Project | None:
        """The project with this name or external id, or ``None``."""
        return await self._by_params(PROJECT, name, external_id)

    def get_projects(self, options: ListOptions | None = None) -> PageCall[Project]:
        """One page of the projects the caller has a role in (every project with the admin
        token, or when the server runs without authentication)."""
        return self._list(PROJECT, options)

    async def delete_project(self, id: str, *, cascade: bool = False) -> None:
        """Delete a project (the server's admin token only; never ``default``); ``cascade``:
        with everything in it, else one holding anything raises ``Conflict`` naming it."""
        await self._delete(PROJECT, id, cascade)

    # -- tokens --------------------------------------------------------------------------

    async def create_token(
        self,
        subject: str,
        roles: Mapping[str, str],
        expires_time_since_epoch: int | None = None,
    ) -> CreatedToken:
        """Issue a token for ``subject`` with a role per project; its secret is in the answer
        only (needs the admin token, or the ``admin`` role in each project named).

        Tokens are managed through our REST API v1 (an extension) and the gRPC service: over
        REST v1alpha3 this raises :class:`~model_registry.exceptions.Unsupported`.

        Args:
            subject: Who the token is for.
            roles: Project name or id -> ``"reader"``, ``"editor"`` or ``"admin"``; the first
                project is the token's default one (over gRPC it is sent as the request's
                ``default_project``, since a protobuf map keeps no order).
            expires_time_since_epoch: When it stops working (ms since the epoch); ``None``:
                never.

        Raises:
            BadRequest: The server runs without authentication, or a role is unknown.
            Forbidden: The caller may not issue tokens for these projects.
        """
        if not roles:
            raise ValueError("create_token: give at least one project and its role")
        body: dict[str, Any] = {"subject": subject, "roles": dict(roles)}
        body["default_project"] = next(iter(roles))  # REST: the first key; gRPC: named
        if expires_time_since_epoch is not None:
            body["expires_time_since_epoch"] = str(int(expires_time_since_epoch))
        created: CreatedToken = await self._t().call(TOKEN, "create", body=body, required=True)
        return created

    def get_tokens(self, options: ListOptions | None = None) -> PageCall[Token]:
        """One page of the tokens the caller may manage (never their secrets); the page size
        and page token of ``options`` are used, its ordering and filter are not."""
        return self._list(TOKEN, options, page_only=True)

    async def revoke_token(self, id: str) -> None:
        """Revoke the token with this id: it stops working at once.

        Raises:
            NotFound: There is no such token.
        """
        await self._t().call(TOKEN, "revoke", (("id", str(id)),))

    # -- webhooks (the server's admin token only) ----------------------------------------

    async def create_webhook(
        self, url: str, secret: str, events: Sequence[str], description: str | None = None
    ) -> Webhook:
        """Register a webhook: the events of ``events`` (types such as
        ``model_version.created``; ``"*"``: every type) committed from now on are POSTed to
        ``url``, signed with ``secret`` (never shown again).

        Raises:
            BadRequest: A URL the server refuses (not https, a private address), unknown
                event types, an empty secret.
            Forbidden: Not the server's admin token.
        """
        body: dict[str, Any] = {"url": url, "secret": secret, "events": list(events)}
        if description is not None:
            body["description"] = description
        created: Webhook = await self._t().call(WEBHOOK, "create", body=body, required=True)
        return created

    async def get_webhook(self, id: str) -> Webhook | None:
        """The webhook with this id (with its last delivery's status), or ``None``."""
        if not _is_id(id):
            return None
        found: Webhook | None = await self._maybe(
            self._t().call(WEBHOOK, "get", (("id", str(id)),), required=True)
        )
        return found

    def get_webhooks(self, options: ListOptions | None = None) -> PageCall[Webhook]:
        """One page of the webhooks, by id; the page size and page token of ``options`` are
        used, its ordering and filter are not."""
        return self._list(WEBHOOK, options, page_only=True)

    async def delete_webhook(self, id: str) -> None:
        """Remove a webhook and its delivery log.

        Raises:
            NotFound: There is no such webhook.
        """
        await self._delete(WEBHOOK, id)

    def get_webhook_deliveries(
        self, webhook_id: str, options: ListOptions | None = None
    ) -> PageCall[WebhookDelivery]:
        """One page of a webhook's delivery log, newest first (empty for no such webhook);
        the page size and page token of ``options`` are used."""
        return self._list(WEBHOOK_DELIVERY, options, "webhook", webhook_id, page_only=True)

    # -- model versions ------------------------------------------------------------------

    async def upsert_model_version(
        self, model_version: ModelVersion, registered_model_id: str | None = None
    ) -> ModelVersion:
        """Create the version in ``registered_model_id`` (or its own ``registered_model_id``)
        when its ``id`` is ``None``, else update it; return it stored."""
        return await self._upsert(MODEL_VERSION, model_version, registered_model_id)

    async def get_model_version_by_id(self, id: str | None) -> ModelVersion | None:
        """The model version with this id, or ``None``."""
        return await self._by_id(MODEL_VERSION, id)

    async def get_model_version_by_inference_service(
        self, inference_service_id: str | None
    ) -> ModelVersion | None:
        """The version an inference service serves (its ``model_version_id``, else the newest
        version of its model), or ``None``."""
        return await self._served(MODEL_VERSION, inference_service_id)

    async def get_model_version_by_params(
        self,
        registered_model_id: str | None = None,
        version: str | None = None,
        external_id: str | None = None,
    ) -> ModelVersion | None:
        """The version named ``version`` in ``registered_model_id``, or the one with
        ``external_id``; ``None`` when there is none."""
        return await self._by_params(MODEL_VERSION, version, external_id, registered_model_id)

    def get_model_versions(
        self, registered_model_id: str | None, options: ListOptions | None = None
    ) -> PageCall[ModelVersion]:
        """One page of the versions of a registered model (empty when it does not exist)."""
        return self._list(MODEL_VERSION, options, "registered_model", registered_model_id or "")

    # -- artifacts -----------------------------------------------------------------------

    async def upsert_model_version_artifact(
        self, artifact: Artifact, model_version_id: str | None
    ) -> Artifact:
        """Create an artifact of any kind in a model version, or link an existing one (with
        its ``id``); return it stored."""
        return await self._link("model_version", artifact, model_version_id)

    async def upsert_artifact(self, artifact: Artifact) -> Artifact:
        """Create an artifact of any kind (``id`` is ``None``) or update it."""
        return await self._upsert(ARTIFACT, artifact)

    async def get_artifact_by_id(self, id: str | None) -> Artifact | None:
        """The artifact (of any kind) with this id, or ``None``."""
        return await self._by_id(ARTIFACT, id)

    async def get_artifact_by_params(
        self,
        name: str | None = None,
        parent_resource_id: str | None = None,
        external_id: str | None = None,
    ) -> Artifact | None:
        """The artifact named ``name`` in the model version ``parent_resource_id``, or the one
        with ``external_id``; ``None`` when there is none."""
        return await self._by_params(ARTIFACT, name, external_id, parent_resource_id)

    def get_artifacts(
        self,
        artifact_type: ArtifactType | str | None = None,
        options: ListOptions | None = None,
        parent_resource_id: str | None = None,
    ) -> PageCall[Artifact]:
        """One page of artifacts (of one kind when ``artifact_type`` is given), of one model
        version when ``parent_resource_id`` is given."""
        return self._list(
            ARTIFACT, options, "model_version", parent_resource_id, artifact_type=artifact_type
        )

    def get_model_version_artifacts(
        self, model_version_id: str | None, options: ListOptions | None = None
    ) -> PageCall[Artifact]:
        """One page of the artifacts (every kind) of a model version."""
        return self._list(ARTIFACT, options, "model_version", model_version_id or "")

    # -- model artifacts -----------------------------------------------------------------

    async def upsert_model_artifact(
        self, model_artifact: ModelArtifact, model_version_id: str | None = None
    ) -> ModelArtifact:
        """Create the model artifact (in ``model_version_id`` when given) when its ``id`` is
        ``None``, else update it; return it stored."""
        return await self._upsert(MODEL_ARTIFACT, model_artifact, model_version_id, "model_version")

    async def get_model_artifact_by_id(self, id: str | None) -> ModelArtifact | None:
        """The model artifact with this id, or ``None``."""
        return await self._by_id(MODEL_ARTIFACT, id)

    async def get_model_artifact_by_inference_service(
        self, inference_service_id: str | None
    ) -> ModelArtifact | None:
        """The model artifact of the version an inference service serves, or ``None``."""
        return await self._served(MODEL_ARTIFACT, inference_service_id)

    async def get_model_artifact_by_params(
        self,
        name: str | None = None,
        model_version_id: str | None = None,
        external_id: str | None = None,
    ) -> ModelArtifact | None:
        """The model artifact named ``name`` in ``model_version_id``, or the one with
        ``external_id``; ``None`` when there is none."""
        return await self._by_params(MODEL_ARTIFACT, name, external_id, model_version_id)

    def get_model_artifacts(
        self, model_version_id: str | None = None, options: ListOptions | None = None
    ) -> PageCall[ModelArtifact]:
        """One page of model artifacts, of one model version when ``model_version_id`` is
        given."""
        return self._list(MODEL_ARTIFACT, options, "model_version", model_version_id)

    # -- serving environments ------------------------------------------------------------

    async def upsert_serving_environment(
        self, serving_environment: ServingEnvironment
    ) -> ServingEnvironment:
        """Create the serving environment (``id`` is ``None``) or update it."""
        return await self._upsert(SERVING_ENVIRONMENT, serving_environment)

    async def get_serving_environment_by_id(self, id: str | None) -> ServingEnvironment | None:
        """The serving environment with this id, or ``None``."""
        return await self._by_id(SERVING_ENVIRONMENT, id)

    async def get_serving_environment_by_params(
        self, name: str | None = None, external_id: str | None = None
    ) -> ServingEnvironment | None:
        """The serving environment with this name or external id, or ``None``."""
        return await self._by_params(SERVING_ENVIRONMENT, name, external_id)

    def get_serving_environments(
        self, options: ListOptions | None = None
    ) -> PageCall[ServingEnvironment]:
        """One page of serving environments."""
        return self._list(SERVING_ENVIRONMENT, options)

    # -- inference services --------------------------------------------------------------

    async def upsert_inference_service(
        self, inference_service: InferenceService
    ) -> InferenceService:
        """Create the inference service (``id`` is ``None``; its ``serving_environment_id`` and
        ``registered_model_id`` set) or update it."""
        return await self._upsert(INFERENCE_SERVICE, inference_service)

    async def get_inference_service_by_id(self, id: str | None) -> InferenceService | None:
        """The inference service with this id, or ``None``."""
        return await self._by_id(INFERENCE_SERVICE, id)

    async def get_inference_service_by_params(
        self,
        name: str | None = None,
        serving_environment_id: str | None = None,
        external_id: str | None = None,
    ) -> InferenceService | None:
        """The inference service named ``name`` in ``serving_environment_id``, or the one with
        ``external_id``; ``None`` when there is none."""
        return await self._by_params(INFERENCE_SERVICE, name, external_id, serving_environment_id)

    def get_inference_services(
        self,
        options: ListOptions | None = None,
        serving_environment_id: str | None = None,
        runtime: str | None = None,
    ) -> PageCall[InferenceService]:
        """One page of inference services, of one serving environment and/or one runtime."""
        return self._list(
            INFERENCE_SERVICE,
            options,
            "serving_environment",
            serving_environment_id,
            runtime=runtime,
        )

    # -- serve models --------------------------------------------------------------------

    async def upsert_serve_model(
        self, serve_model: ServeModel, inference_service_id: str | None
    ) -> ServeModel:
        """Create the serve model in an inference service (``id`` is ``None``) or update it."""
        return await self._upsert(SERVE_MODEL, serve_model, inference_service_id)

    async def get_serve_model_by_id(
        self, id: str | None, inference_service_id: str | None = None
    ) -> ServeModel | None:
        """The serve model with this id, or ``None``.

        Over REST, which has no endpoint for one serve model, it is looked up with an ``id``
        filter on the serve models of ``inference_service_id`` (or of each inference service in
        turn when that is not given): filtering always happens on the server.
        """
        return await self._by_id(SERVE_MODEL, id, inference_service_id)

    def get_serve_models(
        self, options: ListOptions | None = None, inference_service_id: str | None = None
    ) -> PageCall[ServeModel]:
        """One page of the serve models of an inference service."""
        return self._list(SERVE_MODEL, options, "inference_service", inference_service_id)

    # -- experiments ---------------------------------------------------------------------

    async def upsert_experiment(self, experiment: Experiment) -> Experiment:
        """Create the experiment (``id`` is ``None``) or update it."""
        return await self._upsert(EXPERIMENT, experiment)

    async def get_experiment_by_id(self, id: str | None) -> Experiment | None:
        """The experiment with this id, or ``None``."""
        return await self._by_id(EXPERIMENT, id)

    async def get_experiment_by_params(
        self, name: str | None = None, external_id: str | None = None
    ) -> Experiment | None:
        """The experiment with this name or external id, or ``None``."""
        return await self._by_params(EXPERIMENT, name, external_id)

    def get_experiments(self, options: ListOptions | None = None) -> PageCall[Experiment]:
        """One page of experiments."""
        return self._list(EXPERIMENT, options)

    # -- experiment runs -----------------------------------------------------------------

    async def upsert_experiment_run(
        self, experiment_run: ExperimentRun, experiment_id: str | None = None
    ) -> ExperimentRun:
        """Create the run in ``experiment_id`` (or its own ``experiment_id``) when its ``id``
        is ``None``, else update it; return it stored."""
        return await self._upsert(EXPERIMENT_RUN, experiment_run, experiment_id)

    async def get_experiment_run_by_id(self, id: str | None) -> ExperimentRun | None:
        """The experiment run with this id, or ``None``."""
        return await self._by_id(EXPERIMENT_RUN, id)

    async def get_experiment_run_by_params(
        self,
        name: str | None = None,
        experiment_id: str | None = None,
        external_id: str | None = None,
    ) -> ExperimentRun | None:
        """The run named ``name`` in ``experiment_id``, or the one with ``external_id``;
        ``None`` when there is none."""
        return await self._by_params(EXPERIMENT_RUN, name, external_id, experiment_id)

    def get_experiment_runs(
        self, options: ListOptions | None = None, experiment_id: str | None = None
    ) -> PageCall[ExperimentRun]:
        """One page of experiment runs, of one experiment when ``experiment_id`` is given."""
        return self._list(EXPERIMENT_RUN, options, "experiment", experiment_id)

    async def upsert_experiment_run_artifact(
        self, artifact: Artifact, experiment_run_id: str | None
    ) -> Artifact:
        """Create an artifact in a run, or link an existing one (with its ``id``). A metric is
        also appended to the run's metric history."""
        return await self._link("experiment_run", artifact, experiment_run_id)

    def get_experiment_run_artifacts(
        self,
        artifact_type: ArtifactType | str | None = None,
        options: ListOptions | None = None,
        experiment_run_id: str | None = None,
    ) -> PageCall[Artifact]:
        """One page of the artifacts of an experiment run (of one kind when given)."""
        return self._list(
            ARTIFACT,
            options,
            "experiment_run",
            experiment_run_id,
            required="get_experiment_run_artifacts",
            artifact_type=artifact_type,
        )

    def get_experiment_run_metric_history(
        self,
        name: str | None = None,
        step_ids: Sequence[int] | None = None,
        options: ListOptions | None = None,
        experiment_run_id: str | None = None,
    ) -> PageCall[Metric]:
        """One page of metric history: of one run, or across runs when ``experiment_run_id`` is
        ``None``; only metric ``name`` and steps ``step_ids`` when given."""
        steps = ",".join(str(int(s)) for s in step_ids) if step_ids else None
        return self._list(
            METRIC_HISTORY, options, "experiment_run", experiment_run_id, name=name, step_ids=steps
        )

    # -- change events -------------------------------------------------------------------

    def watch(
        self,
        kinds: str | Iterable[str] | None = None,
        actions: str | Iterable[str] | None = None,
        since: int | str | None = None,
        project: str | None = None,
    ) -> AsyncIterator[Event]:
        """The registry's changes as they commit: ``async for event in client.watch():``.

        Events come in commit order, each with a ``cursor``. The watch reconnects by itself
        (with backoff) when the connection breaks or the server restarts, resuming after the
        last event it yielded, so none is lost or repeated; to resume in another process,
        pass the last ``event.cursor`` you handled as ``since``. The iteration never ends by
        itself: break out of it (or cancel its task) to stop.

        Args:
            kinds: Only these kinds (``"registered_model"``, ``"model_version"``,
                ``"model_artifact"``, ``"model_version_alias"``...); None: every kind.
            actions: Only these actions (``"created"``, ``"updated"``, ``"state_changed"``,
                ``"deleted"``, ``"uploaded"``); None: every action.
            since: Start after this cursor; None: with the changes from now on.
            project: The project to watch (name or id); None: the client's project (see
                ``project=`` of the constructors), else the token's default.

        Raises:
            CursorExpired: ``since`` is older than the events the server keeps.
            BadRequest: An unknown kind or action, or a cursor of another registry.
            Unsupported: The transport cannot stream events.
        """
        cursor = _cursor(since)
        return self._t().watch(cursor, _names(kinds), _names(actions), check_project(project))

    # -- artifact content (our extension) ------------------------------------------------

    async def upload_artifact_content(
        self,
        artifact_id: str,
        path: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> Artifact:
        """Upload a file as the content of an artifact (a model, doc or dataset artifact),
        streamed with flat memory, to the registry's artifact store.

        The registry records the file's SHA-256 and size on the artifact (custom properties
        ``registry.sha256`` and ``registry.size``) and sets its ``uri`` to
        ``model-registry://artifacts/<id>``. Content is set once: the same bytes again are
        accepted, other bytes are a :class:`~model_registry.exceptions.Conflict`.

        Args:
            artifact_id: The artifact (it must exist).
            path: The file.
            progress: ``progress(bytes_sent, bytes_total)`` after each piece.

        Returns:
            The artifact as the registry recorded it.

        Raises:
            Conflict: The artifact has other content already.
            BadRequest: The file is larger than the server accepts (``code`` "Request Entity
                Too Large": REST 413, gRPC RESOURCE_EXHAUSTED;
                nothing was kept), or the artifact is a metric or parameter.
            InvalidResponse: The digest recorded is not the file's.
        """
        return await upload_file(self._transport, artifact_id, path, progress=progress)

    async def download_artifact_content(
        self,
        artifact_id: str,
        dest: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Download the content of an artifact to the file ``dest``, streamed with flat
        memory and checked against the SHA-256 the registry recorded before it is renamed
        into place (a failed download writes nothing at ``dest``).

        Returns:
            ``dest``.

        Raises:
            NotFound: No such artifact, or no content of it in the registry.
            InvalidResponse: The bytes do not match the recorded digest.
        """
        artifact = await self.get_artifact_by_id(artifact_id)
        if artifact is None:
            raise NotFound(f"artifact {artifact_id} not found")
        return await download_file(
            self._transport,
            artifact_id,
            dest,
            expected_sha256=require_content(artifact),
            progress=progress,
        )

    # -- our extensions: aliases ----------------------------------------------------------
    # Not in the Kubeflow Model Registry API: a server without them (the reference) makes
    # these raise Unsupported.

    async def set_model_version_alias(
        self, registered_model_id: str, alias: str, model_version_id: str
    ) -> ModelVersion:
        """Point ``alias`` of a registered model at one of its versions (create or move it).

        Aliases are unique within a model; a version may carry several. Names: 1 to 255
        characters out of ``A-Z a-z 0-9 _ -``; ``latest`` and ``v`` followed by digits are
        reserved.

        Returns:
            The version, with its ``aliases``.

        Raises:
            NotFound: The model or version does not exist.
            BadRequest: A bad or reserved alias, or a version of another model.
            Unsupported: The server has no aliases.
        """
        path = (("registered_model_id", str(registered_model_id)), ("alias", alias))
        body = {"model_version_id": str(model_version_id)}
        found: ModelVersion = await self._t().call(
            MODEL_VERSION, "set_alias", path, body, required=True
        )
        return found

    async def delete_model_version_alias(self, registered_model_id: str, alias: str) -> None:
        """Remove an alias of a registered model (the version stays).

        Raises:
            NotFound: The model does not exist or has no such alias.
            Unsupported: The server has no aliases.
        """
        path = (("registered_model_id", str(registered_model_id)), ("alias", alias))
        await self._t().call(MODEL_VERSION, "delete_alias", path)

    async def get_model_version_by_alias(
        self, registered_model_id: str | None, alias: str
    ) -> ModelVersion | None:
        """The version ``alias`` of a registered model points at, or ``None`` when the alias is
        unset (or the model does not exist).

        Raises:
            Unsupported: The server has no aliases.
        """
        if not _is_id(registered_model_id):
            return None
        path = (("registered_model_id", str(registered_model_id)), ("alias", alias))
        return await self._maybe(self._t().call(MODEL_VERSION, "by_alias", path))

    # -- our extensions: delete -----------------------------------------------------------
    # Each raises NotFound when the entity does not exist (deleting twice included), Conflict
    # naming what is in the way (its own children without ``cascade``; references from outside
    # it always), and Unsupported against a server without delete (the reference).

    async def _delete(
        self, kind: Kind[Any], id: str, cascade: bool = False, parent_id: str | None = None
    ) -> None:
        if not (_uuid(id) if kind.uuid_ids else _is_id(id)):
            raise NotFound(f"no {kind.label} {id!r}")
        await self._t().delete(kind, str(id), cascade=cascade, parent_id=parent_id)

    async def delete_registered_model(self, id: str, *, cascade: bool = False) -> None:
        """Delete a registered model; ``cascade``: with its versions, their artifacts and its
        aliases (in one transaction)."""
        await self._delete(REGISTERED_MODEL, id, cascade)

    async def delete_model_version(self, id: str, *, cascade: bool = False) -> None:
        """Delete a model version; ``cascade``: with its artifacts (one also linked to another
        version is only unlinked) and the aliases pointing at it."""
        await self._delete(MODEL_VERSION, id, cascade)

    async def delete_artifact(self, id: str) -> None:
        """Delete an artifact of any kind (its links to versions and runs go with it)."""
        await self._delete(ARTIFACT, id)

    async def delete_model_artifact(self, id: str) -> None:
        """Delete a model artifact."""
        await self._delete(MODEL_ARTIFACT, id)

    async def delete_serving_environment(self, id: str, *, cascade: bool = False) -> None:
        """Delete a serving environment; ``cascade``: with its inference services and their
        serve models."""
        await self._delete(SERVING_ENVIRONMENT, id, cascade)

    async def delete_inference_service(self, id: str, *, cascade: bool = False) -> None:
        """Delete an inference service; ``cascade``: with its serve models."""
        await self._delete(INFERENCE_SERVICE, id, cascade)

    async def delete_serve_model(self, id: str, inference_service_id: str) -> None:
        """Delete a serve model of an inference service."""
        if not _is_id(inference_service_id):
            raise NotFound(f"no inference service {inference_service_id!r}")
        await self._delete(SERVE_MODEL, id, parent_id=str(inference_service_id))

    async def delete_experiment(self, id: str, *, cascade: bool = False) -> None:
        """Delete an experiment; ``cascade``: with its runs, their artifacts and metric
        history (REST: our extension of the v1alpha3 routes, as v1 has no experiments)."""
        await self._delete(EXPERIMENT, id, cascade)

    async def delete_experiment_run(self, id: str, *, cascade: bool = False) -> None:
        """Delete an experiment run; ``cascade``: with its artifacts and metric history
        (REST: on the v1alpha3 routes)."""
        await self._delete(EXPERIMENT_RUN, id, cascade)


def _names(names: str | Iterable[str] | None) -> tuple[str, ...]:
    if names is None:
        return ()
    if isinstance(names, str):
        names = names.split(",")
    return tuple(n.strip() for n in names if n.strip())


def _cursor(since: int | str | None) -> int | None:
    if since is None:
        return None
    text = str(since).strip()
    if isinstance(since, bool) or not text.isdigit():
        raise ValueError(f"since must be an event cursor (a non-negative integer), not {since!r}")
    return int(text)
