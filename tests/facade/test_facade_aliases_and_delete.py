"""The facade's aliases and delete by model name and version name (our extensions)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from model_registry.client import ModelRegistry
from model_registry.exceptions import BadRequest, Conflict, NotFound
from model_registry.server import RunningServer


@pytest.fixture
def registry(threaded_server: RunningServer) -> Iterator[ModelRegistry]:
    with ModelRegistry(
        f"http://{threaded_server.host}", threaded_server.port, author="Dave", is_secure=False
    ) as client:
        yield client


def _register(registry: ModelRegistry, *versions: str) -> None:
    for version in versions:
        registry.register_model(
            "HAL",
            f"s3://bucket/hal-{version}.onnx",
            version=version,
            model_format_name="onnx",
            model_format_version="1",
        )


def test_champion_points_at_a_version_moves_and_is_removed(registry: ModelRegistry) -> None:
    _register(registry, "1.0", "2.0")

    assert registry.set_alias("HAL", "champion", "1.0").aliases == ["champion"]
    found = registry.get_model_version_by_alias("HAL", "champion")
    assert found is not None and found.name == "1.0"
    registry.set_alias("HAL", "champion", "2.0")
    moved = registry.get_model_version_by_alias("HAL", "champion")
    assert moved is not None and moved.name == "2.0"
    assert [v.aliases for v in registry.get_model_versions("HAL")] == [[], ["champion"]]
    model = registry.get_registered_model("HAL")
    assert model is not None and model.aliases == {"champion": moved.id}

    registry.delete_alias("HAL", "champion")

    assert registry.get_model_version_by_alias("HAL", "champion") is None
    with pytest.raises(NotFound):
        registry.delete_alias("HAL", "champion")
    with pytest.raises(BadRequest, match="reserved"):
        registry.set_alias("HAL", "latest", "1.0")
    with pytest.raises(NotFound, match=r"no version .3\.0."):
        registry.set_alias("HAL", "champion", "3.0")


def test_a_model_no_longer_wanted_is_removed_with_cascade(registry: ModelRegistry) -> None:
    _register(registry, "1.0", "2.0")
    registry.set_alias("HAL", "champion", "2.0")

    with pytest.raises(Conflict, match=r"1 artifact"):
        registry.delete_model_version("HAL", "1.0")
    registry.delete_model_version("HAL", "1.0", cascade=True)
    assert registry.get_model_version("HAL", "1.0") is None
    with pytest.raises(Conflict, match="1 model version"):
        registry.delete_registered_model("HAL")
    registry.delete_registered_model("HAL", cascade=True)

    assert registry.get_registered_model("HAL") is None
    with pytest.raises(NotFound):
        registry.delete_registered_model("HAL")
    _register(registry, "1.0")  # the name is free again
