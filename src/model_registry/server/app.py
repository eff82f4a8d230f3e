"""The server process: app factory, health endpoints, ``run_server`` and graceful stop."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import logging
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractResolver

from model_registry.server.apidocs import add_doc_routes, public_doc_paths
from model_registry.server.artifacts import ArtifactStore, default_store_uri, open_artifact_store
from model_registry.server.auth import RequestAuth, TokenAuthenticator
from model_registry.server.backfill import AnswerFill
from model_registry.server.connections import ConnectionLimits, GuardedSite, fitting_max_connections
from model_registry.server.deferred import UNREACHABLE_ERRORS, DeferredStore
from model_registry.server.events import DEFAULT_RETENTION_SECONDS
from model_registry.server.metrics import CONTENT_TYPE, Metrics, store_gauges
from model_registry.server.observability import (
    ACCESS_LOG_FORMATS,
    CallObserver,
    observe_middleware,
)
from model_registry.server.ratelimit import RateLimit, RateLimiter
from model_registry.server.rest import (
    MAX_BODY_KEY,
    SERVICE_KEY,
    access_middleware,
    add_routes,
    error_middleware,
    error_response,
    json_response,
    rate_limit_middleware,
    sunset_middleware,
)
from model_registry.server.rime import add_rime_routes
from model_registry.server.service import RegistryService
from model_registry.server.store import Store, normalize_database_url
from model_registry.server.store.engine import DEFAULT_STATEMENT_TIMEOUT
from model_registry.server.sweep import DEFAULT_GRACE_SECONDS, DEFAULT_INTERVAL_SECONDS
from model_registry.server.tls import ServerTLS, load_server_tls
from model_registry.server.ui import UI_PREFIX, is_ui_request, setup_ui, wants_html
from model_registry.server.versions import (
    DEFAULT_API_VERSIONS,
    V1,
    V1ALPHA3,
    AlphaSunset,
    parse_api_versions,
)
from model_registry.server.webhooks import WebhookDispatcher, WebhookPolicy

log = logging.getLogger("model_registry.server")

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest request body accepted by default; a larger one is a 413."""

MAX_REQUEST_LINE_BYTES = 64 * 1024
"""Longest request line (method, path and query) or header the HTTP layer parses."""

METRICS_PATH = "/metrics"
"""The Prometheus metrics (with auth on, they need a token unless ``metrics_public``)."""

METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)


@dataclass(frozen=True)
class RunningServer:
    """A started server.

    Attributes:
        url: ``http://host:port`` (``https://`` with TLS) of the REST API, without the base
            path.
        host: The listening host.
        port: The REST port (the real one when 0 was asked).
        grpc_port: The gRPC port, or None when gRPC is off.
        database_url: The database the server uses.
        service: The service behind both front doors (for tests that inspect state).
        api_versions: The API versions served (``"v1"``, ``"v1alpha3"``), REST and gRPC.
        artifact_store: The location of the artifact content store (``file://`` or ``s3://``).
    """

    url: str
    host: str
    port: int
    grpc_port: int | None
    database_url: str
    service: RegistryService
    api_versions: tuple[str, ...] = DEFAULT_API_VERSIONS
    artifact_store: str | None = None


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    if await request.app[SERVICE_KEY].ready():
        return json_response({"status": "ready"})
    return error_response(503, "database not ready")


async def _metrics(request: web.Request) -> web.Response:
    text = request.app[METRICS_KEY].render()
    return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})


def public_paths(versions: Iterable[str], *, metrics_public: bool = False) -> frozenset[str]:
    """The paths answered without a token when auth is on: the probes, the API documents and
    their page (the published API, nothing of this deployment), and ``/metrics`` when
    ``metrics_public`` (docs/security.md)."""
    paths = {"/healthz", "/readyz"} | public_doc_paths(versions)
    if metrics_public:
        paths.add(METRICS_PATH)
    return frozenset(paths)


