"""Servers for the documentation examples: real ones, on a thread of their own.

The examples block their caller (the sync facade, the CLI, ``asyncio.run``), so the server they
talk to runs ``run_server`` on a private event loop in a daemon thread, as the facade tests do.
Every example group gets a fresh server (REST and gRPC on free ports) over a clean database; a
``secure`` group gets one that serves TLS with a throwaway CA and requires a bearer token.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from model_registry.server import RunningServer, ServerThread

# The MLflow page's examples import MLflow: keep it offline and quiet, as tests/integrations do.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

#: The bearer token a ``secure`` example server accepts.
TOKEN = "docs-example-token"


@dataclass(frozen=True)
class ExampleServer:
    """A server the examples reach through environment variables.

    Attributes:
        server: The running server.
        env: The variables the examples read (``MODEL_REGISTRY_HOST`` and friends).
    """

    server: RunningServer
    env: dict[str, str]


def _env(server: RunningServer, host: str) -> dict[str, str]:
    assert server.grpc_port is not None
    scheme = server.url.split("://", 1)[0]
    return {
        "MODEL_REGISTRY_HOST": host,
        "MODEL_REGISTRY_PORT": str(server.port),
        "MODEL_REGISTRY_GRPC_PORT": str(server.grpc_port),
        "MODEL_REGISTRY_URL": f"{scheme}://{host}:{server.port}",
    }


def _plain(database_url: str, tmp_path: Path) -> AbstractContextManager[ExampleServer]:
    return _started(ServerThread(database_url, grpc_port=0), extra={})


def _secure(database_url: str, tmp_path: Path) -> AbstractContextManager[ExampleServer]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    ca_file, cert_file, key_file = tls_dir / "ca.pem", tls_dir / "cert.pem", tls_dir / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    with cert_file.open("wb") as handle:
        for blob in cert.cert_chain_pems:
            handle.write(blob.bytes())
    thread = ServerThread(
        database_url, grpc_port=0, auth_tokens=[TOKEN], tls_cert=cert_file, tls_key=key_file
    )
    extra = {"MODEL_REGISTRY_TOKEN": TOKEN, "MODEL_REGISTRY_CA": str(ca_file)}
    return _started(thread, extra=extra, host="localhost")


@contextmanager
def _started(
    thread: ServerThread, *, extra: dict[str, str], host: str | None = None
) -> Iterator[ExampleServer]:
    with thread as srv:
        yield ExampleServer(srv, {**_env(srv, host or srv.host), **extra})


@pytest.fixture
def start_example_server(
    database_url: str, tmp_path: Path
) -> Iterator[Callable[[bool], ExampleServer]]:
    """A function that starts the example server of a group: ``start(secure)``.

    Plain: no TLS, no tokens. Secure: TLS with a certificate for ``localhost`` from a throwaway
    CA (``MODEL_REGISTRY_CA`` names the CA file) and the bearer token :data:`TOKEN` required
    (``MODEL_REGISTRY_TOKEN``). Both serve REST and gRPC; the server stops after the test.
    """
    with ExitStack() as stack:

        def start(secure: bool) -> ExampleServer:
            build = _secure if secure else _plain
            return stack.enter_context(build(database_url, tmp_path))

        yield start
