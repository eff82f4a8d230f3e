"""A client speaking the wrong protocol to a port gets one line saying what to do.

A real server with both front doors (REST and gRPC, plain text); each client is pointed at the
wrong one, or asks for TLS from a plain server. The error is ``ConnectionFailed`` with the hint
from ``model_registry.transport.hints``, not the library's bytes, and it is not retried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from click.testing import CliRunner

from model_registry.cli import cli
from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import ConnectionFailed
from model_registry.server import RunningServer, run_server
from model_registry.transport.hints import PLAIN_HINT


@pytest.fixture
async def both(database_url: str) -> AsyncIterator[RunningServer]:
    async with run_server(database_url, grpc_port=0) as srv:
        yield srv


CASES: dict[str, tuple[Callable[[RunningServer], ModelRegistryAPIClient], str]] = {
    "rest-on-grpc-port": (
        lambda s: ModelRegistryAPIClient.insecure_connection("127.0.0.1", s.grpc_port or 0),
        "this port speaks gRPC; use transport='grpc'",
    ),
    "grpc-on-rest-port": (
        lambda s: ModelRegistryAPIClient.insecure_connection("127.0.0.1", s.port, transport="grpc"),
        "this port speaks HTTP/1.1 (the REST API); use transport='rest', or the gRPC port",
    ),
    "tls-on-plain-rest": (
        lambda s: ModelRegistryAPIClient.secure_connection("127.0.0.1", s.port, user_token="t"),
        PLAIN_HINT,
    ),
    "tls-on-plain-grpc": (
        lambda s: ModelRegistryAPIClient.secure_connection(
            "127.0.0.1", s.grpc_port or 0, user_token="t", transport="grpc"
        ),
        PLAIN_HINT,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_wrong_protocol_is_one_line_saying_what_to_do(
    both: RunningServer, case: str
) -> None:
    make, hint = CASES[case]

    async with make(both) as client:
        with pytest.raises(ConnectionFailed) as caught:
            await client.get_registered_models()

    message = str(caught.value)
    assert hint in message
    assert "\n" not in message and "\\x00" not in message and len(message) < 300


def test_the_cli_with_https_against_a_plain_server_says_use_http(
    grpc_threaded_server: RunningServer,
) -> None:
    url = f"https://127.0.0.1:{grpc_threaded_server.port}"

    result = CliRunner().invoke(cli, ["--url", url, "--timeout", "10", "models", "list"])

    assert result.exit_code == 5
    assert result.stderr.startswith("error: server unreachable: ")
    assert "the server speaks plain HTTP, not TLS" in result.stderr
    assert result.stderr.count("\n") == 1