async def _root(request: web.Request) -> web.Response:
    if wants_html(request):
        raise web.HTTPFound(f"{UI_PREFIX}/models")  # a browser: to the web UI
    return error_response(404, "not found")


def create_app(
    service: RegistryService,
    *,
    auth_tokens: Collection[str] | None = None,
    auth: TokenAuthenticator | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    rate_limiter: RateLimiter | None = None,
    api_versions: Iterable[str] = DEFAULT_API_VERSIONS,
    alpha_sunset_date: date | None = None,
    metrics: Metrics | None = None,
    metrics_public: bool = False,
    access_log: bool = False,
) -> web.Application:
    """Build the aiohttp application serving the REST API over ``service``.

    Args:
        service: The registry service.
        auth_tokens: When given, API calls need ``Authorization: Bearer`` with one of these.
        auth: An authenticator to use instead of ``auth_tokens`` (e.g. one with a token file).
        max_body_bytes: The largest request body accepted; a larger one is a 413.
        rate_limiter: Limit each caller's request rate (by token with auth on, else by client
            address); None: no limit.
        api_versions: The REST API versions to serve (``"v1"``, ``"v1alpha3"``); the other
            prefix answers 404.
        alpha_sunset_date: When given, every v1alpha3 answer carries ``Deprecation``,
            ``Sunset`` (this day) and, where v1 has the same route, a successor ``Link``.
        metrics: Count and time every request into these, served at ``/metrics`` (a new
            registry when None).
        metrics_public: Serve ``/metrics`` without a token also with auth on.
        access_log: Log one JSON line per request (``model_registry.access``).

    Returns:
        The application (not yet running).

    Raises:
        ValueError: An unknown or repeated API version, none at all, or a sunset date for
            v1alpha3 while it is not served.
    """
    versions = check_api_versions(api_versions, alpha_sunset_date)
    if metrics is None:
        metrics = Metrics(_service_gauges(service))
    middlewares: list[Any] = [error_middleware]
    if alpha_sunset_date is not None:
        # Outermost, so the error bodies the error middleware writes carry the headers too.
        middlewares.insert(
            0, sunset_middleware(AlphaSunset.on(alpha_sunset_date), successor=V1 in versions)
        )
    if auth is None and auth_tokens:
        auth = TokenAuthenticator(auth_tokens)
    # Outermost of all: it sees every answer, the sunset headers' and the refusals' included.
    middlewares.insert(0, observe_middleware(metrics, access_log=access_log))
    if auth is not None:
        service.auth_on = True
    # The UI's pages check their own sign-in cookie (and send a browser to the login page);
    # the API documents and their page are public, /metrics when asked.
    open_paths = public_paths(versions, metrics_public=metrics_public)

    def exempt(request: web.Request) -> bool:
        return request.path in open_paths or is_ui_request(request)

    access = RequestAuth(service, auth)
    middlewares.append(access_middleware(access, exempt=exempt))
    if rate_limiter is not None:
        middlewares.append(rate_limit_middleware(rate_limiter, by_token=auth is not None))
    app = web.Application(middlewares=middlewares, client_max_size=max_body_bytes)
    app[SERVICE_KEY] = service
    app[MAX_BODY_KEY] = max_body_bytes
    app[METRICS_KEY] = metrics
    app.router.add_get("/", _root, allow_head=False)
    app.router.add_get("/healthz", _healthz, allow_head=False)
    app.router.add_get("/readyz", _readyz, allow_head=False)
    app.router.add_get(METRICS_PATH, _metrics, allow_head=False)
    add_routes(app, versions)
    add_doc_routes(app, versions)
    add_rime_routes(app)
    setup_ui(app, access=access)
    return app


def _service_gauges(service: RegistryService) -> Any:
    """The store's pool gauges, read when scraped (the service may not be set up yet)."""

    def read() -> Any:
        return store_gauges(service.store)()

    return read


