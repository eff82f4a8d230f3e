"""The package root exports what reference-client users import."""

import pytest

import model_registry
from model_registry.client import ModelRegistry


def test_sync_facade_is_importable_from_the_package_root() -> None:
    assert model_registry.ModelRegistry is ModelRegistry
    assert "ModelRegistry" in model_registry.__all__


def test_every_public_name_loads_on_first_use_and_is_listed() -> None:
    for name in model_registry.__all__:
        assert getattr(model_registry, name) is not None, name
        assert name in dir(model_registry), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        model_registry.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
