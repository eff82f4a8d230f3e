"""REST wire conversion rules of ``_convert`` (no I/O)."""

from __future__ import annotations

import pytest

from model_registry import _convert
from model_registry._generated.openapi import models as gen
from model_registry.exceptions import InvalidResponse
from model_registry.types import (
    DataSet,
    ExperimentRun,
    Metric,
    ModelArtifact,
    ModelVersion,
    Parameter,
    ParameterType,
    RegisteredModel,
    RegisteredModelState,
)


def test_create_body_has_set_fields_only_in_camel_case() -> None:
    rm = RegisteredModel("m", owner="me", license_link="https://l", language=["en"])
    assert _convert.to_wire(rm, "create") == {
        "name": "m",
        "owner": "me",
        "licenseLink": "https://l",
        "language": ["en"],
    }


def test_update_body_leaves_out_what_cannot_change_and_always_sends_properties() -> None:
    mv = ModelVersion("v1", id="5", registered_model_id="2", author="a", create_time_since_epoch=1)
    assert _convert.to_wire(mv, "update") == {"author": "a", "customProperties": {}}
    run = ExperimentRun(
        "r", id="1", experiment_id="3", start_time_since_epoch=5, end_time_since_epoch=9
    )
    assert _convert.to_wire(run, "update") == {"endTimeSinceEpoch": "9", "customProperties": {}}


def test_full_artifact_body_carries_id_and_kind() -> None:
    ma = ModelArtifact("m", id="4", uri="u", experiment_id="9")
    assert _convert.to_wire(ma, "full") == {
        "artifactType": "model-artifact",
        "id": "4",
        "name": "m",
        "uri": "u",
    }


@pytest.mark.parametrize(
    ("entity", "model"),
    [
        (
            RegisteredModel("m", state=RegisteredModelState.ARCHIVED, tasks=["t"]),
            gen.RegisteredModelCreate,
        ),
        (
            ModelVersion("v", registered_model_id="1", custom_properties={"a": 1}),
            gen.ModelVersionCreate,
        ),
        (ModelArtifact("a", uri="u", model_format_name="onnx"), gen.ModelArtifactCreate),
        (Metric("acc", value=0.5, step=3, timestamp=10), gen.MetricCreate),
        (Parameter("lr", value="0.1", parameter_type=ParameterType.NUMBER), gen.ParameterCreate),
        (DataSet("d", digest="x", schema="{}"), gen.DataSetCreate),
    ],
)
def test_generated_models_carry_our_wire_dicts_unchanged(entity: object, model: object) -> None:
    wire = _convert.to_wire(entity, "create")  # type: ignore[arg-type]
    assert _convert.to_model(model, entity, "create").to_dict() == wire  # type: ignore[arg-type]


def test_reading_back_uses_the_artifact_type_and_ints_for_times() -> None:
    art = _convert.artifact_from_wire(
        {
            "artifactType": "metric",
            "id": "3",
            "name": "loss",
            "value": 1,
            "step": 2,
            "timestamp": "123",
            "createTimeSinceEpoch": "100",
            "lastUpdateTimeSinceEpoch": "101",
            "someFutureField": "ignored",
        }
    )
    assert art == Metric(
        "loss",
        id="3",
        value=1.0,
        step=2,
        timestamp=123,
        create_time_since_epoch=100,
        last_update_time_since_epoch=101,
    )


@pytest.mark.parametrize(
    "data",
    [
        {"artifactType": "mystery", "id": "1"},
        {"artifactType": "metric", "id": "1", "step": "two"},
        {"artifactType": "model-artifact", "id": "1", "state": "SHINY"},
        [],
    ],
)
def test_malformed_entities_raise_invalid_response(data: object) -> None:
    with pytest.raises(InvalidResponse):
        _convert.artifact_from_wire(data)


def test_bad_enum_in_a_domain_object_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="state"):
        _convert.to_wire(RegisteredModel("m", state="SHINY"))  # type: ignore[arg-type]


def test_domain_types_read_well() -> None:
    assert repr(RegisteredModel("m", owner="o")) == "RegisteredModel(name='m', owner='o')"
    assert RegisteredModel("a") == RegisteredModel("a")
    assert RegisteredModel("a") != RegisteredModel("b")
    assert RegisteredModelState.LIVE == "LIVE"
