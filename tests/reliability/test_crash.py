"""Crash safety: SIGKILL ``model-registry serve`` mid-load; every acknowledged write survives.

The server runs as a real process over a SQLite file. Writers (REST and gRPC, through our
client) record each write only once its answer came back. The process is killed with SIGKILL
while they are writing (no shutdown code runs), restarted on the same file, and then every
acknowledged write must be there, no name twice, and ``PRAGMA integrity_check`` must say ok.
(SQLite runs in WAL mode with synchronous=NORMAL: a committed transaction is in the WAL file
before the answer is sent, which a process kill cannot undo; an OS crash or power cut may lose
the last transactions - see docs/security.md.)
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiohttp
import pytest
from reliability.serving import ServeProcess, serve_process

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import ModelRegistryError
from model_registry.transport.policy import RetryPolicy
from model_registry.types import ListOptions, ModelVersion, Pager, RegisteredModel

Transport = Literal["rest", "grpc"]
WRITERS = 8
KILL_AFTER = 240  # acknowledged writes before the kill (writers keep going until it lands)


@dataclass
class Ledger:
    """What the clients saw acknowledged (and what was in flight when the server died)."""

    models: dict[str, str] = field(default_factory=dict)  # name -> id
    descriptions: dict[str, str] = field(default_factory=dict)  # id -> last acked description
    in_flight: dict[str, str] = field(default_factory=dict)  # id -> description being written
    versions: dict[str, set[str]] = field(default_factory=dict)  # model id -> version names
    acks: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)

    def ack(self) -> None:
        self.acks += 1
        if self.acks >= KILL_AFTER:
            self.enough.set()


def connect(srv: ServeProcess, transport: Transport) -> ModelRegistryAPIClient:
    """A client that never retries: a write counts only when its own answer arrived."""
    port = srv.grpc_port if transport == "grpc" else srv.port
    assert port is not None
    return ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port, transport=transport, timeout=20.0, retry=RetryPolicy.none()
    )


async def writer(number: int, client: ModelRegistryAPIClient, ledger: Ledger) -> None:
    """Create models, versions and updates until the server goes away."""
    try:
        for step in range(10_000):
            model = await client.upsert_registered_model(RegisteredModel(f"w{number}-{step}"))
            assert model.id is not None
            ledger.models[model.name] = model.id
            ledger.versions[model.id] = set()
            ledger.ack()

            version = await client.upsert_model_version(ModelVersion("v1"), model.id)
            ledger.versions[model.id].add(version.name)
            ledger.ack()

            model.description = f"updated at step {step}"
            ledger.in_flight[model.id] = model.description
            await client.upsert_registered_model(model)
            ledger.descriptions[model.id] = model.description
            ledger.ack()
    except (ModelRegistryError, OSError):
        return  # the server died under us: what was acknowledged so far is the record


@pytest.mark.slow
async def test_acknowledged_writes_survive_a_sigkill_and_the_file_stays_sound(
    tmp_path: Path,
) -> None:
    database = tmp_path / "registry.db"
    args = ["--database-url", f"sqlite:///{database}"]
    ledger = Ledger()

    async with serve_process(args) as srv:
        async with connect(srv, "rest") as rest, connect(srv, "grpc") as grpc_client:
            clients = [rest, grpc_client]
            writers = [
                asyncio.ensure_future(writer(n, clients[n % 2], ledger)) for n in range(WRITERS)
            ]
            await asyncio.wait_for(ledger.enough.wait(), 120)
            srv.kill()
            await asyncio.wait_for(asyncio.gather(*writers), 60)
        assert await srv.wait() == -9
    assert ledger.acks >= KILL_AFTER

    async with serve_process(args) as srv:
        async with aiohttp.ClientSession() as http, http.get(srv.url + "/readyz") as resp:
            assert resp.status == 200
        async with connect(srv, "rest") as client:
            stored = [m async for m in Pager(client.get_registered_models, ListOptions(limit=500))]
            names = [m.name for m in stored]
            assert len(names) == len(set(names)), "a name is stored twice"
            by_name = {m.name: m for m in stored}
            for name, model_id in ledger.models.items():
                assert name in by_name, f"acknowledged {name} is gone"
                assert by_name[name].id == model_id
            for model_id, description in ledger.descriptions.items():
                model = next(m for m in stored if m.id == model_id)
                # The last acknowledged update, or a later one that was in flight at the kill.
                assert model.description in (description, ledger.in_flight.get(model_id))
            for model_id, version_names in ledger.versions.items():
                if version_names:
                    page = await client.get_model_versions(model_id, ListOptions(limit=10))
                    assert version_names <= {v.name for v in page}
            # The restarted server takes writes again.
            await client.upsert_registered_model(RegisteredModel("after-the-crash"))

    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
