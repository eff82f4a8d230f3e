"""The one loop thread behind the sync facade and ``ServerThread``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from model_registry._eventloop import LoopThread, cancel_and_wait


class Closed(Exception):
    """The owner's "closed" exception."""


def test_calls_from_several_threads_run_on_one_loop_thread() -> None:
    runner = LoopThread("t", owner="the test loop", closed=Closed)
    names: list[str] = []

    async def where() -> str:
        await asyncio.sleep(0.01)
        return threading.current_thread().name

    def call() -> None:
        names.append(runner.run(where()))

    try:
        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        runner.stop()
    assert names == ["t"] * 4


def test_the_loop_starts_on_first_use_and_a_stopped_one_refuses_calls() -> None:
    runner = LoopThread("t", owner="the test loop", closed=Closed)
    assert runner.loop is None
    assert runner.run(asyncio.sleep(0, "ok")) == "ok"
    assert runner.loop is not None
    runner.stop()
    runner.stop()  # idempotent
    with pytest.raises(Closed, match="the test loop is closed"):
        runner.run(asyncio.sleep(0))


def test_stop_cancels_a_waiting_call_and_runs_the_final_coroutine() -> None:
    runner = LoopThread("t", owner="the test loop", closed=Closed)
    started = threading.Event()
    finals: list[str] = []
    errors: list[BaseException] = []

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    async def final() -> None:
        finals.append("ran")

    def call() -> None:
        try:
            runner.run(forever())
        except BaseException as exc:
            errors.append(exc)

    waiter = threading.Thread(target=call)
    waiter.start()
    assert started.wait(10)
    runner.stop(final)
    waiter.join(10)
    assert finals == ["ran"]
    assert len(errors) == 1 and isinstance(errors[0], Closed)
    assert "closed during the call" in str(errors[0])


def test_a_timeout_cancels_the_coroutine() -> None:
    runner = LoopThread("t")
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        with pytest.raises(concurrent.futures.TimeoutError):
            runner.run(slow(), timeout=0.05)
        assert cancelled.wait(10)
    finally:
        runner.stop()


def test_a_call_from_the_loop_thread_itself_is_refused() -> None:
    runner = LoopThread("t", owner="the test loop", closed=Closed)

    async def reenter() -> str:
        inner = asyncio.sleep(0)
        try:
            runner.run(inner)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    try:
        assert runner.run(reenter()) == "the test loop cannot be called from its own event loop"
    finally:
        runner.stop()


def test_cancel_and_wait_returns_once_the_task_has_run_its_cleanup() -> None:
    cleaned: list[str] = []

    async def background() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append("done")

    async def main() -> asyncio.Task[None]:
        task = asyncio.ensure_future(background())
        await asyncio.sleep(0)
        await cancel_and_wait(task)
        await cancel_and_wait(None)  # a task that never started: nothing to do
        return task

    task = asyncio.run(main())
    assert task.cancelled()
    assert cleaned == ["done"]
