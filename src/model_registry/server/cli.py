"""``model-registry serve``: run the registry server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from model_registry.server.app import MAX_BODY_BYTES, run_server

TOKEN_ENV = "MODEL_REGISTRY_AUTH_TOKEN"
"""Environment variable holding one accepted bearer token."""

LOOP_ENV = "MODEL_REGISTRY_LOOP"
"""Environment variable choosing the event loop (``auto``, ``asyncio`` or ``uvloop``) when
``--loop`` is not given."""

LOOP_CHOICES = ("auto", "asyncio", "uvloop")
"""The values of ``--loop``: ``auto`` is uvloop when it is installed, else asyncio's own."""


def uvloop_available() -> bool:
    """Whether uvloop can be imported (it is in the ``server`` extra; not on Windows)."""
    return importlib.util.find_spec("uvloop") is not None


def resolve_loop(choice: str) -> str:
    """The event loop ``serve`` runs on for a ``--loop`` choice: ``"asyncio"`` or ``"uvloop"``.

    Args:
        choice: One of :data:`LOOP_CHOICES`.

    Raises:
        ValueError: ``uvloop`` asked for but not installed, or an unknown choice.
    """
    if choice == "auto":
        return "uvloop" if uvloop_available() else "asyncio"
    if choice == "uvloop" and not uvloop_available():
        raise ValueError("--loop uvloop: uvloop is not installed (pip install uvloop)")
    if choice not in LOOP_CHOICES:
        raise ValueError(f"unknown event loop {choice!r}: one of {', '.join(LOOP_CHOICES)}")
    return choice


def new_event_loop(loop: str) -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``loop`` names (``"asyncio"`` or ``"uvloop"``)."""
    if loop == "uvloop":
        import uvloop  # the server extra; checked by resolve_loop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_on_loop(main: Coroutine[Any, Any, None], loop: str) -> None:
    """Run ``main`` to completion on a new event loop of the kind ``loop`` names.

    uvloop's loop cuts the server's own CPU time per request (its transports and callbacks
    are C); grpc.aio runs on it as on asyncio's loop.

    Args:
        main: The coroutine to run.
        loop: ``"asyncio"`` or ``"uvloop"`` (see :func:`resolve_loop`).
    """
    if loop == "uvloop":
        import uvloop  # the server extra; checked by resolve_loop

        uvloop.run(main)
    else:
        asyncio.run(main)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="model-registry serve",
        description="Run the model registry server (REST API v1alpha3, optional gRPC).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="REST port (0: any free port)")
    parser.add_argument("--grpc-port", type=int, default=9090, help="gRPC port (0: any free port)")
    parser.add_argument("--no-grpc", action="store_true", help="serve REST only")
    parser.add_argument(
        "--database-url",
        default="sqlite:///./registry.db",
        help="sqlite:///path/to/file.db or postgresql://user@host:port/db",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING...)"
    )
    auth = parser.add_argument_group(
        "authentication",
        f"Any of these turns bearer tokens on for every call but the health checks; "
        f"${TOKEN_ENV} adds one token too.",
    )
    auth.add_argument(
        "--auth-token-file",
        metavar="PATH",
        help="file of accepted tokens, one per line (# comments); re-read when it changes",
    )
    auth.add_argument(
        "--auth-token",
        metavar="TOKEN",
        action="append",
        default=[],
        help="an accepted token (repeatable; visible in the process list, prefer the file)",
    )
    tls = parser.add_argument_group("TLS", "Serve REST (https) and gRPC over TLS.")
    tls.add_argument("--tls-cert", metavar="PATH", help="PEM certificate chain")
    tls.add_argument("--tls-key", metavar="PATH", help="PEM private key of the certificate")
    parser.add_argument(
        "--loop",
        choices=LOOP_CHOICES,
        default=None,
        help=f"event loop: uvloop when installed (auto, the default; or ${LOOP_ENV}), "
        "or asyncio's own",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=MAX_BODY_BYTES,
        help=f"largest request body / gRPC message accepted (default {MAX_BODY_BYTES})",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    grpc_port = None if args.no_grpc else args.grpc_port
    tokens = list(args.auth_token)
    if os.environ.get(TOKEN_ENV, "").strip():
        tokens.append(os.environ[TOKEN_ENV])
    async with run_server(
        args.database_url,
        host=args.host,
        port=args.port,
        grpc_port=grpc_port,
        auth_tokens=tokens,
        auth_token_file=args.auth_token_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        max_body_bytes=args.max_body_bytes,
    ) as srv:
        grpc = f", gRPC on {srv.host}:{srv.grpc_port}" if srv.grpc_port is not None else ""
        auth = ", bearer tokens required" if tokens or args.auth_token_file else ""
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


def serve_main(argv: list[str]) -> int:
    """Run ``model-registry serve``.

    Args:
        argv: The arguments after ``serve``.

    Returns:
        The process exit code (0 after a graceful stop).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.max_body_bytes < 1:
        parser.error("--max-body-bytes must be positive")
    try:
        loop = resolve_loop(args.loop or os.environ.get(LOOP_ENV, "").strip().lower() or "auto")
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        run_on_loop(_serve(args), loop)
    except (OSError, ValueError, SQLAlchemyError) as exc:
        print(f"model-registry serve: {exc}", file=sys.stderr)
        return 1
    return 0
