"""``--only decode``: the client's CPU to decode one page of model versions (issue 24, item 2).

A page of ``page_size`` versions (two custom properties each, as every paging scenario seeds
them) is fetched once from a real server over each transport; then, in this process and with
nothing else in the way, the client's decoding of those exact bytes is timed: for REST,
``orjson.loads`` plus the conversion of each item into a ``ModelVersion`` (what
``RestTransport`` does with a list answer); for gRPC, parsing the ``ModelVersionList``
message plus the conversion of each item. CPU time (``time.process_time``), best of the
rounds and their median, with the garbage collector on as in an application. The goal is at
most 5 ms per page of 1,000 (reported, never asserted).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import orjson

from bench.seed import seed_versions_sync
from bench.server import API_PATH, ServerProcess
from bench.timing import Result
from model_registry import _convert
from model_registry import _convert_grpc as conv
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry.types import ModelVersion

GOAL_MS = 5.0
"""The issue's goal: CPU milliseconds to decode a page of 1,000 versions."""


def _rest_page(server: ServerProcess, model_id: str, page_size: int) -> bytes:
    url = f"{server.url}{API_PATH}/registered_models/{model_id}/versions?pageSize={page_size}"
    with urllib.request.urlopen(url, timeout=60) as resp:
        body: bytes = resp.read()
    return body


async def _grpc_page(server: ServerProcess, model_id: str, page_size: int) -> bytes:
    # The raw answer bytes: a method whose deserializer is the identity.
    async with grpc.aio.insecure_channel(f"{server.host}:{server.grpc_port}") as channel:
        method = channel.unary_unary(
            "/model_registry.v1alpha3.ModelRegistryService/GetModelVersions",
            request_serializer=pb.GetModelVersionsRequest.SerializeToString,
            response_deserializer=None,
        )
        request = pb.GetModelVersionsRequest(page_size=page_size, registered_model_id=model_id)
        answer: bytes = await method(request, timeout=60)
    return answer


def _decode_rest(body: bytes) -> list[ModelVersion]:
    items, _token, _size = _convert.page_parts(orjson.loads(body))
    decode = _convert.decoder_for(ModelVersion)
    return [decode(item) for item in items]


def _decode_grpc(body: bytes) -> list[Any]:
    message = pb.ModelVersionList.FromString(body)
    return [conv.message_to_domain(item) for item in message.items]


def _time(decode: Callable[[bytes], list[Any]], body: bytes, rounds: int) -> list[float]:
    decode(body)  # warm: decoding plans are built on first use
    seconds = []
    for _ in range(rounds):
        started = time.process_time()
        decode(body)
        seconds.append(time.process_time() - started)
    return seconds


def client_decode(scratch: Path, page_size: int, rounds: int) -> list[Result]:
    """The k_decode_rest and k_decode_grpc results."""
    database = scratch / "decode.db"
    model_id = seed_versions_sync(database, page_size)
    with ServerProcess(database) as server:
        rest = _rest_page(server, model_id, page_size)
        grpc_body = asyncio.run(_grpc_page(server, model_id, page_size))
    results = []
    for key, label, decode, body in (
        ("k_decode_rest", "REST", _decode_rest, rest),
        ("k_decode_grpc", "gRPC", _decode_grpc, grpc_body),
    ):
        items = len(decode(body))
        if items != page_size:
            raise RuntimeError(f"the {label} page holds {items} versions, not {page_size}")
        seconds = _time(decode, body, rounds)
        best = min(seconds)
        results.append(
            Result(
                key=key,
                title=(
                    f"client decoding of a page of {page_size} versions ({label}; CPU, best of "
                    f"{rounds})"
                ),
                client="ours-rest" if label == "REST" else "ours-grpc",
                ops=page_size,
                seconds=best,
                unit="item",
                extra={
                    "cpu_ms_per_page_best": round(best * 1000, 3),
                    "cpu_ms_per_page_median": round(statistics.median(seconds) * 1000, 3),
                    "page_bytes": len(body),
                    "goal_ms": GOAL_MS,
                },
            )
        )
    return results
