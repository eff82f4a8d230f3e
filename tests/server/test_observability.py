"""/metrics, the served OpenAPI documents and their page, and the JSON access log, against
real servers on both databases; which routes are public with auth on."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import yaml  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc
from reliability.serving import serve_process

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2_grpc
from model_registry.server import RunningServer, run_server
from model_registry.server.app import METRICS_PATH, create_app, public_paths
from model_registry.server.metrics import LATENCY_BUCKETS
from model_registry.server.observability import ACCESS_LOGGER
from model_registry.server.service import RegistryService
from model_registry.server.versions import DEFAULT_API_VERSIONS

REPO = Path(__file__).resolve().parents[2]
TOKEN = "metrics-s3cret-token"
V1 = "/api/model_registry/v1"
ALPHA = "/api/model_registry/v1alpha3"

# One sample line of the Prometheus text format 0.0.4: name, optional labels, a value.
_SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="'
    r'(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (?P<value>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|\+Inf|NaN))$'
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape by (name, labels); fails on any line the format does not allow."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in types, f"TYPE given twice: {line}"
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        match = _SAMPLE.match(line)
        assert match is not None, f"not a sample line: {line!r}"
        labels = frozenset(_LABEL.findall(match.group("labels") or ""))
        key = (match.group("name"), labels)
        assert key not in samples, f"sample given twice: {line}"
        samples[key] = float(match.group("value"))
    for name, _labels in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, f"sample without TYPE: {name}"
    return samples


def series(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The value of one sample (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def assert_histograms_consistent(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str
) -> None:
    """Buckets cumulative and non-decreasing, ``+Inf`` equal to ``_count``, for every series."""
    counts = {labels: v for (n, labels), v in samples.items() if n == f"{name}_count"}
    assert counts
    for labels, count in counts.items():
        previous = 0.0
        buckets = {
            float(dict(bucket_labels)["le"]): value
            for (n, bucket_labels), value in samples.items()
            if n == f"{name}_bucket"
            and bucket_labels - {("le", dict(bucket_labels)["le"])} == labels
        }
        assert sorted(buckets) == sorted((*LATENCY_BUCKETS, math.inf))
        for bound in (*LATENCY_BUCKETS, math.inf):
            value = buckets[bound]
            assert value >= previous
            previous = value
        assert previous == count
        assert samples[(f"{name}_sum", labels)] >= 0


async def scrape(http: aiohttp.ClientSession, srv: RunningServer, **kwargs: Any) -> str:
    async with http.get(srv.url + METRICS_PATH, **kwargs) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return await resp.text()


@pytest.fixture
async def srv(database_url: str) -> AsyncIterator[RunningServer]:
    async with run_server(database_url, grpc_port=0) as server:
        yield server


async def test_metrics_count_rest_requests_by_route_template_and_status_with_histograms(
    srv: RunningServer, database_url: str
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(srv.url + V1 + "/registered_models", json={"name": "m"}) as resp:
            assert resp.status == 201
        for ident in ("1", "2", "3", "4"):  # one found, three not: two series, not four paths
            async with http.get(f"{srv.url}{V1}/registered_models/{ident}") as resp:
                await resp.read()
        async with http.get(srv.url + "/no/such/path/12345") as resp:
            assert resp.status == 404
        samples = parse_metrics(await scrape(http, srv))
    total = "model_registry_http_requests_total"
    item = V1 + "/registered_models/{id}"
    assert series(samples, total, method="GET", route=item, status="200") == 1
    assert series(samples, total, method="GET", route=item, status="404") == 3
    assert series(samples, total, method="POST", route=V1 + "/registered_models", status="201") == 1
    assert series(samples, total, method="GET", route="unmatched", status="404") == 1
    assert not any("12345" in str(labels) for _, labels in samples)  # never a raw path
    assert_histograms_consistent(samples, "model_registry_http_request_duration_seconds")
    # The scrape itself is in flight while it is written.
    assert series(samples, "model_registry_http_requests_in_flight") == 1
    if database_url.startswith("postgresql"):
        assert series(samples, "model_registry_db_pool_connections", state="size") >= 1
        assert ("model_registry_db_pool_connections", frozenset({("state", "checked_out")})) in (
            samples
        )
    else:
        assert series(samples, "model_registry_sqlite_writer_queue_depth") == 0
        # The create went through the writer thread: writes, each batch holding at least one.
        writes = series(samples, "model_registry_sqlite_writer_batched_writes_total")
        batches = series(samples, "model_registry_sqlite_writer_batches_total")
        assert 1 <= batches <= writes
        # The same commits by size: as many transactions as the counter, the writes as the sum.
        size = "model_registry_sqlite_writer_batch_size"
        assert series(samples, size + "_count") == batches
        assert series(samples, size + "_sum") == writes
        assert series(samples, size + "_bucket", le="1.0") >= 1  # the lone create
    # The process's standard metrics, as every Prometheus client library exports them.
    assert series(samples, "process_resident_memory_bytes") > 0
    assert series(samples, "process_open_fds") > 0


async def test_metrics_count_grpc_calls_by_method_and_code(srv: RunningServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        stub = model_registry_pb2_grpc.ModelRegistryServiceStub(channel)
        await stub.GetRegisteredModels(pb.GetRegisteredModelsRequest(), timeout=10)
        health = health_pb2_grpc.HealthStub(channel)
        await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await health.Check(health_pb2.HealthCheckRequest(service="no.such"), timeout=10)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        for _ in range(2):
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetRegisteredModelById(
                    pb.GetRegisteredModelByIdRequest(id="7"), timeout=10
                )
    async with aiohttp.ClientSession() as http:
        samples = parse_metrics(await scrape(http, srv))
    total = "model_registry_grpc_requests_total"
    assert series(samples, total, method="GetRegisteredModels", code="OK") == 1
    check = "grpc.health.v1.Health/Check"
    assert series(samples, total, method=check, code="OK") == 1
    assert series(samples, total, method=check, code="NOT_FOUND") == 1
    assert series(samples, total, method="GetRegisteredModelById", code="NOT_FOUND") == 2
    assert series(samples, "model_registry_grpc_requests_in_flight") == 0
    assert_histograms_consistent(samples, "model_registry_grpc_request_duration_seconds")


async def test_the_served_openapi_documents_are_the_repository_specs(srv: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        # What make generate ships (tests/test_generated.py keeps it fresh): the v1 document,
        # and the reference's v1alpha3 with our marked extensions merged in.
        for base, version in ((V1, "v1"), (ALPHA, "v1alpha3")):
            expected = (
                REPO / "src" / "model_registry" / "_generated" / "specs" / f"{version}.yaml"
            ).read_bytes()
            async with http.get(srv.url + base + "/openapi.yaml") as resp:
                assert resp.status == 200
                assert resp.content_type == "application/yaml"
                assert await resp.read() == expected
            async with http.get(srv.url + base + "/openapi.json") as resp:
                assert resp.status == 200
                assert resp.content_type == "application/json"
                assert json.loads(await resp.read()) == yaml.safe_load(expected)


async def test_the_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere(
    srv: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(srv.url + "/docs") as resp:
            assert resp.status == 200
            index = await resp.text()
        assert f'href="{V1}/openapi.yaml"' in index and 'href="/docs/v1alpha3"' in index
        for version, source in (
            ("v1", "model-registry-v1.yaml"),
            ("v1alpha3", "model-registry.yaml"),
        ):
            async with http.get(srv.url + f"/docs/{version}") as resp:
                assert resp.status == 200
                assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
                page = await resp.text()
            spec = yaml.safe_load((REPO / "openapi" / source).read_text(encoding="utf-8"))
            ids = [
                op["operationId"]
                for item in spec["paths"].values()
                for op in item.values()
                if isinstance(op, dict) and "operationId" in op
            ]
            assert len(ids) >= 40
            for operation_id in ids:
                assert f'id="{operation_id}"' in page, operation_id
            # Offline: no script at all, nothing fetched from another origin.
            assert "<script" not in page
            assert not re.search(r'(src|href)="(https?:)?//', page)
        async with http.get(srv.url + "/docs/v9") as resp:
            assert resp.status == 404


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path template) the REST app serves, from its route table."""
    app = create_app(RegistryService.__new__(RegistryService))
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method not in ("*", "HEAD"):
            found.append((route.method, path))
    return found


