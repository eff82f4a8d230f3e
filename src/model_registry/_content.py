"""Artifact content between a local file and the registry, with flat memory.

A file is read (and written) in pieces of :data:`~model_registry.transport.base.
CONTENT_CHUNK_BYTES` on a worker thread, hashed as it goes: an upload holds a piece or two in
memory whatever the file's size, and so does a download, which goes to a temporary file beside
its destination and is renamed into place only once its SHA-256 matched what the registry
recorded (a download that fails leaves no file, and never half of one, at the destination).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO

from model_registry._hashwrite import HashingWriter
from model_registry.exceptions import ConnectionFailed, InvalidResponse, NotFound, Timeout
from model_registry.transport.base import CONTENT_CHUNK_BYTES, Transport
from model_registry.types import Artifact

__all__ = [
    "SHA256_PROPERTY",
    "SIZE_PROPERTY",
    "URI_PREFIX",
    "Progress",
    "content_digest",
    "download_file",
    "upload_file",
]

SHA256_PROPERTY = "registry.sha256"
"""The custom property where the registry records the digest of uploaded content."""

SIZE_PROPERTY = "registry.size"
"""The custom property where the registry records its size (a decimal string)."""

URI_PREFIX = "model-registry://artifacts/"
"""The URI scheme of content the registry stores: ``model-registry://artifacts/<id>``."""

Progress = Callable[[int, "int | None"], None]
"""A progress callback: ``progress(bytes_done, bytes_total)`` (total None when unknown),
called after each piece moved, on the event loop's thread."""


def content_digest(artifact: Artifact) -> str | None:
    """The SHA-256 of the content the registry stores for ``artifact``, or None."""
    value = (artifact.custom_properties or {}).get(SHA256_PROPERTY)
    return value if isinstance(value, str) else None


def _read_hashed(handle: BinaryIO, hasher: Any) -> bytes:
    piece = handle.read(CONTENT_CHUNK_BYTES)
    hasher.update(piece)  # on the worker thread too: hashlib releases the GIL
    return piece


