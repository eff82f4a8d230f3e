"""Two server replicas on one database (PostgreSQL, and a SQLite file) share projects and
tokens: what one creates the other sees, and a token revoked on one is refused by the other
within a second."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from model_registry.server import run_server

ADMIN = "admin-secret"
V1 = "/api/model_registry/v1"


async def test_two_replicas_see_the_same_projects_and_tokens_and_revocation(
    database_url: str,
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        run_server(database_url, auth_tokens=[ADMIN]) as one,
        run_server(database_url, auth_tokens=[ADMIN]) as two,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(one.url + V1 + "/projects", json={"name": "p"}, headers=admin) as r:
            assert r.status == 201
            project = await r.json()
        async with http.get(two.url + V1 + "/project?name=p", headers=admin) as r:
            assert r.status == 200 and (await r.json())["id"] == project["id"]
        async with http.post(
            one.url + V1 + "/tokens",
            json={"subject": "alice", "roles": {"p": "editor"}},
            headers=admin,
        ) as r:
            issued = await r.json()
        alice = {"Authorization": f"Bearer {issued['token']}"}
        async with http.post(
            two.url + V1 + "/registered_models", json={"name": "m"}, headers=alice
        ) as r:
            assert r.status == 201
        async with http.get(one.url + V1 + "/registered_model?name=m", headers=alice) as r:
            assert r.status == 200  # replica one has alice's principal cached now
        async with http.delete(two.url + V1 + f"/tokens/{issued['id']}", headers=admin) as r:
            assert r.status == 204
        start = time.monotonic()
        while True:
            async with http.get(one.url + V1 + "/registered_models", headers=alice) as r:
                if r.status == 401:
                    break
                assert r.status == 200
            assert time.monotonic() - start < 1.0, "replica one accepted a revoked token > 1 s"
            await asyncio.sleep(0.05)
