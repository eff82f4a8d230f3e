"""The package root exports what reference-client users import."""

import model_registry
from model_registry.client import ModelRegistry


def test_sync_facade_is_importable_from_the_package_root() -> None:
    assert model_registry.ModelRegistry is ModelRegistry
    assert "ModelRegistry" in model_registry.__all__
