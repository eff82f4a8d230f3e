"""Content downloads that survive a broken connection (model_registry/_content.py): a real
server, and between it and the client a TCP proxy that cuts the connection at chosen points
of the traffic; REST resumes with a Range request, gRPC starts over."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from model_registry import _content
from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import ConnectionFailed
from model_registry.server import RunningServer, run_server
from model_registry.workflows.registration import register_model

SIZE = 3 * 1024 * 1024


@dataclass
class CuttingProxy:
    """Forwards to ``target``; cuts the connection carrying the byte at each of ``cuts`` of
    the server-to-client traffic (counted over every connection), and every connection once
    ``cut_all_after`` bytes went down."""

    target: int
    cuts: list[int]
    cut_all_after: int | None = None
    down: int = 0
    up: bytearray = field(default_factory=bytearray)
    port: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, downstream: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if downstream:
                    if self.cut_all_after is not None and self.down >= self.cut_all_after:
                        break
                    if self.cuts and self.down + len(data) > self.cuts[0]:
                        keep = self.cuts.pop(0) - self.down
                        writer.write(data[:keep])
                        self.down += keep
                        await writer.drain()
                        break
                    self.down += len(data)
                else:
                    self.up += data  # the requests, small: what the client asked for
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()  # a cut, not a clean close

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target)
        up = asyncio.ensure_future(self._pipe(client_r, server_w, downstream=False))
        down = asyncio.ensure_future(self._pipe(server_r, client_w, downstream=True))
        await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        client_w.transport.abort()
        server_w.transport.abort()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CuttingProxy]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()


@pytest.fixture(params=["rest", "grpc"])
def wire(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def srv(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with run_server(
        database_url, grpc_port=0, artifact_store=str(tmp_path / "store")
    ) as running:
        yield running


async def _uploaded(srv: RunningServer, source: Path) -> str:
    async with ModelRegistryAPIClient.insecure_connection("127.0.0.1", srv.port) as api:
        parts = await register_model(api, "m", "pending", version="1", author="me")
        assert parts.artifact.id is not None
        await api.upload_artifact_content(parts.artifact.id, source)
        return parts.artifact.id


def _partial_downloads(folder: Path) -> list[Path]:
    return list(folder.glob(".mr-download-*"))


def _port(srv: RunningServer, wire: str) -> int:
    port = srv.grpc_port if wire == "grpc" else srv.port
    assert port is not None
    return port


async def test_a_download_cut_twice_comes_back_whole_resumed_over_rest_restarted_over_grpc(
    srv: RunningServer, wire: str, tmp_path: Path
) -> None:
    data = os.urandom(SIZE)
    source = tmp_path / "weights.bin"
    source.write_bytes(data)
    artifact_id = await _uploaded(srv, source)
    proxy = CuttingProxy(_port(srv, wire), cuts=[SIZE // 3, 2 * SIZE // 3])
    async with (
        proxy.running(),
        ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            proxy.port,
            transport=wire,  # type: ignore[arg-type]
        ) as api,
    ):
        dest = await api.download_artifact_content(artifact_id, tmp_path / "back.bin")
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert proxy.cuts == []  # both cuts happened
    asked = [int(start) for start in re.findall(rb"(?i)\r\nrange: bytes=(\d+)-", proxy.up)]
    if wire == "rest":
        # Resumed after each cut, from the bytes already written (a little before the cut:
        # what had arrived but was not read yet is asked for again), the digest as If-Range.
        assert len(asked) == 2 and 0 < asked[0] < asked[1] < SIZE
        assert proxy.up.lower().count(b'\r\nif-range: "sha256:') == 2
    else:
        # No range in the RPC: started over after each cut (SIZE / 3 twice, then SIZE).
        assert asked == []
        assert proxy.down > SIZE * 3 // 2
    assert _partial_downloads(tmp_path) == []


async def test_a_download_whose_connection_keeps_breaking_gives_up_and_leaves_nothing(
    srv: RunningServer, wire: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_content, "RESUME_DELAY_SECONDS", 0.01)
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(SIZE))
    artifact_id = await _uploaded(srv, source)
    proxy = CuttingProxy(_port(srv, wire), cuts=[SIZE // 2], cut_all_after=SIZE // 2)
    async with (
        proxy.running(),
        ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1",
            proxy.port,
            transport=wire,  # type: ignore[arg-type]
        ) as api,
    ):
        with pytest.raises(ConnectionFailed):
            await api.download_artifact_content(artifact_id, tmp_path / "back.bin")
    assert not (tmp_path / "back.bin").exists()
    assert _partial_downloads(tmp_path) == []
