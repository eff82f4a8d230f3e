"""TLS for REST and gRPC: a throwaway CA (trustme), our client over both transports."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp
import pytest
import trustme
from reliability.serving import serve_process, serve_refused

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import ConnectionFailed, Unauthorized
from model_registry.server import RunningServer, run_server
from model_registry.types import RegisteredModel

Transport = Literal["rest", "grpc"]
TRANSPORTS: list[Transport] = ["rest", "grpc"]
TOKEN = "tls-token"


@dataclass(frozen=True)
class Pki:
    """Files of a throwaway CA and the server certificate it signed."""

    ca: Path
    cert: Path
    key: Path
    other_ca: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a certificate for localhost/127.0.0.1 signed by it, and an unrelated CA."""
    root = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    files = Pki(root / "ca.pem", root / "server.pem", root / "server.key", root / "other.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    issued.private_key_pem.write_to_path(str(files.key))
    for blob in issued.cert_chain_pems:
        blob.write_to_path(str(files.cert), append=True)
    trustme.CA().cert_pem.write_to_path(str(files.other_ca))
    return files


@pytest.fixture
async def tls_server(database_url: str, pki: Pki) -> AsyncIterator[RunningServer]:
    """REST and gRPC over TLS, tokens required."""
    async with run_server(
        database_url, grpc_port=0, auth_tokens=[TOKEN], tls_cert=pki.cert, tls_key=pki.key
    ) as srv:
        yield srv


def port_of(server: RunningServer, transport: Transport) -> int:
    """The port ``transport`` talks to."""
    if transport == "grpc":
        assert server.grpc_port is not None
        return server.grpc_port
    return server.port


def secure(
    server: RunningServer,
    transport: Transport,
    ca: Path,
    token: str | None = TOKEN,
    host: str = "localhost",
) -> ModelRegistryAPIClient:
    """Our client over TLS, trusting ``ca``."""
    return ModelRegistryAPIClient.secure_connection(
        host,
        port_of(server, transport),
        user_token=token,
        custom_ca=str(ca),
        transport=transport,
        timeout=10.0,
    )


async def assert_ready(server: RunningServer, ca: Path) -> None:
    """``/readyz`` answers over https."""
    context = ssl.create_default_context(cafile=str(ca))
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + "/readyz", ssl=context) as resp,
    ):
        assert resp.status == 200


async def test_the_url_is_https(tls_server: RunningServer) -> None:
    assert tls_server.url.startswith("https://127.0.0.1:")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_client_works_over_tls_with_the_custom_ca(
    tls_server: RunningServer, pki: Pki, transport: Transport
) -> None:
    async with secure(tls_server, transport, pki.ca) as client:
        created = await client.upsert_registered_model(RegisteredModel(f"over-tls-{transport}"))
        assert created.id is not None
        fetched = await client.get_registered_model_by_id(created.id)
    assert fetched is not None and fetched.name == f"over-tls-{transport}"
    async with secure(tls_server, transport, pki.ca, token="wrong") as client:
        with pytest.raises(Unauthorized):
            await client.get_registered_models()
    await assert_ready(tls_server, pki.ca)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_wrong_ca_fails_naming_certificate_verification(
    tls_server: RunningServer, pki: Pki, transport: Transport
) -> None:
    # By address: with "localhost" gRPC also tries ::1 (nobody listens there) and reports only
    # the last address's error, a refused connection, instead of the failed verification.
    async with secure(tls_server, transport, pki.other_ca, host="127.0.0.1") as client:
        with pytest.raises(ConnectionFailed) as info:
            await client.get_registered_models()
    assert "certificate" in str(info.value).lower()
    assert "verif" in str(info.value).lower()
    await assert_ready(tls_server, pki.ca)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_plaintext_client_gets_no_answer_from_the_tls_port(
    tls_server: RunningServer, pki: Pki, transport: Transport
) -> None:
    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1", port_of(tls_server, transport), TOKEN, transport=transport, timeout=5.0
    ) as client:
        with pytest.raises(ConnectionFailed):
            await client.get_registered_models()
    await assert_ready(tls_server, pki.ca)


async def test_a_key_that_does_not_match_the_certificate_stops_the_start(
    database_url: str, pki: Pki, tmp_path: Path
) -> None:
    stranger = trustme.CA().issue_cert("localhost")
    other_key = tmp_path / "other.key"
    stranger.private_key_pem.write_to_path(str(other_key))
    with pytest.raises(ValueError, match="cannot use TLS certificate"):
        async with run_server(database_url, tls_cert=pki.cert, tls_key=other_key):
            pass
    with pytest.raises(ValueError, match="both"):
        async with run_server(database_url, tls_cert=pki.cert):
            pass


async def test_serve_with_tls_flags_serves_https_and_grpc_over_tls(
    pki: Pki, tmp_path: Path
) -> None:
    args = [
        "--database-url",
        f"sqlite:///{tmp_path / 'registry.db'}",
        "--tls-cert",
        str(pki.cert),
        "--tls-key",
        str(pki.key),
    ]
    async with serve_process(args) as srv:
        assert srv.url.startswith("https://")
        assert srv.grpc_port is not None
        transports: list[tuple[Transport, int]] = [("rest", srv.port), ("grpc", srv.grpc_port)]
        for transport, port in transports:
            async with ModelRegistryAPIClient.secure_connection(
                "localhost",
                port,
                user_token=None,
                custom_ca=str(pki.ca),
                transport=transport,
                timeout=10.0,
            ) as client:
                await client.upsert_registered_model(RegisteredModel(f"cli-{transport}"))
                assert len(await client.get_registered_models()) >= 1


async def test_serve_with_a_missing_certificate_exits_1_saying_why(tmp_path: Path) -> None:
    code, _, err = await serve_refused(
        [
            "--database-url",
            f"sqlite:///{tmp_path / 'registry.db'}",
            "--tls-cert",
            str(tmp_path / "absent.pem"),
            "--tls-key",
            str(tmp_path / "absent.key"),
        ]
    )
    assert code == 1
    assert b"cannot read TLS file" in err
