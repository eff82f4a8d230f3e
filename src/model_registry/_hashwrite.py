"""Neutral (server and client): writing a stream of pieces to a file while hashing it.

The artifact store's upload (server) and the content download (client) both write what
arrives and hash it as it goes. Hashing and writing one piece are two jobs on two worker
threads at once (``hashlib`` and file writes release the GIL), while the next piece arrives
on the event loop: on two cores the hash no longer waits for the disk, nor the disk for the
hash. Each job keeps its own order (a job starts only once the previous piece's is done), so
at most one piece is being hashed and written while the next is received: memory stays at two
pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, BinaryIO

__all__ = ["HashingWriter"]


def _write_all(out: BinaryIO, piece: bytes) -> None:
    view = memoryview(piece)
    while view:
        written = out.write(view)
        view = view[written or 0 :]


class HashingWriter:
    """Hash and write pieces in order, each on a worker thread, both at once.

    Args:
        out: An unbuffered (or buffered) binary file open for writing.
        hasher: A ``hashlib`` object (``update`` is called with every piece, in order).
    """

    def __init__(self, out: BinaryIO, hasher: Any) -> None:
        self._out = out
        self._hasher = hasher
        self._hashing: asyncio.Future[None] | None = None
        self._writing: asyncio.Future[None] | None = None

    async def add(self, piece: bytes) -> None:
        """Start hashing and writing ``piece`` once the previous one's jobs are done (their
        failure is raised here)."""
        loop = asyncio.get_running_loop()
        if self._hashing is not None:
            await asyncio.shield(self._hashing)
        self._hashing = loop.run_in_executor(None, self._hasher.update, piece)
        if self._writing is not None:
            await asyncio.shield(self._writing)
        self._writing = loop.run_in_executor(None, _write_all, self._out, piece)

    async def finish(self) -> None:
        """Wait for the last piece's jobs (their failure is raised here)."""
        for job in (self._hashing, self._writing):
            if job is not None:
                await asyncio.shield(job)

    async def settle(self) -> None:
        """Wait for jobs still running, ignoring their outcome: call it before closing the
        file after a failure or a cancellation, so the file (and its descriptor, which could
        be reused) is never closed under a running write."""
        for job in (self._hashing, self._writing):
            if job is not None and not job.done():
                with contextlib.suppress(BaseException):
                    await job
