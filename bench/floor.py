"""The paging floor: a trivial aiohttp server answering one pre-built page, byte for byte.

``python -m bench.floor BODY_FILE`` serves the bytes of ``BODY_FILE`` (a page of 1,000 versions
exactly as our server answered it, see :func:`capture_page`) for every ``GET /page``, and ``200``
on ``/readyz``. It prints ``serving on http://HOST:PORT`` like ``model-registry serve``, so
:class:`~bench.server.ServerProcess` runs it. A walk against it (``bench.paging_child floor``)
costs the wire, aiohttp on both ends and one JSON parse per page, nothing else: the most a
client could get out of pages of that size on this machine, measured in the same run.
"""

from __future__ import annotations

import asyncio
import sys
import urllib.request
from pathlib import Path

from aiohttp import web

from bench.server import API_PATH, ServerProcess


def capture_page(server: ServerProcess, model_id: str, page_size: int, out: Path) -> Path:
    """Save the first page of ``model_id``'s versions, as ``server`` answers it, to ``out``.

    Raises:
        RuntimeError: The server did not answer 200.
    """
    url = f"{server.url}{API_PATH}/registered_models/{model_id}/versions?pageSize={page_size}"
    with urllib.request.urlopen(url, timeout=60) as resp:
        if int(resp.status) != 200:
            raise RuntimeError(f"GET {url}: HTTP {resp.status}")
        out.write_bytes(resp.read())
    return out


def command(body_file: Path) -> list[str]:
    """The command line that serves ``body_file`` (for ``ServerProcess(command=...)``)."""
    return [sys.executable, "-m", "bench.floor", str(body_file)]


async def _serve(body: bytes) -> None:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/readyz", ready)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"serving on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str]) -> int:
    """Serve the page in ``argv[0]`` until terminated."""
    body = Path(argv[0]).read_bytes()
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(body))
        return 0
    # The event loop our server runs on when uvloop is installed (``--loop auto``).
    uvloop.run(_serve(body))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
