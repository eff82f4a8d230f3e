"""Every example of the user-facing API reference (the seed), run as written there.

The example lines are kept exactly as the reference shows them; the only additions are the glue
the reference itself asks for ("wrap them in an async function") and the names an example
assumes from an earlier one (``mr_client``, ``version``, ``another_version``, ``mv``), followed by
assertions on what the example produced.
"""

# The examples are kept exactly as the reference writes them: long lines, unsorted imports and
# its own layout included, so lint and formatting leave this file's example code alone.
# ruff: noqa: E501, I001
# The reference's own code is not annotated and rebinds names to Optional results:
# mypy: disable-error-code="no-untyped-def,no-untyped-call,assignment"
from __future__ import annotations

import os
from typing import Any

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Conflict
from model_registry.types import (
    DocArtifact,
    ListOptions,
    ModelArtifact,
    ModelVersion,
    OrderByField,
    Page,
    RegisteredModel,
)

# fmt: off


async def test_connection_example_builds_clients_without_io(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_TOKEN", "token-from-env")
    # --- example (as written) ---
    from model_registry.core import ModelRegistryAPIClient

    insecure_mr_client = ModelRegistryAPIClient.insecure_connection(
        "server-address", "port",
        # optionally, you can identify yourself
        # user_token=os.environ["MY_TOKEN"]
    )

    mr_client = ModelRegistryAPIClient.secure_connection(
        "server-address", "port",
        user_token=os.environ["MY_TOKEN"]  # this is necessary on a secure connection
        # optionally, use a custom_ca
        # custom_ca=os.environ["MY_CERT"]
    )
    # --- end of example ---
    try:
        # Building talks to nobody; the placeholder port is reported once a call is made.
        with pytest.raises(ValueError, match="port"):
            await mr_client.get_registered_models()
        assert "token-from-env" not in repr(mr_client)
    finally:
        await insecure_mr_client.aclose()
        await mr_client.aclose()


async def _register_a_model_example(mr_client: ModelRegistryAPIClient) -> None:
    # --- example (as written) ---
    from model_registry.types import RegisteredModel, ModelVersion, ModelArtifact
    from model_registry.utils import s3_uri_from

    async def register_a_model():
        model = await mr_client.upsert_registered_model(
            RegisteredModel(
                name="HAL",
                owner="me ",
            )
        )
        assert model.id # this should be valid now

        # we need a registered model to associate the version to
        version = await mr_client.upsert_model_version(
            ModelVersion(
                name="9000",
                author="Mr. Tom A.I.",
                external_id="HAL-9000",
            ),
            model.id
        )
        assert version.id

        # we need a version to associate a trained model to
        trained_model = await mr_client.upsert_model_artifact(
            ModelArtifact(
                name="HAL-core",
                uri=s3_uri_from("build/onnx/hal.onnx", "cool-bucket"),
                model_format_name="onnx",
                model_format_version="1",
                storage_key="secret_secret",
            ),
            version.id
        )
        assert trained_model.id
    # --- end of example ---
    await register_a_model()


async def test_register_objects_examples(client: ModelRegistryAPIClient) -> None:
    mr_client = client
    await _register_a_model_example(mr_client)
    version = await mr_client.get_model_version_by_params(external_id="HAL-9000")
    assert version is not None and version.author == "Mr. Tom A.I."

    # --- example (as written) ---
    from model_registry.types import DocArtifact

    readme = await mr_client.upsert_model_version_artifact(
        DocArtifact(
            name="README",
            uri="https://github.com/my-org/my-model/blob/main/README.md",
            description="Model information"
        ),
        version.id
    )
    # --- end of example ---
    assert isinstance(readme, DocArtifact) and readme.id
    artifacts = await mr_client.get_model_version_artifacts(version.id)
    assert [a.name for a in artifacts] == ["HAL-core", "README"]
    hal_core = artifacts[0]
    assert isinstance(hal_core, ModelArtifact)
    assert hal_core.uri == "s3://cool-bucket/build/onnx/hal.onnx"
    assert hal_core.storage_key == "secret_secret"


async def test_query_by_id_example(client: ModelRegistryAPIClient) -> None:
    mr_client = client
    # --- example (as written) ---
    new_model = await mr_client.upsert_registered_model(RegisteredModel("new_model"))
    maybe_new_model = await mr_client.get_registered_model_by_id(new_model.id)
    assert maybe_new_model == new_model # True
    # --- end of example ---


async def test_query_by_params_examples(client: ModelRegistryAPIClient) -> None:
    mr_client = client
    # --- example (as written) ---
    trained_model = ModelArtifact(
        name="my_model_name",
        uri="resource_URI",
        description="Model description",
        external_id="unique_reference"
    )

    # As a version is a context, we can have the same external_id as the above
    version = ModelVersion(
        name="v1.0",
        author="model author",
        external_id="unique_reference"
    )

    # Registering this will cause an error!
    # model = RegisteredModel(
    #     name="my_model_name",
    #     external_id="unique_reference", # this wouldn't be unique
    # )

    model = RegisteredModel(
        name="my_model_name",
        external_id="another_unique_reference"
    )
    # --- end of example ---
    stored_model = await mr_client.upsert_registered_model(model)
    assert stored_model.id is not None
    stored_version = await mr_client.upsert_model_version(version, stored_model.id)
    assert stored_version.id is not None
    stored_artifact = await mr_client.upsert_model_artifact(trained_model, stored_version.id)
    with pytest.raises(Conflict):  # what the commented-out lines warn about
        await mr_client.upsert_registered_model(
            RegisteredModel(name="my_model_name2", external_id="unique_reference")
        )
    another_version = stored_version

    # --- example (as written) ---
    # We can get the model artifact associated to a version
    another_trained_model = await mr_client.get_model_artifact_by_params(name="my_model_name", model_version_id=another_version.id)

    # Or by its unique identifier
    trained_model = await mr_client.get_model_artifact_by_params(external_id="unique_reference")

    # Same thing for a version
    version = await mr_client.get_model_version_by_params(external_id="unique_reference")

    # Or for a model
    model = await mr_client.get_registered_model_by_params(external_id="another_unique_reference")

    # We can also get a version by its name and associated model id
    version = await mr_client.get_model_version_by_params(version="v1.0", registered_model_id="x")

    # And we can get a model by simply calling its name
    model = await mr_client.get_registered_model_by_params(name="my_model_name")
    # --- end of example ---
    assert another_trained_model == stored_artifact
    assert trained_model == stored_artifact
    assert version is None  # no registered model has the id "x"
    assert model == stored_model


async def test_query_multiple_objects_examples(client: ModelRegistryAPIClient) -> None:
    mr_client = client
    await _register_a_model_example(mr_client)
    for i in range(3):
        await mr_client.upsert_registered_model(RegisteredModel(f"extra-{i}"))

    # --- example (as written) ---
    models = await mr_client.get_registered_models()
    versions = await mr_client.get_model_versions("registered_model_id")
    # We can get a list of the first 20 model artifacts
    all_model_artifacts = await mr_client.get_model_artifacts()
    # --- end of example ---
    assert [m.name for m in models] == ["HAL", "extra-0", "extra-1", "extra-2"]
    assert isinstance(versions, Page) and versions == []
    assert [a.name for a in all_model_artifacts] == ["HAL-core"]

    # --- example (as written) ---
    from model_registry.types import ListOptions

    options = ListOptions(limit=50)

    first_50_models = await mr_client.get_registered_models(options)

    # By default we get ascending order
    options = ListOptions.order_by_creation_time(is_asc=False)

    last_50_models = await mr_client.get_registered_models(options)
    # --- end of example ---
    assert first_50_models == models
    assert last_50_models == list(reversed(models))


async def test_pager_examples(client: ModelRegistryAPIClient) -> None:
    mr_client = client
    await _register_a_model_example(mr_client)
    mv = await mr_client.get_model_version_by_params(external_id="HAL-9000")
    assert mv is not None and mv.id is not None
    for i in range(3):
        await mr_client.upsert_model_version_artifact(DocArtifact(f"doc-{i}", uri="u"), mv.id)
    seen: list[Any] = []

    # --- example (as written) ---
    from model_registry.types import Pager

    models = Pager(mr_client.get_registered_models)

    async for model in models:
        ...
    # --- end of example ---
        seen.append(model)
    assert [m.name for m in seen] == ["HAL"]

    # --- example (as written) ---
    model_version_artifacts = Pager(lambda o: mr_client.get_model_version_artifacts(mv.id, o))
    # --- end of example ---
    assert [a.name async for a in model_version_artifacts] == [
        "HAL-core", "doc-0", "doc-1", "doc-2"
    ]

    # --- example (as written) ---
    reverse_model_version_artifacts = model_version_artifacts.order_by_creation_time().descending().limit(100)
    # --- end of example ---
    options = reverse_model_version_artifacts.options
    assert (options.order_by, options.is_asc, options.limit) == (OrderByField.CREATE_TIME, False, 100)

    # --- example (as written) ---
    page = await reverse_model_version_artifacts.next_page()
    # --- end of example ---
    assert [a.name for a in page] == ["doc-2", "doc-1", "doc-0", "HAL-core"]
    assert await reverse_model_version_artifacts.next_page() == []


def test_create_objects_example() -> None:
    # --- example (as written) ---
    from model_registry.types import ModelArtifact, ModelVersion, RegisteredModel

    trained_model = ModelArtifact(
        name="model-exec",
        uri="resource_URI",
        description="Model description",
        model_format_name="onnx",
        model_format_version="1",
    )

    version = ModelVersion(
        name="v1.0",
        author="model author",
    )

    model = RegisteredModel(
        name="model",
        owner="team",
    )
    # --- end of example ---
    assert trained_model.id is None and trained_model.model_format_name == "onnx"
    assert version == ModelVersion("v1.0", author="model author")
    assert repr(model) == "RegisteredModel(name='model', owner='team')"
    assert ListOptions().limit is None
