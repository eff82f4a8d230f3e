"""Clients on the wrong port leave at most one WARNING line in the server's log, no traceback.

The REST front door refuses an HTTP/2 preface as a malformed request (logged at DEBUG, see
``server/connections.py``); gRPC's core refuses HTTP/1.1 without a log line.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from reliability.serving import serve_process


async def _grpc_health(port: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        # Refused, as it must be: the REST port speaks HTTP/1.1.
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)


async def test_grpc_clients_on_the_rest_port_log_no_traceback_and_one_warning_at_most(
    tmp_path: Path,
) -> None:
    args = ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}"]
    async with serve_process(args) as served:
        for _ in range(3):  # each call retries and reconnects: many refused connections
            await _grpc_health(served.port)
        async with aiohttp.ClientSession() as session, session.get(f"{served.url}/healthz") as r:
            assert r.status == 200  # still serving REST
    log = served.text()

    assert len([line for line in log.splitlines() if " WARNING " in line]) <= 1, log
    assert "Traceback" not in log and " ERROR " not in log, log


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
