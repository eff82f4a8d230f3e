"""Experiments, runs, run artifacts and metric history over REST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conformance import entities
from conformance.checks import assert_list, assert_ms_time, assert_stored, ids_of, string_prop
from conformance.http import RestApi, rest_api


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


def metric(name: str, value: float, step: int, **fields: Any) -> dict[str, Any]:
    """Build a metric artifact body."""
    return {
        "artifactType": "metric",
        "name": name,
        "value": value,
        "step": step,
        "timestamp": "1700000000000",
        **fields,
    }


async def new_run(api: RestApi, **fields: Any) -> dict[str, Any]:
    """Create an experiment with one run and return the run."""
    experiment = await entities.experiment(api)
    run: dict[str, Any] = await entities.experiment_run(api, experiment["id"], **fields)
    return run


async def test_experiment_create_answers_201_with_the_stored_experiment(api: RestApi) -> None:
    created = await api.create(
        "/experiments",
        {
            "name": "churn",
            "owner": "alice",
            "description": "d",
            "externalId": "ext-exp",
            "customProperties": {"team": string_prop("growth")},
        },
    )

    assert_stored(created)
    assert created["name"] == "churn"
    assert created["owner"] == "alice"
    assert created["description"] == "d"
    assert created["externalId"] == "ext-exp"
    assert created["state"] == "LIVE"
    assert created["customProperties"] == {"team": string_prop("growth")}
    assert await api.fetch(f"/experiments/{created['id']}") == created


async def test_experiment_without_a_name_is_a_422(api: RestApi) -> None:
    await api.fails(
        "POST",
        "/experiments",
        422,
        body={"owner": "alice"},
        message="required field 'name' is zero value.",
    )


async def test_experiment_names_and_external_ids_are_unique(api: RestApi) -> None:
    await entities.experiment(api, name="exp", externalId="ext-e")

    await api.fails("POST", "/experiments", 409, body={"name": "exp"})
    await api.fails("POST", "/experiments", 409, body={"name": "other", "externalId": "ext-e"})


async def test_experiment_patch_merges(api: RestApi) -> None:
    created = await entities.experiment(
        api, owner="alice", customProperties={"k": string_prop("v")}
    )

    patched = await api.update(f"/experiments/{created['id']}", {"state": "ARCHIVED"})

    assert patched["state"] == "ARCHIVED"
    assert patched["owner"] == "alice"
    assert patched["name"] == created["name"]
    assert patched["customProperties"] == {"k": string_prop("v")}
    assert assert_ms_time(patched["lastUpdateTimeSinceEpoch"]) > assert_ms_time(
        created["lastUpdateTimeSinceEpoch"]
    )


async def test_experiment_find_and_list(api: RestApi) -> None:
    first = await entities.experiment(api, name="first", externalId="ext-first")
    second = await entities.experiment(api, name="second")

    assert await api.fetch("/experiment", {"name": "first"}) == first
    assert await api.fetch("/experiment", {"externalId": "ext-first"}) == first
    await api.fails("GET", "/experiment", 404, params={"name": "third"})
    await api.fails("GET", "/experiment", 400)
    items = assert_list(await api.fetch("/experiments"))
    assert ids_of(items) == [first["id"], second["id"]]


async def test_run_create_stores_status_and_times(api: RestApi) -> None:
    experiment = await entities.experiment(api)

    run = await api.create(
        "/experiment_runs",
        {
            "name": "run-1",
            "experimentId": experiment["id"],
            "owner": "bob",
            "startTimeSinceEpoch": "1700000000000",
            "status": "SCHEDULED",
        },
    )

    assert_stored(run)
    assert run["experimentId"] == experiment["id"]
    assert run["name"] == "run-1"
    assert run["owner"] == "bob"
    assert run["status"] == "SCHEDULED"
    assert run["state"] == "LIVE"
    assert run["startTimeSinceEpoch"] == "1700000000000"
    assert await api.fetch(f"/experiment_runs/{run['id']}") == run


async def test_run_status_defaults_to_running(api: RestApi) -> None:
    run = await new_run(api)

    assert run["status"] == "RUNNING"
    assert run["state"] == "LIVE"


async def test_run_patch_finishes_a_run_and_keeps_the_rest(api: RestApi) -> None:
    run = await new_run(api, startTimeSinceEpoch="1700000000000", owner="bob")

    patched = await api.update(
        f"/experiment_runs/{run['id']}",
        {"status": "FINISHED", "endTimeSinceEpoch": "1700000360000"},
    )

    assert patched["status"] == "FINISHED"
    assert patched["endTimeSinceEpoch"] == "1700000360000"
    assert patched["startTimeSinceEpoch"] == "1700000000000"
    assert patched["owner"] == "bob"
    assert patched["experimentId"] == run["experimentId"]
    assert await api.fetch(f"/experiment_runs/{run['id']}") == patched


async def test_run_patch_cannot_move_the_run(api: RestApi) -> None:
    run = await new_run(api)
    other = await entities.experiment(api)

    await api.fails(
        "PATCH", f"/experiment_runs/{run['id']}", 400, body={"experimentId": other["id"]}
    )

    assert (await api.fetch(f"/experiment_runs/{run['id']}"))["experimentId"] == run["experimentId"]


async def test_run_with_a_bad_status_is_a_400(api: RestApi) -> None:
    experiment = await entities.experiment(api)

    await api.fails(
        "POST",
        "/experiment_runs",
        400,
        body={"name": "r", "experimentId": experiment["id"], "status": "DONE"},
    )


async def test_run_for_an_unknown_experiment_is_refused(api: RestApi) -> None:
    reply = await api.post("/experiment_runs", {"name": "r", "experimentId": "4242"})

    assert reply.status in (400, 404, 422), reply.describe()
    assert assert_list(await api.fetch("/experiment_runs")) == []


async def test_run_without_an_experiment_is_a_422(api: RestApi) -> None:
    message = await api.fails("POST", "/experiment_runs", 422, body={"name": "r"})

    assert "experimentId" in message


async def test_run_names_are_unique_within_their_experiment_only(api: RestApi) -> None:
    first = await entities.experiment(api)
    second = await entities.experiment(api)
    await entities.experiment_run(api, first["id"], name="r")

    other = await entities.experiment_run(api, second["id"], name="r")
    await api.fails(
        "POST", "/experiment_runs", 409, body={"name": "r", "experimentId": first["id"]}
    )

    assert other["experimentId"] == second["id"]


async def test_nested_run_create_and_list(api: RestApi) -> None:
    experiment = await entities.experiment(api)
    other = await entities.experiment(api)
    await entities.experiment_run(api, other["id"])

    run = await api.create(
        f"/experiments/{experiment['id']}/experiment_runs",
        {"name": "nested", "experimentId": experiment["id"]},
    )

    assert run["experimentId"] == experiment["id"]
    listed = assert_list(await api.fetch(f"/experiments/{experiment['id']}/experiment_runs"))
    assert ids_of(listed) == [run["id"]]
    by_name = assert_list(
        await api.fetch(f"/experiments/{experiment['id']}/experiment_runs", {"name": "nested"})
    )
    assert ids_of(by_name) == [run["id"]]
    assert len(assert_list(await api.fetch("/experiment_runs"))) == 2


async def test_nested_run_list_of_an_unknown_experiment_is_a_404(api: RestApi) -> None:
    await api.fails("GET", "/experiments/4242/experiment_runs", 404)


async def test_run_find_by_name_and_parent_or_external_id(api: RestApi) -> None:
    run = await new_run(api, name="r", externalId="ext-run")

    assert (
        await api.fetch("/experiment_run", {"name": "r", "parentResourceId": run["experimentId"]})
        == run
    )
    assert await api.fetch("/experiment_run", {"externalId": "ext-run"}) == run
    await api.fails("GET", "/experiment_run", 400, params={"name": "r"})
    await api.fails("GET", "/experiment_run", 400)
    await api.fails("GET", "/experiment_run", 404, params={"externalId": "none"})


async def test_run_artifacts_of_every_kind_are_created_and_listed(api: RestApi) -> None:
    run = await new_run(api)
    path = f"/experiment_runs/{run['id']}/artifacts"

    created = [
        await entities.run_artifact(api, run["id"], metric("loss", 0.5, 1)),
        await entities.run_artifact(
            api,
            run["id"],
            {"artifactType": "parameter", "name": "lr", "value": "0.01", "parameterType": "number"},
        ),
        await entities.run_artifact(
            api, run["id"], {"artifactType": "dataset-artifact", "name": "train", "uri": "s3://d"}
        ),
    ]

    for artifact in created:
        assert_stored(artifact)
    listed = assert_list(await api.fetch(path))
    assert sorted(ids_of(listed), key=int) == sorted(ids_of(created), key=int)
    params = assert_list(await api.fetch(path, {"artifactType": "parameter"}))
    assert [(p["name"], p["value"], p["parameterType"]) for p in params] == [
        ("lr", "0.01", "number")
    ]


async def test_run_artifacts_carry_the_run_and_experiment_ids(api: RestApi) -> None:
    run = await new_run(api)

    created = await entities.run_artifact(api, run["id"], metric("acc", 0.9, 1))

    fetched = await api.fetch(f"/artifacts/{created['id']}")
    assert fetched["experimentRunId"] == run["id"]
    assert fetched["experimentId"] == run["experimentId"]


async def test_posting_an_existing_artifact_to_a_run_links_it_with_200(api: RestApi) -> None:
    run = await new_run(api)
    standalone = await entities.artifact(api, "dataset-artifact", uri="s3://data")

    reply = await api.post(
        f"/experiment_runs/{run['id']}/artifacts",
        {"artifactType": "dataset-artifact", "id": standalone["id"]},
    )

    assert reply.status == 200, reply.describe()
    assert reply.body["id"] == standalone["id"]
    listed = assert_list(await api.fetch(f"/experiment_runs/{run['id']}/artifacts"))
    assert ids_of(listed) == [standalone["id"]]


async def test_run_artifacts_of_an_unknown_run_is_a_404(api: RestApi) -> None:
    await api.fails("GET", "/experiment_runs/4242/artifacts", 404)
    await api.fails("POST", "/experiment_runs/4242/artifacts", 404, body=metric("loss", 1.0, 1))


async def test_a_metric_posted_to_a_run_appears_in_its_history(api: RestApi) -> None:
    run = await new_run(api)
    await entities.run_artifact(api, run["id"], metric("loss", 0.5, 1))
    await entities.run_artifact(api, run["id"], metric("acc", 0.8, 2))

    history = assert_list(await api.fetch(f"/experiment_runs/{run['id']}/metric_history"))

    assert sorted((m["name"], m["value"], m["step"]) for m in history) == [
        ("acc", 0.8, 2),
        ("loss", 0.5, 1),
    ]
    assert {m["artifactType"] for m in history} == {"metric"}


async def test_metric_history_filters_by_name_and_step_ids(api: RestApi) -> None:
    run = await new_run(api)
    await entities.run_artifact(api, run["id"], metric("loss", 0.5, 1))
    await entities.run_artifact(api, run["id"], metric("acc", 0.8, 2))
    await entities.run_artifact(api, run["id"], metric("f1", 0.7, 3))
    path = f"/experiment_runs/{run['id']}/metric_history"

    by_name = assert_list(await api.fetch(path, {"name": "loss"}))
    by_steps = assert_list(await api.fetch(path, {"stepIds": "1,3"}))
    by_both = assert_list(await api.fetch(path, {"name": "acc", "stepIds": "1,2"}))
    nothing = assert_list(await api.fetch(path, {"name": "loss", "stepIds": "2"}))

    assert [(m["name"], m["step"]) for m in by_name] == [("loss", 1)]
    assert sorted((m["name"], m["step"]) for m in by_steps) == [("f1", 3), ("loss", 1)]
    assert [(m["name"], m["step"]) for m in by_both] == [("acc", 2)]
    assert nothing == []


async def test_metric_history_leaves_out_other_runs_and_non_metrics(api: RestApi) -> None:
    run = await new_run(api)
    other = await new_run(api)
    await entities.run_artifact(api, run["id"], metric("loss", 0.5, 1))
    await entities.run_artifact(api, other["id"], metric("loss", 0.4, 1))
    await entities.run_artifact(
        api, run["id"], {"artifactType": "parameter", "name": "lr", "value": "1"}
    )

    history = assert_list(await api.fetch(f"/experiment_runs/{run['id']}/metric_history"))

    assert [(m["name"], m["value"]) for m in history] == [("loss", 0.5)]


async def test_metric_history_across_runs_holds_every_run(api: RestApi) -> None:
    first = await new_run(api)
    second = await new_run(api)
    await entities.run_artifact(api, first["id"], metric("loss", 0.5, 1))
    await entities.run_artifact(api, second["id"], metric("loss", 0.4, 2))
    await entities.run_artifact(api, second["id"], metric("acc", 0.9, 2))

    everything = assert_list(await api.fetch("/experiment_runs/metric_history"))
    losses = assert_list(await api.fetch("/experiment_runs/metric_history", {"name": "loss"}))
    step_two = assert_list(await api.fetch("/experiment_runs/metric_history", {"stepIds": "2"}))

    assert len(everything) == 3
    assert sorted(m["value"] for m in losses) == [0.4, 0.5]
    assert sorted(m["name"] for m in step_two) == ["acc", "loss"]


async def test_metric_history_pages(api: RestApi) -> None:
    run = await new_run(api)
    for step in range(1, 6):
        await entities.run_artifact(api, run["id"], metric(f"m{step}", float(step), step))
    path = f"/experiment_runs/{run['id']}/metric_history"

    first = await api.fetch(path, {"pageSize": "2"})
    second = await api.fetch(path, {"pageSize": "2", "nextPageToken": first["nextPageToken"]})
    third = await api.fetch(path, {"pageSize": "2", "nextPageToken": second["nextPageToken"]})

    names = [m["name"] for page in (first, second, third) for m in assert_list(page)]
    assert sorted(names) == ["m1", "m2", "m3", "m4", "m5"]
    assert third["nextPageToken"] == ""


@pytest.mark.parametrize("step_ids", ["a", "1,,2", "1;2", "-1"])
async def test_metric_history_with_bad_step_ids_is_a_400(api: RestApi, step_ids: str) -> None:
    run = await new_run(api)

    await api.fails(
        "GET", f"/experiment_runs/{run['id']}/metric_history", 400, params={"stepIds": step_ids}
    )


async def test_metric_history_of_an_unknown_run_is_a_404(api: RestApi) -> None:
    await api.fails("GET", "/experiment_runs/4242/metric_history", 404)


async def test_a_metric_logged_again_under_its_name_keeps_every_step_in_history(
    api: RestApi,
) -> None:
    run = await new_run(api)
    first = await api.post(f"/experiment_runs/{run['id']}/artifacts", metric("loss", 1.0, 1))
    second = await api.post(f"/experiment_runs/{run['id']}/artifacts", metric("loss", 0.5, 2))
    path = f"/experiment_runs/{run['id']}/metric_history"

    history = assert_list(await api.fetch(path, {"name": "loss"}))
    latest = assert_list(await api.fetch(path, {"name": "loss", "stepIds": "2"}))

    assert first.status == 201, first.describe()
    assert second.status in (200, 201), second.describe()
    assert sorted((m["step"], m["value"]) for m in history) == [(1, 1.0), (2, 0.5)]
    assert [m["value"] for m in latest] == [0.5]


async def test_run_names_fit_in_the_reference_column(api: RestApi) -> None:
    experiment = await entities.experiment(api)

    long_run = await entities.experiment_run(api, experiment["id"], name="r" * 250)
    too_long = await api.post(
        "/experiment_runs", {"name": "r" * 255, "experimentId": experiment["id"]}
    )

    assert long_run["name"] == "r" * 250
    assert 400 <= too_long.status < 500, too_long.describe()


async def test_experiment_names_up_to_255_characters_are_kept(api: RestApi) -> None:
    created = await entities.experiment(api, name="e" * 255)
    oversized = await api.post("/experiments", {"name": "e" * 5000})

    assert created["name"] == "e" * 255
    assert 400 <= oversized.status < 500, oversized.describe()


async def test_run_lists_filter_by_name_and_external_id(api: RestApi) -> None:
    run = await new_run(api, externalId="ext-run")
    await entities.experiment_run(api, run["experimentId"], externalId="ext-other")
    runs_path = f"/experiments/{run['experimentId']}/experiment_runs"
    loss = await entities.run_artifact(api, run["id"], metric("loss", 1.0, 1, externalId="ext-l"))
    await entities.run_artifact(api, run["id"], metric("acc", 1.0, 1, externalId="ext-a"))
    artifacts_path = f"/experiment_runs/{run['id']}/artifacts"

    by_external_id = assert_list(await api.fetch(runs_path, {"externalId": "ext-run"}))
    by_name = assert_list(await api.fetch(artifacts_path, {"name": "loss"}))
    by_artifact_external_id = assert_list(await api.fetch(artifacts_path, {"externalId": "ext-l"}))

    assert ids_of(by_external_id) == [run["id"]]
    assert ids_of(by_name) == [loss["id"]]
    assert ids_of(by_artifact_external_id) == [loss["id"]]


async def test_find_artifact_by_name_under_a_run(api: RestApi) -> None:
    run = await new_run(api)
    other = await new_run(api)
    loss = await entities.run_artifact(api, run["id"], metric("loss", 1.0, 1))
    await entities.run_artifact(api, other["id"], metric("loss", 2.0, 1))

    found = await api.fetch("/artifact", {"name": "loss", "parentResourceId": run["id"]})

    assert found["id"] == loss["id"]
    assert found["experimentRunId"] == run["id"]
    assert found["value"] == 1.0


async def test_every_run_status_and_state_round_trips(api: RestApi) -> None:
    run = await new_run(api)
    path = f"/experiment_runs/{run['id']}"

    for status in ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"):
        assert (await api.update(path, {"status": status}))["status"] == status
    for state in ("ARCHIVED", "LIVE"):
        assert (await api.update(path, {"state": state}))["state"] == state
    await api.fails("PATCH", path, 400, body={"status": "PAUSED"})
    await api.fails("PATCH", path, 400, body={"state": "DELETED"})


async def test_a_body_experiment_id_off_the_pattern_is_a_400(api: RestApi) -> None:
    await api.fails("POST", "/experiment_runs", 400, body={"name": "r", "experimentId": "x1"})
