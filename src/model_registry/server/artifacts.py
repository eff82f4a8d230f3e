"""The artifact content store: bytes addressed by their SHA-256 digest.

The registry's rows never hold content: an artifact's reserved custom properties
(:data:`SHA256_PROPERTY`, :data:`SIZE_PROPERTY`) name a digest, and the store keeps the bytes
under that digest. No name a client chose ever becomes a path or a key: every stored name is
derived from a 64-digit lower-case hex digest (checked by :func:`check_digest`), so there is
nothing to traverse with.

An upload streams into a temporary object of the store while it is hashed, and is moved to its
digest's name only once complete and checked: an upload that breaks off (the client leaves,
the size limit is passed, the digest it announced does not match) leaves nothing under any
digest's name, and the same content uploaded twice is stored once.

Two stores:

* :class:`FileArtifactStore`: a folder, ``<root>/sha256/<2 hex>/<64 hex>``, temporary files
  in ``<root>/tmp`` (the same file system, so the final rename is atomic). Files are written
  and read on worker threads, never on the event loop.
* :class:`S3ArtifactStore`: a bucket and prefix of any S3-compatible service, ``<prefix>/
  sha256/<64 hex>``, through boto3 (the ``s3`` extra) and its usual credential sources. A
  small upload is one ``PutObject`` once hashed; a larger one a multipart upload to
  ``<prefix>/tmp/<uuid>`` (invisible until completed), then a server-side copy to its digest's
  key.

:func:`open_artifact_store` builds one from ``serve --artifact-store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import re
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from model_registry._hashwrite import HashingWriter
from model_registry.server.errors import BadRequest, NotFound, PayloadTooLarge, ServiceError

__all__ = [
    "CHUNK_BYTES",
    "SHA256_PROPERTY",
    "SIZE_PROPERTY",
    "URI_PREFIX",
    "ArtifactStore",
    "Blob",
    "FileArtifactStore",
    "Pin",
    "S3ArtifactStore",
    "StoredBlob",
    "check_digest",
    "content_uri",
    "default_store_uri",
    "open_artifact_store",
]

log = logging.getLogger("model_registry.server.artifacts")

SHA256_PROPERTY = "registry.sha256"
"""Reserved custom property: the lower-case hex SHA-256 of an artifact's uploaded content."""

SIZE_PROPERTY = "registry.size"
"""Reserved custom property: the size in bytes of an artifact's uploaded content."""

URI_PREFIX = "model-registry://artifacts/"
"""The ``uri`` of an artifact whose content the registry stores: ``model-registry://artifacts/
<artifact id>``. Our client resolves it to a download from the registry it talks to."""

CHUNK_BYTES = 1024 * 1024
"""Bytes handed to a worker thread (write and hash, or read) at a time, and the size of the
pieces a download is sent in."""

S3_PART_BYTES = 8 * 1024 * 1024
"""Size of one part of a multipart upload to S3 (S3's minimum is 5 MiB); content smaller than
one part goes up in a single ``PutObject``."""

STALE_UPLOAD_SECONDS = 24 * 3600
"""Temporary upload files older than this are removed when a file store opens (an upload that
a crash interrupted; a running one of another replica is never that old)."""

_DIGEST = re.compile(r"[0-9a-f]{64}")

Pin = Callable[[str], Awaitable[None]]
"""What :meth:`ArtifactStore.put` awaits with the digest before placing the content."""


def check_digest(value: str, what: str = "sha256") -> str:
    """Return ``value`` when it is a lower-case hex SHA-256 digest.

    Raises:
        BadRequest: Anything else (the only names the store ever builds a path or key from).
    """
    if not isinstance(value, str) or _DIGEST.fullmatch(value) is None:
        raise BadRequest(f"{what} must be 64 lower-case hex digits (a SHA-256 digest)")
    return value


def content_uri(artifact_id: str) -> str:
    """The ``uri`` an artifact gets when its content is uploaded to the registry."""
    return f"{URI_PREFIX}{artifact_id}"


@dataclass(frozen=True)
class StoredBlob:
    """What an upload stored.

    Attributes:
        sha256: The hex digest of the content.
        size: Its size in bytes.
        created: False when the store held the same content already (it was not stored again).
    """

    sha256: str
    size: int
    created: bool


