"""`model-registry serve` processes: start-up line, graceful stop, two replicas on one database."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from reliability.serving import serve_process

from model_registry.server.rest import BASE_PATH


@asynccontextmanager
async def serve_url(database_url: str) -> AsyncIterator[str]:
    """A ``model-registry serve`` process (REST only) on ``database_url``; yields its URL."""
    async with serve_process(["--database-url", database_url], grpc=False) as srv:
        yield srv.url


async def test_serve_prints_its_url_answers_and_stops_on_sigterm(database_url: str) -> None:
    async with serve_process(["--database-url", database_url], grpc=False) as srv:
        async with aiohttp.ClientSession() as http, http.get(srv.url + "/readyz") as resp:
            assert resp.status == 200
        srv.process.send_signal(signal.SIGTERM)
        assert await srv.wait() == 0
        assert "stopping" in srv.text()


async def test_two_processes_on_one_database_serve_one_registry(database_url: str) -> None:
    async with (
        serve_url(database_url) as first,
        serve_url(database_url) as second,
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
