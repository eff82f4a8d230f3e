"""Aliases and delete over the raw gRPC stub: the messages, and the status codes they end with."""

from __future__ import annotations

import grpc
import pytest

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)

Stub = pb_grpc.ModelRegistryServiceStub


async def _model_and_version(stub: Stub) -> tuple[str, str]:
    model = await stub.UpsertRegisteredModel(
        pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name="m"))
    )
    version = await stub.UpsertModelVersion(
        pb.UpsertModelVersionRequest(
            model_version=pb.ModelVersion(name="v1"), registered_model_id=model.id
        )
    )
    return model.id, version.id


async def test_an_alias_is_set_read_inline_and_removed(stub: Stub) -> None:
    model, version = await _model_and_version(stub)

    pointed = await stub.SetModelVersionAlias(
        pb.SetModelVersionAliasRequest(
            registered_model_id=model, alias="champion", model_version_id=version
        )
    )
    found = await stub.GetModelVersionByAlias(
        pb.GetModelVersionByAliasRequest(registered_model_id=model, alias="champion")
    )
    registered = await stub.GetRegisteredModelById(pb.GetRegisteredModelByIdRequest(id=model))

    assert list(pointed.aliases) == ["champion"] and found.id == version
    assert dict(registered.aliases) == {"champion": version}
    await stub.DeleteModelVersionAlias(
        pb.DeleteModelVersionAliasRequest(registered_model_id=model, alias="champion")
    )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetModelVersionByAlias(
            pb.GetModelVersionByAliasRequest(registered_model_id=model, alias="champion")
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as reserved:
        await stub.SetModelVersionAlias(
            pb.SetModelVersionAliasRequest(
                registered_model_id=model, alias="v2", model_version_id=version
            )
        )
    assert reserved.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_delete_in_the_way_is_failed_precondition_and_twice_is_not_found(
    stub: Stub,
) -> None:
    model, version = await _model_and_version(stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.DeleteRegisteredModel(pb.DeleteRegisteredModelRequest(id=model))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"1 model version ({version})" in (refused.value.details() or "")

    await stub.DeleteRegisteredModel(pb.DeleteRegisteredModelRequest(id=model, cascade=True))

    for call in (
        stub.DeleteRegisteredModel(pb.DeleteRegisteredModelRequest(id=model)),
        stub.GetModelVersionById(pb.GetModelVersionByIdRequest(id=version)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await call
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
