"""Event loops: which kind to run on, and one running on its own thread for blocking code.

Neutral ground: the server (``model-registry serve``, :class:`~model_registry.server.ServerThread`)
and the client's sync facade (:class:`~model_registry.ModelRegistry`) both use it, and it imports
neither (an import-linter contract in ``pyproject.toml`` holds that).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = [
    "LOOP_CHOICES",
    "LoopThread",
    "cancel_and_wait",
    "new_event_loop",
    "resolve_loop",
    "run_on_loop",
    "uvloop_available",
]

T = TypeVar("T")

LOOP_CHOICES = ("auto", "asyncio", "uvloop")
"""The event loop choices: ``auto`` is uvloop when it is installed, else asyncio's own."""


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait until it has stopped (nothing when it is None).

    Args:
        task: The task, or None when it never started.
    """
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def uvloop_available() -> bool:
    """Whether uvloop can be imported (it is in the ``server`` extra; not on Windows)."""
    return importlib.util.find_spec("uvloop") is not None


def resolve_loop(choice: str) -> str:
    """The event loop a choice names: ``"asyncio"`` or ``"uvloop"``.

    Args:
        choice: One of :data:`LOOP_CHOICES`.

    Raises:
        ValueError: ``uvloop`` asked for but not installed, or an unknown choice.
    """
    if choice == "auto":
        return "uvloop" if uvloop_available() else "asyncio"
    if choice == "uvloop" and not uvloop_available():
        raise ValueError("--loop uvloop: uvloop is not installed (pip install uvloop)")
    if choice not in LOOP_CHOICES:
        raise ValueError(f"unknown event loop {choice!r}: one of {', '.join(LOOP_CHOICES)}")
    return choice


def new_event_loop(loop: str = "asyncio") -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``loop`` names (``"asyncio"`` or ``"uvloop"``).

    ``"asyncio"`` is asyncio's own selector loop, whatever event loop policy (uvloop's,
    Jupyter's) the calling thread has installed.
    """
    if loop == "uvloop":
        import uvloop  # the server extra; checked by resolve_loop

        return uvloop.new_event_loop()
    return asyncio.SelectorEventLoop()


def run_on_loop(main: Coroutine[Any, Any, None], loop: str) -> None:
    """Run ``main`` to completion on a new event loop of the kind ``loop`` names.

    uvloop's loop cuts the server's own CPU time per request (its transports and callbacks
    are C); grpc.aio runs on it as on asyncio's loop.

    Args:
        main: The coroutine to run.
        loop: ``"asyncio"`` or ``"uvloop"`` (see :func:`resolve_loop`).
    """
    if loop == "uvloop":
        import uvloop  # the server extra; checked by resolve_loop

        uvloop.run(main)
    else:
        asyncio.run(main)


class LoopThread:
    """An event loop running forever on a daemon thread, fed coroutines from other threads.

    The loop starts on :meth:`start` or the first :meth:`run`, and :meth:`stop` ends it for
    good. The waiting thread only waits: calls from several threads run concurrently on the
    loop.

    Args:
        name: The thread's name.
        loop: The kind of loop, ``"asyncio"`` or ``"uvloop"`` (see :func:`resolve_loop`).
        owner: What the loop serves, for messages (``"the ModelRegistry client"``).
        closed: The exception raised for a call on a stopped loop, or one that :meth:`stop`
            cancelled, built from a message.
    """

    def __init__(
        self,
        name: str,
        *,
        loop: str = "asyncio",
        owner: str = "the event loop thread",
        closed: Callable[[str], BaseException] = RuntimeError,
    ) -> None:
        self._name = name
        self._kind = loop
        self._owner = owner
        self._closed = closed
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop, once started (``None`` before)."""
        return self._loop

    def start(self) -> asyncio.AbstractEventLoop:
        """Start the loop thread unless it runs already, and return its loop.

        Raises:
            BaseException: ``closed(...)`` once :meth:`stop` was called.
        """
        with self._lock:
            if self._stopped:
                raise self._closed(f"{self._owner} is closed")
            if self._loop is None:
                # A loop of our own: never the caller's, whatever policy is installed there.
                loop = new_event_loop(self._kind)
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=run, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def in_loop_thread(self) -> bool:
        """Whether the calling thread is the loop's own."""
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop (starting it if needed) and wait for its result.

        Args:
            coro: The coroutine.
            timeout: Seconds to wait; ``None`` waits as long as it takes.

        Raises:
            RuntimeError: Called from the loop's own thread (it would wait for itself).
            concurrent.futures.TimeoutError: ``timeout`` passed (the coroutine is cancelled).
            BaseException: ``closed(...)`` when the loop is stopped or :meth:`stop` cancelled
                the call; else whatever the coroutine raised.
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(f"{self._owner} cannot be called from its own event loop")
        try:
            loop = self.start()
        except BaseException:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.CancelledError:
            raise self._closed(f"{self._owner} was closed during the call") from None
        except BaseException:
            # A timeout, or KeyboardInterrupt in the waiting thread: don't leave it running.
            future.cancel()
            raise

    def stop(
        self, final: Callable[[], Coroutine[Any, Any, None]] | None = None, timeout: float = 10
    ) -> None:
        """Cancel calls still running, run ``final`` on the loop, then end it (idempotent).

        Threads waiting for a cancelled call get ``closed(...)``. Callable from any thread,
        the loop's own included (then the loop stops once the current callback returns).

        Args:
            final: A coroutine function run last on the loop (best effort: its errors are
                swallowed, so closing never fails).
            timeout: Seconds to wait for the wind-down and for the thread to end.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def wind_down() -> None:
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if final is not None:
                await final()

        if threading.current_thread() is not thread:
            with contextlib.suppress(concurrent.futures.TimeoutError, Exception):
                asyncio.run_coroutine_threadsafe(wind_down(), loop).result(timeout=timeout)
        loop.call_soon_threadsafe(loop.stop)
        if threading.current_thread() is not thread:
            thread.join(timeout=timeout)
            if not loop.is_running():
                loop.close()
