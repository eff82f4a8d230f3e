"""Clients on the wrong port leave at most one WARNING line in the server's log, no traceback."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from reliability.serving import serve_process

from model_registry.server.protocol_log import Http2OnRestFilter


async def _grpc_health(port: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        # Refused, as it must be: the REST port speaks HTTP/1.1.
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)


async def test_grpc_clients_on_the_rest_port_log_one_warning_line(tmp_path: Path) -> None:
    args = ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}"]
    async with serve_process(args) as served:
        for _ in range(3):  # each call retries and reconnects: many refused connections
            await _grpc_health(served.port)
        async with aiohttp.ClientSession() as session, session.get(f"{served.url}/healthz") as r:
            assert r.status == 200  # still serving REST
    log = served.text()

    warnings = [line for line in log.splitlines() if " WARNING " in line]
    assert len(warnings) == 1, log
    assert "spoke HTTP/2 (gRPC?) to the REST port" in warnings[0]
    assert f"gRPC is on port {served.grpc_port}" in warnings[0]
    assert "Traceback" not in log and " ERROR " not in log


async def test_http1_clients_on_the_grpc_port_log_nothing(tmp_path: Path) -> None:
    args = ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}"]
    async with serve_process(args) as served:
        assert served.grpc_port is not None
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                # gRPC's core answers HTTP/1.1 with an error status or drops the connection.
                with pytest.raises(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{served.grpc_port}/healthz") as r:
                        r.raise_for_status()
    log = served.text()

    assert not [line for line in log.splitlines() if " WARNING " in line or " ERROR " in line]
    assert "Traceback" not in log


def test_the_filter_passes_other_records_and_drops_repeats_within_the_interval() -> None:
    now = [100.0]
    found = Http2OnRestFilter(9090, interval=60, clock=lambda: now[0])

    def record(exc: BaseException | None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
            ("10.0.0.1",), info,
        )  # fmt: skip

    from aiohttp.http_exceptions import BadHttpMessage

    preface = BadHttpMessage("Pause on PRI/Upgrade")
    other = record(ValueError("boom"))
    first, repeat = record(preface), record(preface)

    assert found.filter(other) and other.levelno == logging.ERROR
    assert found.filter(first) and first.levelno == logging.WARNING
    assert first.getMessage().startswith("a client from 10.0.0.1 spoke HTTP/2")
    assert not found.filter(repeat)
    now[0] += 61
    assert found.filter(record(preface))
