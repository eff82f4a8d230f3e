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
  lookups return ``None`` and lists of its children are empty, without a request.
* ``get_xs(options)`` return a :class:`~model_registry.types.Page` (a list with
  ``next_page_token``) and store that token in ``options.next_page_token``, so calling again
  with the same options reads the next page.
* Everything else that fails raises a :mod:`model_registry.exceptions` class.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

from model_registry.exceptions import ClientClosed, NotFound
from model_registry.transport.auth import TokenSource
from model_registry.transport.base import Transport
from model_registry.transport.policy import (
    DEFAULT_TIMEOUT,
    CallOptions,
    RetryPolicy,
    call_options,
)
from model_registry.types import (
    Artifact,
    ArtifactType,
    Experiment,
    ExperimentRun,
    InferenceService,
    ListOptions,
    Metric,
    ModelArtifact,
    ModelVersion,
    Page,
    RegisteredModel,
    ServeModel,
    ServingEnvironment,
)

__all__ = ["ModelRegistryAPIClient"]

T = TypeVar("T")

_ID = re.compile(r"^[1-9][0-9]{0,8}$")

TransportName = Literal["rest", "grpc"]


def _is_id(value: object) -> bool:
    return value is not None and bool(_ID.match(str(value)))


def _require(what: str, **params: object) -> None:
    if all(value is None for value in params.values()):
        names = " or ".join(params)
        raise ValueError(f"{what}: give {names}")


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
        """
        scheme, host = _split_address(server_address, "http")
        return cls._build(
            scheme, host, port, user_token, transport, timeout, retry, ssl_context=None
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
        """
        _, host = _split_address(server_address, "https")
        if transport == "grpc":
            if not verify:
                raise ValueError("the gRPC transport cannot turn certificate checks off")
            return cls._build(
                "https", host, port, user_token, transport, timeout, retry, custom_ca=custom_ca
            )
        return cls._build(
            "https",
            host,
            port,
            user_token,
            transport,
            timeout,
            retry,
            ssl_context=_ssl_context(custom_ca, verify),
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
        *,
        ssl_context: Any = None,
        custom_ca: Any = None,
    ) -> ModelRegistryAPIClient:
        number = _port_number(port)
        # A bad port is reported on the first call, not here: building a client never fails
        # for what only matters once it talks (and does no I/O).
        shown_port = number if number is not None else 1
        impl: Transport
        if transport == "rest":
            from model_registry.transport.rest import RestTransport

            impl = RestTransport(
                f"{scheme}://{host}:{shown_port}",
                user_token=user_token,
                ssl_context=ssl_context,
                timeout=timeout,
                retry=retry,
            )
        elif transport == "grpc":
            if isinstance(custom_ca, ssl.SSLContext):
                raise ValueError("the gRPC transport takes custom_ca as a PEM file path")
            from model_registry.transport.grpc import GrpcTransport

            impl = GrpcTransport(
                host,
                shown_port,
                secure=scheme == "https",
                custom_ca=custom_ca,
                user_token=user_token,
                timeout=timeout,
                retry=retry,
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
        *, timeout: float | None = None, retry_unsafe: bool | None = None
    ) -> Iterator[CallOptions]:
        """Override the timeout (seconds) and/or the retry consent for POST/PATCH of every call
        made in the block (in this task)::

            with client.call_options(timeout=2):
                await client.get_registered_models()
        """
        with call_options(timeout=timeout, retry_unsafe=retry_unsafe) as opts:
            yield opts

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    async def _maybe(call: Awaitable[T]) -> T | None:
        try:
            return await call
        except NotFound:
            return None

    @staticmethod
    async def _paged(
        options: ListOptions | None, fetch: Callable[[ListOptions], Awaitable[Page[T]]]
    ) -> Page[T]:
        opts = options if options is not None else ListOptions()
        page = await fetch(opts)
        opts.next_page_token = page.next_page_token
        return page

    @classmethod
    async def _child_page(
        cls,
        parent_id: object,
        options: ListOptions | None,
        fetch: Callable[[ListOptions], Awaitable[Page[T]]],
    ) -> Page[T]:
        """A list of a parent's children: empty when the parent does not exist."""
        if not _is_id(parent_id):
            if options is not None:
                options.next_page_token = ""
            return Page()
        try:
            return await cls._paged(options, fetch)
        except NotFound:
            if options is not None:
                options.next_page_token = ""
            return Page()

    @staticmethod
    def _with_filter(options: ListOptions | None, extra: str) -> ListOptions:
        opts = options if options is not None else ListOptions()
        combined = f"({opts.filter_query}) AND {extra}" if opts.filter_query else extra
        return opts.copy(filter_query=combined)

    @staticmethod
    def _quote(value: str) -> str:
        if '"' not in value:
            return f'"{value}"'
        if "'" not in value:
            return f"'{value}'"
        raise ValueError(f"cannot filter on a value with both quote characters: {value!r}")

    # -- registered models ---------------------------------------------------------------

    async def upsert_registered_model(self, registered_model: RegisteredModel) -> RegisteredModel:
        """Create the registered model (``id`` is ``None``) or update it; return it stored."""
        t = self._t()
        if registered_model.id is None:
            return await t.create_registered_model(registered_model)
        return await t.update_registered_model(registered_model)

    async def get_registered_model_by_id(self, id: str | None) -> RegisteredModel | None:
        """The registered model with this id, or ``None``."""
        t = self._t()
        if not _is_id(id):
            return None
        return await self._maybe(t.get_registered_model(str(id)))

    async def get_registered_model_by_inference_service(
        self, inference_service_id: str | None
    ) -> RegisteredModel | None:
        """The registered model an inference service serves, or ``None``."""
        t = self._t()
        if not _is_id(inference_service_id):
            return None
        return await self._maybe(t.get_inference_service_model(str(inference_service_id)))

    async def get_registered_model_by_params(
        self, name: str | None = None, external_id: str | None = None
    ) -> RegisteredModel | None:
        """The registered model with this name or external id, or ``None``."""
        t = self._t()
        _require("get_registered_model_by_params", name=name, external_id=external_id)
        return await self._maybe(t.find_registered_model(name=name, external_id=external_id))

    async def get_registered_models(
        self, options: ListOptions | None = None
    ) -> Page[RegisteredModel]:
        """One page of registered models."""
        t = self._t()
        return await self._paged(options, t.list_registered_models)

    # -- model versions ------------------------------------------------------------------

    async def upsert_model_version(
        self, model_version: ModelVersion, registered_model_id: str | None = None
    ) -> ModelVersion:
        """Create the version in ``registered_model_id`` (or its own ``registered_model_id``)
        when its ``id`` is ``None``, else update it; return it stored."""
        t = self._t()
        if model_version.id is None:
            parent = registered_model_id or model_version.registered_model_id
            if parent is None:
                raise ValueError("upsert_model_version: give the registered_model_id")
            return await t.create_model_version(
                _replace(model_version, registered_model_id=str(parent))
            )
        return await t.update_model_version(model_version)

    async def get_model_version_by_id(self, id: str | None) -> ModelVersion | None:
        """The model version with this id, or ``None``."""
        t = self._t()
        if not _is_id(id):
            return None
        return await self._maybe(t.get_model_version(str(id)))

    async def get_model_version_by_inference_service(
        self, inference_service_id: str | None
    ) -> ModelVersion | None:
        """The version an inference service serves (its ``model_version_id``, else the newest
        version of its model), or ``None``."""
        t = self._t()
        if not _is_id(inference_service_id):
            return None
        return await self._maybe(t.get_inference_service_version(str(inference_service_id)))

    async def get_model_version_by_params(
        self,
        registered_model_id: str | None = None,
        version: str | None = None,
        external_id: str | None = None,
    ) -> ModelVersion | None:
        """The version named ``version`` in ``registered_model_id``, or the one with
        ``external_id``; ``None`` when there is none."""
        t = self._t()
        if external_id is None:
            if version is None or registered_model_id is None:
                raise ValueError(
                    "get_model_version_by_params: give external_id, or version and "
                    "registered_model_id"
                )
            if not _is_id(registered_model_id):
                return None
        return await self._maybe(
            t.find_model_version(
                name=version,
                external_id=external_id,
                registered_model_id=None
                if registered_model_id is None
                else str(registered_model_id),
            )
        )

    async def get_model_versions(
        self, registered_model_id: str | None, options: ListOptions | None = None
    ) -> Page[ModelVersion]:
        """One page of the versions of a registered model (empty when it does not exist)."""
        t = self._t()
        return await self._child_page(
            registered_model_id,
            options,
            lambda o: t.list_model_versions(o, str(registered_model_id)),
        )

    # -- artifacts -----------------------------------------------------------------------

    async def upsert_model_version_artifact(
        self, artifact: Artifact, model_version_id: str | None
    ) -> Artifact:
        """Create an artifact of any kind in a model version, or link an existing one (with
        its ``id``); return it stored."""
        return await self._t().upsert_model_version_artifact(
            artifact, _parent("model_version_id", model_version_id)
        )

    async def upsert_artifact(self, artifact: Artifact) -> Artifact:
        """Create an artifact of any kind (``id`` is ``None``) or update it."""
        t = self._t()
        if artifact.id is None:
            return await t.create_artifact(artifact)
        return await t.update_artifact(artifact)

    async def get_artifact_by_id(self, id: str | None) -> Artifact | None:
        """The artifact (of any kind) with this id, or ``None``."""
        t = self._t()
        if not _is_id(id):
            return None
        return await self._maybe(t.get_artifact(str(id)))

    async def get_artifact_by_params(
        self,
        name: str | None = None,
        parent_resource_id: str | None = None,
        external_id: str | None = None,
    ) -> Artifact | None:
        """The artifact named ``name`` in the model version ``parent_resource_id``, or the one
        with ``external_id``; ``None`` when there is none."""
        t = self._t()
        if external_id is None:
            if name is None or parent_resource_id is None:
                raise ValueError(
                    "get_artifact_by_params: give external_id, or name and parent_resource_id"
                )
            if not _is_id(parent_resource_id):
                return None
        return await self._maybe(
            t.find_artifact(
                name=name,
                external_id=external_id,
                parent_resource_id=None if parent_resource_id is None else str(parent_resource_id),
            )
        )

    async def get_artifacts(
        self,
        artifact_type: ArtifactType | str | None = None,
        options: ListOptions | None = None,
        parent_resource_id: str | None = None,
    ) -> Page[Artifact]:
        """One page of artifacts (of one kind when ``artifact_type`` is given), of one model
        version when ``parent_resource_id`` is given."""
        t = self._t()
        kind = None if artifact_type is None else ArtifactType(artifact_type)
        if parent_resource_id is not None:
            return await self._child_page(
                parent_resource_id,
                options,
                lambda o: t.list_model_version_artifacts(str(parent_resource_id), o, kind),
            )
        return await self._paged(options, lambda o: t.list_artifacts(o, kind))

    async def get_model_version_artifacts(
        self, model_version_id: str | None, options: ListOptions | None = None
    ) -> Page[Artifact]:
        """One page of the artifacts (every kind) of a model version."""
        t = self._t()
        return await self._child_page(
            model_version_id,
            options,
            lambda o: t.list_model_version_artifacts(str(model_version_id), o),
        )

    # -- model artifacts -----------------------------------------------------------------

    async def upsert_model_artifact(
        self, model_artifact: ModelArtifact, model_version_id: str | None = None
    ) -> ModelArtifact:
        """Create the model artifact (in ``model_version_id`` when given) when its ``id`` is
        ``None``, else update it; return it stored."""
        t = self._t()
        if model_artifact.id is not None:
            return await t.update_model_artifact(model_artifact)
        if model_version_id is None:
            return await t.create_model_artifact(model_artifact)
        stored = await t.upsert_model_version_artifact(model_artifact, str(model_version_id))
        return cast(ModelArtifact, stored)

    async def get_model_artifact_by_id(self, id: str | None) -> ModelArtifact | None:
        """The model artifact with this id, or ``None``."""
        t = self._t()
        if not _is_id(id):
            return None
        return await self._maybe(t.get_model_artifact(str(id)))

    async def get_model_artifact_by_inference_service(
        self, inference_service_id: str | None
    ) -> ModelArtifact | None:
        """The model artifact of the version an inference service serves, or ``None``."""
        t = self._t()
        if not _is_id(inference_service_id):
            return None
        return await self._maybe(t.get_inference_service_model_artifact(str(inference_service_id)))

    async def get_model_artifact_by_params(
        self,
        name: str | None = None,
        model_version_id: str | None = None,
        external_id: str | None = None,
    ) -> ModelArtifact | None:
        """The model artifact named ``name`` in ``model_version_id``, or the one with
        ``external_id``; ``None`` when there is none."""
        t = self._t()
        if external_id is None:
            if name is None or model_version_id is None:
                raise ValueError(
                    "get_model_artifact_by_params: give external_id, or name and model_version_id"
                )
            if not _is_id(model_version_id):
                return None
        return await self._maybe(
            t.find_model_artifact(
                name=name,
                external_id=external_id,
                model_version_id=None if model_version_id is None else str(model_version_id),
            )
        )

    async def get_model_artifacts(
        self, model_version_id: str | None = None, options: ListOptions | None = None
    ) -> Page[ModelArtifact]:
        """One page of model artifacts, of one model version when ``model_version_id`` is
        given."""
        t = self._t()
        if model_version_id is None:
            return await self._paged(options, t.list_model_artifacts)
        page = await self._child_page(
            model_version_id,
            options,
            lambda o: t.list_model_version_artifacts(
                str(model_version_id), o, ArtifactType.MODEL_ARTIFACT
            ),
        )
        return cast(Page[ModelArtifact], page)

    # -- serving environments ------------------------------------------------------------

    async def upsert_serving_environment(
        self, serving_environment: ServingEnvironment
    ) -> ServingEnvironment:
        """Create the serving environment (``id`` is ``None``) or update it."""
        t = self._t()
        if serving_environment.id is None:
            return await t.create_serving_environment(serving_environment)
        return await t.update_serving_environment(serving_environment)

    async def get_serving_environment_by_id(self, id: str | None) -> ServingEnvironment | None:
        """The serving environment with this id, or ``None``."""
        t = self._t()
        if not _is_id(id):
            return None
        return await self._maybe(t.get_serving_environment(str(id)))

    async def get_serving_environment_by_params(
        self, name: str | None = None, external_id: str | None = None
    ) -> ServingEnvironment | None:
        """The serving environment with this name or external id, or ``None``."""
        t = self._t()
        _require("get_serving_environment_by_params", name=name, external_id=external_id)
        return await self._maybe(t.find_serving_environment(name=name, external_id=external_id))

    async def get_serving_environments(
        self, options: ListOptions | None = None
    ) -> Page[ServingEnvironment]:
        """One page of serving environments."""
        t = self._t()
        return await self._paged(options, t.list_serving_environments)

    # -- inference services --------------------------------------------------------------

    async def upsert_inference_service(
        self, inference_service: InferenceService
    ) -> InferenceService:
        """Create the inference service (``id`` is ``None``; its ``serving_environment_id`` and
        ``registered_model_id`` set) or update it."""
        t = self._t()
        if inference_service.id is None:
            return await t.create_inference_service(inference_service)
        return await t.update_inference_service(inference_service)

    async def get_inference_service_by_id(self, id: str | None) -> InferenceService | None:
        """The inference service with this id, or ``None``."""
        t = self._t()
        if not _is_id(id):
            return None
        return await self._maybe(t.get_inference_service(str(id)))

    async def get_inference_service_by_params(
        self,
        name: str | None = None,
        serving_environment_id: str | None = None,
        external_id: str | None = None,
    ) -> InferenceService | None:
        """The inference service named ``name`` in ``serving_environment_id``, or the one with
        ``external_id``; ``None`` when there is none."""
        t = self._t()
        if external_id is None:
            if name is None or serving_environment_id is None:
                raise ValueError(
                    "get_inference_service_by_params: give external_id, or name and "
                    "serving_environment_id"
                )
            if not _is_id(serving_environment_id):
                return None
        return await self._maybe(
            t.find_inference_service(
                name=name,
                external_id=external_id,
                serving_environment_id=(
                    None if serving_environment_id is None else str(serving_environment_id)
                ),
            )
        )

    async def get_inference_services(
        self,
        options: ListOptions | None = None,
        serving_environment_id: str | None = None,
        runtime: str | None = None,
    ) -> Page[InferenceService]:
        """One page of inference services, of one serving environment and/or one runtime."""
        t = self._t()
        if runtime is not None:
            # The runtime filter travels inside the request's filterQuery (server-side).
            filtered = self._with_filter(options, f"runtime = {self._quote(runtime)}")
            fetch_opts: ListOptions | None = filtered
        else:
            fetch_opts = options

        async def fetch(o: ListOptions) -> Page[InferenceService]:
            return await t.list_inference_services(
                o, None if serving_environment_id is None else str(serving_environment_id)
            )

        if serving_environment_id is not None:
            page = await self._child_page(serving_environment_id, fetch_opts, fetch)
        else:
            page = await self._paged(fetch_opts, fetch)
        if options is not None and fetch_opts is not options:
            options.next_page_token = page.next_page_token
        return page

    # -- serve models --------------------------------------------------------------------

    async def upsert_serve_model(
        self, serve_model: ServeModel, inference_service_id: str | None
    ) -> ServeModel:
        """Create the serve model in an inference service (``id`` is ``None``) or update it."""
        t = self._t()
        parent = _parent("inference_service_id", inference_service_id)
        if serve_model.id is None:
            return await t.create_serve_model(serve_model, parent)
        return await t.update_serve_model(serve_model, parent)

    async def get_serve_model_by_id(
        self, id: str | None, inference_service_id: str | None = None
    ) -> ServeModel | None:
        """The serve model with this id, or ``None``.

        Over REST, which has no endpoint for one serve model, it is looked up with an ``id``
        filter on the serve models of ``inference_service_id`` (or of each inference service in
        turn when that is not given): filtering always happens on the server.
        """
        t = self._t()
        if not _is_id(id):
            return None
        if inference_service_id is not None and not _is_id(inference_service_id):
            return None
        return await self._maybe(
            t.get_serve_model(
                str(id), None if inference_service_id is None else str(inference_service_id)
            )
        )

    async def get_serve_models(
        self, options: ListOptions | None = None, inference_service_id: str | None = None
    ) -> Page[ServeModel]:
        """One page of the serve models of an inference service."""
        t = self._t()
        if inference_service_id is None:
            return await self._paged(options, lambda o: t.list_serve_models(o, None))
        return await self._child_page(
            inference_service_id,
            options,
            lambda o: t.list_serve_models(o, str(inference_service_id)),
        )

    # -- experiments ---------------------------------------------------------------------

    async def upsert_experiment(self, experiment: Experiment) -> Experiment:
        """Create the experiment (``id`` is ``None``) or update it."""
        t = self._t()
        if experiment.id is None:
            return await t.create_experiment(experiment)
        return await t.update_experiment(experiment)

    async def get_experiment_by_id(self, id: str | None) -> Experiment | None:
        """The experiment with this id, or ``None``."""
        t = self._t()
        if not _is_id(id):
            return None
        return await self._maybe(t.get_experiment(str(id)))

    async def get_experiment_by_params(
        self, name: str | None = None, external_id: str | None = None
    ) -> Experiment | None:
        """The experiment with this name or external id, or ``None``."""
        t = self._t()
        _require("get_experiment_by_params", name=name, external_id=external_id)
        return await self._maybe(t.find_experiment(name=name, external_id=external_id))

    async def get_experiments(self, options: ListOptions | None = None) -> Page[Experiment]:
        """One page of experiments."""
        t = self._t()
        return await self._paged(options, t.list_experiments)

    # -- experiment runs -----------------------------------------------------------------

    async def upsert_experiment_run(
        self, experiment_run: ExperimentRun, experiment_id: str | None = None
    ) -> ExperimentRun:
        """Create the run in ``experiment_id`` (or its own ``experiment_id``) when its ``id``
        is ``None``, else update it; return it stored."""
        t = self._t()
        if experiment_run.id is None:
            parent = experiment_id or experiment_run.experiment_id
            if parent is None:
                raise ValueError("upsert_experiment_run: give the experiment_id")
            return await t.create_experiment_run(
                _replace(experiment_run, experiment_id=str(parent))
            )
        return await t.update_experiment_run(experiment_run)

    async def get_experiment_run_by_id(self, id: str | None) -> ExperimentRun | None:
        """The experiment run with this id, or ``None``."""
        t = self._t()
        if not _is_id(id):
            return None
        return await self._maybe(t.get_experiment_run(str(id)))

    async def get_experiment_run_by_params(
        self,
        name: str | None = None,
        experiment_id: str | None = None,
        external_id: str | None = None,
    ) -> ExperimentRun | None:
        """The run named ``name`` in ``experiment_id``, or the one with ``external_id``;
        ``None`` when there is none."""
        t = self._t()
        if external_id is None:
            if name is None or experiment_id is None:
                raise ValueError(
                    "get_experiment_run_by_params: give external_id, or name and experiment_id"
                )
            if not _is_id(experiment_id):
                return None
        return await self._maybe(
            t.find_experiment_run(
                name=name,
                external_id=external_id,
                experiment_id=None if experiment_id is None else str(experiment_id),
            )
        )

    async def get_experiment_runs(
        self, options: ListOptions | None = None, experiment_id: str | None = None
    ) -> Page[ExperimentRun]:
        """One page of experiment runs, of one experiment when ``experiment_id`` is given."""
        t = self._t()
        if experiment_id is None:
            return await self._paged(options, lambda o: t.list_experiment_runs(o))
        return await self._child_page(
            experiment_id, options, lambda o: t.list_experiment_runs(o, str(experiment_id))
        )

    async def upsert_experiment_run_artifact(
        self, artifact: Artifact, experiment_run_id: str | None
    ) -> Artifact:
        """Create an artifact in a run, or link an existing one (with its ``id``). A metric is
        also appended to the run's metric history."""
        return await self._t().upsert_experiment_run_artifact(
            artifact, _parent("experiment_run_id", experiment_run_id)
        )

    async def get_experiment_run_artifacts(
        self,
        artifact_type: ArtifactType | str | None = None,
        options: ListOptions | None = None,
        experiment_run_id: str | None = None,
    ) -> Page[Artifact]:
        """One page of the artifacts of an experiment run (of one kind when given)."""
        t = self._t()
        if experiment_run_id is None:
            raise ValueError("get_experiment_run_artifacts: give the experiment_run_id")
        kind = None if artifact_type is None else ArtifactType(artifact_type)
        return await self._child_page(
            experiment_run_id,
            options,
            lambda o: t.list_experiment_run_artifacts(str(experiment_run_id), o, kind),
        )

    async def get_experiment_run_metric_history(
        self,
        name: str | None = None,
        step_ids: Sequence[int] | None = None,
        options: ListOptions | None = None,
        experiment_run_id: str | None = None,
    ) -> Page[Metric]:
        """One page of metric history: of one run, or across runs when ``experiment_run_id`` is
        ``None``; only metric ``name`` and steps ``step_ids`` when given."""
        t = self._t()
        steps = None if step_ids is None else [int(s) for s in step_ids]

        def fetch(o: ListOptions) -> Awaitable[Page[Metric]]:
            return t.list_metric_history(
                o,
                experiment_run_id=None if experiment_run_id is None else str(experiment_run_id),
                name=name,
                step_ids=steps,
            )

        if experiment_run_id is None:
            return await self._paged(options, fetch)
        return await self._child_page(experiment_run_id, options, fetch)


def _replace(entity: T, **changes: Any) -> T:
    import dataclasses

    return cast(T, dataclasses.replace(cast(Any, entity), **changes))