def check_api_versions(
    api_versions: Iterable[str], alpha_sunset_date: date | None = None
) -> tuple[str, ...]:
    """Validate the API versions to serve and the v1alpha3 sunset date together.

    Returns:
        The version names, in order.

    Raises:
        ValueError: As :func:`create_app` says.
    """
    versions = parse_api_versions(api_versions)
    if alpha_sunset_date is not None and V1ALPHA3 not in versions:
        raise ValueError("a v1alpha3 sunset date needs v1alpha3 among the served API versions")
    return versions


async def _open_store(database_url: str, statement_timeout: float) -> Store | DeferredStore:
    """Open the store; a PostgreSQL database that cannot be reached yet is waited for.

    SQLite opens a local file: failing to is a configuration error and stops the start.
    """
    try:
        return await Store.open(database_url, statement_timeout=statement_timeout)
    except UNREACHABLE_ERRORS as exc:
        if normalize_database_url(database_url).get_backend_name() == "sqlite":
            raise
        log.warning("database not reachable at start, answering 503 until it is: %s", exc)
    deferred = DeferredStore(database_url, statement_timeout=statement_timeout)
    deferred.start()
    return deferred


def open_store_of(database_url: str, uri: str | None, s3_endpoint_url: str | None) -> ArtifactStore:
    """Open the artifact store ``uri`` names, or the default one of the database (what
    ``serve`` and ``sweep-artifacts`` use)."""
    if uri is None:
        uri, local_to_replica = default_store_uri(database_url)
        if local_to_replica:
            log.warning(
                "artifact content goes to %s, a folder of this machine: several replicas of "
                "the server need a shared store (--artifact-store s3://bucket/prefix)",
                uri,
            )
    return open_artifact_store(uri, s3_endpoint_url=s3_endpoint_url)


def _grpc_available() -> bool:
    return importlib.util.find_spec("model_registry.server.grpc") is not None


async def _start_grpc(
    service: RegistryService,
    host: str,
    port: int,
    auth: TokenAuthenticator | None,
    tls: ServerTLS | None,
    max_body_bytes: int,
    limits: ConnectionLimits,
    rate_limiter: RateLimiter | None,
    api_versions: tuple[str, ...],
    observer: CallObserver,
) -> tuple[Any, int] | None:
    if not _grpc_available():
        log.warning("gRPC requested but model_registry.server.grpc is not available")
        return None
    from model_registry.server import grpc as grpc_front

    server, bound = await grpc_front.start_grpc_server(
        service,
        host,
        port,
        tls=tls.grpc if tls is not None else None,
        auth=auth,
        max_message_bytes=max_body_bytes,
        limits=limits,
        rate_limiter=rate_limiter,
        api_versions=api_versions,
        observer=observer,
    )
    return server, int(bound)


