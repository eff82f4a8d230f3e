"""The proto stays in step with the REST wire shapes and the domain types it converts to."""

from __future__ import annotations

import dataclasses
import enum

import pytest

from model_registry import _convert_grpc as conv
from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._wire import proto as wire_codec
from model_registry.server import entities
from model_registry.types import enums as domain_enums
from model_registry.types.artifacts import DataSet, DocArtifact, Metric, ModelArtifact, Parameter
from model_registry.types.contexts import (
    Experiment,
    ExperimentRun,
    InferenceService,
    ModelVersion,
    RegisteredModel,
    ServeModel,
    ServingEnvironment,
)

COMMON_WIRE = {
    "id",
    "name",
    "externalId",
    "description",
    "customProperties",
    "createTimeSinceEpoch",
    "lastUpdateTimeSinceEpoch",
}

# Server entity kind -> proto message carrying it.
MESSAGE_OF_KIND = {
    "registered-model": pb.RegisteredModel,
    "model-version": pb.ModelVersion,
    "experiment": pb.Experiment,
    "experiment-run": pb.ExperimentRun,
    "serving-environment": pb.ServingEnvironment,
    "inference-service": pb.InferenceService,
    "serve-model": pb.ServeModel,
    "model-artifact": pb.ModelArtifact,
    "doc-artifact": pb.DocArtifact,
    "dataset-artifact": pb.DataSet,
    "metric": pb.Metric,
    "parameter": pb.Parameter,
    "metric-history": pb.Metric,
}

DOMAIN_CLASSES = [
    RegisteredModel,
    ModelVersion,
    Experiment,
    ExperimentRun,
    ServingEnvironment,
    InferenceService,
    ServeModel,
    ModelArtifact,
    DocArtifact,
    DataSet,
    Metric,
    Parameter,
]


def _wire_names(message_cls: type) -> set[str]:
    return {f.json_name for f in message_cls.DESCRIPTOR.fields}  # type: ignore[attr-defined]


def test_every_server_entity_kind_has_a_message() -> None:
    assert set(MESSAGE_OF_KIND) == set(entities.KINDS)


@pytest.mark.parametrize("kind", sorted(entities.KINDS))
def test_each_message_has_every_wire_field_of_its_entity_kind(kind: str) -> None:
    desc = entities.KINDS[kind]
    expected = COMMON_WIRE | {f.wire for f in desc.fields}
    assert expected <= _wire_names(MESSAGE_OF_KIND[kind])


@pytest.mark.parametrize("domain_cls", DOMAIN_CLASSES, ids=lambda c: c.__name__)
def test_each_message_has_every_field_of_its_domain_type(domain_cls: type) -> None:
    message_cls = getattr(pb, domain_cls.__name__)
    names = {f.name for f in dataclasses.fields(domain_cls)} - {"_"}
    assert names <= set(message_cls.DESCRIPTOR.fields_by_name)


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n, v in vars(domain_enums).items()
        if isinstance(v, type)
        and issubclass(v, enum.Enum)
        and n in pb.DESCRIPTOR.enum_types_by_name
    ),
)
def test_proto_enums_carry_exactly_the_rest_values(name: str) -> None:
    rest_values = {m.value for m in getattr(domain_enums, name)}
    proto = pb.DESCRIPTOR.enum_types_by_name[name]
    proto_values = {wire_codec.enum_to_wire(name, v.number) for v in proto.values if v.number}
    assert proto_values == rest_values


def test_every_domain_enum_has_a_proto_enum() -> None:
    domain = {
        n
        for n, v in vars(domain_enums).items()
        if isinstance(v, type)
        and issubclass(v, enum.Enum)
        and v.__module__ == domain_enums.__name__
        and not n.startswith("_")
    }
    assert domain <= set(pb.DESCRIPTOR.enum_types_by_name)


