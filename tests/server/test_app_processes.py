"""`model-registry serve` processes: start-up line, graceful stop, two replicas on one database."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from model_registry.server.rest import BASE_PATH

START_TIMEOUT = 60.0
_URL_RE = re.compile(r"model-registry serving on (http://127\.0\.0\.1:\d+)")


@asynccontextmanager
async def serve_process(database_url: str) -> AsyncIterator[str]:
    """Run ``model-registry serve --port 0`` and yield its URL; stop it with SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "model_registry.cli",
        "serve",
        "--port",
        "0",
        "--no-grpc",
        "--database-url",
        database_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        match = _URL_RE.search(line.decode())
        assert match, f"no start-up line, got {line!r}"
        yield match.group(1)
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stdout.read(), START_TIMEOUT)
        assert await process.wait() == 0
        assert b"stopping" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_prints_its_url_answers_and_stops_on_sigterm(database_url: str) -> None:
    async with (
        serve_process(database_url) as url,
        aiohttp.ClientSession() as http,
        http.get(url + "/readyz") as resp,
    ):
        assert resp.status == 200


async def test_two_processes_on_one_database_serve_one_registry(database_url: str) -> None:
    async with (
        serve_process(database_url) as first,
        serve_process(database_url) as second,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(
            first + BASE_PATH + "/registered_models", json={"name": "written-by-first"}
        ) as resp:
            assert resp.status == 201
            model = await resp.json()
        async with http.get(second + BASE_PATH + f"/registered_models/{model['id']}") as resp:
            assert resp.status == 200
            assert (await resp.json())["name"] == "written-by-first"
        async with http.patch(
            second + BASE_PATH + f"/registered_models/{model['id']}",
            json={"description": "patched by second"},
        ) as resp:
            assert resp.status == 200
        async with http.get(
            first + BASE_PATH + "/registered_model", params={"name": "written-by-first"}
        ) as resp:
            assert (await resp.json())["description"] == "patched by second"

        async def create(url: str) -> int:
            async with http.post(
                url + BASE_PATH + "/registered_models", json={"name": "raced"}
            ) as resp:
                return resp.status

        statuses = await asyncio.gather(*(create(first if i % 2 else second) for i in range(32)))
        assert sorted(statuses) == [201] + [409] * 31
