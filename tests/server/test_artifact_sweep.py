"""The artifact content sweep: a delete releases content no artifact names any more, the sweep
removes what deletes and lost upload races leave behind, and never what an upload is about to
record (server/sweep.py), on the folder store and on S3 (moto's server).

Every test drives a real server on a free port over REST. The races are made deterministic by
holding one side at a chosen point (after the upload placed its content, or while the sweep
removes it) and running the other meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conformance import entities
from conformance.http import RestApi, rest_api
from conformance.s3 import ContentStore
from sqlalchemy import select, text

from model_registry.server import RunningServer, run_server
from model_registry.server.artifacts import STALE_UPLOAD_SECONDS, StoredBlob
from model_registry.server.store import Store, create_engine_from_url
from model_registry.server.store.engine import run_migrations
from model_registry.server.store.schema import artifact_contents
from model_registry.server.versions import API_VERSIONS

V1_BASE = API_VERSIONS["v1"].base_path
ROOT = Path(__file__).resolve().parents[2]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
async def srv(database_url: str, content_store: ContentStore) -> AsyncIterator[RunningServer]:
    # Grace 0: a delete releases what it unreferenced at once; the periodic sweep is off so
    # each test says when a sweep runs.
    async with run_server(
        database_url,
        artifact_store=content_store.uri,
        s3_endpoint_url=content_store.endpoint_url,
        artifact_sweep_interval=0,
        artifact_sweep_grace=0,
    ) as running:
        yield running


@pytest.fixture
async def v1(srv: RunningServer) -> AsyncIterator[RestApi]:
    async with rest_api(srv.url + V1_BASE) as api:
        yield api


def _sweeper(srv: RunningServer) -> Any:
    assert srv.service.sweeper is not None
    return srv.service.sweeper


async def _artifact(v1: RestApi, version_id: str | None = None) -> dict[str, Any]:
    if version_id is None:
        model = await entities.registered_model(v1)
        version_id = (await entities.model_version(v1, model["id"]))["id"]
    return await entities.version_artifact(  # type: ignore[no-any-return]
        v1, version_id, {"artifactType": "model-artifact", "name": entities.unique("a")}
    )


async def _upload(v1: RestApi, artifact_id: str, data: bytes) -> tuple[int, Any, dict[str, str]]:
    async with v1.session.put(f"{v1.base_url}/artifacts/{artifact_id}/content", data=data) as r:
        return r.status, await r.json(), dict(r.headers)


async def _download(v1: RestApi, artifact_id: str) -> bytes | int:
    async with v1.session.get(f"{v1.base_url}/artifacts/{artifact_id}/content") as resp:
        return await resp.read() if resp.status == 200 else resp.status


async def _delete(v1: RestApi, path: str) -> None:
    reply = await v1.request("DELETE", path)
    assert reply.status == 204, reply.describe()


async def test_a_delete_releases_content_once_no_artifact_names_it(
    srv: RunningServer, v1: RestApi, content_store: ContentStore
) -> None:
    shared, own = os.urandom(2000), os.urandom(3000)
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    first = await _artifact(v1, version["id"])
    second = await _artifact(v1)
    third = await _artifact(v1, version["id"])
    for artifact, data in ((first, shared), (second, shared), (third, own)):
        assert (await _upload(v1, artifact["id"], data))[0] == 200
    assert content_store.digests() == sorted([_sha(shared), _sha(own)])

    await _delete(v1, f"/artifacts/{first['id']}")
    # The other artifact still names the shared content: kept, and still downloads.
    assert content_store.digests() == sorted([_sha(shared), _sha(own)])
    assert await _download(v1, second["id"]) == shared

    await _delete(v1, f"/registered_models/{model['id']}?cascade=true")
    assert content_store.digests() == [_sha(shared)]
    await _delete(v1, f"/artifacts/{second['id']}")
    assert content_store.digests() == []
    assert await _download(v1, second["id"]) == 404


async def test_content_uploaded_within_the_grace_period_outlives_its_delete_until_a_sweep(
    srv: RunningServer, v1: RestApi, content_store: ContentStore, database_url: str
) -> None:
    _sweeper(srv).grace = 3600.0
    data = os.urandom(1500)
    artifact = await _artifact(v1)
    assert (await _upload(v1, artifact["id"], data))[0] == 200
    await _delete(v1, f"/artifacts/{artifact['id']}")
    assert content_store.digests() == [_sha(data)]  # just uploaded: perhaps again, elsewhere
    assert (await _sweeper(srv).sweep()).removed == ()

    # The one-shot command, beside the running server, with its own grace period.
    command = [sys.executable, "-m", "model_registry", "sweep-artifacts"]
    command += ["--database-url", database_url, "--artifact-store", content_store.uri]
    if content_store.endpoint_url is not None:
        command += ["--s3-endpoint-url", content_store.endpoint_url]
    done = await asyncio.to_thread(
        subprocess.run,
        [*command, "--grace", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["removed"] == [_sha(data)]
    assert result["freedBytes"] == len(data)
    assert result["failed"] == []
    assert content_store.digests() == []


async def test_content_of_an_upload_that_lost_its_artifact_is_swept(
    srv: RunningServer, v1: RestApi, content_store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = await _artifact(v1)
    data = os.urandom(2500)
    store = srv.service._artifacts
    assert store is not None
    placed, go_on = asyncio.Event(), asyncio.Event()
    original_put = store.put

    async def put_then_wait(chunks: AsyncIterable[bytes], **options: Any) -> StoredBlob:
        blob = await original_put(chunks, **options)
        placed.set()
        await go_on.wait()
        return blob

    monkeypatch.setattr(store, "put", put_then_wait)
    upload = asyncio.ensure_future(_upload(v1, artifact["id"], data))
    await asyncio.wait_for(placed.wait(), 30)
    # The artifact goes while its content is on the way: the upload has nothing to record.
    await _delete(v1, f"/artifacts/{artifact['id']}")
    go_on.set()
    status, body, _ = await upload
    assert status == 404, body
    assert content_store.digests() == [_sha(data)]  # placed, named by nothing

    result = await _sweeper(srv).sweep()
    assert result.removed == (_sha(data),)
    assert result.freed_bytes == len(data)
    assert content_store.digests() == []


async def test_a_sweep_between_an_uploads_placing_and_recording_never_leaves_it_dangling(
    srv: RunningServer, v1: RestApi, content_store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the claim exists for: the content was stored already, unreferenced (its
    artifact deleted within the grace period), and an upload of the same bytes finds it there
    just before a sweep removes it."""
    data = os.urandom(4000)
    old = await _artifact(v1)
    assert (await _upload(v1, old["id"], data))[0] == 200
    _sweeper(srv).grace = 3600.0
    await _delete(v1, f"/artifacts/{old['id']}")
    assert content_store.digests() == [_sha(data)]
    _sweeper(srv).grace = 0.0

    store = srv.service._artifacts
    assert store is not None
    placed, go_on = asyncio.Event(), asyncio.Event()
    original_put = store.put
    blobs: list[StoredBlob] = []

    async def put_then_wait(chunks: AsyncIterable[bytes], **options: Any) -> StoredBlob:
        blob = await original_put(chunks, **options)
        blobs.append(blob)
        placed.set()
        await go_on.wait()
        return blob

    monkeypatch.setattr(store, "put", put_then_wait)
    artifact = await _artifact(v1)
    upload = asyncio.ensure_future(_upload(v1, artifact["id"], data))
    await asyncio.wait_for(placed.wait(), 30)
    assert blobs[0].created is False  # found under its digest: nothing stored again
    await asyncio.sleep(0.01)  # the pin is older than the (zero) grace period
    assert (await _sweeper(srv).sweep()).removed == (_sha(data),)
    assert content_store.digests() == []
    go_on.set()
    status, body, headers = await upload

    # The content is gone and the upload's bytes with it: a 503 to retry, nothing recorded.
    assert status == 503, body
    assert body["code"] == "Service Unavailable"
    assert body["message"].endswith("upload again"), body
    assert "Retry-After" in headers
    assert await _download(v1, artifact["id"]) == 404
    assert (await v1.fetch(f"/artifacts/{artifact['id']}")).get("customProperties", {}) == {}
    monkeypatch.setattr(store, "put", original_put)
    assert (await _upload(v1, artifact["id"], data))[0] == 200
    assert await _download(v1, artifact["id"]) == data
    assert content_store.digests() == [_sha(data)]