async def _file_chunks(
    path: Path, hasher: Any, total: int, progress: Progress | None
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    handle = await asyncio.to_thread(path.open, "rb")
    # The next piece is read (and hashed) while this one is being sent: one read ahead at
    # most, so memory stays at two pieces.
    reading = loop.run_in_executor(None, _read_hashed, handle, hasher)
    try:
        done = 0
        while True:
            piece = await asyncio.shield(reading)
            if not piece:
                return
            reading = loop.run_in_executor(None, _read_hashed, handle, hasher)
            done += len(piece)
            if progress is not None:
                progress(done, total)
            yield piece
    finally:
        # Never close the file under a read still running.
        with contextlib.suppress(BaseException):
            await reading
        handle.close()


async def upload_file(
    transport: Transport,
    artifact_id: str,
    path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
) -> Artifact:
    """Stream a file to the registry as the content of an artifact.

    The file is read once: hashed while it is sent, its digest compared with the one the
    registry recorded.

    Raises:
        OSError: The file cannot be read.
        InvalidResponse: The registry recorded another digest than the file's (the bytes were
            changed on the way, or the file while it was read).
    """
    source = Path(path)
    size = (await asyncio.to_thread(source.stat)).st_size
    hasher = hashlib.sha256()
    artifact = await transport.upload_content(
        artifact_id, _file_chunks(source, hasher, size, progress), size=size
    )
    recorded = content_digest(artifact)
    if recorded is not None and recorded != hasher.hexdigest():
        raise InvalidResponse(
            f"the registry recorded sha256 {recorded} for artifact {artifact_id}, the file "
            f"{source} has {hasher.hexdigest()}"
        )
    return artifact


async def download_file(
    transport: Transport,
    artifact_id: str,
    dest: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Stream the content of an artifact to the file ``dest`` (replaced if it exists).

    A connection that breaks off is opened again, up to :data:`RESUME_ATTEMPTS` times in a
    row without a byte received in between: over REST the download resumes where it stopped
    (a ``Range`` request, with ``If-Range`` naming the digest so that other content is sent
    whole instead); over gRPC, which has no range, it starts again from the first byte.

    Args:
        transport: The transport.
        artifact_id: The artifact.
        dest: The file to write (its folder must exist).
        expected_sha256: The digest recorded on the artifact; the server's is checked too.
        progress: Called as bytes arrive.

    Returns:
        ``dest`` as a path.

    Raises:
        NotFound: The artifact has no content in the registry.
        ConnectionFailed: The connection broke off more than :data:`RESUME_ATTEMPTS` times
            in a row.
        InvalidResponse: The bytes received do not have the digest or size expected (nothing
            is written at ``dest``).
    """
    target = Path(dest)
    fd, tmp_name = tempfile.mkstemp(prefix=".mr-download-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:
            received = _Received(out)
            failures = 0
            while True:
                before = received.done
                try:
                    await received.take(transport, artifact_id, expected_sha256, progress)
                    break
                except (ConnectionFailed, Timeout):
                    if received.size is not None and received.done == received.size:
                        break  # it broke after the last byte: the digest check decides
                    failures = 0 if received.done > before else failures + 1
                    if failures > RESUME_ATTEMPTS:
                        raise
                    await asyncio.sleep(RESUME_DELAY_SECONDS * failures)
        digest = received.hasher.hexdigest()
        for what, wanted in (
            ("the registry's answer", received.announced),
            ("the artifact", expected_sha256),
        ):
            if wanted is not None and wanted != digest:
                raise InvalidResponse(
                    f"the content of artifact {artifact_id} has sha256 {digest}, {what} says "
                    f"{wanted}: not written"
                )
        if received.size is not None and received.size != received.done:
            raise InvalidResponse(
                f"the content of artifact {artifact_id} is {received.done} bytes, the registry "
                f"said {received.size}"
            )
        await asyncio.to_thread(os.replace, tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return target


RESUME_ATTEMPTS = 5
"""Times a download's connection is opened again after it broke off with no byte received
since the last time (a connection that brings bytes resets the count)."""

RESUME_DELAY_SECONDS = 0.2
"""Pause before opening it again, times the failures in a row."""


class _Received:
    """The bytes of a download so far: written to ``out`` and hashed, piece by piece."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hasher: Any = hashlib.sha256()
        self.done = 0
        self.size: int | None = None
        self.announced: str | None = None

    async def take(
        self,
        transport: Transport,
        artifact_id: str,
        expected_sha256: str | None,
        progress: Progress | None,
    ) -> None:
        """Receive the rest of the content (all of it when the server starts over)."""
        # The digest to resume against: the server's own (the one the bytes so far are of).
        digest = self.announced or expected_sha256
        # A piece is hashed and written (two worker threads at once) while the next one
        # arrives; memory stays at two pieces.
        writer = HashingWriter(self.out, self.hasher)
        try:
            async with transport.download_content(
                artifact_id, start=self.done, sha256=digest
            ) as download:
                if download.start != self.done:  # the whole content again: start over
                    await asyncio.to_thread(self._restart)
                    writer = HashingWriter(self.out, self.hasher)
                self.announced, self.size = download.sha256, download.size
                async for piece in download.chunks:
                    await writer.add(piece)
                    self.done += len(piece)
                    if progress is not None:
                        progress(self.done, download.size)
            await writer.finish()
        except (ConnectionFailed, Timeout):
            # What arrived is written and hashed before anything resumes after it (a write
            # that failed is raised instead).
            await writer.finish()
            raise
        finally:
            await writer.settle()  # never close the file under a running write

    def _restart(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.hasher = hashlib.sha256()
        self.done = 0


def require_content(artifact: Artifact) -> str:
    """The digest of ``artifact``'s content in the registry.

    Raises:
        NotFound: It has none.
    """
    digest = content_digest(artifact)
    if digest is None:
        raise NotFound(
            f"artifact {artifact.id} has no content in the registry (its uri is {artifact.uri!r})"
        )
    return digest
