"""DELETE over REST v1 (our extension): 204, 409 naming what is in the way, cascade, 404 after."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conformance import entities
from conformance.checks import assert_list, ids_of
from conformance.http import RestApi, rest_api
from sqlalchemy import text

from model_registry.server import RunningServer
from model_registry.server.versions import API_VERSIONS

V1_BASE = API_VERSIONS["v1"].base_path
ALPHA_BASE = API_VERSIONS["v1alpha3"].base_path


@pytest.fixture
async def v1(server: RunningServer) -> AsyncIterator[RestApi]:
    async with rest_api(server.url + V1_BASE) as client:
        yield client


@pytest.fixture
async def alpha(server: RunningServer) -> AsyncIterator[RestApi]:
    async with rest_api(server.url + ALPHA_BASE) as client:
        yield client


async def _deleted(api: RestApi, path: str, **params: str) -> None:
    reply = await api.request("DELETE", path, params=params or None)
    assert reply.status == 204, reply.describe()
    assert reply.text == ""


async def test_a_model_without_versions_is_deleted_then_404_and_its_name_is_free(
    v1: RestApi,
) -> None:
    model = await entities.registered_model(v1, "typo", externalId="ext-typo")

    await _deleted(v1, f"/registered_models/{model['id']}")

    await v1.fails("GET", f"/registered_models/{model['id']}", 404)
    await v1.fails("DELETE", f"/registered_models/{model['id']}", 404)
    again = await entities.registered_model(v1, "typo", externalId="ext-typo")
    assert again["id"] != model["id"]


async def test_a_model_with_versions_is_refused_naming_them_unless_cascade(v1: RestApi) -> None:
    model = await entities.registered_model(v1)
    first = await entities.model_version(v1, model["id"])
    second = await entities.model_version(v1, model["id"])
    artifact = await entities.version_artifact(
        v1, first["id"], {"artifactType": "model-artifact", "uri": "s3://m"}
    )
    await v1.ok(
        "PUT",
        f"/registered_models/{model['id']}/aliases/champion",
        body={"modelVersionId": first["id"]},
    )

    message = await v1.fails("DELETE", f"/registered_models/{model['id']}", 409)

    assert f"2 model versions ({first['id']}, {second['id']})" in message
    assert "1 alias (champion)" in message and f"1 artifact ({artifact['id']})" in message
    assert "cascade=true" in message
    assert (await v1.fetch(f"/model_versions/{first['id']}"))["aliases"] == ["champion"]

    await _deleted(v1, f"/registered_models/{model['id']}", cascade="true")

    for path in (
        f"/registered_models/{model['id']}",
        f"/model_versions/{first['id']}",
        f"/model_versions/{second['id']}",
        f"/artifacts/{artifact['id']}",
    ):
        await v1.fails("GET", path, 404)
    assert assert_list(await v1.fetch("/model_versions")) == []


async def test_an_artifact_linked_to_another_version_survives_the_cascade_unlinked(
    v1: RestApi,
) -> None:
    model = await entities.registered_model(v1)
    doomed = await entities.model_version(v1, model["id"])
    kept = await entities.model_version(v1, model["id"])
    shared = await entities.version_artifact(
        v1, doomed["id"], {"artifactType": "doc-artifact", "uri": "s3://readme"}
    )
    own = await entities.version_artifact(
        v1, doomed["id"], {"artifactType": "doc-artifact", "uri": "s3://own"}
    )
    await v1.ok(
        "POST", f"/model_versions/{kept['id']}/artifacts", body={**shared}, status=200
    )  # links the existing artifact

    await v1.fails("DELETE", f"/model_versions/{doomed['id']}", 409)
    await _deleted(v1, f"/model_versions/{doomed['id']}", cascade="true")

    await v1.fails("GET", f"/artifacts/{own['id']}", 404)
    assert (await v1.fetch(f"/artifacts/{shared['id']}"))["id"] == shared["id"]
    linked = await v1.fetch(f"/model_versions/{kept['id']}/artifacts")
    assert ids_of(assert_list(linked)) == [shared["id"]]


async def test_references_from_serving_refuse_even_with_cascade(v1: RestApi) -> None:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    environment = await entities.serving_environment(v1)
    service = await entities.inference_service(
        v1, environment["id"], model["id"], modelVersionId=version["id"]
    )

    for path in (f"/registered_models/{model['id']}", f"/model_versions/{version['id']}"):
        message = await v1.fails("DELETE", path, 409, params={"cascade": "true"})
        assert f"inference service {service['id']}" in message

    await _deleted(v1, f"/inference_services/{service['id']}")
    await _deleted(v1, f"/registered_models/{model['id']}", cascade="true")


async def test_a_serving_environment_cascades_to_its_services_and_serve_models(
    v1: RestApi,
) -> None:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    environment = await entities.serving_environment(v1)
    service = await entities.inference_service(v1, environment["id"], model["id"])
    serve = await v1.create(
        f"/inference_services/{service['id']}/serves", {"modelVersionId": version["id"]}
    )

    message = await v1.fails("DELETE", f"/serving_environments/{environment['id']}", 409)
    assert f"1 inference service ({service['id']})" in message
    assert f"1 serve model ({serve['id']})" in message
    # The serve model points at the version from outside the version's subtree.
    message = await v1.fails("DELETE", f"/model_versions/{version['id']}", 409)
    assert f"serve model {serve['id']}" in message

    await _deleted(v1, f"/serving_environments/{environment['id']}", cascade="true")

    await v1.fails("GET", f"/inference_services/{service['id']}", 404)
    await _deleted(v1, f"/model_versions/{version['id']}")


async def test_a_serve_model_is_deleted_under_its_own_inference_service_only(
    v1: RestApi,
) -> None:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    environment = await entities.serving_environment(v1)
    service = await entities.inference_service(v1, environment["id"], model["id"])
    other = await entities.inference_service(v1, environment["id"], model["id"])
    serve = await v1.create(
        f"/inference_services/{service['id']}/serves", {"modelVersionId": version["id"]}
    )

    await v1.fails("DELETE", f"/inference_services/{other['id']}/serves/{serve['id']}", 404)
    await _deleted(v1, f"/inference_services/{service['id']}/serves/{serve['id']}")

    assert assert_list(await v1.fetch(f"/inference_services/{service['id']}/serves")) == []
    await v1.fails("DELETE", f"/inference_services/{service['id']}/serves/{serve['id']}", 404)


async def test_a_dataset_with_predictions_made_on_it_is_refused_naming_them(
    v1: RestApi,
) -> None:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    dataset = await entities.artifact(v1, "dataset-artifact", uri="s3://data")
    predictions = await entities.version_artifact(
        v1,
        version["id"],
        {
            "artifactType": "dataset-artifact",
            "uri": "s3://pred",
            "customProperties": {
                "dataset_id": {"metadataType": "MetadataStringValue", "string_value": dataset["id"]}
            },
        },
    )

    message = await v1.fails("DELETE", f"/artifacts/{dataset['id']}", 409)

    assert f"1 prediction ({predictions['id']})" in message
    await _deleted(v1, f"/artifacts/{predictions['id']}")
    await _deleted(v1, f"/artifacts/{dataset['id']}")


async def test_artifacts_and_model_artifacts_are_deleted_by_their_own_routes(v1: RestApi) -> None:
    generic = await entities.artifact(v1, "doc-artifact", uri="s3://doc")
    model_artifact = await entities.model_artifact(v1)

    await _deleted(v1, f"/artifacts/{generic['id']}")
    await _deleted(v1, f"/model_artifacts/{model_artifact['id']}")

    await v1.fails("GET", f"/artifacts/{generic['id']}", 404)
    await v1.fails("GET", f"/model_artifacts/{model_artifact['id']}", 404)
    # A model artifact route does not delete another artifact kind.
    doc = await entities.artifact(v1, "doc-artifact", uri="s3://doc2")
    await v1.fails("DELETE", f"/model_artifacts/{doc['id']}", 404)


@pytest.mark.parametrize("value", ["yes", "1", "TRUE", ""])
async def test_a_cascade_other_than_true_or_false_is_a_400(v1: RestApi, value: str) -> None:
    model = await entities.registered_model(v1)

    message = await v1.fails(
        "DELETE", f"/registered_models/{model['id']}", 400, params={"cascade": value}
    )

    assert "cascade" in message
    assert (await v1.fetch(f"/registered_models/{model['id']}"))["id"] == model["id"]


async def test_v1alpha3_has_no_delete_of_registry_entities(v1: RestApi, alpha: RestApi) -> None:
    model = await entities.registered_model(v1)

    await alpha.fails("DELETE", f"/registered_models/{model['id']}", 405)
    assert (await v1.fetch(f"/registered_models/{model['id']}"))["id"] == model["id"]


async def test_a_cascade_records_a_deleted_event_for_everything_it_removed(
    v1: RestApi, server: RunningServer
) -> None:
    model = await entities.registered_model(v1)
    version = await entities.model_version(v1, model["id"])
    artifact = await entities.version_artifact(
        v1, version["id"], {"artifactType": "doc-artifact", "uri": "s3://d"}
    )
    await v1.ok(
        "PUT",
        f"/registered_models/{model['id']}/aliases/champion",
        body={"modelVersionId": version["id"]},
    )

    await _deleted(v1, f"/registered_models/{model['id']}", cascade="true")

    await server.service.events.settle()  # PostgreSQL: every event has its cursor
    async with server.service.store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT kind, action, entity_id FROM events WHERE action = 'deleted' "
                    "ORDER BY cursor"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("model_version_alias", "deleted", f"{model['id']}:champion"),
        ("doc_artifact", "deleted", artifact["id"]),
        ("model_version", "deleted", version["id"]),
        ("registered_model", "deleted", model["id"]),
    ]


async def test_an_experiment_with_runs_is_refused_naming_them_unless_cascade(
    alpha: RestApi,
) -> None:
    experiment = await entities.experiment(alpha, "exp-typo", externalId="ext-exp")
    run = await entities.experiment_run(alpha, experiment["id"])
    other = await entities.experiment_run(alpha, experiment["id"])
    doc = await entities.run_artifact(alpha, run["id"], {"artifactType": "doc-artifact"})
    await entities.run_artifact(
        alpha, other["id"], {"artifactType": "metric", "name": "loss", "value": 0.5, "step": 1}
    )

    message = await alpha.fails("DELETE", f"/experiments/{experiment['id']}", 409)
    assert f"2 experiment runs ({run['id']}, {other['id']})" in message
    assert "cascade=true" in message
    message = await alpha.fails("DELETE", f"/experiment_runs/{other['id']}", 409)
    assert "1 metric history entry" in message and "cascade=true" in message

    await _deleted(alpha, f"/experiments/{experiment['id']}", cascade="true")

    for path in (
        f"/experiments/{experiment['id']}",
        f"/experiment_runs/{run['id']}",
        f"/experiment_runs/{other['id']}",
        f"/artifacts/{doc['id']}",
    ):
        await alpha.fails("GET", path, 404)
    await alpha.fails("DELETE", f"/experiments/{experiment['id']}", 404)
    await alpha.fails("GET", f"/experiment_runs/{other['id']}/metric_history", 404)
    assert assert_list(await alpha.fetch("/experiment_runs/metric_history")) == []
    again = await entities.experiment(alpha, "exp-typo", externalId="ext-exp")
    assert again["id"] != experiment["id"]


async def test_a_run_is_deleted_alone_or_with_its_artifacts_and_twice_is_a_404(
    alpha: RestApi,
) -> None:
    experiment = await entities.experiment(alpha)
    empty = await entities.experiment_run(alpha, experiment["id"])
    run = await entities.experiment_run(alpha, experiment["id"])
    artifact = await entities.run_artifact(alpha, run["id"], {"artifactType": "model-artifact"})

    await _deleted(alpha, f"/experiment_runs/{empty['id']}")
    await alpha.fails("DELETE", f"/experiment_runs/{empty['id']}", 404)
    message = await alpha.fails("DELETE", f"/experiment_runs/{run['id']}", 409)
    assert f"1 artifact ({artifact['id']})" in message
    await _deleted(alpha, f"/experiment_runs/{run['id']}", cascade="true")

    await alpha.fails("GET", f"/artifacts/{artifact['id']}", 404)
    assert assert_list(await alpha.fetch(f"/experiments/{experiment['id']}/experiment_runs")) == []
    await _deleted(alpha, f"/experiments/{experiment['id']}")


async def test_predictions_of_another_run_refuse_a_run_delete_even_with_cascade(
    alpha: RestApi,
) -> None:
    experiment = await entities.experiment(alpha)
    source = await entities.experiment_run(alpha, experiment["id"])
    user = await entities.experiment_run(alpha, experiment["id"])
    dataset = await entities.run_artifact(
        alpha, source["id"], {"artifactType": "dataset-artifact", "uri": "s3://d"}
    )
    predictions = await entities.run_artifact(
        alpha,
        user["id"],
        {
            "artifactType": "dataset-artifact",
            "uri": "s3://p",
            "customProperties": {
                "dataset_id": {"metadataType": "MetadataStringValue", "string_value": dataset["id"]}
            },
        },
    )

    message = await alpha.fails(
        "DELETE", f"/experiment_runs/{source['id']}", 409, params={"cascade": "true"}
    )

    assert f"1 prediction ({predictions['id']})" in message
    assert (await alpha.fetch(f"/artifacts/{dataset['id']}"))["id"] == dataset["id"]


async def test_experiment_deletes_are_v1alpha3_routes_only_and_check_cascade(
    v1: RestApi, alpha: RestApi
) -> None:
    experiment = await entities.experiment(alpha)

    await v1.fails("DELETE", f"/experiments/{experiment['id']}", 404)
    message = await alpha.fails(
        "DELETE", f"/experiments/{experiment['id']}", 400, params={"cascade": "yes"}
    )
    assert "cascade" in message
    await alpha.fails("DELETE", "/experiments/not-an-id", 400)
    await _deleted(alpha, f"/experiments/{experiment['id']}")
