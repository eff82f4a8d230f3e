"""The PostgreSQL assigner's round alone: CPU of this process per round, four round trips
(BEGIN, barrier, assignment, COMMIT, as before migration 0011) against one (the function).

``python -m bench.assign_round_cpu [--rounds 200] [--blocks 10] [--out DIR]``

A third form, ``store``, is ``Store.assign_event_cursors`` itself, which calls the function
on the connection it holds between rounds (no pool checkout, no pre-ping per round).

One store on a fresh schema; before each round one write commits (not timed), so every round
numbers one pending event, as a sequential writer's rounds do. Both forms check a connection
out of the store's pool (with its pre-ping) exactly as ``Store.assign_event_cursors`` does,
and run in alternating blocks (each pair starting with the other form). Measured: this
process's CPU time per round (``time.process_time``) and its wall time; PostgreSQL's own CPU
is not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import pg

# The round as sent before migration 0011 (store/events.py at c046402).
_LOCK_KEY = "19794, (('events_pending'::regclass)::oid::bigint - 2147483648)::int"
_BARRIER = (
    "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_pending "
    f"WHERE lk.one = 1) FROM (SELECT pg_advisory_xact_lock({_LOCK_KEY}), 1 AS one) AS lk"
)
_ASSIGN = (
    "WITH h AS (SELECT last_cursor AS head FROM event_log WHERE id = 1), "
    "p AS (SELECT cursor AS pending, row_number() OVER (ORDER BY cursor DESC) AS n "
    "FROM events WHERE cursor < 0 AND cursor > $1 ORDER BY cursor DESC LIMIT $2), "
    "moved AS (UPDATE events SET cursor = h.head + p.n FROM p, h "
    "WHERE events.cursor = p.pending RETURNING 1) "
    "UPDATE event_log SET last_cursor = last_cursor + (SELECT count(*) FROM moved) "
    "WHERE id = 1 RETURNING (SELECT count(*) FROM moved)"
)


async def _old_round(driver: Any) -> int:
    async with driver.transaction():
        high_water = int(await driver.fetchval(_BARRIER))
        if not high_water:
            return 0
        return int(await driver.fetchval(_ASSIGN, -(high_water + 1) * (1 << 20), 5000))


async def _new_round(driver: Any) -> int:
    from model_registry.server.store.events import assign_round

    return await assign_round(driver, check=False)


async def _blocks(url: str, rounds: int, blocks: int) -> dict[str, list[tuple[float, float]]]:
    from model_registry.server.service import RegistryService
    from model_registry.server.store import Store

    store = await Store.open(url)
    service = RegistryService(store)
    forms = {"four_round_trips": _old_round, "function": _new_round, "store": _new_round}
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in forms}
    n = 0
    try:
        for b in range(blocks + 1):  # block 0 warms up
            order = list(forms) if b % 2 else list(reversed(forms))  # each pair both ways
            for name in order:
                cpu = wall = 0.0
                for _ in range(rounds):
                    n += 1
                    await service.create("registered-model", {"name": f"m{n}"})
                    await service.events.assigned()
                    # The feed's own assigner is done; leave one event pending for the round.
                    async with store.engine.begin() as conn:
                        await conn.exec_driver_sql(
                            "UPDATE events SET cursor = -(nextval('events_pending') * 1048576)"
                            " WHERE cursor = (SELECT max(cursor) FROM events)"
                        )
                        await conn.exec_driver_sql(
                            "UPDATE event_log SET last_cursor = last_cursor - 1 WHERE id = 1"
                        )
                    c0, w0 = time.process_time(), time.perf_counter()
                    if name == "store":
                        got = await store.assign_event_cursors(pending=True)
                    else:
                        async with store.engine.connect() as conn:
                            driver = (await conn.get_raw_connection()).driver_connection
                            got = await forms[name](driver)
                    cpu += time.process_time() - c0
                    wall += time.perf_counter() - w0
                    assert got == 1, got
                if b:
                    out[name].append((cpu / rounds * 1e6, wall / rounds * 1e6))
        await service.events.close()
    finally:
        await store.close()
    return out


def main(argv: list[str]) -> int:
    """Run the A/B and print (and with ``--out`` write) its JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.assign_round_cpu")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--out", type=Path, help="write assign_round_cpu.json here")
    args = parser.parse_args(argv)
    why = pg.unavailable(pg.DEFAULT_URL)
    if why:
        print(f"PostgreSQL unavailable: {why}", file=sys.stderr)
        return 1
    with pg.fresh_schema(pg.DEFAULT_URL, "assignrt") as url:
        samples = asyncio.run(_blocks(url, args.rounds, args.blocks))
    summary = {
        name: {
            "cpu_us": round(statistics.median(s[0] for s in rows), 1),
            "wall_us": round(statistics.median(s[1] for s in rows), 1),
        }
        for name, rows in samples.items()
    }
    result = {"blocks": samples, "summary": summary}
    print(json.dumps(summary))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "assign_round_cpu.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
