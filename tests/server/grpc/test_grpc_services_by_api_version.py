"""The gRPC registry service of each API version: ``model_registry.v1`` (stable, no experiment
calls) beside ``model_registry.v1alpha3``, both the same calls over the same service, chosen
by ``--api-versions`` as REST's routes are."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from model_registry._generated.grpc.model_registry.v1 import model_registry_pb2 as pb_v1
from model_registry._generated.grpc.model_registry.v1 import (
    model_registry_pb2_grpc as pb_v1_grpc,
)
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry.server import run_server
from model_registry.server.grpc import SERVICE_NAME, V1_SERVICE_NAME

ALPHA_METHODS = set(pb.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name)
V1_METHODS = set(pb_v1.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name)


def test_the_stable_service_has_every_call_but_experiments_runs_and_metric_history() -> None:
    experiment_calls = {m for m in ALPHA_METHODS if "Experiment" in m}
    assert experiment_calls >= {"UpsertExperiment", "GetExperimentRunMetricHistory"}
    assert ALPHA_METHODS - experiment_calls == V1_METHODS
    # The same messages: an answer of one service is an answer of the other.
    upsert = pb_v1.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name[
        "UpsertRegisteredModel"
    ]
    assert upsert.input_type.full_name == "model_registry.v1alpha3.UpsertRegisteredModelRequest"


async def _services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names: set[str] = set()
    async for answer in stub.ServerReflectionInfo(iter([request])):
        names |= {s.name for s in answer.list_services_response.service}
    return names


async def test_by_default_both_services_serve_the_same_registry(database_url: str) -> None:
    async with (
        run_server(database_url, grpc_port=0) as srv,
        grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel,
    ):
        assert {SERVICE_NAME, V1_SERVICE_NAME} <= await _services(channel)
        stable = pb_v1_grpc.ModelRegistryServiceStub(channel)
        alpha = pb_grpc.ModelRegistryServiceStub(channel)
        created = await stable.UpsertRegisteredModel(
            pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name="both"))
        )
        got = await alpha.GetRegisteredModelById(pb.GetRegisteredModelByIdRequest(id=created.id))
        assert got.name == "both"
        health = health_pb2_grpc.HealthStub(channel)
        for name in (SERVICE_NAME, V1_SERVICE_NAME):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        # v1 has no experiment calls: its name does not reach the v1alpha3 handler.
        upsert = channel.unary_unary(
            f"/{V1_SERVICE_NAME}/UpsertExperiment",
            request_serializer=pb.UpsertExperimentRequest.SerializeToString,
            response_deserializer=pb.Experiment.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await upsert(pb.UpsertExperimentRequest(experiment=pb.Experiment(name="e")))
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert (
            await alpha.UpsertExperiment(
                pb.UpsertExperimentRequest(experiment=pb.Experiment(name="e"))
            )
        ).name == "e"


@pytest.mark.parametrize(
    ("versions", "served", "absent"),
    [(("v1",), V1_SERVICE_NAME, SERVICE_NAME), (("v1alpha3",), SERVICE_NAME, V1_SERVICE_NAME)],
    ids=["v1", "v1alpha3"],
)
async def test_api_versions_choose_the_grpc_services_as_they_choose_rest_routes(
    database_url: str, versions: tuple[str, ...], served: str, absent: str
) -> None:
    async with (
        run_server(database_url, grpc_port=0, api_versions=versions) as srv,
        grpc.aio.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel,
    ):
        names = await _services(channel)
        assert served in names and absent not in names

        def lister(service: str) -> grpc.aio.UnaryUnaryMultiCallable:
            return channel.unary_unary(
                f"/{service}/GetRegisteredModels",
                request_serializer=pb.GetRegisteredModelsRequest.SerializeToString,
                response_deserializer=pb.RegisteredModelList.FromString,
            )

        assert list((await lister(served)(pb.GetRegisteredModelsRequest())).items) == []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await lister(absent)(pb.GetRegisteredModelsRequest())
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        health = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await health.Check(health_pb2.HealthCheckRequest(service=absent))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