@pytest.mark.parametrize(
    ("wire", "cls"),
    [
        (
            {
                "id": "3",
                "name": "m",
                "externalId": "e",
                "description": "d",
                "customProperties": {
                    "s": {"metadataType": "MetadataStringValue", "string_value": "x"},
                    "i": {"metadataType": "MetadataIntValue", "int_value": "-5"},
                    "f": {"metadataType": "MetadataDoubleValue", "double_value": 2.5},
                    "b": {"metadataType": "MetadataBoolValue", "bool_value": False},
                    "st": {"metadataType": "MetadataStructValue", "struct_value": "e30="},
                    "p": {
                        "metadataType": "MetadataProtoValue",
                        "type": "t",
                        "proto_value": "AAE=",
                    },
                },
                "createTimeSinceEpoch": "1700000000000",
                "lastUpdateTimeSinceEpoch": "1700000000001",
                "owner": "me",
                "state": "ARCHIVED",
                "language": ["en", "fr"],
                "tasks": [],
                "licenseLink": "https://l",
            },
            pb.RegisteredModel,
        ),
        (
            {
                "artifactType": "metric",
                "id": "9",
                "name": "loss",
                "value": 0.25,
                "timestamp": "1700000000000",
                "step": 12,
                "state": "LIVE",
                "experimentId": "1",
                "experimentRunId": "2",
                "customProperties": {},
            },
            pb.Artifact,
        ),
        (
            {"artifactType": "parameter", "name": "lr", "value": "0.1", "parameterType": "number"},
            pb.Artifact,
        ),
        (
            {"name": "r", "experimentId": "4", "status": "KILLED", "endTimeSinceEpoch": "5"},
            pb.ExperimentRun,
        ),
        (
            {"modelVersionId": "2", "lastKnownState": "CANCELED"},
            pb.ServeModel,
        ),
    ],
    ids=["registered-model", "metric", "parameter", "run", "serve-model"],
)
def test_wire_dicts_survive_the_trip_through_protobuf(wire: dict[str, object], cls: type) -> None:
    message = wire_codec.wire_to_message(wire, cls)  # type: ignore[type-var]
    assert wire_codec.message_to_wire(message) == wire


def test_a_request_becomes_rest_query_parameters() -> None:
    request = pb.GetModelVersionArtifactsRequest(
        page_size=10,
        order_by=pb.ORDER_BY_FIELD_LAST_UPDATE_TIME,
        sort_order=pb.SORT_ORDER_DESC,
        filter_query="uri LIKE 's3://%'",
        next_page_token="tok",
        model_version_id="5",
        artifact_type=pb.ARTIFACT_TYPE_DATASET_ARTIFACT,
    )
    assert wire_codec.query_params(request) == {
        "pageSize": "10",
        "orderBy": "LAST_UPDATE_TIME",
        "sortOrder": "DESC",
        "filterQuery": "uri LIKE 's3://%'",
        "nextPageToken": "tok",
        "modelVersionId": "5",
        "artifactType": "dataset-artifact",
    }


def test_unspecified_enums_are_absent_and_unknown_numbers_reach_the_service() -> None:
    assert "state" not in wire_codec.message_to_wire(
        pb.RegisteredModel(name="x", state=pb.REGISTERED_MODEL_STATE_UNSPECIFIED)
    )
    unknown = pb.RegisteredModel(name="x", state=42)  # type: ignore[arg-type]
    assert wire_codec.message_to_wire(unknown)["state"] == "42"


def test_domain_objects_survive_the_trip_through_protobuf() -> None:
    model = RegisteredModel(
        "m",
        id="1",
        owner="o",
        state=domain_enums.RegisteredModelState.ARCHIVED,
        language=["en"],
        custom_properties={"n": 1, "f": 0.5, "s": "x", "b": True, "d": {"a": [1]}, "raw": b"\x01"},
        create_time_since_epoch=10,
    )
    assert conv.message_to_domain(conv.domain_to_message(model)) == model
    artifact = Parameter("p", value="v", parameter_type=domain_enums.ParameterType.OBJECT)
    back = conv.message_to_domain(conv.domain_to_artifact(artifact))
    assert back == artifact and isinstance(back, Parameter)


def test_a_custom_property_the_registry_cannot_store_fails_before_sending() -> None:
    with pytest.raises(ValueError, match="big"):
        conv.domain_to_message(RegisteredModel("m", custom_properties={"big": 10**12}))