@pytest.mark.parametrize("metrics_public", [False, True], ids=["metrics-guarded", "metrics-public"])
async def test_with_auth_on_only_the_probes_docs_and_chosen_metrics_are_public(
    database_url: str, metrics_public: bool
) -> None:
    public = public_paths(DEFAULT_API_VERSIONS, metrics_public=metrics_public)
    assert {"/healthz", "/readyz", "/docs", V1 + "/openapi.yaml", ALPHA + "/openapi.json"} <= public
    assert (METRICS_PATH in public) is metrics_public
    routes = app_routes()
    assert (("GET", METRICS_PATH) in routes) and (("GET", "/docs/{version}") in routes)
    async with (
        run_server(database_url, auth_tokens=[TOKEN], metrics_public=metrics_public) as srv,
        aiohttp.ClientSession() as http,
    ):
        for method, template in routes:
            if template.startswith("/ui") or template == "/":
                continue  # the web UI signs in with its own cookie (tests/server/ui)
            path = re.sub(r"\{[^}]+\}", "1", template)
            body = {} if method in ("POST", "PATCH") else None
            async with http.request(method, srv.url + path, json=body) as resp:
                expected_open = path in public
                assert (resp.status != 401) is expected_open, (method, path, resp.status)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        parse_metrics(await scrape(http, srv, headers=headers))  # the token opens it


