"""Artifact content throughput: upload and download MB/s over loopback, against a floor.

The floor is the same file through a trivial aiohttp server (``python -m bench.artifacts
DIR``): ``PUT /blob`` hashes the body as it arrives, writes it to a file and syncs it (as our
store does before it answers), ``GET /blob`` streams the file back. It prints ``serving on
http://HOST:PORT`` and answers ``/readyz`` like ``model-registry serve``, so
:class:`~bench.server.ServerProcess` runs both. The client side is the same for both (the
file read in 1 MiB pieces on a thread and hashed, the download hashed and written the same
way), so the ratio is the registry server's own cost: the registry adds the artifact look-up,
the store's temporary file and rename, the write of the digest and size, and on download the
look-up and ``ETag``/``Repr-Digest``.

Each direction is timed ``rounds`` times (a new artifact each upload), the floor and our
server in turn within each round, and the best round of each counts, so a neighbour's burst on
the shared machine does not decide a ratio.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.server import ServerProcess
from bench.timing import Result, process_cpu_seconds, self_cpu_seconds
from model_registry._memory import keep_freed_pieces

CHUNK = 1024 * 1024


def make_file(path: Path, megabytes: int) -> Path:
    """A file of ``megabytes`` MiB of random pieces (no two alike)."""
    block = os.urandom(CHUNK)
    with path.open("wb") as out:
        for i in range(megabytes):
            out.write(i.to_bytes(8, "big") + block[8:])
    return path


def floor_command(folder: Path) -> list[str]:
    """The command line of the floor server keeping its file in ``folder``."""
    return [sys.executable, "-m", "bench.artifacts", str(folder)]


async def _serve_floor(folder: Path) -> None:
    target = folder / "blob"

    async def put(request: web.Request) -> web.Response:
        hasher = hashlib.sha256()
        with target.open("wb") as out:
            async for chunk in request.content.iter_any():
                hasher.update(chunk)
                await asyncio.to_thread(out.write, chunk)
            # Synced, as any store that answers "stored" must (and as ours does): else its
            # dirty pages would be flushed during the next scenario and slow that one down.
            await asyncio.to_thread(os.fsync, out.fileno())
        return web.json_response({"sha256": hasher.hexdigest()})

    async def get(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = target.stat().st_size
        await response.prepare(request)
        with target.open("rb") as source:
            while piece := await asyncio.to_thread(source.read, CHUNK):
                await response.write(piece)
        await response.write_eof()
        return response

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_put("/blob", put)
    app.router.add_get("/blob", get)
    app.router.add_get("/readyz", ready)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"serving on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    hasher = hashlib.sha256()
    with path.open("rb") as source:
        while True:
            piece = await asyncio.to_thread(source.read, CHUNK)
            if not piece:
                return
            hasher.update(piece)
            yield piece


async def _floor_upload(url: str, path: Path) -> None:
    size = (await asyncio.to_thread(path.stat)).st_size
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            f"{url}/blob",
            data=_file_chunks(path),
            headers={"Content-Length": str(size)},
        ) as resp,
    ):
        resp.raise_for_status()
        await resp.read()


async def _floor_download(url: str, dest: Path) -> None:
    hasher = hashlib.sha256()
    async with aiohttp.ClientSession() as session, session.get(f"{url}/blob") as resp:
        resp.raise_for_status()
        with dest.open("wb") as out:
            async for piece in resp.content.iter_chunked(CHUNK):
                hasher.update(piece)
                await asyncio.to_thread(out.write, piece)


@dataclass
class _Rounds:
    """One scenario's rounds: wall seconds, and CPU seconds of the client (this process) and
    of the server process."""

    seconds: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)


def _timed(step: Callable[[], Coroutine[Any, Any, None]], server_pid: int, into: _Rounds) -> None:
    client0, server0 = self_cpu_seconds(), process_cpu_seconds(server_pid)
    t0 = time.perf_counter()
    asyncio.run(step())
    into.seconds.append(time.perf_counter() - t0)
    into.client_cpu.append(self_cpu_seconds() - client0)
    into.server_cpu.append(process_cpu_seconds(server_pid) - server0)


def _result(key: str, title: str, client: str, megabytes: int, rounds: _Rounds) -> Result:
    # CPU seconds per MB: the least of the rounds (a neighbour's load adds CPU time too: cache
    # misses, the scheduler), each side apart, and the two together.
    client_cpu, server_cpu = min(rounds.client_cpu), min(rounds.server_cpu)
    both = min(c + s for c, s in zip(rounds.client_cpu, rounds.server_cpu, strict=True))
    return Result(
        key,
        title,
        client,
        megabytes,
        min(rounds.seconds),
        "MB",
        extra={
            "round_seconds": [round(x, 3) for x in rounds.seconds],
            "client_cpu_ms_per_mb": round(1000 * client_cpu / megabytes, 3),
            "server_cpu_ms_per_mb": round(1000 * server_cpu / megabytes, 3),
            "total_cpu_ms_per_mb": round(1000 * both / megabytes, 3),
            "round_client_cpu_s": [round(x, 3) for x in rounds.client_cpu],
            "round_server_cpu_s": [round(x, 3) for x in rounds.server_cpu],
        },
    )


def interleaved_rounds(
    scratch: Path, source: Path, megabytes: int, rounds: int, server: ServerProcess
) -> list[Result]:
    """Upload and download ``source`` through the floor and through the registry (REST and
    gRPC), round after round in turn, so that a change in the shared machine's load falls on
    all of them alike; the best round of each counts."""
    from model_registry.core import ModelRegistryAPIClient
    from model_registry.workflows.registration import register_model

    # The clients (ours and the floor's) run in this process: it moves content as the CLI's
    # push and pull do, with the allocator setting they make (model_registry._memory).
    keep_freed_pieces()

    clients = {"rest": server.port, "grpc": server.grpc_port}
    artifacts: dict[str, list[str]] = {wire: [] for wire in clients}

    def connect(wire: str) -> ModelRegistryAPIClient:
        return ModelRegistryAPIClient.insecure_connection(
            server.host,
            clients[wire],
            transport=wire,  # type: ignore[arg-type]
        )

    async def prepare() -> None:
        async with connect("rest") as api:
            for wire in clients:
                for i in range(rounds):
                    parts = await register_model(
                        api, f"bench-{wire}", "pending", version=str(i), author="bench"
                    )
                    assert parts.artifact.id is not None
                    artifacts[wire].append(parts.artifact.id)

    def upload(wire: str, i: int) -> Callable[[], Coroutine[Any, Any, None]]:
        async def step() -> None:
            async with connect(wire) as api:
                await api.upload_artifact_content(artifacts[wire][i], source)

        return step

    def download(wire: str, i: int) -> Callable[[], Coroutine[Any, Any, None]]:
        async def step() -> None:
            async with connect(wire) as api:
                await api.download_artifact_content(artifacts[wire][i], scratch / f"{wire}-back")

        return step

    asyncio.run(prepare())
    folder = scratch / "artifact-floor"
    folder.mkdir(exist_ok=True)
    times: dict[str, _Rounds] = {}
    with ServerProcess(scratch / "artifact-floor.db", command=floor_command(folder)) as floor:
        assert floor.pid is not None and server.pid is not None
        pids = {"floor": floor.pid, "rest": server.pid, "grpc": server.pid}
        for i in range(rounds):
            ups = [
                ("x_upload_floor", lambda: _floor_upload(floor.url, source)),
                ("x_upload_rest", upload("rest", i)),
                ("x_upload_grpc", upload("grpc", i)),
            ]
            downs = [
                ("x_download_floor", lambda: _floor_download(floor.url, scratch / "floor-back")),
                ("x_download_rest", download("rest", i)),
                ("x_download_grpc", download("grpc", i)),
            ]
            # Each round starts with another of the three, so none always follows the same
            # neighbour (whose writes the disk may still be busy with).
            for key, step in ups[i % 3 :] + ups[: i % 3] + downs[i % 3 :] + downs[: i % 3]:
                _timed(step, pids[key.rsplit("_", 1)[1]], times.setdefault(key, _Rounds()))
    clients_of = {"floor": "floor", "rest": "ours-rest", "grpc": "ours-grpc"}
    results = []
    for key, rounds_of in times.items():
        _, direction, who = key.split("_")
        title = f"artifact {direction}, {who}"
        results.append(_result(key, title, clients_of[who], megabytes, rounds_of))
    return results


if __name__ == "__main__":
    keep_freed_pieces()  # as ``model-registry serve`` does: the floor gets the same allocator
    asyncio.run(_serve_floor(Path(sys.argv[1])))
