"""The sync ``ModelRegistry`` facade against a real server on its own thread."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import uvloop

from model_registry.client import ModelRegistry
from model_registry.exceptions import (
    ClientClosed,
    Conflict,
    ConnectionFailed,
    NotFound,
    Unauthorized,
)
from model_registry.server import RunningServer
from model_registry.types import ModelVersionState, RegisteredModelState


def connect(server: RunningServer) -> ModelRegistry:
    return ModelRegistry(f"http://{server.host}", server.port, author="Dave", is_secure=False)


@pytest.fixture
def registry(threaded_server: RunningServer) -> Iterator[ModelRegistry]:
    with connect(threaded_server) as client:
        yield client


def register_hal(registry: ModelRegistry, version: str = "9000", **kwargs: object) -> None:
    registry.register_model(
        "HAL",
        "s3://cool-bucket/build/onnx/hal.onnx",
        version=version,
        model_format_name="onnx",
        model_format_version="1",
        **kwargs,  # type: ignore[arg-type]
    )


def test_register_model_stores_model_version_and_artifact(registry: ModelRegistry) -> None:
    model = registry.register_model(
        "HAL",
        "s3://cool-bucket/build/onnx/hal.onnx",
        version="9000",
        model_format_name="onnx",
        model_format_version="1",
        description="heuristically programmed",
        metadata={"accuracy": 0.99, "framework": "onnx"},
        storage_key="secret_secret",
        model_source_kind="kfp",
        model_source_id="run-1",
    )

    assert model.id and model.name == "HAL" and model.owner == "Dave"
    assert registry.get_registered_model("HAL") == model
    assert registry.get_registered_model_by_id(model.id) == model
    version = registry.get_model_version("HAL", "9000")
    assert version is not None
    assert (version.author, version.description) == ("Dave", "heuristically programmed")
    assert version.custom_properties == {"accuracy": 0.99, "framework": "onnx"}
    assert registry.get_model_version_by_id(version.id or "") == version
    artifact = registry.get_model_artifact("HAL", "9000")
    assert artifact is not None
    assert artifact.uri == "s3://cool-bucket/build/onnx/hal.onnx"
    assert (artifact.model_format_name, artifact.model_format_version) == ("onnx", "1")
    assert artifact.storage_key == "secret_secret"
    assert (artifact.model_source_kind, artifact.model_source_id) == ("kfp", "run-1")


def test_existing_version_raises_conflict_before_writing_anything(
    registry: ModelRegistry,
) -> None:
    register_hal(registry)
    model_before = registry.get_registered_model("HAL")
    artifacts_before = list(registry.get_model_artifacts("HAL", "9000"))

    with pytest.raises(Conflict, match="9000"):
        register_hal(registry, owner="someone else", description="changed")

    assert registry.get_registered_model("HAL") == model_before
    assert list(registry.get_model_versions("HAL")) == [registry.get_model_version("HAL", "9000")]
    assert list(registry.get_model_artifacts("HAL", "9000")) == artifacts_before
    all_artifacts = registry.run(lambda api: api.get_model_artifacts())
    assert len(all_artifacts) == 1


def test_second_version_reuses_the_model_and_becomes_latest(registry: ModelRegistry) -> None:
    register_hal(registry, version="9000")
    register_hal(registry, version="9001", author="Frank", version_description="second")

    latest = registry.latest_version("HAL")

    assert latest is not None and (latest.name, latest.author) == ("9001", "Frank")
    assert latest.description == "second"
    assert [mv.name for mv in registry.get_model_versions("HAL")] == ["9000", "9001"]
    assert len(list(registry.get_registered_models())) == 1


def test_absent_things_are_none_or_not_found(registry: ModelRegistry) -> None:
    assert registry.get_registered_model("nobody") is None
    with pytest.raises(NotFound, match="nobody"):
        registry.get_model_version("nobody", "1")
    with pytest.raises(NotFound):
        registry.latest_version("nobody")
    register_hal(registry)
    assert registry.get_model_version("HAL", "1") is None
    with pytest.raises(NotFound):
        registry.get_model_artifact("HAL", "1")


def test_update_and_archive_store_the_change(registry: ModelRegistry) -> None:
    register_hal(registry)
    model = registry.get_registered_model("HAL")
    assert model is not None
    model.description = "I'm sorry Dave"

    updated = registry.update(model)
    archived = registry.archive(updated)
    version = registry.get_model_version("HAL", "9000")
    assert version is not None
    archived_version = registry.archive(version)

    stored = registry.get_registered_model("HAL")
    assert stored is not None
    assert stored.description == "I'm sorry Dave"
    assert stored.state == RegisteredModelState.ARCHIVED == archived.state
    assert archived_version.state == ModelVersionState.ARCHIVED
    assert registry.get_model_version("HAL", "9000") == archived_version


def test_pager_walks_every_page_in_order(registry: ModelRegistry) -> None:
    for index in range(5):
        registry.register_model(
            f"model-{index}",
            f"s3://b/m{index}",
            version="1",
            model_format_name="onnx",
            model_format_version="1",
        )

    names = [m.name for m in registry.get_registered_models().page_size(2)]
    newest_first = registry.get_registered_models().order_by_creation_time().descending()

    assert names == [f"model-{i}" for i in range(5)]
    assert [m.name for m in newest_first.limit(2)] == [f"model-{i}" for i in reversed(range(5))]
    assert [m.name for m in registry.get_registered_models().max_items(3)] == names[:3]


async def test_facade_works_inside_a_running_asyncio_loop(registry: ModelRegistry) -> None:
    caller_loop = asyncio.get_running_loop()

    register_hal(registry)

    assert registry.get_registered_model("HAL") is not None
    assert asyncio.get_running_loop() is caller_loop


def test_facade_works_under_uvloop(threaded_server: RunningServer) -> None:
    async def use_it() -> str | None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        with connect(threaded_server) as client:
            register_hal(client)
            version = client.latest_version("HAL")
            return None if version is None else version.name

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(use_it()) == "9000"
    finally:
        loop.close()


def test_facade_serves_eight_threads_at_once(registry: ModelRegistry) -> None:
    barrier = threading.Barrier(8)

    def work(index: int) -> tuple[str, str | None]:
        barrier.wait(timeout=30)
        registry.register_model(
            f"thread-{index}",
            f"s3://b/{index}",
            version="1",
            model_format_name="onnx",
            model_format_version="1",
        )
        artifact = registry.get_model_artifact(f"thread-{index}", "1")
        return f"thread-{index}", None if artifact is None else artifact.uri

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))

    assert results == [(f"thread-{i}", f"s3://b/{i}") for i in range(8)]
    assert len(list(registry.get_registered_models())) == 8


def test_construction_makes_no_connection_and_calls_report_unreachable() -> None:
    threads_before = set(threading.enumerate())
    client = ModelRegistry("http://127.0.0.1", 9, author="x", is_secure=False, timeout=5)

    assert set(threading.enumerate()) == threads_before
    with pytest.raises(ConnectionFailed):
        client.get_registered_model("HAL")
    client.close()


def test_close_is_idempotent_and_later_calls_raise(threaded_server: RunningServer) -> None:
    client = connect(threaded_server)
    register_hal(client)
    loop_threads = [t for t in threading.enumerate() if t.name.startswith("model-registry-")]

    client.close()
    client.close()

    assert all(not t.is_alive() for t in loop_threads)
    with pytest.raises(ClientClosed):
        client.get_registered_model("HAL")


def test_facade_speaks_grpc_too(grpc_threaded_server: RunningServer) -> None:
    server = grpc_threaded_server
    with ModelRegistry(
        f"http://{server.host}", server.grpc_port or 0, author="Dave", is_secure=False,
        transport="grpc",
    ) as client:  # fmt: skip
        register_hal(client)
        with pytest.raises(Conflict):
            register_hal(client)
        artifact = client.get_model_artifact("HAL", "9000")
        names = [m.name for m in client.get_registered_models()]

    assert artifact is not None and artifact.uri == "s3://cool-bucket/build/onnx/hal.onnx"
    assert names == ["HAL"]


def test_token_is_read_from_the_file_an_environment_variable_names(
    auth_server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    monkeypatch.setenv("MY_TOKEN_PATH", str(token_file))
    monkeypatch.delenv("KF_PIPELINES_SA_TOKEN_PATH", raising=False)
    address = f"http://{auth_server.host}"

    with ModelRegistry(
        address, auth_server.port, author="a", is_secure=False, user_token_envvar="MY_TOKEN_PATH"
    ) as client:
        assert list(client.get_registered_models()) == []
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token_file))
    with ModelRegistry(address, auth_server.port, author="a", is_secure=False) as client:
        assert client.get_registered_model("HAL") is None
    with pytest.raises(ValueError, match="UNSET_VAR"):
        ModelRegistry(address, 1, author="a", is_secure=False, user_token_envvar="UNSET_VAR")
    with (
        ModelRegistry(
            address, auth_server.port, author="a", is_secure=False, user_token="bad"
        ) as client,
        pytest.raises(Unauthorized),
    ):
        client.get_registered_model("HAL")


def test_close_ends_calls_still_running_in_other_threads(registry: ModelRegistry) -> None:
    started = threading.Event()

    async def slow(_: object) -> str:
        started.set()
        await asyncio.sleep(30)
        return "finished"

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(registry.run, slow)
        assert started.wait(timeout=10)
        registry.close()

        with pytest.raises(ClientClosed, match="closed during the call"):
            pending.result(timeout=10)


def test_a_dropped_facade_stops_its_loop_thread(threaded_server: RunningServer) -> None:
    client = connect(threaded_server)
    assert client.get_registered_model("HAL") is None
    name = f"model-registry-http://{threaded_server.host}:{threaded_server.port}"
    (loop_thread,) = [t for t in threading.enumerate() if t.name == name]

    del client
    gc.collect()

    loop_thread.join(timeout=10)
    assert not loop_thread.is_alive()


def test_threads_registering_versions_of_one_new_model_all_succeed(
    registry: ModelRegistry,
) -> None:
    barrier = threading.Barrier(8)

    def work(index: int) -> None:
        barrier.wait(timeout=30)
        register_hal(registry, version=str(index))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))

    assert sorted(int(mv.name) for mv in registry.get_model_versions("HAL")) == list(range(8))
    assert [m.name for m in registry.get_registered_models()] == ["HAL"]
