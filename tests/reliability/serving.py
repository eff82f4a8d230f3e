"""Run ``model-registry serve`` as a real process for tests (start-up line parsed, killable)."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

START_TIMEOUT = 60.0
_START_RE = re.compile(
    r"model-registry serving on (?P<url>https?://127\.0\.0\.1:(?P<port>\d+))"
    r"(?:, gRPC on 127\.0\.0\.1:(?P<grpc>\d+))?"
)


@dataclass
class ServeProcess:
    """A started ``model-registry serve`` process.

    Attributes:
        process: The OS process.
        url: The REST URL it printed.
        port: The REST port.
        grpc_port: The gRPC port, or None with ``--no-grpc``.
        banner: The start-up line.
    """

    process: asyncio.subprocess.Process
    url: str
    port: int
    grpc_port: int | None
    banner: str
    output: list[bytes] = field(default_factory=list)
    _drains: list[asyncio.Task[None]] = field(default_factory=list)

    def kill(self) -> None:
        """SIGKILL the server: no shutdown code runs, as in a crash."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    def drain(self) -> None:
        """Keep reading stdout and stderr into ``output`` (a full pipe would block the server)."""

        async def pump(stream: asyncio.StreamReader | None) -> None:
            while stream is not None and (chunk := await stream.read(65536)):
                self.output.append(chunk)

        for stream in (self.process.stdout, self.process.stderr):
            self._drains.append(asyncio.ensure_future(pump(stream)))

    async def wait(self) -> int:
        """Wait for the process to end (and its output to be read); return its exit code."""
        code = await asyncio.wait_for(self.process.wait(), START_TIMEOUT)
        await asyncio.wait_for(asyncio.gather(*self._drains), START_TIMEOUT)
        return code

    def text(self) -> str:
        """Everything the process wrote so far (start-up line, stdout, stderr)."""
        return self.banner + b"".join(self.output).decode(errors="replace")


def _serve_args(ports: Sequence[str], args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "model_registry.cli", "serve", *ports, *args]


async def serve_refused(
    args: Sequence[str], *, env: Mapping[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    """Run ``model-registry serve --port 0 --no-grpc *args`` that is expected to stop at once.

    Returns:
        Its exit code, stdout and stderr.
    """
    process = await asyncio.create_subprocess_exec(
        *_serve_args(["--port", "0", "--no-grpc"], args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out, err


def _limit_files(count: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))

    return limit


@asynccontextmanager
async def serve_process(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    grpc: bool = True,
    max_open_files: int | None = None,
) -> AsyncIterator[ServeProcess]:
    """Start ``model-registry serve --port 0 [--grpc-port 0] *args``; SIGTERM it at the end.

    Args:
        args: Further command-line arguments (``--database-url`` etc.).
        env: Extra environment variables.
        grpc: Serve gRPC too (on a free port), else ``--no-grpc``.
        max_open_files: Run the server under this file descriptor limit (``RLIMIT_NOFILE``).

    Yields:
        The running process, once it printed its start-up line.
    """
    ports = ["--port", "0", *(["--grpc-port", "0"] if grpc else ["--no-grpc"])]
    process = await asyncio.create_subprocess_exec(
        *_serve_args(ports, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        preexec_fn=_limit_files(max_open_files) if max_open_files is not None else None,
    )
    assert process.stdout is not None
    served: ServeProcess | None = None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)).decode()
        match = _START_RE.search(line)
        if match is None:
            _, err = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
            raise AssertionError(f"no start-up line: {line!r}, stderr: {err.decode()[-2000:]}")
        grpc_port = match.group("grpc")
        served = ServeProcess(
            process=process,
            url=match.group("url"),
            port=int(match.group("port")),
            grpc_port=int(grpc_port) if grpc_port else None,
            banner=line,
        )
        served.drain()
        yield served
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), START_TIMEOUT)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        if served is not None and served._drains:
            await asyncio.wait(served._drains, timeout=5.0)
