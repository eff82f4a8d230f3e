"""The backfill of kept answers (server/backfill.py): rows written without one (before
migration 0010, or under another rendering) get this rendering's, on both databases, and a
row updated while its batch is rendered keeps the answer its update made."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import select, update

from model_registry.server import backfill
from model_registry.server.backfill import AnswerFill, fill_kept_answers
from model_registry.server.entities import KINDS
from model_registry.server.principal import SERVER_ADMIN
from model_registry.server.service import (
    WIRE_VERSION,
    RegistryService,
    render_message,
    render_wire,
)
from model_registry.server.store import Store, Tx
from model_registry.server.store.schema import contexts

# Each kind of the contexts table: a model with versions, an experiment with runs, an
# environment with inference services; some in another project.


async def _entities(service: RegistryService) -> list[str]:
    ids = []
    model = await service.create(
        "registered-model",
        {
            "name": "m",
            "customProperties": {"a": {"metadataType": "MetadataIntValue", "int_value": "1"}},
        },
    )
    ids.append(model["id"])
    for n in range(7):
        version = await service.create(
            "model-version", {"name": f"v{n}"}, parent_id=model["id"], full=True
        )
        ids.append(version["id"])
    await service.set_alias(model["id"], "prod", {"modelVersionId": ids[1]})
    experiment = await service.create("experiment", {"name": "e"})
    ids.append(experiment["id"])
    run = await service.create("experiment-run", {"experimentId": experiment["id"]})
    ids.append(run["id"])
    env = await service.create("serving-environment", {"name": "env"})
    ids.append(env["id"])
    inference = await service.create(
        "inference-service",
        {"servingEnvironmentId": env["id"], "registeredModelId": model["id"], "runtime": "rt"},
    )
    ids.append(inference["id"])
    return ids


async def _forget(store: Store) -> None:
    """Every row as a database from before 0010 (no answer), every third under another
    rendering."""

    async def body(tx: Tx) -> None:
        await tx.executor.execute(
            update(contexts).values(wire=None, wire_pb=None, wire_version=None)
        )
        await tx.executor.execute(
            update(contexts)
            .where(contexts.c.id % 3 == 0)
            .values(wire='{"stale":true}', wire_pb=b"", wire_version=WIRE_VERSION + 1)
        )

    await store.write(body)


async def _kept(store: Store) -> dict[int, tuple[Any, Any, Any]]:
    async def body(tx: Tx) -> dict[int, tuple[Any, Any, Any]]:
        rows = await tx.executor.execute(
            select(contexts.c.id, contexts.c.wire, contexts.c.wire_pb, contexts.c.wire_version)
        )
        return {int(i): (w, bytes(p) if p is not None else None, v) for i, w, p, v in rows}

    return await store.read(body)


async def _expected(store: Store, ident: int) -> tuple[str, bytes]:
    """The answers of the row as it stands now (this rendering)."""

    async def body(tx: Tx) -> tuple[str, bytes]:
        found = await tx.executor.execute(
            select(contexts.c.kind, contexts.c.project_id).where(contexts.c.id == ident)
        )
        kind, project = found.one()
        record = await tx.in_project(project).get((KINDS[kind],), ident)
        assert record is not None
        return render_wire(KINDS[kind], record), render_message(KINDS[kind], record)

    return await store.read(body)


async def test_rows_without_an_answer_of_this_rendering_get_it(service: RegistryService) -> None:
    ids = await _entities(service)
    await service.create_project({"name": "other"})
    other = await service.acting_as(SERVER_ADMIN, "other")
    other_model = await other.create("registered-model", {"name": "elsewhere"})
    store = service.store
    await _forget(store)

    # Batches of 4: several batches, the last one short.
    assert await fill_kept_answers(store, batch=4) == len(ids) + 1

    kept = await _kept(store)
    for ident in [*map(int, ids), int(other_model["id"])]:
        wire, message, version = kept[ident]
        assert version == WIRE_VERSION
        assert (wire, message) == await _expected(store, ident)
    # Nothing is left to do.
    assert await fill_kept_answers(store, batch=4) == 0


class _UpdateBeforeTheWrite:
    """The store, but the fill's first write is preceded by an update of ``target`` (as if it
    ran between the batch's read and its write)."""

    def __init__(self, service: RegistryService, target: str) -> None:
        self._service = service
        self._target = target
        self._done = False

    async def read(self, body: Any) -> Any:
        return await self._service.store.read(body)

    async def write(self, body: Any) -> Any:
        if not self._done:
            self._done = True
            await self._service.update("model-version", self._target, {"description": "newer"})
        return await self._service.store.write(body)


async def test_a_row_updated_during_the_fill_keeps_the_answer_of_its_update(
    service: RegistryService,
) -> None:
    ids = await _entities(service)
    store = service.store
    await _forget(store)
    target = ids[2]

    await fill_kept_answers(_UpdateBeforeTheWrite(service, target), batch=100)

    kept = await _kept(store)
    wire, message, version = kept[int(target)]
    assert version == WIRE_VERSION
    assert '"description":"newer"' in wire
    assert (wire, message) == await _expected(store, int(target))
    page = await service.list_json("model-version", {}, parent_id=ids[0])
    assert b'"description":"newer"' in page
    # The others were filled from the same batch.
    assert all(kept[int(i)][2] == WIRE_VERSION for i in ids)


async def test_the_server_fills_them_in_the_background_at_start(service: RegistryService) -> None:
    ids = await _entities(service)
    store = service.store
    await _forget(store)
    fill = AnswerFill(store, pause=0)
    fill.start()
    try:
        await asyncio.wait_for(fill.wait(), 30)
    finally:
        await fill.close()
    assert all(v[2] == WIRE_VERSION for v in (await _kept(store)).values())
    assert len(ids) <= len(await _kept(store))


def test_the_fill_answers_command_fills_them(database_url: str, tmp_path: Any) -> None:
    async def prepare() -> None:
        store = await Store.open(database_url)
        try:
            await _entities(RegistryService(store))
            await _forget(store)
        finally:
            await store.close()

    asyncio.run(prepare())

    done = subprocess.run(
        [sys.executable, "-m", "model_registry", "fill-answers", "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "kept the answers of" in done.stdout

    async def check() -> None:
        store = await Store.open(database_url)
        try:
            assert all(v[2] == WIRE_VERSION for v in (await _kept(store)).values())
        finally:
            await store.close()

    asyncio.run(check())


@pytest.mark.parametrize(("batch", "window"), [(1, 5_000), (3, 2), (500, 5)])
async def test_batches_and_id_windows_of_any_size_cover_every_row(
    service: RegistryService, monkeypatch: pytest.MonkeyPatch, batch: int, window: int
) -> None:
    ids = await _entities(service)
    await _forget(store := service.store)
    monkeypatch.setattr(backfill, "WINDOW", window)
    assert await fill_kept_answers(store, batch=batch) == len(ids)
    assert all(v[2] == WIRE_VERSION for v in (await _kept(store)).values())