async def test_an_upload_that_placed_its_content_after_a_sweep_removed_it_records_it(
    srv: RunningServer, v1: RestApi, content_store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pin of a new upload is taken by a sweep before the upload claims it; the upload
    stored its own bytes after the sweep's removal, so pinned again they are there."""
    data = os.urandom(3500)
    artifact = await _artifact(v1)
    sweeper = _sweeper(srv)
    pinned, go_on = asyncio.Event(), asyncio.Event()
    original_pin = sweeper.pin

    async def pin_then_wait(sha256: str) -> None:
        await original_pin(sha256)
        if not pinned.is_set():
            pinned.set()
            await go_on.wait()

    monkeypatch.setattr(sweeper, "pin", pin_then_wait)
    upload = asyncio.ensure_future(_upload(v1, artifact["id"], data))
    await asyncio.wait_for(pinned.wait(), 30)
    await asyncio.sleep(0.01)
    # Pinned, not yet placed nor recorded: unreferenced, and past the (zero) grace period.
    assert (await sweeper.sweep()).removed == (_sha(data),)
    go_on.set()
    status, body, _ = await upload
    assert status == 200, body
    assert await _download(v1, artifact["id"]) == data
    assert content_store.digests() == [_sha(data)]
    assert (await sweeper.sweep()).removed == ()  # named by the artifact now


async def test_an_upload_waits_for_a_sweep_removing_the_same_content_then_stores_it_again(
    srv: RunningServer, v1: RestApi, content_store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3000)
    old = await _artifact(v1)
    assert (await _upload(v1, old["id"], data))[0] == 200
    _sweeper(srv).grace = 3600.0
    await _delete(v1, f"/artifacts/{old['id']}")
    _sweeper(srv).grace = 0.0
    store = srv.service._artifacts
    assert store is not None
    removing, go_on = asyncio.Event(), asyncio.Event()
    original_delete = store.delete

    async def delete_slowly(sha256: str) -> int | None:
        removing.set()
        await go_on.wait()
        return await original_delete(sha256)

    monkeypatch.setattr(store, "delete", delete_slowly)
    sweep = asyncio.ensure_future(_sweeper(srv).sweep())
    await asyncio.wait_for(removing.wait(), 30)  # marked: the content is the sweep's now
    artifact = await _artifact(v1)
    upload = asyncio.ensure_future(_upload(v1, artifact["id"], data))
    done, _ = await asyncio.wait({upload}, timeout=0.5)
    assert not done  # waiting for the sweep, not placing content the sweep is removing
    go_on.set()
    assert (await sweep).removed == (_sha(data),)
    status, body, _ = await upload
    assert status == 200, body
    assert await _download(v1, artifact["id"]) == data
    assert content_store.digests() == [_sha(data)]


async def test_a_sweep_within_the_grace_period_keeps_what_an_upload_is_placing(
    srv: RunningServer, v1: RestApi, content_store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeper = _sweeper(srv)
    sweeper.grace = 3600.0
    data = os.urandom(1000)
    artifact = await _artifact(v1)
    store = srv.service._artifacts
    assert store is not None
    placed, go_on = asyncio.Event(), asyncio.Event()
    original_put = store.put

    async def put_then_wait(chunks: AsyncIterable[bytes], **options: Any) -> StoredBlob:
        blob = await original_put(chunks, **options)
        placed.set()
        await go_on.wait()
        return blob

    monkeypatch.setattr(store, "put", put_then_wait)
    upload = asyncio.ensure_future(_upload(v1, artifact["id"], data))
    await asyncio.wait_for(placed.wait(), 30)
    assert (await sweeper.sweep()).removed == ()
    go_on.set()
    assert (await upload)[0] == 200
    assert await _download(v1, artifact["id"]) == data


async def test_concurrent_uploads_deletes_and_sweeps_leave_every_recorded_content_in_place(
    srv: RunningServer, v1: RestApi, content_store: ContentStore
) -> None:
    """No interleaving chosen: the same few contents uploaded, deleted and swept at once,
    many times; afterwards every artifact that names content downloads it, and a last sweep
    leaves exactly the content some artifact names."""
    contents = [os.urandom(700 + i) for i in range(3)]
    sweeper = _sweeper(srv)
    kept: list[tuple[str, bytes]] = []

    async def worker(n: int) -> None:
        for i in range(6):
            data = contents[(n + i) % len(contents)]
            artifact = await _artifact(v1)
            status, body, _ = await _upload(v1, artifact["id"], data)
            assert status in (200, 503), body
            if status == 200 and (n + i) % 2:
                await _delete(v1, f"/artifacts/{artifact['id']}")
            elif status == 200:
                kept.append((artifact["id"], data))

    async def sweeping() -> None:
        for _ in range(12):
            await sweeper.sweep()
            await asyncio.sleep(0.005)

    await asyncio.gather(*(worker(n) for n in range(4)), sweeping())
    for artifact_id, data in kept:
        assert await _download(v1, artifact_id) == data
    await asyncio.sleep(0.01)
    await sweeper.sweep()
    assert content_store.digests() == sorted({_sha(data) for _, data in kept})


async def test_serve_sweeps_periodically(
    database_url: str, content_store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_server(
        database_url,
        artifact_store=content_store.uri,
        s3_endpoint_url=content_store.endpoint_url,
        artifact_sweep_interval=0.2,
        artifact_sweep_grace=0,
    ) as srv:
        sweeper = _sweeper(srv)
        monkeypatch.setattr(sweeper, "grace", 3600.0)  # the delete keeps it; the sweeps not
        async with rest_api(srv.url + V1_BASE) as v1:
            artifact = await _artifact(v1)
            data = os.urandom(800)
            assert (await _upload(v1, artifact["id"], data))[0] == 200
            await _delete(v1, f"/artifacts/{artifact['id']}")
            assert content_store.digests() == [_sha(data)]
            sweeper.grace = 0.0
            for _ in range(100):
                if not content_store.digests():
                    break
                await asyncio.sleep(0.1)
            assert content_store.digests() == []


async def test_the_sweep_removes_interrupted_uploads_older_than_a_day(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    async with run_server(
        database_url, artifact_store=root.as_uri(), artifact_sweep_interval=0
    ) as srv:
        (root / "tmp").mkdir(parents=True)
        old, recent = root / "tmp" / "upload-old", root / "tmp" / "upload-recent"
        for path in (old, recent):
            path.write_bytes(b"partial")
        stale = old.stat().st_mtime - STALE_UPLOAD_SECONDS - 60
        os.utime(old, (stale, stale))
        result = await _sweeper(srv).sweep()
    assert result.stale_uploads == 1
    assert sorted(p.name for p in (root / "tmp").iterdir()) == ["upload-recent"]


async def test_sweep_artifacts_names_a_database_it_cannot_open(tmp_path: Path) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "model_registry",
            "sweep-artifacts",
            "--database-url",
            f"sqlite:///{tmp_path / 'missing' / 'registry.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert done.returncode != 0
    assert "registry.db" in done.stderr and "Traceback" not in done.stderr


async def test_the_migration_pins_every_digest_in_use_so_existing_content_is_kept(
    fresh_database_url: str,
) -> None:
    digest = _sha(b"uploaded before the sweep existed")
    engine = create_engine_from_url(fresh_database_url)
    try:
        await run_migrations(engine, "0006")
        async with engine.begin() as conn:
            for statement in (
                "INSERT INTO artifacts (id, project_id, kind, parent_id, name, create_time, "
                "update_time) VALUES (1, 1, 'model-artifact', 0, 'a', 1, 1), "
                "(2, 1, 'model-artifact', 0, 'b', 1, 1)",
                "INSERT INTO artifacts_properties (owner_id, name, value_type, string_value) "
                f"VALUES (1, 'registry.sha256', 'MetadataStringValue', '{digest}'), "
                f"(2, 'registry.sha256', 'MetadataStringValue', '{digest}')",
            ):
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
    store = await Store.open(fresh_database_url)
    try:
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(artifact_contents))).all()
    finally:
        await store.close()
    assert [(row.sha256, row.sweep) for row in rows] == [(digest, None)]
    assert rows[0].pinned > 1_700_000_000_000  # now, in ms: the first sweeps' grace holds it


async def test_content_stored_before_the_sweeps_table_is_found_and_removed_unless_named(
    srv: RunningServer, v1: RestApi, content_store: ContentStore, database_url: str
) -> None:
    named, orphan = os.urandom(1200), os.urandom(1300)
    artifact = await _artifact(v1)
    assert (await _upload(v1, artifact["id"], named))[0] == 200
    # Stored with no artifact_contents row, as content uploaded before migration 0007 was;
    # the named one loses its row too (the migration gave rows to named digests, but an
    # artifact naming content without a row must still keep it).
    content_store.place(_sha(orphan), orphan)
    await _forget_row(database_url, _sha(named))

    _sweeper(srv).grace = 3600.0
    recent = await _sweeper(srv).sweep()  # written within the grace period: left alone
    assert (recent.removed, recent.unknown) == ((), 0)
    assert content_store.digests() == sorted([_sha(named), _sha(orphan)])

    _sweeper(srv).grace = 0.0
    result = await _sweeper(srv).sweep()
    assert result.unknown == 2
    assert result.removed == (_sha(orphan),)
    assert result.freed_bytes == len(orphan)
    assert content_store.digests() == [_sha(named)]
    assert await _download(v1, artifact["id"]) == named
    assert await _rows(database_url) == [_sha(named)]  # the named one has its row back

    # Once deleted, the named one goes like any content with a row.
    await _delete(v1, f"/artifacts/{artifact['id']}")
    assert content_store.digests() == []


async def test_the_sweep_leaves_stored_names_that_are_not_digests_alone(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    async with run_server(
        database_url,
        artifact_store=root.as_uri(),
        artifact_sweep_interval=0,
        artifact_sweep_grace=0,
    ) as srv:
        folder = root / "sha256" / "ab"
        folder.mkdir(parents=True)
        strangers = [folder / "notes.txt", folder / ("ab" + "0" * 61), folder / ("cd" + "0" * 62)]
        for path in strangers:
            path.write_bytes(b"not content")
        target = tmp_path / "outside"
        target.write_bytes(b"outside the store")
        (folder / ("ab" + "1" * 62)).symlink_to(target)
        result = await _sweeper(srv).sweep()
    assert (result.unknown, result.removed) == (0, ())
    assert all(path.exists() for path in strangers)
    assert target.read_bytes() == b"outside the store"


async def _forget_row(database_url: str, digest: str) -> None:
    store = await Store.open(database_url)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(
                artifact_contents.delete().where(artifact_contents.c.sha256 == digest)
            )
    finally:
        await store.close()


async def _rows(database_url: str) -> list[str]:
    store = await Store.open(database_url)
    try:
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(artifact_contents.c.sha256))).all()
    finally:
        await store.close()
    return sorted(str(row[0]) for row in rows)
