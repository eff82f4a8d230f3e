"""The registry server under test: ``model-registry serve`` as a subprocess on a SQLite file or a
PostgreSQL schema (and, with another command, any server that announces itself the same way)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

API_PATH = "/api/model_registry/v1alpha3"
"""Base path of the REST API."""

_SERVING = re.compile(
    r"serving on http://(?P<host>[^:\s]+):(?P<port>\d+)(?:, gRPC on [^:\s]+:(?P<grpc>\d+))?"
)


def serve_command() -> list[str]:
    """The command that starts the server: the ``model-registry`` script of this interpreter."""
    script = Path(sys.executable).parent / "model-registry"
    if script.exists():
        return [str(script)]
    # Not installed as a script (unusual): run the CLI module with this interpreter.
    return [sys.executable, "-m", "model_registry.cli"]


@dataclass
class ServerProcess:
    """A ``model-registry serve`` subprocess on one database, REST and gRPC on free ports.

    Use as a context manager: the server is started on entry (once it answers ``/readyz``)
    and stopped with SIGTERM on exit. Its output goes to ``<database>.log``.

    Attributes:
        database: The SQLite file (created and migrated by the server when absent); with
            ``database_url``, only names the log file.
        database_url: Another database to serve (a PostgreSQL URL) instead of ``database``.
        command: Another command to run instead of ``model-registry serve ...`` (the paging
            floor's server): it must print ``serving on http://HOST:PORT`` and answer
            ``/readyz``.
        start_timeout: Seconds to wait for the server to answer.
        extra_args: Further ``serve`` options (e.g. ``--auth-token``).
        env: Further environment variables of the server (e.g. another ``PYTHONPATH``).
        log_suffix: The suffix of its log file beside ``database`` (two servers on one
            database need two).
        host: The listening host (set once started).
        port: The REST port (set once started).
        grpc_port: The gRPC port (set once started).
    """

    database: Path
    database_url: str | None = None
    command: list[str] | None = None
    start_timeout: float = 60.0
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    log_suffix: str = ".log"
    host: str = "127.0.0.1"
    port: int = 0
    grpc_port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """``http://host:port`` of the REST API (without the base path)."""
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """The file receiving the server's stdout and stderr."""
        return self.database.with_suffix(self.log_suffix)

    def start(self) -> ServerProcess:
        """Start the server and wait until it is ready.

        Raises:
            RuntimeError: The server exited or did not become ready in time.
        """
        cmd = self.command or [
            *serve_command(),
            "serve",
            "--host",
            self.host,
            "--port",
            "0",
            "--grpc-port",
            "0",
            "--database-url",
            self.database_url or f"sqlite:///{self.database}",
            "--log-level",
            "WARNING",
            *self.extra_args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self._proc.returncode}: {self._log_tail()}"
                )
            match = _SERVING.search(self.log_path.read_text(errors="replace"))
            if match and self._ready(match):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not start in {self.start_timeout}s: {self._log_tail()}")

    def _ready(self, match: re.Match[str]) -> bool:
        self.host = match["host"]
        self.port = int(match["port"])
        self.grpc_port = int(match["grpc"] or 0)
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=5) as resp:
                return int(resp.status) == 200
        except OSError:
            return False

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    @property
    def pid(self) -> int | None:
        """The server's process id (None when not started)."""
        return None if self._proc is None else self._proc.pid

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
