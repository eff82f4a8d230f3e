"""``model-registry serve``: run the registry server until SIGINT/SIGTERM.

A click command, added to the ``model-registry`` group (:mod:`model_registry.cli`) when it is
asked for. To add an option: one ``@click.option`` on :func:`serve`. An option whose
parameter name is a keyword of :func:`~model_registry.server.app.run_server` goes to it as it
is (it lands in ``run_options``); any other needs a named parameter of :func:`serve` and a line
in :func:`_serve` saying what it does.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from model_registry._eventloop import LOOP_CHOICES, resolve_loop, run_on_loop
from model_registry.server.app import MAX_BODY_BYTES, run_server

__all__ = ["LOOP_ENV", "TOKEN_ENV", "serve"]

TOKEN_ENV = "MODEL_REGISTRY_AUTH_TOKEN"
"""Environment variable holding one accepted bearer token."""

LOOP_ENV = "MODEL_REGISTRY_LOOP"
"""Environment variable choosing the event loop (``auto``, ``asyncio`` or ``uvloop``) when
``--loop`` is not given."""

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=f"Any token option turns bearer tokens on for every call but the health checks; "
    f"${TOKEN_ENV} adds one token too.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=int, default=8080, show_default=True, help="REST port (0: any free port)."
)
@click.option(
    "--grpc-port", type=int, default=9090, show_default=True, help="gRPC port (0: any free port)."
)
@click.option("--no-grpc", is_flag=True, help="Serve REST only.")
@click.option(
    "--database-url",
    default="sqlite:///./registry.db",
    show_default=True,
    help="sqlite:///path/to/file.db or postgresql://user@host:port/db.",
)
@click.option(
    "--log-level",
    type=click.Choice(_LOG_LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Logging level.",
)
@click.option(
    "--auth-token-file",
    metavar="PATH",
    help="File of accepted tokens, one per line (# comments); re-read when it changes.",
)
@click.option(
    "--auth-token",
    metavar="TOKEN",
    multiple=True,
    help="An accepted token (repeatable; visible in the process list, prefer the file).",
)
@click.option("--tls-cert", metavar="PATH", help="PEM certificate chain: serve over TLS.")
@click.option("--tls-key", metavar="PATH", help="PEM private key of the certificate.")
@click.option(
    "--loop",
    type=click.Choice(LOOP_CHOICES),
    default=None,
    help=f"Event loop: uvloop when installed (auto, the default; or ${LOOP_ENV}), "
    "or asyncio's own.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=MAX_BODY_BYTES,
    show_default=True,
    help="Largest request body / gRPC message accepted.",
)
def serve(
    *,
    grpc_port: int,
    no_grpc: bool,
    log_level: str,
    auth_token: tuple[str, ...],
    loop: str | None,
    **run_options: Any,
) -> None:
    """Run the model registry server (REST API v1alpha3, optional gRPC)."""
    if (run_options["tls_cert"] is None) != (run_options["tls_key"] is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    try:
        kind = resolve_loop(loop or os.environ.get(LOOP_ENV, "").strip().lower() or "auto")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    tokens = list(auth_token)
    if os.environ.get(TOKEN_ENV, "").strip():
        tokens.append(os.environ[TOKEN_ENV])
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        run_on_loop(
            _serve(grpc_port=None if no_grpc else grpc_port, auth_tokens=tokens, **run_options),
            kind,
        )
    except (OSError, ValueError, SQLAlchemyError) as exc:
        click.echo(f"model-registry serve: {exc}", err=True)
        raise click.exceptions.Exit(1) from None


async def _serve(**run_options: Any) -> None:
    """Serve until SIGINT/SIGTERM: ``run_options`` are :func:`run_server`'s keywords."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with run_server(**run_options) as srv:
        grpc = f", gRPC on {srv.host}:{srv.grpc_port}" if srv.grpc_port is not None else ""
        authenticated = run_options["auth_tokens"] or run_options["auth_token_file"]
        auth = ", bearer tokens required" if authenticated else ""
        # Named from the running loop itself, so the line tells what really serves.
        kind = "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
        # Everything alive now (modules, the app, compiled statements) lives as long as the
        # process: kept out of the collector's full passes, which otherwise walk it again and
        # again while a page of 1,000 items is built (about a quarter of a page's CPU).
        gc.collect()
        gc.freeze()
        print(f"model-registry serving on {srv.url}{grpc}{auth}, event loop {kind}", flush=True)
        await stop.wait()
        print("model-registry stopping", flush=True)