async def test_the_json_access_log_has_one_object_per_request_and_never_a_token(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret_query = "filter-secret-1234"
    async with run_server(database_url, grpc_port=0, auth_tokens=[TOKEN], access_log="json") as srv:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            async with aiohttp.ClientSession() as http:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                body = {"name": "m", "description": "body-secret-5678"}
                async with http.post(
                    srv.url + V1 + "/registered_models", json=body, headers=headers
                ) as resp:
                    assert resp.status == 201
                params = {"filterQuery": f"name = '{secret_query}'"}
                async with http.get(
                    srv.url + V1 + "/registered_models", params=params, headers=headers
                ) as resp:
                    assert resp.status == 200
                wrong = {"Authorization": f"Bearer {TOKEN}-wrong"}
                async with http.get(srv.url + V1 + "/registered_models/1", headers=wrong) as resp:
                    assert resp.status == 401
            async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
                stub = model_registry_pb2_grpc.ModelRegistryServiceStub(channel)
                await stub.GetRegisteredModelById(
                    pb.GetRegisteredModelByIdRequest(id="1"),
                    metadata=(("authorization", f"Bearer {TOKEN}"),),
                    timeout=10,
                )
            await asyncio.sleep(0.1)
    lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    records = [json.loads(line) for line in lines]
    assert [(r["transport"], r["method"], r["status"]) for r in records] == [
        ("rest", "POST", 201),
        ("rest", "GET", 200),
        ("rest", "GET", 401),
        ("grpc", "GetRegisteredModelById", "OK"),
    ]
    for record in records:
        assert {"time", "transport", "method", "route", "status", "duration_ms"} <= set(record)
        assert record["duration_ms"] >= 0
    assert records[2]["route"] == V1 + "/registered_models/{id}"
    everything = "\n".join(caplog.messages)
    for secret in (TOKEN, secret_query, "body-secret-5678"):
        assert secret not in everything


async def test_serve_writes_the_access_log_as_bare_json_lines(tmp_path: Path) -> None:
    args = ["--database-url", f"sqlite:///{tmp_path / 'r.db'}", "--access-log", "json"]
    async with serve_process(args, grpc=False) as proc:
        async with aiohttp.ClientSession() as http, http.get(proc.url + "/healthz") as resp:
            assert resp.status == 200
        await asyncio.sleep(0.3)
    lines = [line for line in proc.text().splitlines() if line.startswith("{")]
    assert any(json.loads(line)["route"] == "/healthz" for line in lines), proc.text()[-2000:]


async def test_serve_log_format_json_makes_every_log_line_a_json_object(tmp_path: Path) -> None:
    args = ["--database-url", f"sqlite:///{tmp_path / 'r.db'}", "--log-format", "json"]
    async with serve_process(args, grpc=False) as proc:
        async with aiohttp.ClientSession() as http, http.get(proc.url + "/healthz") as resp:
            assert resp.status == 200
        await asyncio.sleep(0.3)
    lines = [line for line in proc.text().splitlines() if line.strip()]
    # Besides the command's own messages on stdout ("model-registry serving on ..."), every
    # line is a JSON object: the migrations' log lines at start-up, the access log.
    assert all(line.startswith(("{", "model-registry ")) for line in lines), lines
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if r.get("route") == "/healthz"]
    assert access and access[0]["status"] == 200  # --log-format json turns the access log on
    logged = [r for r in records if "logger" in r]
    assert logged, proc.text()[-2000:]  # the server's own lines, as objects
    assert all({"time", "level", "logger", "message"} <= set(r) for r in logged)
