"""The web UI scenario (``python -m bench --only ui``): page render times on a big registry.

The registry holds one model with ``versions`` versions (the paging seeder), ``models`` more
models with a version and a model artifact each, a dataset with predictions, a run with logged
metrics and a serving environment with inference services. Each page is fetched sequentially
over one keep-alive connection after a warm-up; a fetch's time (request sent to body read, on
localhost) bounds the server time from above. The issue's target: under 300 ms per page.
"""

from __future__ import annotations

import asyncio
import html
import http.client
import re
import time
from pathlib import Path
from urllib.parse import quote

from bench.seed import seed_versions
from bench.server import ServerProcess
from bench.timing import Result, percentile
from model_registry.server.service import RegistryService
from model_registry.server.store import Store

PAGE_TARGET_MS = 300.0
"""The issue's bound on one page's server time."""

_STRING = "MetadataStringValue"


def _props(**values: str) -> dict[str, dict[str, str]]:
    return {k: {"metadataType": _STRING, "string_value": v} for k, v in values.items()}


async def seed_ui(database: Path, versions: int, models: int, metric_points: int) -> dict[str, str]:
    """Fill ``database`` with what every UI page shows; return the ids the pages need."""
    big = await seed_versions(database, versions, model_name="big-model")
    store = await Store.open(f"sqlite:///{database}")
    try:
        service = RegistryService(store)
        version_id = ""
        small: list[tuple[str, str]] = []
        for i in range(models):
            model = await service.create(
                "registered-model",
                {"name": f"model-{i:05d}", "owner": "bench", "customProperties": _props(prod="")},
            )
            version = await service.create(
                "model-version", {"name": "1", "author": "bench"}, parent_id=model["id"], full=True
            )
            await service.upsert_context_artifact(
                "model-version",
                version["id"],
                {
                    "artifactType": "model-artifact",
                    "name": f"model-{i:05d}",
                    "uri": f"s3://bench/model-{i:05d}.onnx",
                    "modelFormatName": "onnx",
                },
            )
            version_id = version["id"]
            small.append((model["id"], version_id))
        dataset = await service.create(
            "artifact",
            {
                "artifactType": "dataset-artifact",
                "name": "bench-data",
                "uri": "s3://bench/data.csv",
                "customProperties": _props(**{"registry.kind": "dataset", "params.label_col": "y"}),
            },
        )
        await service.upsert_context_artifact(
            "model-version",
            version_id,
            {
                "artifactType": "dataset-artifact",
                "name": f"predictions-{dataset['id']}",
                "uri": "s3://bench/predictions.csv",
                "customProperties": _props(
                    **{
                        "registry.kind": "predictions",
                        "dataset_id": dataset["id"],
                        "model_version_id": version_id,
                        "params.pred_col": "p",
                    }
                ),
            },
        )
        experiment = await service.create("experiment", {"name": "bench-experiment"})
        run = await service.create(
            "experiment-run", {"name": "bench-run"}, parent_id=experiment["id"], full=True
        )
        for step in range(metric_points):
            await service.upsert_context_artifact(
                "experiment-run",
                run["id"],
                {"artifactType": "metric", "name": "loss", "value": 1 / (step + 1), "step": step},
            )
        environment = await service.create("serving-environment", {"name": "bench-env"})
        for i, (model_id, pinned) in enumerate(small[:50]):
            # Half serve the big model's newest version, half a pinned version of their own.
            served = (
                {"registeredModelId": big}
                if i % 2
                else {
                    "registeredModelId": model_id,
                    "modelVersionId": pinned,
                }
            )
            await service.create(
                "inference-service",
                {"name": f"svc-{i}", "servingEnvironmentId": environment["id"], **served},
            )
        return {
            "big": big,
            "version": version_id,
            "experiment": experiment["id"],
            "run": run["id"],
            "environment": environment["id"],
        }
    finally:
        await store.close()


def ui_pages(server: ServerProcess, ids: dict[str, str], requests: int) -> list[Result]:
    """Fetch each page ``requests`` times; one result per page (latencies in ms)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    first = _get(conn, "/ui/models?size=100&order=ID&dir=asc")
    next_link = re.search(r'href="([^"]+)" rel="next"', first)
    page2 = html.unescape(next_link.group(1)) if next_link else "/ui/models?size=100"
    by_name = _get(conn, "/ui/models?size=100&order=NAME&dir=asc")
    next_link = re.search(r'href="([^"]+)" rel="next"', by_name)
    name_page2 = html.unescape(next_link.group(1)) if next_link else "/ui/models?order=NAME"
    pages = {
        "models": "/ui/models",
        "models_100": "/ui/models?size=100",
        "models_page2": page2,
        "models_search": "/ui/models?q=model-0001",
        "models_filter": "/ui/models?filter=" + quote('owner = "bench"'),
        "models_by_name": "/ui/models?order=NAME&dir=asc",
        "models_by_name_page2": name_page2,
        "model_100k_versions": f"/ui/models/{ids['big']}",
        "model_100k_versions_by_name": f"/ui/models/{ids['big']}?order=NAME&dir=desc",
        "version": f"/ui/versions/{ids['version']}",
        "datasets": "/ui/datasets",
        "predictions": "/ui/predictions",
        "run_metrics": f"/ui/runs/{ids['run']}",
        "serving": f"/ui/serving/{ids['environment']}",
    }
    results = []
    for name, path in pages.items():
        for _ in range(3):
            _get(conn, path)
        latencies = []
        t_all = time.perf_counter()
        for _ in range(requests):
            t0 = time.perf_counter()
            _get(conn, path)
            latencies.append((time.perf_counter() - t0) * 1000)
        seconds = time.perf_counter() - t_all
        latencies.sort()
        results.append(
            Result(
                key=f"u_{name}",
                title=f"UI page {path[:60]}",
                client="http-get",
                ops=requests,
                seconds=seconds,
                unit="page",
                p50_ms=percentile(latencies, 0.5),
                p99_ms=percentile(latencies, 0.99),
                extra={"target_ms": PAGE_TARGET_MS, "max_ms": latencies[-1]},
            )
        )
    conn.close()
    return results


def _get(conn: http.client.HTTPConnection, path: str) -> str:
    conn.request("GET", path, headers={"Accept": "text/html"})
    response = conn.getresponse()
    body = response.read().decode()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]}")
    return body


def seed_ui_sync(database: Path, versions: int, models: int, metric_points: int) -> dict[str, str]:
    """:func:`seed_ui` from synchronous code (its own event loop)."""
    return asyncio.run(seed_ui(database, versions, models, metric_points))
