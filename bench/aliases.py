"""``python -m bench.aliases``: what aliases add to a listing of versions (issue 21).

One registered model gets ``--versions`` versions (:func:`bench.seed.seed_versions`); a copy of
the database gets an alias on every tenth version when the schema has aliases (the code under
test has the extension). A server on each database is walked page by page (``pageSize`` 1000,
the server's keyset tokens) by a bare aiohttp session, the two alternating, ``--walks`` times
each, so a busy machine slows both alike. The figures are the median walk and the median page
(request sent to body read).

Run it on the code before the extension (``PYTHONPATH=<checkout>/src:<checkout>``) and after,
with the same arguments: ``before`` has the walk without aliases only; ``after`` has both.
Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.seed import seed_versions_sync
from bench.server import ServerProcess

API_PATH = "/api/model_registry/v1"
"""REST v1: the API version whose answers carry aliases."""
PAGE_SIZE = 1000
ALIAS_EVERY = 10
"""Every tenth version gets an alias (10,000 aliases on 100,000 versions)."""


async def _walk(url: str) -> tuple[float, list[float], int, int]:
    """One walk: its seconds, each page's seconds, the items, and the items with an alias."""
    pages: list[float] = []
    items = aliased = 0
    token = ""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        t0 = time.perf_counter()
        while True:
            params = {"pageSize": str(PAGE_SIZE)}
            if token:
                params["nextPageToken"] = token
            start = time.perf_counter()
            async with session.get(url, params=params) as reply:
                body = await reply.read()
                if reply.status != 200:
                    raise RuntimeError(f"HTTP {reply.status}: {body[:200]!r}")
            pages.append(time.perf_counter() - start)
            page = json.loads(body)
            items += len(page["items"])
            aliased += sum(1 for item in page["items"] if item.get("aliases"))
            token = page.get("nextPageToken") or ""
            if not token:
                return time.perf_counter() - t0, pages, items, aliased


def _add_aliases(database: Path, model_id: str) -> int | None:
    """Give every tenth version an alias; None when the schema has no aliases (before)."""
    with sqlite3.connect(database) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "model_version_aliases" not in tables:
            return None
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM contexts WHERE kind = 'model-version' AND parent_id = ? "
                "ORDER BY id",
                (int(model_id),),
            )
        ]
        rows = [(int(model_id), f"a{i}", vid) for i, vid in enumerate(ids[::ALIAS_EVERY])]
        conn.executemany(
            "INSERT INTO model_version_aliases (registered_model_id, alias, model_version_id) "
            "VALUES (?, ?, ?)",
            rows,
        )
        return len(rows)


def _interleaved(databases: dict[str, Path], model_id: str, walks: int) -> dict[str, Any]:
    """Walk each database's server in turn, ``walks`` rounds; the figures of each."""
    runs: dict[str, list[tuple[float, list[float], int, int]]] = {name: [] for name in databases}
    servers = {name: ServerProcess(path).start() for name, path in databases.items()}
    try:
        for _ in range(walks):
            for name, server in servers.items():
                url = f"{server.url}{API_PATH}/registered_models/{model_id}/versions"
                runs[name].append(asyncio.run(_walk(url)))
    finally:
        for server in servers.values():
            server.stop()
    return {
        name: {
            "walk_seconds_median": statistics.median(r[0] for r in found),
            "walk_seconds": [round(r[0], 4) for r in found],
            "page_ms_median": statistics.median(p for r in found for p in r[1]) * 1000,
            "pages": len(found[0][1]),
            "items": found[0][2],
            "items_with_aliases": found[0][3],
        }
        for name, found in runs.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Seed, walk without and (when the code has them) with aliases; write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--walks", type=int, default=5)
    parser.add_argument("--label", required=True, help="before or after")
    parser.add_argument("--commit", default="", help="the commit of the code measured")
    parser.add_argument("--out", type=Path, required=True, help="path without suffix")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-aliases-") as scratch:
        plain = Path(scratch) / "plain.db"
        model_id = seed_versions_sync(plain, args.versions)
        aliased = Path(scratch) / "aliased.db"
        shutil.copyfile(plain, aliased)
        added = _add_aliases(aliased, model_id)
        databases = {"without_aliases": plain}
        if added is not None:
            databases["with_aliases"] = aliased
        result: dict[str, Any] = {
            "label": args.label,
            "commit": args.commit,
            "versions": args.versions,
            "page_size": PAGE_SIZE,
            "walks": args.walks,
            "aliases": added or 0,
            **_interleaved(databases, model_id, args.walks),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Listing {args.versions:,} versions ({args.label})",
        "",
        f"Code: {args.commit or 'this checkout'}. SQLite, one model, pageSize {PAGE_SIZE}, "
        f"{args.walks} interleaved walks of each database; median walk and page.",
        "",
        "| case | walk (s) | page (ms) | items | items with aliases |",
        "|---|---|---|---|---|",
    ]
    for case in ("without_aliases", "with_aliases"):
        if case in result:
            r = result[case]
            lines.append(
                f"| {case.replace('_', ' ')} | {r['walk_seconds_median']:.2f} | "
                f"{r['page_ms_median']:.1f} | {r['items']:,} | {r['items_with_aliases']:,} |"
            )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
