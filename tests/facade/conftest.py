"""A real server on its own thread, for code under test that blocks its caller.

The sync facade and the CLI block the calling thread while they wait, so the server they talk
to cannot share that thread's event loop (as the async ``server`` fixture does): here
``run_server`` runs on a private loop in a daemon thread for the test's duration.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from model_registry.server import RunningServer, run_server


class ServerThread:
    """``run_server(database_url)`` running on its own event loop thread."""

    def __init__(self, database_url: str, **kwargs: Any) -> None:
        self._cm = run_server(database_url, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> RunningServer:
        self._thread.start()
        enter = asyncio.run_coroutine_threadsafe(self._cm.__aenter__(), self._loop)
        return enter.result(timeout=60)

    def __exit__(self, *exc: object) -> None:
        leave = asyncio.run_coroutine_threadsafe(self._cm.__aexit__(None, None, None), self._loop)
        try:
            leave.result(timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


@pytest.fixture
def threaded_server(database_url: str) -> Iterator[RunningServer]:
    """A running server (REST, port 0) on its own thread, over a clean database."""
    with ServerThread(database_url) as srv:
        yield srv


@pytest.fixture
def grpc_threaded_server(database_url: str) -> Iterator[RunningServer]:
    """Like ``threaded_server``, with the gRPC front door on a free port too."""
    with ServerThread(database_url, grpc_port=0) as srv:
        yield srv


@pytest.fixture
def auth_server(database_url: str) -> Iterator[RunningServer]:
    """A running server on its own thread that requires the bearer token ``s3cret``."""
    with ServerThread(database_url, auth_tokens=["s3cret"]) as srv:
        yield srv
