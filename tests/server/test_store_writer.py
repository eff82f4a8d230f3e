"""The SQLite store: its writer thread (group commit, savepoint isolation, failure modes) and
inline reads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from model_registry.server.entities import REGISTERED_MODEL
from model_registry.server.errors import Conflict, Unavailable
from model_registry.server.paging import PageRequest
from model_registry.server.service import RegistryService
from model_registry.server.store import Scope, SqliteStore, Store, Tx
from model_registry.server.store.writer import _Job, run_to_end


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'registry.db'}")
    assert isinstance(opened, SqliteStore)
    try:
        yield opened
    finally:
        await opened.close()


async def _names(store: Store) -> set[str]:
    async with store.transaction() as tx:
        page, _ = await tx.list_page(
            (REGISTERED_MODEL,), Scope((REGISTERED_MODEL.kind,)), None, _all()
        )
    return {r.values["name"] for r in page}


def _all() -> PageRequest:
    return PageRequest.from_query({})


def _create(name: str) -> Any:
    async def body(tx: Tx) -> int:
        return await tx.insert(REGISTERED_MODEL, {"name": name}, [])

    return body


def _hold_writer(seconds: float) -> Any:
    """A write body that keeps the writer thread busy, so the next writes queue up together."""

    async def body(tx: Tx) -> None:
        time.sleep(seconds)  # noqa: ASYNC251 - runs on the writer thread, on purpose

    return body


async def test_writes_queued_together_commit_in_one_transaction(
    store: SqliteStore,
) -> None:
    commits: list[None] = []
    event.listen(store.query_engine, "commit", lambda _conn: commits.append(None))
    hold = asyncio.ensure_future(store.write(_hold_writer(0.3)))
    await asyncio.sleep(0.05)  # the writer is now inside the holding write
    ids = await asyncio.gather(*(store.write(_create(f"m{i}")) for i in range(20)))
    await hold
    # The holding write committed alone; the 20 queued behind it committed together.
    assert len(commits) == 2
    assert len(set(ids)) == 20
    assert await _names(store) == {f"m{i}" for i in range(20)}


async def test_a_failing_write_in_a_group_rolls_back_only_its_own_rows(store: SqliteStore) -> None:
    async def fails_after_writing(tx: Tx) -> None:
        await tx.insert(REGISTERED_MODEL, {"name": "rolled-back"}, [])
        raise Conflict("refused after writing")

    hold = asyncio.ensure_future(store.write(_hold_writer(0.3)))
    await asyncio.sleep(0.05)
    results = await asyncio.gather(
        store.write(_create("before")),
        store.write(fails_after_writing),
        store.write(_create("after")),
        return_exceptions=True,
    )
    await hold
    assert isinstance(results[1], Conflict)
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert await _names(store) == {"before", "after"}


async def test_a_name_conflict_between_writes_of_one_group_fails_only_the_later_one(
    store: SqliteStore,
) -> None:
    service = RegistryService(store)
    hold = asyncio.ensure_future(store.write(_hold_writer(0.3)))
    await asyncio.sleep(0.05)
    results = await asyncio.gather(
        service.create("registered-model", {"name": "same"}),
        service.create("registered-model", {"name": "same"}),
        service.create("registered-model", {"name": "other"}),
        return_exceptions=True,
    )
    await hold
    assert isinstance(results[0], dict) and results[0]["name"] == "same"
    assert isinstance(results[1], Conflict)
    assert isinstance(results[2], dict) and results[2]["name"] == "other"
    assert await _names(store) == {"same", "other"}


async def test_a_write_body_that_suspends_fails_and_leaves_nothing_behind(
    store: SqliteStore,
) -> None:
    async def suspends(tx: Tx) -> None:
        await tx.insert(REGISTERED_MODEL, {"name": "half-done"}, [])
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="suspended"):
        await store.write(suspends)
    assert await _names(store) == set()
    assert await store.write(_create("later")) > 0  # the writer still works


async def test_writes_from_another_event_loop_thread_are_answered_on_that_loop(
    store: SqliteStore,
) -> None:
    answers: list[int] = []

    def other_thread() -> None:
        async def run() -> None:
            answers.extend(await asyncio.gather(*(store.write(_create(f"t{i}")) for i in range(5))))

        asyncio.run(run())

    thread = threading.Thread(target=other_thread)
    thread.start()
    mine = await asyncio.gather(*(store.write(_create(f"l{i}")) for i in range(5)))
    await asyncio.to_thread(thread.join)
    assert len(set(answers) | set(mine)) == 10
    assert len(await _names(store)) == 10


async def test_a_write_after_close_is_refused_as_unavailable(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'closed.db'}")
    await store.close()
    with pytest.raises(Unavailable, match="closed"):
        await store.write(_create("late"))


async def test_close_finishes_the_writes_already_queued(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drain.db'}"
    store = await Store.open(url)
    pending = [asyncio.ensure_future(store.write(_create(f"q{i}"))) for i in range(10)]
    await asyncio.sleep(0)  # let every write reach the queue
    await store.close()
    assert all(isinstance(result, int) for result in await asyncio.gather(*pending))
    reopened = await Store.open(url)
    try:
        assert len(await _names(reopened)) == 10
    finally:
        await reopened.close()


async def test_a_read_opened_inside_another_read_uses_its_own_connection(
    store: SqliteStore,
) -> None:
    await store.write(_create("seen"))
    async with store.transaction() as outer:
        async with store.transaction() as inner:
            inner_found = await inner.find((REGISTERED_MODEL,), Scope(("registered-model",)))
        outer_found = await outer.find((REGISTERED_MODEL,), Scope(("registered-model",)))
    assert inner_found is not None and outer_found is not None
    assert inner_found.values["name"] == outer_found.values["name"] == "seen"


async def test_a_read_sees_only_committed_writes_of_the_writer(store: SqliteStore) -> None:
    started = threading.Event()
    release = threading.Event()

    async def slow_write(tx: Tx) -> int:
        new_id = await tx.insert(REGISTERED_MODEL, {"name": "uncommitted"}, [])
        started.set()
        release.wait(5)
        return new_id

    pending = asyncio.ensure_future(store.write(slow_write))
    await asyncio.to_thread(started.wait, 5)
    assert await _names(store) == set()  # inline read while the writer holds its transaction
    release.set()
    await pending
    assert await _names(store) == {"uncommitted"}


def test_run_to_end_returns_what_the_coroutine_returns_and_raises_what_it_raises() -> None:
    async def value() -> int:
        return 7

    async def error() -> None:
        raise ValueError("boom")

    assert run_to_end(value()) == 7
    with pytest.raises(ValueError, match="boom"):
        run_to_end(error())


async def test_a_driver_error_in_an_inline_get_is_unavailable_not_a_raw_driver_error(
    store: SqliteStore, tmp_path: Path
) -> None:
    new_id = await store.write(_create("gone"))
    with sqlite3.connect(tmp_path / "registry.db") as other:
        other.execute("DROP TABLE contexts_properties")
    # The inline get raises SQLAlchemy's OperationalError (never the raw driver error), which
    # the store answers as Unavailable (503), as every other statement's.
    with pytest.raises(Unavailable, match="database unavailable: OperationalError"):
        async with store.transaction() as tx:
            await tx.get((REGISTERED_MODEL,), new_id)


async def test_a_write_queued_behind_the_stop_mark_is_refused_not_left_hanging(
    tmp_path: Path,
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'race.db'}")
    assert isinstance(store, SqliteStore)
    hold = asyncio.ensure_future(store.write(_hold_writer(0.3)))
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(store.close())
    await asyncio.sleep(0)  # close() has queued its stop mark
    # What a write submitted from another thread at the same moment as close() does: it
    # passed the closed check just before, and lands in the queue after the stop mark.
    loop = asyncio.get_running_loop()
    late: _Job[int] = _Job(_create("late"), loop, loop.create_future())
    store._writer._queue.put(late)
    await closing
    await hold
    with pytest.raises(Unavailable, match="closed"):
        await asyncio.wait_for(late.future, 5)
