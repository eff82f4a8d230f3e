"""Client CPU per get: process_time of N gets of one registered model (after a warm-up)."""

import asyncio
import json
import sys
import time

from model_registry import ModelRegistryAPIClient


async def main(transport: str, port: int, mid: str, n: int) -> None:
    connect = ModelRegistryAPIClient.insecure_connection
    async with connect("127.0.0.1", port, transport=transport) as c:  # type: ignore[arg-type]
        for _ in range(300):
            await c.get_registered_model_by_id(mid)
        t0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            await c.get_registered_model_by_id(mid)
        t1, w1 = time.process_time(), time.perf_counter()
    print(json.dumps({"cpu_us": (t1 - t0) / n * 1e6, "wall_us": (w1 - w0) / n * 1e6}))


asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
