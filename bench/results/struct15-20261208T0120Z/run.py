"""Interleaved rounds: each tree's client, REST and gRPC, against one server in another process.

Usage: ``N=2000 ROUNDS=8 python run.py before=<src dir> after=<src dir>``.
"""

import json
import os
import statistics
import subprocess
import sys
from typing import Any

PY = "/work/main/.venv/bin/python"
HERE = os.path.dirname(os.path.abspath(__file__))
N, ROUNDS = int(os.environ.get("N", 3000)), int(os.environ.get("ROUNDS", 3))


def child(script: str, src: str, transport: str, info: dict[str, Any], n: int) -> Any:
    port = info["port"] if transport == "rest" else info["grpc_port"]
    args = [PY, f"{HERE}/{script}", transport, str(port), str(info["id"]), str(n)]
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def loadavg() -> list[str]:
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def main() -> None:
    trees = dict(arg.split("=", 1) for arg in sys.argv[1:])  # name=path/to/src
    env = {**os.environ, "PYTHONPATH": next(iter(trees.values()))}
    srv = subprocess.Popen(
        [PY, f"{HERE}/server.py"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    assert srv.stdout is not None and srv.stdin is not None
    info = json.loads(srv.stdout.readline())
    results: dict[str, list[float]] = {}
    load_start = loadavg()
    for r in range(ROUNDS):
        order = list(trees.items()) if r % 2 == 0 else list(reversed(trees.items()))
        for name, src in order:
            for transport in ("rest", "grpc"):
                cpu = child("child.py", src, transport, info, N)["cpu_us"]
                results.setdefault(f"{name} {transport}", []).append(cpu)
                print(r, name, transport, f"{cpu:.1f} us cpu/get", flush=True)
    calls = {}
    for name, src in trees.items():
        for transport in ("rest", "grpc"):
            per_get = child("calls.py", src, transport, info, 1000)["calls_per_get"]
            calls[f"{name} {transport}"] = per_get
            print(name, transport, per_get, "calls/get", flush=True)
    load_end = loadavg()
    srv.stdin.close()
    srv.wait(timeout=30)
    summary = {
        key: {"rounds_us": [round(x, 1) for x in v], "median_us": round(statistics.median(v), 1)}
        for key, v in results.items()
    }
    report = {"gets_per_round": N, "rounds": ROUNDS, "load_start": load_start}
    report |= {"load_end": load_end, "summary": summary, "calls_per_get": calls}
    print(json.dumps(report, indent=1))


main()
