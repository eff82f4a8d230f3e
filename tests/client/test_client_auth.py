"""Bearer tokens against the real server with authentication on (REST)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unauthorized
from model_registry.server import run_server
from model_registry.transport.auth import TokenSource
from model_registry.types import RegisteredModel


async def test_tokens_from_every_source_against_an_authenticating_server(
    database_url: str, tmp_path: Path
) -> None:
    async with run_server(database_url, auth_tokens={"tok-A", "tok-B"}) as srv:

        def connect(token: TokenSource | None) -> ModelRegistryAPIClient:
            return ModelRegistryAPIClient.insecure_connection("127.0.0.1", srv.port, token)

        async with connect("tok-A") as client:
            await client.upsert_registered_model(RegisteredModel("secured"))
        async with connect(b"tok-B") as client:
            assert [m.name for m in await client.get_registered_models()] == ["secured"]
        async with connect(lambda: "tok-A") as client:
            assert await client.get_registered_model_by_params(name="secured") is not None

        for bad in (None, "wrong-token"):
            async with connect(bad) as client:
                with pytest.raises(Unauthorized) as info:
                    await client.get_registered_models()
                assert "wrong-token" not in str(info.value)

        # A projected token file rotated in place (same size, same times) is read again
        # only because the server refuses the old token.
        token_file = tmp_path / "token"
        token_file.write_text("tok-X")
        async with connect(token_file) as client:
            with pytest.raises(Unauthorized):
                await client.get_registered_models()
            stat = token_file.stat()
            token_file.write_text("tok-A")
            os.utime(token_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            assert len(await client.get_registered_models()) == 1