class Blob(ABC):
    """Stored content being read: its size, then its bytes in pieces (close it when done)."""

    size: int
    """The size of the whole content."""

    @abstractmethod
    def chunks(self, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        """The content from byte ``start`` up to ``stop`` (exclusive; None: its end), in
        pieces of at most :data:`CHUNK_BYTES` (a range request's part). Read once."""

    @abstractmethod
    async def close(self) -> None:
        """Release the file or connection."""


class ArtifactStore(ABC):
    """Where artifact content lives, named by digest only."""

    uri: str
    """The store's location (for the start-up line and errors), without credentials."""

    @abstractmethod
    async def put(
        self,
        chunks: AsyncIterable[bytes],
        *,
        max_bytes: int | None = None,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        pin: Pin | None = None,
    ) -> StoredBlob:
        """Store a stream of bytes under its digest.

        Args:
            chunks: The content.
            max_bytes: Refuse content larger than this (nothing is kept).
            expected_sha256: The digest the client announced: content with another digest is
                refused (nothing is kept).
            expected_size: The size the client announced, likewise.
            pin: Awaited with the digest once the content is complete and checked, before it
                gets (or is found under) its digest's name: the sweep's hold on the digest
                (:mod:`model_registry.server.sweep`). When it raises, nothing is kept.

        Returns:
            The digest and size.

        Raises:
            PayloadTooLarge: More than ``max_bytes``.
            BadRequest: The digest or size differs from what was announced.
        """

    @abstractmethod
    async def open(self, sha256: str) -> Blob:
        """Open stored content for reading.

        Raises:
            NotFound: The store has no content with this digest.
        """

    @abstractmethod
    async def size(self, sha256: str) -> int | None:
        """The size of stored content, or None when the store does not have it."""

    @abstractmethod
    async def delete(self, sha256: str) -> int | None:
        """Remove stored content (only the sweep does, for content it holds).

        Returns:
            The bytes freed, or None when the store did not have it.
        """

    @abstractmethod
    async def remove_stale_uploads(self) -> int:
        """Remove what uploads a crash interrupted left behind (temporary files, unfinished
        multipart uploads) older than :data:`STALE_UPLOAD_SECONDS`; how many."""

    @abstractmethod
    def stored(self, before: float) -> AsyncIterator[list[tuple[str, float]]]:
        """The content stored under a digest's name and last written before ``before`` (a
        POSIX time), in batches of ``(digest, written)``: what the sweep checks for content
        no ``artifact_contents`` row knows (stored before the table existed). Names that are
        not a digest are left out (never removed)."""

    async def close(self) -> None:  # noqa: B027  (most stores hold nothing to release)
        """Release what the store holds."""


class _Meter:
    """Counts and hashes a stream as it passes, enforcing the size limit."""

    def __init__(self, max_bytes: int | None) -> None:
        self.hasher = hashlib.sha256()
        self.size = 0
        self.max_bytes = max_bytes

    def count(self, length: int) -> None:
        self.size += length
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise PayloadTooLarge(f"artifact content larger than {self.max_bytes} bytes")

    def check(self, expected: str | None, expected_size: int | None) -> str:
        if expected_size is not None and expected_size != self.size:
            raise BadRequest(
                f"the content is {self.size} bytes, the request announced {expected_size}"
            )
        digest = self.hasher.hexdigest()
        if expected is not None and expected != digest:
            raise BadRequest(
                f"content digest mismatch: the content's sha256 is {digest}, "
                f"the request announced {expected}"
            )
        return digest


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` on a worker thread; when the caller is cancelled (its client left),
    wait for the thread to finish before re-raising, so the file it uses is never closed, and
    its descriptor reused, under a running write or read."""
    future = asyncio.get_running_loop().run_in_executor(None, fn, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await future
        raise


async def _batches(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """Regroup ``chunks`` into pieces of about ``size`` bytes (the last may be shorter), so a
    worker thread gets a few large pieces rather than many small ones."""
    pending: list[bytes] = []
    held = 0
    async for chunk in chunks:
        if not chunk:
            continue
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield pending[0] if len(pending) == 1 else b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


# ---------------------------------------------------------------------------------------------
# A folder


class _FileBlob(Blob):
    def __init__(self, fd: int, size: int) -> None:
        self._file = os.fdopen(fd, "rb", buffering=0)
        self.size = size
        self._reading: asyncio.Future[bytes] | None = None

    async def chunks(self, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        left = (self.size if stop is None else min(stop, self.size)) - start
        if start:
            self._file.seek(start)  # no I/O: the next read starts there
        loop = asyncio.get_running_loop()

        def read_ahead() -> asyncio.Future[bytes] | None:
            count = min(CHUNK_BYTES, left)
            return loop.run_in_executor(None, self._file.read, count) if count > 0 else None

        # The next piece is read while this one is sent: one read ahead at most.
        self._reading = read_ahead()
        while self._reading is not None:
            piece = await asyncio.shield(self._reading)
            if not piece:
                return
            left -= len(piece)
            self._reading = read_ahead()
            yield piece

    async def close(self) -> None:
        # Never close the file under a read still running (a download cut short).
        if self._reading is not None and not self._reading.done():
            with contextlib.suppress(BaseException):
                await self._reading
        self._file.close()


class FileArtifactStore(ArtifactStore):
    """Content in a folder: ``<root>/sha256/<first 2 hex>/<64 hex>``.

    Args:
        root: The folder (created with the first upload, so a server that never stores
            content leaves nothing behind).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.uri = self.root.as_uri()
        self._tmp = self.root / "tmp"
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"artifact store {self.uri}: not a folder")
        self._remove_stale_uploads()

    def _remove_stale_uploads(self) -> int:
        if not self._tmp.is_dir():
            return 0
        cutoff = time.time() - STALE_UPLOAD_SECONDS
        removed = 0
        for entry in self._tmp.iterdir():
            with contextlib.suppress(OSError):
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed

    async def remove_stale_uploads(self) -> int:
        return int(await _in_thread(self._remove_stale_uploads))

    async def delete(self, sha256: str) -> int | None:
        return await _in_thread(self._delete, self.path_of(sha256))  # type: ignore[no-any-return]

    @staticmethod
    def _delete(path: Path) -> int | None:
        try:
            size = path.lstat().st_size
            path.unlink()
        except FileNotFoundError:
            return None
        return size

    async def stored(self, before: float) -> AsyncIterator[list[tuple[str, float]]]:
        top = self.root / "sha256"
        folders = await _in_thread(_listing, top)
        for folder in folders:
            if len(folder) == 2:  # <2 hex>/: one thread hop per folder, not per file
                batch = await _in_thread(_stored_in, top / folder, before)
                if batch:
                    yield batch

    def path_of(self, sha256: str) -> Path:
        """The file of a digest (only ever built from a checked digest)."""
        check_digest(sha256)
        return self.root / "sha256" / sha256[:2] / sha256

    async def put(
        self,
        chunks: AsyncIterable[bytes],
        *,
        max_bytes: int | None = None,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        pin: Pin | None = None,
    ) -> StoredBlob:
        meter = _Meter(max_bytes)
        await _in_thread(functools.partial(self._tmp.mkdir, parents=True, exist_ok=True))
        fd, tmp_name = tempfile.mkstemp(prefix="upload-", dir=self._tmp)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                # Each piece is hashed and written on two worker threads at once while the
                # next one arrives: the network, the hash and the disk all work at once.
                writer = HashingWriter(out, meter.hasher)
                try:
                    async for piece in _batches(chunks, CHUNK_BYTES):
                        meter.count(len(piece))
                        await writer.add(piece)
                    await writer.finish()
                finally:
                    await writer.settle()  # never close the file under a running write
                # On disk before it gets its digest's name: a crash after the rename must not
                # leave a digest naming other bytes.
                await _in_thread(os.fsync, out.fileno())
            digest = meter.check(expected_sha256, expected_size)
            if pin is not None:
                await pin(digest)
            created = await _in_thread(self._place, tmp, self.path_of(digest))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        return StoredBlob(digest, meter.size, created)

    @staticmethod
    def _place(tmp: Path, final: Path) -> bool:
        if final.exists():
            tmp.unlink()  # the same content is there already: stored once
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)  # atomic: the name appears only with the whole content
        return True

    async def open(self, sha256: str) -> Blob:
        path = self.path_of(sha256)
        try:
            # O_NOFOLLOW: a symlink planted in the store is never followed out of it.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise NotFound(f"content {sha256} is not in the artifact store") from None
        except OSError as exc:
            raise ServiceError(500, f"cannot read content {sha256}: {exc.strerror}") from None
        return _FileBlob(fd, os.fstat(fd).st_size)

    async def size(self, sha256: str) -> int | None:
        try:
            return self.path_of(sha256).lstat().st_size
        except FileNotFoundError:
            return None


def _listing(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except FileNotFoundError:
        return []


def _stored_in(folder: Path, before: float) -> list[tuple[str, float]]:
    found = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(folder) as entries:
        for entry in entries:
            if _DIGEST.fullmatch(entry.name) is None or entry.name[:2] != folder.name:
                continue
            with contextlib.suppress(FileNotFoundError):
                info = entry.stat(follow_symlinks=False)
                # Regular files only: a symlink planted in the store is not content.
                if entry.is_file(follow_symlinks=False) and info.st_mtime < before:
                    found.append((entry.name, info.st_mtime))
    return found


# ---------------------------------------------------------------------------------------------
# S3


class _S3Blob(Blob):
    """An object's content: its size from a ``HeadObject``, its bytes from a ``GetObject``
    (with a ``Range`` for part of it) once they are asked for."""

    def __init__(self, store: S3ArtifactStore, key: str, size: int) -> None:
        self._store = store
        self._key = key
        self.size = size
        self._body: Any = None

    async def chunks(self, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        end = self.size if stop is None else min(stop, self.size)
        if end <= start:
            return
        options: dict[str, Any] = {}
        if start > 0 or end < self.size:
            options["Range"] = f"bytes={start}-{end - 1}"
        answer = await self._store._call(
            self._store._client.get_object, Bucket=self._store.bucket, Key=self._key, **options
        )
        self._body = answer["Body"]
        while True:
            piece = await _in_thread(self._body.read, CHUNK_BYTES)
            if not piece:
                return
            yield piece

    async def close(self) -> None:
        if self._body is not None:
            await _in_thread(self._body.close)


class S3ArtifactStore(ArtifactStore):
    """Content in an S3 bucket (or any S3-compatible service): ``<prefix>/sha256/<64 hex>``.

    Args:
        bucket: The bucket (it must exist).
        prefix: A key prefix ("" for the bucket's root).
        endpoint_url: The service's URL when not AWS's (MinIO, Ceph, a test server).
        client: A boto3 S3 client to use (built from the usual AWS credential sources
            otherwise: environment, shared files, instance or container roles).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        client: Any = None,
    ) -> None:
        if client is None:
            try:
                import boto3
            except ImportError:
                raise ValueError(
                    "an s3:// artifact store needs boto3: pip install 'aio-model-registry[s3]'"
                ) from None
            client = boto3.client("s3", endpoint_url=endpoint_url)
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def key_of(self, sha256: str) -> str:
        """The object key of a digest (only ever built from a checked digest)."""
        return self._key("sha256", check_digest(sha256))

    async def _call(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        return await _in_thread(functools.partial(fn, **kwargs))

    async def put(
        self,
        chunks: AsyncIterable[bytes],
        *,
        max_bytes: int | None = None,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        pin: Pin | None = None,
    ) -> StoredBlob:
        meter = _Meter(max_bytes)
        pieces = _batches(chunks, S3_PART_BYTES).__aiter__()
        first = b""
        with contextlib.suppress(StopAsyncIteration):
            first = await pieces.__anext__()
        meter.count(len(first))
        await _in_thread(meter.hasher.update, first)
        try:
            second = await pieces.__anext__()
        except StopAsyncIteration:
            # One part's worth at most: hashed already, so it goes straight to its digest's key.
            digest = meter.check(expected_sha256, expected_size)
            if pin is not None:
                await pin(digest)
            if await self.size(digest) is not None:
                return StoredBlob(digest, meter.size, False)
            await self._call(
                self._client.put_object, Bucket=self.bucket, Key=self.key_of(digest), Body=first
            )
            return StoredBlob(digest, meter.size, True)
        return await self._put_multipart(
            meter, (expected_sha256, expected_size), pin, first, second, pieces
        )

    async def _put_multipart(
        self,
        meter: _Meter,
        expected: tuple[str | None, int | None],
        pin: Pin | None,
        first: bytes,
        second: bytes,
        rest: AsyncIterator[bytes],
    ) -> StoredBlob:
        tmp_key = self._key("tmp", uuid.uuid4().hex)
        started = await self._call(
            self._client.create_multipart_upload, Bucket=self.bucket, Key=tmp_key
        )
        upload_id = started["UploadId"]
        parts: list[dict[str, Any]] = []
        completed = False
        try:

            async def send(piece: bytes) -> None:
                answer = await self._call(
                    self._client.upload_part,
                    Bucket=self.bucket,
                    Key=tmp_key,
                    UploadId=upload_id,
                    PartNumber=len(parts) + 1,
                    Body=piece,
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": len(parts) + 1})

            await send(first)
            meter.count(len(second))
            await _in_thread(meter.hasher.update, second)
            await send(second)
            async for piece in rest:
                meter.count(len(piece))
                await _in_thread(meter.hasher.update, piece)
                await send(piece)
            digest = meter.check(*expected)
            await self._call(
                self._client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=tmp_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            completed = True
            if pin is not None:
                await pin(digest)
            created = await self.size(digest) is None
            if created:
                # A managed copy: one CopyObject, or UploadPartCopy parts beyond 5 GB.
                await _in_thread(
                    self._client.copy,
                    {"Bucket": self.bucket, "Key": tmp_key},
                    self.bucket,
                    self.key_of(digest),
                )
            return StoredBlob(digest, meter.size, created)
        finally:
            # An interrupted multipart upload was never an object; a completed one is deleted
            # once copied. Either way nothing stays under tmp/.
            with contextlib.suppress(Exception):
                if completed:
                    await self._call(self._client.delete_object, Bucket=self.bucket, Key=tmp_key)
                else:
                    await self._call(
                        self._client.abort_multipart_upload,
                        Bucket=self.bucket,
                        Key=tmp_key,
                        UploadId=upload_id,
                    )

    async def open(self, sha256: str) -> Blob:
        size = await self.size(sha256)
        if size is None:
            raise NotFound(f"content {sha256} is not in the artifact store")
        return _S3Blob(self, self.key_of(sha256), size)

    async def size(self, sha256: str) -> int | None:
        try:
            answer = await self._call(
                self._client.head_object, Bucket=self.bucket, Key=self.key_of(sha256)
            )
        except Exception as exc:
            if _s3_missing(exc):
                return None
            raise
        return int(answer["ContentLength"])

    async def delete(self, sha256: str) -> int | None:
        size = await self.size(sha256)
        if size is None:
            return None
        await self._call(self._client.delete_object, Bucket=self.bucket, Key=self.key_of(sha256))
        return size

    async def stored(self, before: float) -> AsyncIterator[list[tuple[str, float]]]:
        prefix = self._key("sha256") + "/"
        pages = iter(
            self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
        )
        while (page := await _in_thread(next, pages, None)) is not None:
            batch = []
            for item in page.get("Contents", []):
                digest = item["Key"][len(prefix) :]
                written = item["LastModified"].timestamp()
                if _DIGEST.fullmatch(digest) is not None and written < before:
                    batch.append((digest, written))
            if batch:
                yield batch

    async def remove_stale_uploads(self) -> int:
        cutoff = time.time() - STALE_UPLOAD_SECONDS
        prefix = self._key("tmp") + "/"
        answer = await self._call(
            self._client.list_multipart_uploads, Bucket=self.bucket, Prefix=prefix
        )
        removed = 0
        for upload in answer.get("Uploads", []):
            started = upload.get("Initiated")
            if started is None or started.timestamp() >= cutoff:
                continue  # perhaps an upload still running, on this replica or another
            with contextlib.suppress(Exception):
                await self._call(
                    self._client.abort_multipart_upload,
                    Bucket=self.bucket,
                    Key=upload["Key"],
                    UploadId=upload["UploadId"],
                )
                removed += 1
        return removed


def _s3_missing(exc: BaseException) -> bool:
    """Whether a botocore error says the object does not exist."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


# ---------------------------------------------------------------------------------------------
# Configuration


def default_store_uri(database_url: str) -> tuple[str, bool]:
    """The default artifact store of a database: a folder ``artifacts`` beside a SQLite file;
    with any other database, ``./artifacts`` in the working directory.

    Returns:
        The ``file://`` URI, and whether it is local to this process's machine while the
        database may be shared by several replicas (which then need a shared store).
    """
    from model_registry.server.store.engine import normalize_database_url

    url = normalize_database_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return (Path(url.database).absolute().parent / "artifacts").as_uri(), False
    return (Path.cwd() / "artifacts").as_uri(), url.get_backend_name() != "sqlite"


def open_artifact_store(uri: str, *, s3_endpoint_url: str | None = None) -> ArtifactStore:
    """Open the store ``serve --artifact-store`` names.

    Args:
        uri: ``file:///absolute/path``, a plain path, or ``s3://bucket[/prefix]``.
        s3_endpoint_url: The S3 service's URL when not AWS's.

    Raises:
        ValueError: A URI of another scheme, an ``s3://`` URI without a bucket, or boto3
            missing.
        OSError: The folder cannot be created.
    """
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"artifact store {uri!r}: an s3:// URI needs a bucket")
        return S3ArtifactStore(parts.netloc, unquote(parts.path), endpoint_url=s3_endpoint_url)
    if s3_endpoint_url is not None:
        raise ValueError("--s3-endpoint-url goes with an s3:// artifact store")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"artifact store {uri!r}: a file:// URI names a local path")
        return FileArtifactStore(unquote(parts.path))
    if parts.scheme == "" or len(parts.scheme) == 1:  # a plain path (or a Windows drive)
        return FileArtifactStore(uri)
    raise ValueError(f"artifact store {uri!r}: use file://PATH or s3://BUCKET/PREFIX")
