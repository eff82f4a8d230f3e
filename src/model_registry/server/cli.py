"""``model-registry serve``: run the registry server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from sqlalchemy.exc import SQLAlchemyError

from model_registry.server.app import run_server


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
    return parser


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    grpc_port = None if args.no_grpc else args.grpc_port
    async with run_server(
        args.database_url, host=args.host, port=args.port, grpc_port=grpc_port
    ) as srv:
        grpc = f", gRPC on {srv.host}:{srv.grpc_port}" if srv.grpc_port is not None else ""
        print(f"model-registry serving on {srv.url}{grpc}", flush=True)
        await stop.wait()
        print("model-registry stopping", flush=True)


def serve_main(argv: list[str]) -> int:
    """Run ``model-registry serve``.

    Args:
        argv: The arguments after ``serve``.

    Returns:
        The process exit code (0 after a graceful stop).
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_serve(args))
    except (OSError, ValueError, SQLAlchemyError) as exc:
        print(f"model-registry serve: {exc}", file=sys.stderr)
        return 1
    return 0
