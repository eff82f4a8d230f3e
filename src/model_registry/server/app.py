"""The server process: app factory, health endpoints, ``run_server`` and graceful stop."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import socket
import tempfile
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from model_registry.server.rest import (
    SERVICE_KEY,
    add_routes,
    auth_middleware,
    error_middleware,
    error_response,
)
from model_registry.server.service import RegistryService
from model_registry.server.store import Store

log = logging.getLogger("model_registry.server")

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest request body accepted; a larger one is a 413."""


@dataclass(frozen=True)
class RunningServer:
    """A started server.

    Attributes:
        url: ``http://host:port`` of the REST API (without the base path).
        host: The listening host.
        port: The REST port (the real one when 0 was asked).
        grpc_port: The gRPC port, or None when gRPC is off.
        database_url: The database the server uses.
        service: The service behind both front doors (for tests that inspect state).
    """

    url: str
    host: str
    port: int
    grpc_port: int | None
    database_url: str
    service: RegistryService


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    if await request.app[SERVICE_KEY].ready():
        return web.json_response({"status": "ready"})
    return error_response(503, "database not ready")


async def _root(request: web.Request) -> web.Response:
    return error_response(404, "not found")


def create_app(
    service: RegistryService, *, auth_tokens: Collection[str] | None = None
) -> web.Application:
    """Build the aiohttp application serving the REST API over ``service``.

    Args:
        service: The registry service.
        auth_tokens: When given, API calls need ``Authorization: Bearer`` with one of these.

    Returns:
        The application (not yet running).
    """
    middlewares: list[Any] = [error_middleware]
    if auth_tokens:
        middlewares.append(auth_middleware(auth_tokens))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[SERVICE_KEY] = service
    app.router.add_get("/", _root, allow_head=False)
    app.router.add_get("/healthz", _healthz, allow_head=False)
    app.router.add_get("/readyz", _readyz, allow_head=False)
    add_routes(app)
    return app


def _grpc_available() -> bool:
    return importlib.util.find_spec("model_registry.server.grpc") is not None


async def _start_grpc(
    service: RegistryService, host: str, port: int, auth_tokens: Collection[str] | None
) -> tuple[Any, int] | None:
    if not _grpc_available():
        log.warning("gRPC requested but model_registry.server.grpc is not available")
        return None
    from model_registry.server import grpc as grpc_front

    server, bound = await grpc_front.start_grpc_server(service, host, port, auth_tokens=auth_tokens)
    return server, int(bound)


@contextlib.asynccontextmanager
async def run_server(
    database_url: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    grpc_port: int | None = None,
    auth_tokens: Collection[str] | None = None,
) -> AsyncIterator[RunningServer]:
    """Run the registry server for the duration of an ``async with`` block.

    Args:
        database_url: ``sqlite:///path`` or ``postgresql://...``; None makes a fresh SQLite
            file in a temporary directory (removed afterwards).
        host: The address to listen on.
        port: The REST port; 0 picks a free one (read it back from ``.port``).
        grpc_port: The gRPC port (0 picks one), or None for no gRPC.
        auth_tokens: When given, API calls need one of these bearer tokens.

    Yields:
        The running server.
    """
    with contextlib.ExitStack() as stack:
        if database_url is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="model-registry-"))
            database_url = f"sqlite:///{Path(tmp) / 'registry.db'}"
        store = await Store.open(database_url)
        try:
            service = RegistryService(store)
            app = create_app(service, auth_tokens=auth_tokens)
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
            await runner.setup()
            grpc_server: Any = None
            try:
                sock = socket.socket(
                    socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
                )
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                site = web.SockSite(runner, sock)
                await site.start()
                bound_port = int(sock.getsockname()[1])
                bound_grpc: int | None = None
                if grpc_port is not None:
                    started = await _start_grpc(service, host, grpc_port, auth_tokens)
                    if started is not None:
                        grpc_server, bound_grpc = started
                url_host = f"[{host}]" if ":" in host else host
                yield RunningServer(
                    url=f"http://{url_host}:{bound_port}",
                    host=host,
                    port=bound_port,
                    grpc_port=bound_grpc,
                    database_url=database_url,
                    service=service,
                )
            finally:
                if grpc_server is not None:
                    await grpc_server.stop(grace=2.0)
                await runner.cleanup()
        finally:
            await store.close()
