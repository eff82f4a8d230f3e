"""A REST server variant for the guard's A/B bench: ``python -m bench.guard_child VARIANT DB``.

Serves the real app (:func:`~model_registry.server.app.create_app` over a SQLite store) on a
free port and prints ``serving on http://127.0.0.1:PORT``; the variants differ only in what
the guard scenario compares:

- ``plain``: aiohttp's own site and request handler, without the observe middleware (metrics,
  access log): the server as it was before the connection guard and ``/metrics``;
- ``guard``: the connection guard's site (``GuardedSite``), still without the observe
  middleware: what the guard alone costs;
- ``observe``: the guard and the observe middleware (metrics on, access log off): the server
  as ``serve`` runs it by default;
- ``access-log``: as ``observe`` with ``--access-log json`` written to ``/dev/null``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path

from aiohttp import web

from model_registry.server.app import MAX_REQUEST_LINE_BYTES, create_app
from model_registry.server.connections import ConnectionLimits, GuardedSite
from model_registry.server.observability import ACCESS_LOGGER
from model_registry.server.service import RegistryService
from model_registry.server.store import Store

VARIANTS = ("plain", "guard", "observe", "access-log")


async def serve(variant: str, database: Path) -> None:
    store = await Store.open(f"sqlite:///{database}")
    app = create_app(RegistryService(store), access_log=variant == "access-log")
    if variant in ("plain", "guard"):
        app.middlewares.pop(0)  # the observe middleware, outermost
    if variant == "access-log":
        access = logging.getLogger(ACCESS_LOGGER)
        handler = logging.FileHandler("/dev/null")
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    options = {
        "access_log": None,
        "max_line_size": MAX_REQUEST_LINE_BYTES,
        "max_field_size": MAX_REQUEST_LINE_BYTES,
    }
    runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, **options)
    await runner.setup()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    site: web.BaseSite
    if variant == "plain":
        site = web.SockSite(runner, sock)
    else:
        site = GuardedSite(runner, sock, limits=ConnectionLimits(), handler_options=options)
    await site.start()
    print(f"serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await store.close()


def main() -> None:
    variant, database = sys.argv[1], Path(sys.argv[2])
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}")
    try:
        import uvloop

        uvloop.run(serve(variant, database))
    except ImportError:
        asyncio.run(serve(variant, database))


if __name__ == "__main__":
    main()
