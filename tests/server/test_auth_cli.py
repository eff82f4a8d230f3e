"""``model-registry serve`` with tokens: every source on the command line, nothing printed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pytest
from reliability.serving import serve_process, serve_refused

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unauthorized
from model_registry.types import RegisteredModel


async def test_serve_takes_tokens_from_file_flag_and_environment_and_never_prints_them(
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("# one per line\nfile-token-1\nfile-token-2\n")
    args = [
        "--database-url",
        f"sqlite:///{tmp_path / 'registry.db'}",
        "--auth-token-file",
        str(token_file),
        "--auth-token",
        "flag-token-1",
        "--auth-token",
        "flag-token-2",
        "--log-level",
        "DEBUG",
    ]
    secrets = ["file-token-1", "file-token-2", "flag-token-1", "flag-token-2", "env-token"]
    env = {"MODEL_REGISTRY_AUTH_TOKEN": "env-token"}
    async with serve_process(args, env=env) as srv:
        assert "bearer tokens required" in srv.banner
        transports: list[tuple[Literal["rest", "grpc"], int | None]] = [
            ("rest", srv.port),
            ("grpc", srv.grpc_port),
        ]
        for transport, port in transports:
            assert port is not None
            for number, token in enumerate(secrets):
                async with ModelRegistryAPIClient.insecure_connection(
                    "127.0.0.1", port, token, transport=transport, timeout=10.0
                ) as client:
                    await client.upsert_registered_model(RegisteredModel(f"{transport}-{number}"))
            async with ModelRegistryAPIClient.insecure_connection(
                "127.0.0.1", port, "not-a-token", transport=transport, timeout=10.0
            ) as client:
                with pytest.raises(Unauthorized):
                    await client.get_registered_models()

        # Rotated without a restart.
        token_file.write_text("file-token-3\n")
        os.utime(token_file, ns=(0, token_file.stat().st_mtime_ns + 1_000_000))
        async with ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1", srv.port, "file-token-3", timeout=10.0
        ) as client:
            assert len(await client.get_registered_models()) == 2 * len(secrets)
        srv.process.terminate()
        assert await srv.wait() == 0
    output = srv.text()
    assert "stopping" in output
    for secret in [*secrets, "file-token-3", "not-a-token"]:
        assert secret not in output


async def test_serve_without_tokens_is_open_and_says_nothing_about_tokens(tmp_path: Path) -> None:
    args = ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}"]
    async with serve_process(args, grpc=False) as srv:
        assert "bearer" not in srv.banner
        async with ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1", srv.port, timeout=10.0
        ) as client:
            assert await client.get_registered_models() is not None


async def test_serve_refuses_a_token_file_without_tokens(tmp_path: Path) -> None:
    empty = tmp_path / "tokens"
    empty.write_text("# none\n")
    code, _, err = await serve_refused(
        [
            "--database-url",
            f"sqlite:///{tmp_path / 'registry.db'}",
            "--auth-token-file",
            str(empty),
        ]
    )
    assert code == 1
    assert b"no token" in err
