"""``python -m bench.page_cpu``: the server's CPU time per list page (issue 24, items 1 and 7).

A page of 1,000 model versions (or registered models), each with 2 custom properties, walked
by keyset tokens from a real ``model-registry serve`` on a seeded database, over REST and gRPC,
on SQLite and (when it answers) PostgreSQL. The client is as bare as it gets (``http.client``
on one kept-alive connection; the generated gRPC stub), and the figure is the SERVER's CPU:
the sum over its threads of the time on CPU (``/proc/<pid>/task/*/schedstat``, nanoseconds)
across the walk, divided by the pages. That is what the issue's "14 ms per page" measures, free
of the client's decoding. PostgreSQL's own processes are not counted (the figure is our
server's).

``--profile DIR`` also records the server with py-spy during each walk
(``DIR/<scenario>.txt`` collapsed stacks, ``.top.txt`` summaries; see bench/profile.py).

``--against SRC`` also starts a server from other sources (``PYTHONPATH=SRC``, e.g. main's
``src`` for a before/after) on the same database, and alternates the rounds between the two:
each scenario then has ``against_cpu_ms_per_page`` and ``ratio`` (this one's / the other's),
taken under the same load.

Run from the repository root with the sources first on the path::

    PYTHONPATH=$PWD/src .venv/bin/python -m bench.page_cpu [--pages 40] [--rounds 3]
        [--db sqlite pg] [--transport rest grpc] [--kind versions models] [--profile DIR]
        [--against OTHER_SRC]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import grpc
import orjson

from bench import pg, profile
from bench.seed import seed_models, seed_versions_sync
from bench.server import ServerProcess
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2_grpc as pbg

PAGE_SIZE = 1000


def server_cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far, in nanoseconds (schedstat's first field)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total


class RestWalker:
    """Pages of one list endpoint over REST (v1alpha3 or v1), one kept-alive connection."""

    def __init__(self, server: ServerProcess, path: str, api: str) -> None:
        self._conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        self._path = f"/api/model_registry/{api}{path}"
        self.token = ""

    def page(self) -> int:
        """Fetch the next page (the first after the last); return its item count."""
        query = {"pageSize": str(PAGE_SIZE)}
        if self.token:
            query["nextPageToken"] = self.token
        self._conn.request("GET", f"{self._path}?{urlencode(query)}")
        resp = self._conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{resp.status}: {body[:200]!r}")
        page = orjson.loads(body)
        self.token = page["nextPageToken"]
        return int(page["size"])

    def close(self) -> None:
        self._conn.close()


class GrpcWalker:
    """Pages of GetModelVersions / GetRegisteredModels over the generated stub."""

    def __init__(self, server: ServerProcess, model_id: str | None) -> None:
        self._channel = grpc.insecure_channel(
            f"{server.host}:{server.grpc_port}",
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        stub = pbg.ModelRegistryServiceStub(self._channel)
        self._model_id = model_id
        self._call = stub.GetModelVersions if model_id is not None else stub.GetRegisteredModels
        self.token = ""

    def page(self) -> int:
        """Fetch the next page; return its item count."""
        if self._model_id is not None:
            request: object = pb.GetModelVersionsRequest(
                page_size=PAGE_SIZE, registered_model_id=self._model_id, next_page_token=self.token
            )
        else:
            request = pb.GetRegisteredModelsRequest(page_size=PAGE_SIZE, next_page_token=self.token)
        answer = self._call(request, timeout=60)
        self.token = answer.next_page_token
        return int(answer.size)

    def close(self) -> None:
        self._channel.close()


def walk(walker: RestWalker | GrpcWalker, pid: int, pages: int) -> tuple[float, float]:
    """Fetch ``pages`` full pages (starting over at the end); return (server CPU ms per page,
    median wall ms per page)."""
    walls: list[float] = []
    cpu0 = server_cpu_ns(pid)
    done = 0
    while done < pages:
        t0 = time.perf_counter()
        size = walker.page()
        walls.append(time.perf_counter() - t0)
        if size == PAGE_SIZE:
            done += 1
        else:
            # The short last page is not a page of 1,000: leave it out of the figure (its CPU
            # stays in; one short page in dozens barely moves it) and start over.
            walker.token = ""
    cpu = server_cpu_ns(pid) - cpu0
    return cpu / pages / 1e6, statistics.median(walls) * 1e3


@contextlib.contextmanager
def _database(kind: str, scratch: Path, pg_url: str) -> Iterator[tuple[Path, str | None]]:
    """A fresh database: (SQLite file, None) or (log file name, PostgreSQL URL)."""
    if kind == "sqlite":
        yield scratch / "pages.db", None
    else:
        with pg.fresh_schema(pg_url, "page_cpu") as url:
            yield scratch / "pages-pg.db", url


def _seed(database: Path, url: str | None, versions: int, models: int) -> str:
    target: Path | str = url if url is not None else database
    model_id = seed_versions_sync(target, versions)
    asyncio.run(seed_models(target, models))
    return model_id


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    """Every chosen scenario; one dict per (database, kind, transport)."""
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="mr-page-cpu-") as tmp:
        scratch = Path(tmp)
        for db in args.db:
            if db == "pg":
                why = pg.unavailable(args.pg_url)
                if why is not None:
                    print(f"page_cpu: PostgreSQL skipped: {why}", flush=True)
                    continue
            with _database(db, scratch, args.pg_url) as (database, url):
                t0 = time.perf_counter()
                model_id = _seed(database, url, args.versions, args.models)
                print(f"page_cpu: seeded {db} in {time.perf_counter() - t0:.1f}s", flush=True)
                with contextlib.ExitStack() as servers:
                    server = servers.enter_context(ServerProcess(database, database_url=url))
                    other = None
                    if args.against is not None:
                        other = servers.enter_context(
                            ServerProcess(
                                database,
                                database_url=url,
                                env={"PYTHONPATH": f"{args.against}:{Path.cwd()}"},
                                log_suffix=".against.log",
                            )
                        )
                    for kind in args.kind:
                        for transport in args.transport:
                            results += _scenario(args, server, other, db, kind, transport, model_id)
    return results


def _walkers(
    server: ServerProcess, kind: str, transport: str, model_id: str
) -> dict[str, Callable[[], RestWalker | GrpcWalker]]:
    path = f"/registered_models/{model_id}/versions" if kind == "versions" else "/registered_models"
    if transport == "rest":
        return {
            "rest-v1alpha3": lambda: RestWalker(server, path, "v1alpha3"),
            "rest-v1": lambda: RestWalker(server, path, "v1"),
        }
    return {"grpc": lambda: GrpcWalker(server, model_id if kind == "versions" else None)}


def _scenario(
    args: argparse.Namespace,
    server: ServerProcess,
    other: ServerProcess | None,
    db: str,
    kind: str,
    transport: str,
    model_id: str,
) -> list[dict[str, object]]:
    out = []
    pid = server.pid
    assert pid is not None
    for label, make in _walkers(server, kind, transport, model_id).items():
        walker = make()
        against = None
        if other is not None:
            against = _walkers(other, kind, transport, model_id)[label]()
        try:
            walk(walker, pid, 3)  # warm-up: statements compiled, caches filled
            if against is not None:
                assert other is not None and other.pid is not None
                walk(against, other.pid, 3)
            cpus: list[float] = []
            walls: list[float] = []
            other_cpus: list[float] = []
            key = f"{db}-{kind}-{label}"
            recording = (
                profile.record(pid, args.profile / f"{key}.txt", rate=1000)
                if args.profile is not None
                else contextlib.nullcontext()
            )
            with recording:
                for _ in range(args.rounds):
                    cpu, wall = walk(walker, pid, args.pages)
                    cpus.append(cpu)
                    walls.append(wall)
                    if against is not None:
                        assert other is not None and other.pid is not None
                        other_cpus.append(walk(against, other.pid, args.pages)[0])
        finally:
            walker.close()
            if against is not None:
                against.close()
        if args.profile is not None and (args.profile / f"{key}.txt").exists():
            print(where_time_goes(args.profile / f"{key}.txt"), flush=True)
        row: dict[str, object] = {
            "key": key,
            "server_cpu_ms_per_page": round(statistics.median(cpus), 2),
            "rounds_cpu_ms": [round(c, 2) for c in cpus],
            "wall_ms_per_page_p50": round(statistics.median(walls), 2),
        }
        line = (
            f"page_cpu: {key:<28} server CPU {row['server_cpu_ms_per_page']:>6} ms/page "
            f"(rounds {row['rounds_cpu_ms']}), wall p50 {row['wall_ms_per_page_p50']} ms"
        )
        if other_cpus:
            row["against_cpu_ms_per_page"] = round(statistics.median(other_cpus), 2)
            row["against_rounds_cpu_ms"] = [round(c, 2) for c in other_cpus]
            # Round by round (the two walks of a round ran under the same load).
            ratios = [c / o for c, o in zip(cpus, other_cpus, strict=True)]
            row["ratio"] = round(statistics.median(ratios), 3)
            line += f"; against {row['against_cpu_ms_per_page']} ms/page, ratio {row['ratio']}"
        print(line, flush=True)
        out.append(row)
    return out


_HANDLERS = ("list_ (model_registry/server/rest.py", "_list.<locals>.handler")
_PARTS = (
    ("read transaction (BEGIN, COMMIT, connection)", ("Store._begin", "SqliteStore.read")),
    ("parent check", ("RegistryService._require",)),
    ("page statement built", ("page_statement",)),
    ("page query run and fetched", ("Tx.list_page_wire", "Tx.list_page ")),
    ("aliases query", ("Tx.aliases_of", "Tx._attach_aliases")),
    ("splice (answers into the page)", ("RegistryService._page_json", "_page_bytes")),
    ("dict path (to_wire, messages)", ("to_wire (", "wire_to_message", "_page_message (")),
)


def where_time_goes(path: Path) -> str:
    """Shares of the server's busy main-thread samples (py-spy raw file): each sample goes to
    the innermost part of a page it is in; outside the list handler, to the front door."""
    busy = 0
    counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit() or "MainThread" not in stack:
            continue
        frames = stack.split(";")
        if frames[-1].startswith(("Runner.run", "thread (")):
            continue  # the event loop waiting: idle
        busy += int(n)
        part = "front door (aiohttp or grpc, middleware, event loop)"
        if any(h in frame for frame in frames for h in _HANDLERS):
            part = "handler, other"
            for frame in reversed(frames):
                found = next((name for name, ns in _PARTS if any(x in frame for x in ns)), None)
                if found is not None:
                    part = found
                    break
        counts[part] = counts.get(part, 0) + int(n)
    lines = [f"{busy} busy samples of the main thread"]
    lines += [
        f"{c / busy * 100:5.1f}%  {name}" for name, c in sorted(counts.items(), key=lambda x: -x[1])
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Parse the arguments, run, print a JSON summary (and write it with ``--out``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.page_cpu", description=__doc__)
    parser.add_argument("--db", nargs="+", choices=("sqlite", "pg"), default=["sqlite", "pg"])
    parser.add_argument(
        "--kind", nargs="+", choices=("versions", "models"), default=["versions", "models"]
    )
    parser.add_argument(
        "--transport", nargs="+", choices=("rest", "grpc"), default=["rest", "grpc"]
    )
    parser.add_argument("--versions", type=int, default=20_000, help="versions seeded")
    parser.add_argument("--models", type=int, default=5_000, help="registered models seeded")
    parser.add_argument("--pages", type=int, default=30, help="pages of 1,000 per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default=pg.DEFAULT_URL)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the server into DIR")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="SRC",
        help="also serve from these sources (PYTHONPATH) and alternate rounds with them",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    results = run(args)
    text = json.dumps(results, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
