"""The gRPC transport: error mapping, retries, deadlines, one channel, lifecycle.

The registry server covers normal answers; for the failures a healthy registry never produces
(flapping UNAVAILABLE, a server too slow to answer) a small real gRPC server on a free port
plays the misbehaving registry.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._wire.errors import ERROR_MARK
from model_registry.exceptions import (
    BadRequest,
    ClientClosed,
    Conflict,
    ConnectionFailed,
    NotFound,
    Timeout,
    Unauthorized,
    Unavailable,
    UnprocessableEntity,
)
from model_registry.operations import (
    ARTIFACT,
    EXPERIMENT,
    EXPERIMENT_RUN,
    METRIC_HISTORY,
    MODEL_ARTIFACT,
    MODEL_VERSION,
    REGISTERED_MODEL,
)
from model_registry.server import RunningServer
from model_registry.server.grpc import SERVICE_NAME
from model_registry.transport.grpc import RETRY_AFTER, GrpcTransport
from model_registry.transport.policy import RetryPolicy, call_options
from model_registry.types import (
    DocArtifact,
    ListOptions,
    Metric,
    ModelArtifact,
    ModelVersion,
    RegisteredModel,
)

NO_WAIT = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0)

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


async def _fake_registry(
    methods: dict[str, Behavior], port: int = 0
) -> tuple[grpc.aio.Server, int]:
    """Serve ``methods`` of ModelRegistryService (by RPC name) on ``port`` (0: a free one)."""
    rpcs = pb.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=getattr(pb, rpcs[name].input_type.name).FromString,
            response_serializer=getattr(pb, rpcs[name].output_type.name).SerializeToString,
        )
        for name, behavior in methods.items()
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, bound


@pytest.fixture
async def flapping() -> AsyncIterator[tuple[int, list[str]]]:
    """A registry that answers UNAVAILABLE (marked as its own answer) twice, then succeeds."""
    calls: list[str] = []

    async def get(request: Any, context: grpc.aio.ServicerContext) -> Any:
        calls.append(context.peer())
        if len(calls) <= 2:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "database not ready", ((ERROR_MARK, "Unavailable"),)
            )
        return pb.RegisteredModel(id=request.id, name="back")

    async def upsert(request: Any, context: grpc.aio.ServicerContext) -> Any:
        calls.append(context.peer())
        await context.abort(
            grpc.StatusCode.UNAVAILABLE, "database not ready", ((ERROR_MARK, "Unavailable"),)
        )

    server, port = await _fake_registry(
        {"GetRegisteredModelById": get, "UpsertRegisteredModel": upsert}
    )
    yield port, calls
    await server.stop(None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- errors from the registry -------------------------------------------------------------------


async def test_registry_errors_map_to_the_client_exceptions(transport: GrpcTransport) -> None:
    with pytest.raises(NotFound) as not_found:
        await transport.get(REGISTERED_MODEL, "12345")
    assert not_found.value.status == "NOT_FOUND"
    assert not_found.value.code == "Not Found"  # the server's error code, as over REST
    assert not_found.value.path == "GetRegisteredModelById"
    assert "12345" in not_found.value.message

    await transport.create(REGISTERED_MODEL, RegisteredModel("one"))
    with pytest.raises(Conflict):
        await transport.create(REGISTERED_MODEL, RegisteredModel("one"))
    with pytest.raises(BadRequest):
        await transport.page(REGISTERED_MODEL, ListOptions(filter_query="name = = 'x'"))
    with pytest.raises(BadRequest):
        await transport.get(REGISTERED_MODEL, "not-an-id")
    # REST answers a missing required field with 422: the same class over gRPC.
    with pytest.raises(UnprocessableEntity) as missing:
        await transport.create(MODEL_VERSION, ModelVersion(""))
    assert missing.value.status == "INVALID_ARGUMENT"
    assert missing.value.code == "Bad Request"


# -- domain types over the wire -----------------------------------------------------------------


async def test_domain_objects_round_trip_with_every_custom_property_type(
    transport: GrpcTransport,
) -> None:
    props = {"s": "x", "i": 3, "f": 1.5, "b": False, "d": {"k": [1, 2]}, "raw": b"\x00\xff"}
    created = await transport.create(
        REGISTERED_MODEL,
        RegisteredModel("typed", owner="me", language=["en"], custom_properties=props),
    )
    fetched = await transport.get(REGISTERED_MODEL, created.id or "")
    assert fetched == created
    assert fetched.custom_properties == props
    assert fetched.language == ["en"]


async def test_updates_send_the_whole_object_and_empty_properties_clear(
    transport: GrpcTransport,
) -> None:
    model = await transport.create(
        REGISTERED_MODEL, RegisteredModel("upd", custom_properties={"a": "1"})
    )
    model.description = "new"
    model.custom_properties = {}
    updated = await transport.update(REGISTERED_MODEL, model)
    assert updated.description == "new"
    assert updated.custom_properties == {}
    assert updated.id == model.id


async def test_artifacts_come_back_as_their_kind(transport: GrpcTransport) -> None:
    model = await transport.create(REGISTERED_MODEL, RegisteredModel("arts"))
    version = await transport.create(
        MODEL_VERSION, ModelVersion("v1", registered_model_id=model.id)
    )
    assert version.id
    weights = await transport.link(
        "model_version", ModelArtifact("w", uri="s3://b/w", model_format_name="onnx"), version.id
    )
    doc = await transport.link("model_version", DocArtifact("readme"), version.id)
    assert isinstance(weights, ModelArtifact) and weights.model_format_name == "onnx"
    assert isinstance(doc, DocArtifact)
    docs = await transport.page(
        ARTIFACT, ListOptions(), "model_version", version.id, artifact_type="doc-artifact"
    )
    assert docs == [doc]
    assert await transport.get(ARTIFACT, weights.id or "") == weights
    assert await transport.find(MODEL_ARTIFACT, name="w", parent_id=version.id) == weights


async def test_paging_with_list_options(transport: GrpcTransport) -> None:
    for i in range(5):
        await transport.create(REGISTERED_MODEL, RegisteredModel(f"p{i}"))
    options = ListOptions.order_by_creation_time(is_asc=False, limit=2)
    first = await transport.page(REGISTERED_MODEL, options)
    assert [m.name for m in first] == ["p4", "p3"] and first.next_page_token
    second = await transport.page(
        REGISTERED_MODEL, options.copy(next_page_token=first.next_page_token)
    )
    assert [m.name for m in second] == ["p2", "p1"]


async def test_metric_history_by_step(transport: GrpcTransport) -> None:
    from model_registry.types import Experiment, ExperimentRun

    exp = await transport.create(EXPERIMENT, Experiment("e"))
    run = await transport.create(EXPERIMENT_RUN, ExperimentRun("r", experiment_id=exp.id))
    assert run.id
    for step in (1, 2, 3):
        await transport.link("experiment_run", Metric("loss", value=1.0 / step, step=step), run.id)
    history = await transport.page(
        METRIC_HISTORY, ListOptions(), "experiment_run", run.id, name="loss", step_ids="1,3"
    )
    assert sorted(m.step or 0 for m in history) == [1, 3]


# -- retries, deadlines, connections --------------------------------------------------------------


async def test_a_read_is_retried_on_unavailable_over_one_connection(
    flapping: tuple[int, list[str]],
) -> None:
    port, calls = flapping
    transport = GrpcTransport("127.0.0.1", port, retry=NO_WAIT, timeout=10.0)
    try:
        model = await transport.get(REGISTERED_MODEL, "7")
        assert model.name == "back"
        assert len(calls) == 3
        await transport.get(REGISTERED_MODEL, "7")
        # Every call, retries included, came over the same connection (one channel).
        assert len(set(calls)) == 1
    finally:
        await transport.aclose()


async def test_the_servers_retry_hint_sets_the_wait_before_the_next_attempt() -> None:
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def get(request: Any, context: grpc.aio.ServicerContext) -> Any:
        calls.append(loop.time())
        if len(calls) == 1:
            hint = ((ERROR_MARK, "Unavailable"), (RETRY_AFTER, "0.3"))
            await context.abort(grpc.StatusCode.UNAVAILABLE, "database not ready", hint)
        return pb.RegisteredModel(id=request.id, name="back")

    server, port = await _fake_registry({"GetRegisteredModelById": get})
    # The policy alone would not wait at all: the hint is what spaces the attempts.
    transport = GrpcTransport("127.0.0.1", port, retry=NO_WAIT, timeout=10.0)
    try:
        assert (await transport.get(REGISTERED_MODEL, "7")).name == "back"
        assert len(calls) == 2 and calls[1] - calls[0] >= 0.3
    finally:
        await transport.aclose()
        await server.stop(None)


async def test_unauthenticated_is_retried_only_with_a_new_non_empty_token() -> None:
    calls: list[str] = []

    async def get(request: Any, context: grpc.aio.ServicerContext) -> Any:
        token = dict(context.invocation_metadata()).get("authorization", "")
        calls.append(str(token))
        if token != "Bearer fresh":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
        return pb.RegisteredModel(id=request.id, name="in")

    server, port = await _fake_registry({"GetRegisteredModelById": get})
    handed_out = iter(["stale", "", "stale", "fresh"])
    transport = GrpcTransport("127.0.0.1", port, user_token=lambda: next(handed_out), timeout=10)
    try:
        # Re-read once after the refusal: an empty token is not worth a retry.
        with pytest.raises(Unauthorized):
            await transport.get(REGISTERED_MODEL, "7")
        assert calls == ["Bearer stale"]
        # Re-read once: a different token is tried.
        assert (await transport.get(REGISTERED_MODEL, "7")).name == "in"
        assert calls[1:] == ["Bearer stale", "Bearer fresh"]
    finally:
        await transport.aclose()
        await server.stop(None)


async def test_a_write_is_not_retried_unless_the_caller_allows_it(
    flapping: tuple[int, list[str]],
) -> None:
    port, calls = flapping
    transport = GrpcTransport("127.0.0.1", port, retry=NO_WAIT, timeout=10.0)
    try:
        with pytest.raises(Unavailable):
            await transport.create(REGISTERED_MODEL, RegisteredModel("x"))
        assert len(calls) == 1
        with call_options(retry_unsafe=True), pytest.raises(Unavailable):
            await transport.create(REGISTERED_MODEL, RegisteredModel("x"))
        assert len(calls) == 1 + NO_WAIT.max_attempts
    finally:
        await transport.aclose()


async def test_no_server_is_connection_failed_after_retrying() -> None:
    transport = GrpcTransport("127.0.0.1", _free_port(), retry=NO_WAIT, timeout=10.0)
    try:
        with pytest.raises(ConnectionFailed) as info:
            await transport.create(REGISTERED_MODEL, RegisteredModel("x"))
        assert info.value.path == "UpsertRegisteredModel"
    finally:
        await transport.aclose()


async def test_the_timeout_setting_is_the_call_deadline() -> None:
    async def slow(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await asyncio.sleep(5)
        return pb.RegisteredModel(id=request.id, name="late")

    server, port = await _fake_registry({"GetRegisteredModelById": slow})
    transport = GrpcTransport("127.0.0.1", port, retry=NO_WAIT, timeout=0.3)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(Timeout):
            await transport.get(REGISTERED_MODEL, "1")
        assert loop.time() - started < 2.0
        started = loop.time()
        with call_options(timeout=0.1), pytest.raises(Timeout):
            await transport.get(REGISTERED_MODEL, "1")
        assert loop.time() - started < 1.0
    finally:
        await transport.aclose()
        await server.stop(None)


async def test_a_closed_transport_refuses_calls_and_closes_twice(
    transport: GrpcTransport,
) -> None:
    await transport.page(REGISTERED_MODEL, ListOptions())
    await transport.aclose()
    await transport.aclose()
    assert transport.closed
    with pytest.raises(ClientClosed):
        await transport.page(REGISTERED_MODEL, ListOptions())


async def test_building_a_transport_does_no_io() -> None:
    # Nothing listens there; construction must not notice, only the first call does.
    transport = GrpcTransport("127.0.0.1", _free_port(), retry=RetryPolicy.none())
    assert not transport.closed
    await transport.aclose()


async def test_concurrent_calls_and_a_huge_page_size_over_one_transport(
    transport: GrpcTransport,
) -> None:
    created = await asyncio.gather(
        *(transport.create(REGISTERED_MODEL, RegisteredModel(f"c{i}")) for i in range(20))
    )
    fetched = await asyncio.gather(*(transport.get(REGISTERED_MODEL, m.id or "") for m in created))
    assert fetched == created
    page = await transport.page(REGISTERED_MODEL, ListOptions(limit=10**12))
    assert len(page) == 20


async def test_reads_recover_soon_after_the_server_comes_back_on_its_port() -> None:
    async def get(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.RegisteredModel(id=request.id, name="up")

    server, port = await _fake_registry({"GetRegisteredModelById": get})
    policy = RetryPolicy(max_attempts=10, initial_backoff=0.2, max_backoff=0.2)
    transport = GrpcTransport("127.0.0.1", port, retry=policy, timeout=10.0)
    try:
        assert (await transport.get(REGISTERED_MODEL, "1")).name == "up"
        await server.stop(None)
        with call_options(timeout=0.3), pytest.raises((ConnectionFailed, Timeout)):
            await transport.get(REGISTERED_MODEL, "1")  # the channel now knows it is down
        restarted, bound = await _fake_registry({"GetRegisteredModelById": get}, port)
        assert bound == port
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert (await transport.get(REGISTERED_MODEL, "1")).name == "up"
            # gRPC's own reconnect backoff (1 s at first by default) is cut to 0.1 s.
            assert loop.time() - started < 0.9
        finally:
            await restarted.stop(None)
    finally:
        await transport.aclose()


async def test_an_answer_over_max_receive_message_bytes_raises_response_too_large_once(
    grpc_server: RunningServer,
) -> None:
    from model_registry.core import ModelRegistryAPIClient
    from model_registry.exceptions import ResponseTooLarge

    async with ModelRegistryAPIClient.insecure_connection(
        "127.0.0.1",
        grpc_server.grpc_port or 0,
        transport="grpc",
        retry=NO_WAIT,
        max_receive_message_bytes=64 * 1024,
    ) as client:
        for i in range(3):
            await client.upsert_registered_model(RegisteredModel(f"m{i}", description="d" * 40_000))
        started = asyncio.get_running_loop().time()
        with pytest.raises(ResponseTooLarge, match="smaller page size") as info:
            await client.get_registered_models()
        assert not isinstance(info.value, Unavailable)
        assert asyncio.get_running_loop().time() - started < 2.0  # not retried with backoff
        page = await client.get_registered_models(ListOptions(limit=1))
        assert [m.name for m in page] == ["m0"]
