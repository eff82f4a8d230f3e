"""The embedded server on a background thread, for code that blocks its caller.

Scripts, notebooks and the sync facade block the thread they run on while they wait for the
registry, so a server they talk to cannot share that thread's event loop: ``ServerThread`` runs
:func:`~model_registry.server.app.run_server` on a private event loop in a daemon thread.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from model_registry._eventloop import LoopThread, resolve_loop
from model_registry.server.app import RunningServer, run_server


class ServerThread:
    """``run_server(database_url, **kwargs)`` running on its own event loop thread.

    Example:
        >>> with ServerThread() as srv:  # doctest: +SKIP
        ...     registry = ModelRegistry("http://127.0.0.1", srv.port, author="me", is_secure=False)

    Args:
        database_url: As for ``run_server``; ``None`` means a fresh SQLite file.
        timeout: Seconds to wait for the server to start or stop.
        loop: The event loop of the server thread, as ``serve --loop``: ``"auto"`` (uvloop
            when installed), ``"asyncio"`` or ``"uvloop"``.
        **kwargs: Passed to ``run_server`` (``port``, ``grpc_port``, ``auth_tokens``, ...).

    Raises:
        ValueError: ``loop="uvloop"`` without uvloop installed, or an unknown ``loop``.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        timeout: float = 60.0,
        loop: str = "auto",
        **kwargs: Any,
    ) -> None:
        self._cm = run_server(database_url, **kwargs)
        self._timeout = timeout
        # The server owns this loop alone, so uvloop's lower cost per request is free to take.
        self._runner = LoopThread(
            "embedded-registry-server", loop=resolve_loop(loop), owner="the embedded server"
        )

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the server runs on (in its own thread; ``None`` before it starts)."""
        return self._runner.loop

    def __enter__(self) -> RunningServer:
        try:
            return self._runner.run(self._cm.__aenter__(), timeout=self._timeout)
        except BaseException:
            self._runner.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._runner.run(self._cm.__aexit__(None, None, None), timeout=self._timeout)
        finally:
            self._runner.stop()
