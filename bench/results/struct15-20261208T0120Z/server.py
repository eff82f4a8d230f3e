"""Run a registry server (SQLite) until stdin closes; print its ports and a model's id."""

import asyncio
import json
import sys

from model_registry import ModelRegistryAPIClient
from model_registry.server.thread import ServerThread
from model_registry.types import RegisteredModel

with ServerThread(None, grpc_port=0) as srv:

    async def seed() -> str | None:
        async with ModelRegistryAPIClient.insecure_connection("127.0.0.1", srv.port) as c:
            return (await c.upsert_registered_model(RegisteredModel("cpu-bench"))).id

    mid = asyncio.run(seed())
    print(json.dumps({"port": srv.port, "grpc_port": srv.grpc_port, "id": mid}), flush=True)
    sys.stdin.read()
