"""REST API v1 beside v1alpha3: one service, two route prefixes, v1's wire quirks.

COMPAT.md "API v1": v1 has the 40 operations that are not about experiments, ``Metric.step`` is a
decimal string, artifacts have no experiment fields, an unknown ``orderBy`` is a 400.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conformance import entities
from conformance.checks import assert_list, ids_of
from conformance.http import RestApi, rest_api

from model_registry.server import RunningServer
from model_registry.server.versions import API_VERSIONS

V1_BASE = API_VERSIONS["v1"].base_path
ALPHA_BASE = API_VERSIONS["v1alpha3"].base_path
INT64_MAX = str(2**63 - 1)
INT64_MIN = str(-(2**63))


@pytest.fixture
async def v1(server: RunningServer) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the server's v1 base URL."""
    async with rest_api(server.url + V1_BASE) as client:
        yield client


@pytest.fixture
async def alpha(server: RunningServer) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the server's v1alpha3 base URL."""
    async with rest_api(server.url + ALPHA_BASE) as client:
        yield client


async def test_both_versions_read_and_write_the_same_registry(v1: RestApi, alpha: RestApi) -> None:
    made_on_v1 = await entities.registered_model(v1, "from-v1")
    made_on_alpha = await entities.registered_model(alpha, "from-alpha")

    # v1 answers carry our extension's alias map too; v1alpha3 answers are the reference's.
    assert made_on_v1.pop("aliases") == {}
    assert await alpha.fetch(f"/registered_models/{made_on_v1['id']}") == made_on_v1
    assert await v1.fetch(f"/registered_models/{made_on_alpha['id']}") == {
        **made_on_alpha,
        "aliases": {},
    }
    listed = assert_list(await v1.fetch("/registered_models"))
    assert ids_of(listed) == [made_on_v1["id"], made_on_alpha["id"]]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/experiments"),
        ("POST", "/experiments"),
        ("GET", "/experiment"),
        ("GET", "/experiment_runs"),
        ("GET", "/experiment_run"),
        ("GET", "/experiment_runs/1"),
        ("GET", "/experiment_runs/1/artifacts"),
        ("GET", "/experiment_runs/1/metric_history"),
        ("GET", "/experiment_runs/metric_history"),
        ("GET", "/experiments/1/experiment_runs"),
    ],
)
async def test_v1_has_no_experiment_routes(v1: RestApi, method: str, path: str) -> None:
    await v1.fails(method, path, 404)


async def test_v1_metric_step_is_a_decimal_string_both_ways(v1: RestApi, alpha: RestApi) -> None:
    created = await v1.create(
        "/artifacts", {"artifactType": "metric", "name": "loss", "value": 0.5, "step": "3"}
    )

    assert created["step"] == "3"
    assert (await v1.fetch(f"/artifacts/{created['id']}"))["step"] == "3"
    assert (await alpha.fetch(f"/artifacts/{created['id']}"))["step"] == 3
    patched = await v1.update(
        f"/artifacts/{created['id']}", {"artifactType": "metric", "step": "7"}
    )
    assert patched["step"] == "7"
    listed = assert_list(await v1.fetch("/artifacts", {"artifactType": "metric"}))
    assert [item["step"] for item in listed] == ["7"]


@pytest.mark.parametrize("step", [INT64_MAX, INT64_MIN, "0", "-1", "007"])
async def test_v1_metric_step_takes_every_decimal_integer_within_64_bits(
    v1: RestApi, step: str
) -> None:
    created = await v1.create("/artifacts", {"artifactType": "metric", "value": 1.0, "step": step})

    assert created["step"] == str(int(step))


@pytest.mark.parametrize(
    "step",
    [3, 3.0, True, "", "abc", "1.5", " 3", "+3", "1e3", str(2**63), str(-(2**63) - 1), ["3"]],
)
async def test_v1_metric_step_of_another_form_is_a_400_naming_step_and_writes_nothing(
    v1: RestApi, step: Any
) -> None:
    body = {"artifactType": "metric", "name": "m", "value": 1.0, "step": step}

    message = await v1.fails("POST", "/artifacts", 400, body=body)

    assert "step" in message
    assert assert_list(await v1.fetch("/artifacts")) == []


async def test_v1alpha3_metric_step_stays_an_integer(alpha: RestApi) -> None:
    created = await alpha.create("/artifacts", {"artifactType": "metric", "step": 4})
    assert created["step"] == 4
    message = await alpha.fails(
        "POST", "/artifacts", 400, body={"artifactType": "metric", "step": "4"}
    )
    assert "step" in message


@pytest.mark.parametrize("field", ["experimentId", "experimentRunId"])
async def test_v1_artifact_with_an_experiment_field_is_a_400_naming_it_and_writes_nothing(
    v1: RestApi, field: str
) -> None:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    body = {"artifactType": "doc-artifact", "uri": "s3://b/readme", field: "1"}

    for path in ("/artifacts", f"/model_versions/{version['id']}/artifacts"):
        message = await v1.fails("POST", path, 400, body=body)
        assert message == f'json: unknown field "{field}"'
    assert assert_list(await v1.fetch("/artifacts")) == []


async def test_v1_answers_leave_out_the_experiment_fields_of_run_artifacts(
    v1: RestApi, alpha: RestApi
) -> None:
    experiment = await entities.experiment(alpha)
    run = await entities.experiment_run(alpha, experiment["id"])
    logged = await entities.run_artifact(
        alpha, run["id"], {"artifactType": "metric", "name": "acc", "value": 0.9, "step": 2}
    )
    assert logged["experimentRunId"] == run["id"]

    on_v1 = await v1.fetch(f"/artifacts/{logged['id']}")

    assert "experimentId" not in on_v1 and "experimentRunId" not in on_v1
    assert on_v1["step"] == "2"
    assert on_v1 == {
        **{k: v for k, v in logged.items() if k not in ("experimentId", "experimentRunId")},
        "step": "2",
    }


async def test_v1_unknown_order_by_is_a_400(v1: RestApi) -> None:
    message = await v1.fails("GET", "/registered_models", 400, params={"orderBy": "TITLE"})
    assert "orderBy" in message


async def test_v1_model_version_artifacts_link_and_list_with_string_steps(v1: RestApi) -> None:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    metric = await entities.version_artifact(
        v1, version["id"], {"artifactType": "metric", "name": "f1", "value": 0.7, "step": "12"}
    )

    listed = assert_list(await v1.fetch(f"/model_versions/{version['id']}/artifacts"))

    assert listed == [metric]
    assert metric["step"] == "12"
