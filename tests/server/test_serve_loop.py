"""``model-registry serve`` event loops: uvloop by default, asyncio's own when asked.

Both front doors must work on either loop (grpc.aio included), so each case makes a REST and a
gRPC round trip against the real process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import pytest
from reliability.serving import serve_process, serve_refused

from model_registry._eventloop import resolve_loop, uvloop_available
from model_registry.core import ModelRegistryAPIClient
from model_registry.server import ServerThread
from model_registry.server.cli import LOOP_ENV
from model_registry.types import RegisteredModel


async def _round_trips(port: int, grpc_port: int | None, name: str) -> None:
    """Create a model over REST, read it back over gRPC and REST."""
    assert grpc_port is not None
    async with ModelRegistryAPIClient.insecure_connection("127.0.0.1", port, timeout=10.0) as rest:
        created = await rest.upsert_registered_model(RegisteredModel(name, description="é ✓"))
        assert created.id is not None
        transports: list[tuple[Literal["rest", "grpc"], int]] = [
            ("rest", port),
            ("grpc", grpc_port),
        ]
        for transport, p in transports:
            async with ModelRegistryAPIClient.insecure_connection(
                "127.0.0.1", p, transport=transport, timeout=10.0
            ) as client:
                got = await client.get_registered_model_by_id(created.id)
                assert got is not None
                assert (got.name, got.description) == (name, "é ✓")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "uvloop"),
        (["--loop", "auto"], {}, "uvloop"),
        (["--loop", "uvloop"], {}, "uvloop"),
        (["--loop", "asyncio"], {}, "asyncio"),
        ([], {LOOP_ENV: "asyncio"}, "asyncio"),
        (["--loop", "uvloop"], {LOOP_ENV: "asyncio"}, "uvloop"),  # the flag wins
    ],
    ids=["default", "auto", "uvloop", "asyncio", "env-asyncio", "flag-over-env"],
)
async def test_serve_runs_on_the_chosen_loop_and_both_front_doors_answer(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    environment = {LOOP_ENV: "", **env}
    async with serve_process(["--database-url", db, *args], env=environment) as srv:
        # The banner names the loop the process really runs on (read from the running loop).
        assert srv.banner.rstrip().endswith(f"event loop {expected}"), srv.banner
        await _round_trips(srv.port, srv.grpc_port, f"on-{expected}")


async def test_an_unknown_loop_in_the_environment_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = await serve_refused(
        ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}"], env={LOOP_ENV: "trio"}
    )
    assert code == 2
    assert b"serving on" not in out
    assert b"unknown event loop 'trio'" in err


def test_resolve_loop_maps_auto_to_uvloop_when_installed() -> None:
    assert uvloop_available()  # the server extra, installed with the project
    assert resolve_loop("auto") == "uvloop"
    assert resolve_loop("uvloop") == "uvloop"
    assert resolve_loop("asyncio") == "asyncio"
    with pytest.raises(ValueError, match="unknown event loop"):
        resolve_loop("curio")


@pytest.mark.parametrize(("loop", "expected"), [("auto", "uvloop"), ("asyncio", "asyncio")])
def test_server_thread_runs_on_the_chosen_loop(loop: str, expected: str) -> None:
    thread = ServerThread(grpc_port=0, loop=loop)
    with thread as srv:
        assert type(thread.loop).__module__.split(".")[0] == expected
        asyncio.run(_round_trips(srv.port, srv.grpc_port, f"thread-on-{expected}"))