@contextlib.asynccontextmanager
async def run_server(
    database_url: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    grpc_port: int | None = None,
    auth_tokens: Collection[str] | None = None,
    auth_token_file: str | os.PathLike[str] | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    connection_limits: ConnectionLimits | None = None,
    rate_limit: RateLimit | None = None,
    api_versions: Iterable[str] = DEFAULT_API_VERSIONS,
    alpha_sunset_date: date | None = None,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    event_retention: float = DEFAULT_RETENTION_SECONDS,
    webhook_allow_http: bool = False,
    webhook_allow_private: bool = False,
    webhook_resolver: AbstractResolver | None = None,
    access_log: str = "off",
    metrics_public: bool = False,
    artifact_store: str | None = None,
    s3_endpoint_url: str | None = None,
    max_artifact_bytes: int | None = None,
    artifact_sweep_interval: float = DEFAULT_INTERVAL_SECONDS,
    artifact_sweep_grace: float = DEFAULT_GRACE_SECONDS,
) -> AsyncIterator[RunningServer]:
    """Run the registry server for the duration of an ``async with`` block.

    Args:
        database_url: ``sqlite:///path`` or ``postgresql://...``; None makes a fresh SQLite
            file in a temporary directory (removed afterwards).
        host: The address to listen on.
        port: The REST port; 0 picks a free one (read it back from ``.port``).
        grpc_port: The gRPC port (0 picks one), or None for no gRPC.
        auth_tokens: When given, API calls (REST and gRPC, all but the health checks) need
            one of these bearer tokens.
        auth_token_file: A file of accepted tokens, one per line (blank lines and ``#``
            comments ignored), read again whenever it changes; adds to ``auth_tokens``.
        tls_cert: A PEM certificate chain: serve REST and gRPC over TLS (needs ``tls_key``).
        tls_key: The PEM private key of ``tls_cert``.
        max_body_bytes: The largest REST body / gRPC message accepted (larger: 413 /
            RESOURCE_EXHAUSTED).
        connection_limits: Header deadline, keep-alive timeout and connection caps (see
            :class:`~model_registry.server.connections.ConnectionLimits`; defaults when None).
        rate_limit: A request-rate limit per caller (token, or address with auth off);
            None (the default): no limit.
        api_versions: The API versions to serve, over REST (the routes of each) and gRPC (the
            registry service of each: ``model_registry.v1`` and ``model_registry.v1alpha3``);
            default both ``v1`` and ``v1alpha3``.
        alpha_sunset_date: The day v1alpha3 goes away: its answers then carry
            ``Deprecation``, ``Sunset`` and successor ``Link`` headers.
        statement_timeout: Seconds a database statement may run; over it a filtered read is
            a 400 ("too expensive"), anything else a 503.
        event_retention: Seconds change events are kept (older ones are pruned now and then).
        webhook_allow_http: Accept ``http`` webhook URLs (else only ``https``).
        webhook_allow_private: Deliver webhooks to loopback, link-local and private addresses.
        webhook_resolver: The DNS resolver of webhook deliveries (tests inject one).
        access_log: ``"json"``: one JSON line per REST request and gRPC call on the logger
            ``model_registry.access``; ``"off"`` (the default): none.
        metrics_public: Serve ``/metrics`` without a token also with auth on.
        artifact_store: Where uploaded artifact content goes: ``file:///path`` (or a plain
            path) or ``s3://bucket/prefix``. None: a folder ``artifacts`` beside the SQLite
            file; with PostgreSQL, ``./artifacts`` in the working directory (logged as a
            warning: several replicas need a shared store).
        s3_endpoint_url: The S3 service's URL for an ``s3://`` store when it is not AWS's.
        max_artifact_bytes: The largest artifact content an upload may send (None: no limit).
        artifact_sweep_interval: Seconds between sweeps of the artifact store (content no
            artifact names is removed; :mod:`model_registry.server.sweep`); 0: none.
        artifact_sweep_grace: Seconds an upload's pin keeps its content from the sweep.

    A PostgreSQL database that cannot be reached at start does not stop the start: the server
    answers 503 (gRPC: UNAVAILABLE, health NOT_SERVING) until it has connected.

    Yields:
        The running server.

    Raises:
        ValueError: Bad TLS files, only one of them, auth on without any token, or bad
            API versions (see :func:`create_app`).
        OSError: The token file cannot be read or an address cannot be bound.
    """
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("TLS needs both a certificate and a key")
    versions = check_api_versions(api_versions, alpha_sunset_date)
    if access_log not in ACCESS_LOG_FORMATS:
        raise ValueError(f"access_log must be one of {', '.join(ACCESS_LOG_FORMATS)}")
    tls = load_server_tls(tls_cert, tls_key) if tls_cert and tls_key else None
    auth: TokenAuthenticator | None = None
    if auth_tokens or auth_token_file is not None:
        auth = TokenAuthenticator(auth_tokens or (), auth_token_file)
    limits = connection_limits or ConnectionLimits()
    limits = dataclasses.replace(
        limits, max_connections=fitting_max_connections(limits.max_connections)
    )
    limiter = RateLimiter(rate_limit) if rate_limit is not None else None
    with contextlib.ExitStack() as stack:
        if database_url is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="model-registry-"))
            database_url = f"sqlite:///{Path(tmp) / 'registry.db'}"
        store = await _open_store(database_url, statement_timeout)
        try:
            artifacts = open_store_of(database_url, artifact_store, s3_endpoint_url)
            service = RegistryService(
                store,  # type: ignore[arg-type]  # a DeferredStore too
                artifacts=artifacts,
                max_artifact_bytes=max_artifact_bytes,
                content_grace=artifact_sweep_grace,
            )
            metrics = Metrics(_service_gauges(service))
            app = create_app(
                service,
                metrics=metrics,
                metrics_public=metrics_public,
                access_log=access_log == "json",
                auth=auth,
                max_body_bytes=max_body_bytes,
                rate_limiter=limiter,
                api_versions=versions,
                alpha_sunset_date=alpha_sunset_date,
            )
            handler_options: dict[str, Any] = {
                "access_log": None,
                # Long filters and page tokens must reach the handlers (which refuse them with
                # the error body); beyond these the HTTP layer itself answers a 400.
                "max_line_size": MAX_REQUEST_LINE_BYTES,
                "max_field_size": MAX_REQUEST_LINE_BYTES,
            }
            runner = web.AppRunner(
                app,
                handle_signals=False,
                shutdown_timeout=5.0,
                # A request whose client went away is cancelled, and its database statement
                # with it (PostgreSQL gets a cancel; a SQLite heavy read is interrupted).
                handler_cancellation=True,
                **handler_options,
            )
            await runner.setup()
            grpc_server: Any = None
            dispatcher: WebhookDispatcher | None = None
            # Rows written without a kept answer (before migration 0010, or under another
            # rendering) get one in the background: their pages take the slow path until then.
            answer_fill = AnswerFill(store)
            try:
                sock = socket.socket(
                    socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
                )
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    sock.close()
                    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                    raise OSError(
                        exc.errno, f"cannot listen for REST on {where}: {exc.strerror or exc}"
                    ) from None
                site = GuardedSite(
                    runner,
                    sock,
                    limits=limits,
                    handler_options=handler_options,
                    ssl_context=tls.ssl_context if tls is not None else None,
                )
                await site.start()
                bound_port = int(sock.getsockname()[1])
                bound_grpc: int | None = None
                if grpc_port is not None:
                    observer = CallObserver(metrics, access_log=access_log == "json")
                    started = await _start_grpc(
                        service,
                        host,
                        grpc_port,
                        auth,
                        tls,
                        max_body_bytes,
                        limits,
                        limiter,
                        versions,
                        observer,
                    )
                    if started is not None:
                        grpc_server, bound_grpc = started
                service.events.start_pruning(event_retention)
                if service.sweeper is not None:
                    service.sweeper.start(artifact_sweep_interval)
                service.webhooks.policy = WebhookPolicy(
                    allow_http=webhook_allow_http,
                    allow_private=webhook_allow_private,
                    resolver=webhook_resolver,
                )
                dispatcher = WebhookDispatcher(
                    store,  # type: ignore[arg-type]  # a DeferredStore too
                    service.events,
                    service.webhooks.policy,
                )
                dispatcher.start()
                answer_fill.start()
                url_host = f"[{host}]" if ":" in host else host
                scheme = "https" if tls is not None else "http"
                yield RunningServer(
                    url=f"{scheme}://{url_host}:{bound_port}",
                    host=host,
                    port=bound_port,
                    grpc_port=bound_grpc,
                    database_url=database_url,
                    service=service,
                    api_versions=versions,
                    artifact_store=artifacts.uri,
                )
            finally:
                await answer_fill.close()
                # The watches end first, so their streams do not hold the stop up.
                if dispatcher is not None:
                    await dispatcher.close()
                await service.events.close()
                if service.sweeper is not None:
                    await service.sweeper.close()
                if grpc_server is not None:
                    await grpc_server.stop(grace=2.0)
                await runner.cleanup()
                await artifacts.close()
        finally:
            await store.close()
