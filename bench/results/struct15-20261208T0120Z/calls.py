"""Function calls per get (cProfile), a measure the machine's load does not move."""

import asyncio
import cProfile
import json
import pstats
import sys

from model_registry import ModelRegistryAPIClient


async def main(transport: str, port: int, mid: str, n: int) -> None:
    connect = ModelRegistryAPIClient.insecure_connection
    async with connect("127.0.0.1", port, transport=transport) as c:  # type: ignore[arg-type]
        for _ in range(200):
            await c.get_registered_model_by_id(mid)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            await c.get_registered_model_by_id(mid)
        prof.disable()
    total: int = pstats.Stats(prof).total_calls  # type: ignore[attr-defined]
    print(json.dumps({"calls_per_get": total / n}))


asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
