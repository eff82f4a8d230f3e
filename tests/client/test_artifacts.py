"""Artifacts of every kind and model artifacts against the real server."""

from __future__ import annotations

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import BadRequest
from model_registry.types import (
    ArtifactState,
    ArtifactType,
    DataSet,
    DocArtifact,
    ListOptions,
    Metric,
    ModelArtifact,
    ModelVersion,
    Parameter,
    ParameterType,
    RegisteredModel,
)


async def _version(client: ModelRegistryAPIClient, model: str = "m", name: str = "v1") -> str:
    rm = await client.get_registered_model_by_params(name=model)
    if rm is None:
        rm = await client.upsert_registered_model(RegisteredModel(model))
    assert rm.id is not None
    mv = await client.upsert_model_version(ModelVersion(name), rm.id)
    assert mv.id is not None
    return mv.id


async def test_upsert_model_artifact_in_a_version_and_alone(client: ModelRegistryAPIClient) -> None:
    mv_id = await _version(client)
    ma = await client.upsert_model_artifact(
        ModelArtifact(
            "weights",
            uri="s3://b/k",
            model_format_name="onnx",
            model_format_version="1",
            storage_key="secret",
            custom_properties={"size": 3},
        ),
        mv_id,
    )
    assert isinstance(ma, ModelArtifact) and ma.id is not None
    assert ma.model_format_name == "onnx" and ma.custom_properties == {"size": 3}
    assert await client.get_model_artifact_by_id(ma.id) == ma
    assert await client.get_model_artifact_by_params(name="weights", model_version_id=mv_id) == ma
    assert await client.get_model_artifacts(mv_id) == [ma]

    lone = await client.upsert_model_artifact(ModelArtifact(uri="s3://b/other", external_id="ma-x"))
    assert lone.id is not None and lone.name  # the server names it
    assert await client.get_model_artifact_by_params(external_id="ma-x") == lone
    every = await client.get_model_artifacts()
    assert {a.id for a in every} == {ma.id, lone.id}

    lone.model_format_name = "pytorch"
    lone.state = ArtifactState.LIVE
    updated = await client.upsert_model_artifact(lone)
    assert updated.id == lone.id
    assert updated.model_format_name == "pytorch" and updated.state is ArtifactState.LIVE

    assert await client.get_model_artifact_by_id("987654") is None
    assert await client.get_model_artifact_by_params(name="nope", model_version_id=mv_id) is None
    assert await client.get_model_artifacts("987654") == []


async def test_every_artifact_kind_through_the_generic_endpoints(
    client: ModelRegistryAPIClient,
) -> None:
    mv_id = await _version(client)
    made = [
        await client.upsert_model_version_artifact(DocArtifact("readme", uri="https://d"), mv_id),
        await client.upsert_model_version_artifact(
            DataSet("train", digest="sha", source_type="s3", source="s3://d", schema="{}"), mv_id
        ),
        await client.upsert_model_version_artifact(
            Metric("acc", value=0.9, step=1, timestamp=1000), mv_id
        ),
        await client.upsert_model_version_artifact(
            Parameter("lr", value="0.1", parameter_type=ParameterType.NUMBER), mv_id
        ),
        await client.upsert_model_version_artifact(ModelArtifact("w", uri="s3://w"), mv_id),
    ]
    kinds = [type(a) for a in made]
    assert kinds == [DocArtifact, DataSet, Metric, Parameter, ModelArtifact]
    assert isinstance(made[2], Metric) and made[2].value == 0.9 and made[2].step == 1
    for artifact in made:
        assert artifact.id is not None
        assert await client.get_artifact_by_id(artifact.id) == artifact

    in_version = await client.get_model_version_artifacts(mv_id)
    assert [a.id for a in in_version] == [a.id for a in made]
    only_docs = await client.get_artifacts(ArtifactType.DOC_ARTIFACT, parent_resource_id=mv_id)
    assert only_docs == [made[0]]
    metrics = await client.get_artifacts("metric")
    assert metrics == [made[2]]
    assert len(await client.get_artifacts()) == 5
    assert len(await client.get_artifacts(options=ListOptions(limit=2))) == 2

    assert await client.get_artifact_by_params(name="readme", parent_resource_id=mv_id) == made[0]
    assert await client.get_artifact_by_params(name="readme", parent_resource_id="x") is None
    assert await client.get_artifact_by_id("777777") is None


async def test_upsert_artifact_creates_and_updates_any_kind(client: ModelRegistryAPIClient) -> None:
    doc = await client.upsert_artifact(DocArtifact("spec", uri="https://a", external_id="doc-1"))
    assert isinstance(doc, DocArtifact) and doc.id is not None
    doc.description = "now described"
    again = await client.upsert_artifact(doc)
    assert again.id == doc.id and again.description == "now described"
    assert await client.get_artifact_by_params(external_id="doc-1") == again


async def test_linking_an_existing_artifact_keeps_its_id(
    client: ModelRegistryAPIClient, transport: str
) -> None:
    mv1 = await _version(client, name="v1")
    mv2 = await _version(client, name="v2")
    doc = await client.upsert_model_version_artifact(
        DocArtifact("shared", uri="u", custom_properties={"kept": True}), mv1
    )
    assert doc.id is not None
    linked = await client.upsert_model_version_artifact(DocArtifact(id=doc.id), mv2)
    assert linked.id == doc.id
    if transport == "rest":
        # Linking with a bare object leaves the stored properties alone.
        assert linked.custom_properties == {"kept": True}
    assert [a.id for a in await client.get_model_version_artifacts(mv2)] == [doc.id]


async def test_changing_the_kind_of_an_artifact_is_refused(client: ModelRegistryAPIClient) -> None:
    doc = await client.upsert_artifact(DocArtifact("d", uri="u"))
    with pytest.raises(BadRequest):
        await client.upsert_artifact(ModelArtifact("d", id=doc.id, uri="u"))
