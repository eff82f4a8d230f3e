"""The gRPC front door through the raw generated stub, against ``run_server(grpc_port=0)``."""

from __future__ import annotations

import aiohttp
import grpc
import pytest

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry.server import RunningServer
from model_registry.server.rest import BASE_PATH

Stub = pb_grpc.ModelRegistryServiceStub


async def _model(stub: Stub, name: str = "m", **fields: object) -> pb.RegisteredModel:
    request = pb.UpsertRegisteredModelRequest(
        registered_model=pb.RegisteredModel(name=name, **fields)
    )
    return await stub.UpsertRegisteredModel(request)


async def _version(stub: Stub, model_id: str, name: str = "v1") -> pb.ModelVersion:
    request = pb.UpsertModelVersionRequest(
        model_version=pb.ModelVersion(name=name), registered_model_id=model_id
    )
    return await stub.UpsertModelVersion(request)


async def _status(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    return info.value


async def test_upsert_creates_then_updates_a_registered_model(stub: Stub) -> None:
    created = await _model(stub, "hal", owner="me", language=pb.StringList(values=["en"]))
    assert created.id and created.name == "hal" and created.owner == "me"
    assert created.state == pb.REGISTERED_MODEL_STATE_LIVE
    assert list(created.language.values) == ["en"]
    assert created.create_time_since_epoch > 0

    update = pb.RegisteredModel()
    update.CopyFrom(created)
    update.description = "a model"
    updated = await stub.UpsertRegisteredModel(
        pb.UpsertRegisteredModelRequest(registered_model=update)
    )
    assert updated.id == created.id
    assert updated.description == "a model"
    assert updated.owner == "me"  # unchanged
    assert updated.last_update_time_since_epoch >= created.last_update_time_since_epoch

    fetched = await stub.GetRegisteredModelById(pb.GetRegisteredModelByIdRequest(id=created.id))
    assert fetched == updated


async def test_unset_fields_keep_their_value_and_an_empty_map_clears_properties(
    stub: Stub,
) -> None:
    props = pb.CustomProperties(properties={"k": pb.MetadataValue(string_value="v")})
    created = await _model(stub, "m", owner="me", custom_properties=props)
    patch = pb.RegisteredModel(id=created.id, description="d")
    kept = await stub.UpsertRegisteredModel(pb.UpsertRegisteredModelRequest(registered_model=patch))
    assert kept.owner == "me" and kept.custom_properties == props

    clear = pb.RegisteredModel(id=created.id, custom_properties=pb.CustomProperties())
    cleared = await stub.UpsertRegisteredModel(
        pb.UpsertRegisteredModelRequest(registered_model=clear)
    )
    assert len(cleared.custom_properties.properties) == 0


async def test_every_custom_property_value_kind_round_trips(stub: Stub) -> None:
    values = {
        "s": pb.MetadataValue(string_value="text"),
        "label": pb.MetadataValue(string_value=""),
        "i": pb.MetadataValue(int_value=-42),
        "d": pb.MetadataValue(double_value=0.5),
        "b": pb.MetadataValue(bool_value=True),
        "st": pb.MetadataValue(struct_value=b'{"a": 1}'),
        "p": pb.MetadataValue(
            proto_value=pb.MetadataProtoValue(type="x/y", proto_value=b"\x00\x01")
        ),
    }
    created = await _model(stub, "props", custom_properties=pb.CustomProperties(properties=values))
    fetched = await stub.GetRegisteredModelById(pb.GetRegisteredModelByIdRequest(id=created.id))
    assert dict(fetched.custom_properties.properties) == values


async def test_grpc_and_rest_see_the_same_entity(stub: Stub, grpc_server: RunningServer) -> None:
    created = await _model(
        stub,
        "shared",
        custom_properties=pb.CustomProperties(properties={"n": pb.MetadataValue(int_value=7)}),
    )
    url = f"{grpc_server.url}{BASE_PATH}/registered_models/{created.id}"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body = await response.json()
    assert body["name"] == "shared"
    assert body["createTimeSinceEpoch"] == str(created.create_time_since_epoch)
    assert body["customProperties"] == {"n": {"metadataType": "MetadataIntValue", "int_value": "7"}}


async def test_find_by_params_for_top_level_and_child_entities(stub: Stub) -> None:
    model = await _model(stub, "finder", external_id="ext-m")
    version = await _version(stub, model.id, "v9")
    by_name = await stub.GetRegisteredModelByParams(
        pb.GetRegisteredModelByParamsRequest(name="finder")
    )
    by_ext = await stub.GetRegisteredModelByParams(
        pb.GetRegisteredModelByParamsRequest(external_id="ext-m")
    )
    assert by_name.id == by_ext.id == model.id
    found = await stub.GetModelVersionByParams(
        pb.GetModelVersionByParamsRequest(registered_model_id=model.id, version="v9")
    )
    assert found.id == version.id and found.registered_model_id == model.id


async def test_list_pages_with_a_token_until_the_last_page(stub: Stub) -> None:
    ids = [(await _model(stub, f"m{i}")).id for i in range(5)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await stub.GetRegisteredModels(
            pb.GetRegisteredModelsRequest(page_size=2, next_page_token=token)
        )
        pages += 1
        assert page.page_size == 2 and page.size == len(page.items)
        seen += [m.id for m in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids and pages == 3


async def test_list_orders_descending_and_filters(stub: Stub) -> None:
    for name in ("alpha", "beta", "gamma"):
        await _model(stub, name)
    page = await stub.GetRegisteredModels(
        pb.GetRegisteredModelsRequest(
            order_by=pb.ORDER_BY_FIELD_CREATE_TIME, sort_order=pb.SORT_ORDER_DESC
        )
    )
    assert [m.name for m in page.items] == ["gamma", "beta", "alpha"]
    filtered = await stub.GetRegisteredModels(
        pb.GetRegisteredModelsRequest(filter_query="name LIKE '%a' AND name != 'beta'")
    )
    assert sorted(m.name for m in filtered.items) == ["alpha", "gamma"]


async def test_artifacts_of_each_kind_through_the_artifact_union(stub: Stub) -> None:
    model = await _model(stub)
    version = await _version(stub, model.id)
    kinds = [
        pb.Artifact(
            model_artifact=pb.ModelArtifact(name="ma", uri="s3://b/m", model_format_name="onnx")
        ),
        pb.Artifact(doc_artifact=pb.DocArtifact(name="readme", uri="https://x/readme")),
        pb.Artifact(dataset_artifact=pb.DataSet(name="ds", digest="sha", source_type="s3")),
        pb.Artifact(metric=pb.Metric(name="acc", value=0.9, step=3, timestamp=1700000000000)),
        pb.Artifact(
            parameter=pb.Parameter(name="lr", value="0.1", parameter_type=pb.PARAMETER_TYPE_NUMBER)
        ),
    ]
    created = []
    for artifact in kinds:
        result = await stub.UpsertModelVersionArtifact(
            pb.UpsertModelVersionArtifactRequest(artifact=artifact, model_version_id=version.id)
        )
        assert result.WhichOneof("kind") == artifact.WhichOneof("kind")
        created.append(result)
    metric = created[3].metric
    assert metric.value == 0.9 and metric.step == 3 and metric.timestamp == 1700000000000
    assert created[4].parameter.parameter_type == pb.PARAMETER_TYPE_NUMBER

    listed = await stub.GetModelVersionArtifacts(
        pb.GetModelVersionArtifactsRequest(model_version_id=version.id)
    )
    assert [a.WhichOneof("kind") for a in listed.items] == [
        "model_artifact",
        "doc_artifact",
        "dataset_artifact",
        "metric",
        "parameter",
    ]
    only_docs = await stub.GetArtifacts(
        pb.GetArtifactsRequest(artifact_type=pb.ARTIFACT_TYPE_DOC_ARTIFACT)
    )
    assert [a.doc_artifact.name for a in only_docs.items] == ["readme"]
    models = await stub.GetModelArtifacts(pb.GetModelArtifactsRequest(model_version_id=version.id))
    assert [a.name for a in models.items] == ["ma"]
    by_id = await stub.GetArtifactById(pb.GetArtifactByIdRequest(id=created[1].doc_artifact.id))
    assert by_id == created[1]


async def test_linking_an_existing_artifact_keeps_its_id(stub: Stub) -> None:
    model = await _model(stub)
    v1 = await _version(stub, model.id, "v1")
    v2 = await _version(stub, model.id, "v2")
    artifact = await stub.UpsertModelArtifact(
        pb.UpsertModelArtifactRequest(
            model_artifact=pb.ModelArtifact(name="weights", uri="s3://w"), model_version_id=v1.id
        )
    )
    linked = await stub.UpsertModelVersionArtifact(
        pb.UpsertModelVersionArtifactRequest(
            artifact=pb.Artifact(model_artifact=pb.ModelArtifact(id=artifact.id)),
            model_version_id=v2.id,
        )
    )
    assert linked.model_artifact.id == artifact.id
    in_v2 = await stub.GetModelArtifacts(pb.GetModelArtifactsRequest(model_version_id=v2.id))
    assert [a.id for a in in_v2.items] == [artifact.id]


async def test_serving_chain_and_lookups_by_inference_service(stub: Stub) -> None:
    model = await _model(stub)
    version = await _version(stub, model.id)
    artifact = await stub.UpsertModelArtifact(
        pb.UpsertModelArtifactRequest(
            model_artifact=pb.ModelArtifact(name="w", uri="s3://w"), model_version_id=version.id
        )
    )
    env = await stub.UpsertServingEnvironment(
        pb.UpsertServingEnvironmentRequest(serving_environment=pb.ServingEnvironment(name="prod"))
    )
    isvc = await stub.UpsertInferenceService(
        pb.UpsertInferenceServiceRequest(
            inference_service=pb.InferenceService(
                name="svc", registered_model_id=model.id, serving_environment_id=env.id
            )
        )
    )
    assert isvc.desired_state == pb.INFERENCE_SERVICE_STATE_DEPLOYED
    by_is = pb.GetRegisteredModelByInferenceServiceRequest(inference_service_id=isvc.id)
    assert (await stub.GetRegisteredModelByInferenceService(by_is)).id == model.id
    by_is_v = pb.GetModelVersionByInferenceServiceRequest(inference_service_id=isvc.id)
    assert (await stub.GetModelVersionByInferenceService(by_is_v)).id == version.id
    by_is_a = pb.GetModelArtifactByInferenceServiceRequest(inference_service_id=isvc.id)
    assert (await stub.GetModelArtifactByInferenceService(by_is_a)).id == artifact.id

    serve = await stub.UpsertServeModel(
        pb.UpsertServeModelRequest(
            serve_model=pb.ServeModel(model_version_id=version.id), inference_service_id=isvc.id
        )
    )
    assert serve.last_known_state == pb.EXECUTION_STATE_UNKNOWN
    fetched = await stub.GetServeModelById(pb.GetServeModelByIdRequest(id=serve.id))
    assert fetched == serve
    serves = await stub.GetServeModels(pb.GetServeModelsRequest(inference_service_id=isvc.id))
    assert [s.id for s in serves.items] == [serve.id]
    services = await stub.GetInferenceServices(
        pb.GetInferenceServicesRequest(serving_environment_id=env.id)
    )
    assert [s.id for s in services.items] == [isvc.id]
    found = await stub.GetInferenceServiceByParams(
        pb.GetInferenceServiceByParamsRequest(name="svc", serving_environment_id=env.id)
    )
    assert found.id == isvc.id


async def test_experiment_runs_and_metric_history(stub: Stub) -> None:
    exp = await stub.UpsertExperiment(
        pb.UpsertExperimentRequest(experiment=pb.Experiment(name="exp", owner="me"))
    )
    run = await stub.UpsertExperimentRun(
        pb.UpsertExperimentRunRequest(
            experiment_run=pb.ExperimentRun(name="r1", start_time_since_epoch=1000),
            experiment_id=exp.id,
        )
    )
    assert run.experiment_id == exp.id and run.start_time_since_epoch == 1000
    assert run.status == pb.EXPERIMENT_RUN_STATUS_RUNNING
    for step, value in ((1, 0.5), (2, 0.7)):
        await stub.UpsertExperimentRunArtifact(
            pb.UpsertExperimentRunArtifactRequest(
                artifact=pb.Artifact(metric=pb.Metric(name="acc", value=value, step=step)),
                experiment_run_id=run.id,
            )
        )
    history = await stub.GetExperimentRunMetricHistory(
        pb.GetExperimentRunMetricHistoryRequest(experiment_run_id=run.id, name="acc")
    )
    assert sorted((m.step, m.value) for m in history.items) == [(1, 0.5), (2, 0.7)]
    step_two = await stub.GetExperimentRunMetricHistory(
        pb.GetExperimentRunMetricHistoryRequest(step_ids="2")
    )
    assert [m.value for m in step_two.items] == [0.7]
    artifacts = await stub.GetExperimentRunArtifacts(
        pb.GetExperimentRunArtifactsRequest(experiment_run_id=run.id)
    )
    assert [a.metric.value for a in artifacts.items] == [0.7]  # the named metric is updated
    runs = await stub.GetExperimentRuns(pb.GetExperimentRunsRequest(experiment_id=exp.id))
    assert [r.id for r in runs.items] == [run.id]
    found = await stub.GetExperimentRunByParams(
        pb.GetExperimentRunByParamsRequest(name="r1", experiment_id=exp.id)
    )
    assert found.id == run.id


# -- errors ---------------------------------------------------------------------------------


async def test_unknown_id_is_not_found(stub: Stub) -> None:
    err = await _status(stub.GetRegisteredModelById(pb.GetRegisteredModelByIdRequest(id="999")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "999" in (err.details() or "")
    assert ("mr-error-code", "Not Found") in tuple(err.trailing_metadata() or ())


async def test_a_find_without_match_is_not_found(stub: Stub) -> None:
    err = await _status(stub.GetExperimentByParams(pb.GetExperimentByParamsRequest(name="nothing")))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_a_duplicate_name_is_already_exists(stub: Stub) -> None:
    await _model(stub, "dup")
    err = await _status(_model(stub, "dup"))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.GetRegisteredModelById(pb.GetRegisteredModelByIdRequest(id="abc")),
        lambda s: s.GetRegisteredModels(pb.GetRegisteredModelsRequest(filter_query="name =")),
        lambda s: s.GetRegisteredModels(pb.GetRegisteredModelsRequest(next_page_token="%%%")),
        lambda s: s.GetRegisteredModels(pb.GetRegisteredModelsRequest(page_size=0)),
        lambda s: s.GetRegisteredModelByParams(pb.GetRegisteredModelByParamsRequest()),
        lambda s: s.GetExperimentRunMetricHistory(
            pb.GetExperimentRunMetricHistoryRequest(step_ids="1,,2")
        ),
        lambda s: s.UpsertRegisteredModel(
            pb.UpsertRegisteredModelRequest(
                registered_model=pb.RegisteredModel(name="x", state=99)  # type: ignore[arg-type]
            )
        ),
        lambda s: s.UpsertRegisteredModel(
            pb.UpsertRegisteredModelRequest(
                registered_model=pb.RegisteredModel(
                    name="x",
                    custom_properties=pb.CustomProperties(
                        properties={"big": pb.MetadataValue(int_value=10**12)}
                    ),
                )
            )
        ),
        lambda s: s.UpsertRegisteredModel(
            pb.UpsertRegisteredModelRequest(
                registered_model=pb.RegisteredModel(
                    name="x",
                    custom_properties=pb.CustomProperties(
                        properties={"nan": pb.MetadataValue(double_value=float("nan"))}
                    ),
                )
            )
        ),
        lambda s: s.UpsertArtifact(
            pb.UpsertArtifactRequest(
                artifact=pb.Artifact(metric=pb.Metric(name="m", value=float("inf")))
            )
        ),
        lambda s: s.UpsertRegisteredModel(
            pb.UpsertRegisteredModelRequest(
                registered_model=pb.RegisteredModel(
                    name="x",
                    custom_properties=pb.CustomProperties(
                        properties={"untyped": pb.MetadataValue()}
                    ),
                )
            )
        ),
    ],
    ids=[
        "bad-id",
        "bad-filter",
        "bad-token",
        "zero-page-size",
        "find-without-params",
        "bad-step-ids",
        "unknown-enum-number",
        "int-property-out-of-range",
        "nan-property",
        "infinite-metric",
        "untyped-property",
    ],
)
async def test_bad_input_is_invalid_argument(stub: Stub, call: object) -> None:
    err = await _status(call(stub))  # type: ignore[operator]
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details()


async def test_a_missing_required_field_is_refused_as_a_client_error(stub: Stub) -> None:
    err = await _status(
        stub.UpsertRegisteredModel(
            pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(owner="me"))
        )
    )
    # REST answers 422; gRPC answers the code the service error names for it.
    assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
    assert "name" in (err.details() or "")


async def test_changing_an_artifact_kind_is_invalid_argument(stub: Stub) -> None:
    doc = await stub.UpsertArtifact(
        pb.UpsertArtifactRequest(artifact=pb.Artifact(doc_artifact=pb.DocArtifact(name="d")))
    )
    err = await _status(
        stub.UpsertArtifact(
            pb.UpsertArtifactRequest(
                artifact=pb.Artifact(model_artifact=pb.ModelArtifact(id=doc.doc_artifact.id))
            )
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "doc-artifact" in (err.details() or "")


async def test_an_update_may_repeat_the_parent_but_not_change_it(stub: Stub) -> None:
    model = await _model(stub, "parent-a")
    other = await _model(stub, "parent-b")
    version = await _version(stub, model.id)
    same = pb.ModelVersion()
    same.CopyFrom(version)
    same.author = "someone"
    updated = await stub.UpsertModelVersion(pb.UpsertModelVersionRequest(model_version=same))
    assert updated.author == "someone" and updated.registered_model_id == model.id

    moved = pb.ModelVersion(id=version.id, registered_model_id=other.id)
    err = await _status(stub.UpsertModelVersion(pb.UpsertModelVersionRequest(model_version=moved)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "registeredModelId" in (err.details() or "")
