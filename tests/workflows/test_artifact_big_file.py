"""A 200 MB model file up and down through the registry, with memory that stays flat.

Memory is measured, not inferred from time: a thread samples this process's resident set
(``VmRSS`` in ``/proc/self/status``) every few milliseconds while the file moves. The server
runs in this process too, so the figure covers both ends. Flat means the peak stays far below
the file's size: pieces are streamed, never the whole file held. The S3 case stores through a
real S3-wire server (moto's, in its own process, so its memory is not counted).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conformance.s3 import S3Server

from model_registry.core import ModelRegistryAPIClient
from model_registry.server import run_server
from model_registry.types import ModelArtifact
from model_registry.workflows.registration import register_model

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc"),
]

SIZE = 200 * 1024 * 1024
FLAT = 64 * 1024 * 1024
"""Most the resident set may grow while the 200 MB move (a few pieces of 1 MiB in flight on
each side, buffers, the allocator's slack)."""


def _rss() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@contextmanager
def _peak_rss() -> Iterator[list[int]]:
    """Sample the resident set until the block ends; yields ``[baseline, peak]``."""
    figures = [_rss(), 0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            figures[1] = max(figures[1], _rss())
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield figures
    finally:
        stop.set()
        thread.join()


def _big_file(path: Path) -> str:
    hasher = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for i in range(SIZE // len(block)):
            piece = i.to_bytes(8, "big") + block[8:]  # no two pieces alike
            hasher.update(piece)
            out.write(piece)
    return hasher.hexdigest()


@pytest.mark.parametrize(
    ("wire", "store"), [("rest", "folder"), ("grpc", "folder"), ("rest", "s3")]
)
async def test_200_mb_go_up_and_down_with_flat_memory_and_the_same_digest(
    tmp_path: Path, wire: str, store: str, request: pytest.FixtureRequest
) -> None:
    source = tmp_path / "big.bin"
    digest = _big_file(source)
    where: dict[str, str] = {"artifact_store": str(tmp_path / "store")}
    if store == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")  # moto, in its own process
        where = {
            "artifact_store": f"s3://{s3.new_bucket()}/models",
            "s3_endpoint_url": s3.endpoint_url,
        }
    async with (
        run_server(f"sqlite:///{tmp_path / 'registry.db'}", grpc_port=0, **where) as srv,
        ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            srv.grpc_port if wire == "grpc" else srv.port,  # type: ignore[arg-type]
            transport=wire,  # type: ignore[arg-type]
        ) as api,
    ):
        parts = await register_model(api, "big", "pending", version="1", author="me")
        assert parts.artifact.id is not None
        with _peak_rss() as up:
            stored = await api.upload_artifact_content(parts.artifact.id, source)
        assert isinstance(stored, ModelArtifact)
        assert stored.custom_properties["registry.sha256"] == digest
        assert stored.custom_properties["registry.size"] == str(SIZE)

        target = tmp_path / "back.bin"
        with _peak_rss() as down:
            await api.download_artifact_content(parts.artifact.id, target)
    assert target.stat().st_size == SIZE
    hasher = hashlib.sha256()
    with target.open("rb") as copy:
        while piece := copy.read(4 * 1024 * 1024):
            hasher.update(piece)
    assert hasher.hexdigest() == digest
    for what, (baseline, peak) in (("upload", up), ("download", down)):
        assert peak - baseline < FLAT, (
            f"{what}: the resident set grew by {(peak - baseline) / 2**20:.0f} MiB "
            f"for a {SIZE / 2**20:.0f} MiB file"
        )
