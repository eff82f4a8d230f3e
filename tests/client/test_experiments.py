"""Experiments, runs, run artifacts and metric history against the real server.

REST API v1 has no experiments: these run over v1alpha3 and gRPC, and a client told to speak v1
refuses them with ``Unsupported`` (so does ``auto`` on a server serving only v1).
"""

from __future__ import annotations

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unsupported
from model_registry.server import run_server
from model_registry.types import (
    ArtifactType,
    DataSet,
    Experiment,
    ExperimentRun,
    ExperimentRunStatus,
    ExperimentState,
    ListOptions,
    Metric,
    Parameter,
)


@pytest.fixture(params=["rest-v1alpha3", "grpc"])
def wire(request: pytest.FixtureRequest) -> str:
    """The wires that have experiments."""
    return str(request.param)


async def test_a_client_told_to_speak_v1_refuses_experiment_methods_naming_why(
    database_url: str,
) -> None:
    async with (
        run_server(database_url) as server,
        ModelRegistryAPIClient.insecure_connection(
            "127.0.0.1", server.port, api_version="v1"
        ) as client,
    ):
        with pytest.raises(Unsupported, match=r"v1 has no endpoint.*api_version='v1' was chosen"):
            await client.upsert_experiment(Experiment("exp"))
        with pytest.raises(Unsupported, match="v1"):
            await client.get_experiment_runs()
        with pytest.raises(Unsupported, match="v1"):
            await client.get_experiment_run_metric_history(experiment_run_id="1")
        # Registry operations still work over v1.
        assert await client.get_registered_models() == []


async def test_auto_on_a_v1_only_server_refuses_experiment_methods_naming_why(
    database_url: str,
) -> None:
    async with (
        run_server(database_url, api_versions=["v1"]) as server,
        ModelRegistryAPIClient.insecure_connection("127.0.0.1", server.port) as client,
    ):
        with pytest.raises(Unsupported, match="serves only the REST API v1"):
            await client.get_experiments()
        with pytest.raises(Unsupported, match="no experiments"):
            await client.get_experiment_by_id("1")


async def test_auto_on_a_server_with_both_uses_v1alpha3_for_experiments(
    database_url: str,
) -> None:
    async with (
        run_server(database_url) as server,
        ModelRegistryAPIClient.insecure_connection("127.0.0.1", server.port) as client,
    ):
        exp = await client.upsert_experiment(Experiment("both"))
        assert exp.id is not None
        run = await client.upsert_experiment_run(ExperimentRun("r"), exp.id)
        assert run.id is not None
        logged = await client.upsert_experiment_run_artifact(
            Metric("acc", value=1.0, step=7), run.id
        )
        assert isinstance(logged, Metric) and logged.step == 7
        assert [r.id for r in await client.get_experiment_runs(experiment_id=exp.id)] == [run.id]
        assert client.transport.api_versions_served == {"v1": True, "v1alpha3": True}  # type: ignore[attr-defined]


async def test_experiments(client: ModelRegistryAPIClient) -> None:
    exp = await client.upsert_experiment(Experiment("exp", owner="me", external_id="e-1"))
    assert exp.id is not None and exp.state is ExperimentState.LIVE
    exp.state = ExperimentState.ARCHIVED
    assert (await client.upsert_experiment(exp)).state is ExperimentState.ARCHIVED
    assert await client.get_experiment_by_id(exp.id) == await client.get_experiment_by_params(
        name="exp"
    )
    assert (await client.get_experiment_by_params(external_id="e-1")).id == exp.id  # type: ignore[union-attr]
    assert await client.get_experiment_by_id("43210") is None
    assert await client.get_experiment_by_params(name="nope") is None
    await client.upsert_experiment(Experiment("exp2"))
    assert [e.name for e in await client.get_experiments()] == ["exp", "exp2"]
    assert [
        e.name for e in await client.get_experiments(ListOptions.order_by_id(is_asc=False))
    ] == ["exp2", "exp"]


async def test_runs_artifacts_and_metric_history(client: ModelRegistryAPIClient) -> None:
    exp = await client.upsert_experiment(Experiment("training"))
    assert exp.id is not None
    run = await client.upsert_experiment_run(
        ExperimentRun("run-1", status=ExperimentRunStatus.RUNNING, start_time_since_epoch=1000),
        exp.id,
    )
    assert run.id is not None and run.experiment_id == exp.id
    assert run.start_time_since_epoch == 1000
    other = await client.upsert_experiment_run(
        ExperimentRun("run-2", experiment_id=exp.id, external_id="r-2")
    )

    run.status = ExperimentRunStatus.FINISHED
    run.end_time_since_epoch = 2000
    finished = await client.upsert_experiment_run(run)
    assert finished.status is ExperimentRunStatus.FINISHED and finished.end_time_since_epoch == 2000

    assert await client.get_experiment_run_by_id(run.id) == finished
    assert await client.get_experiment_run_by_params(name="run-1", experiment_id=exp.id) == finished
    assert await client.get_experiment_run_by_params(external_id="r-2") == other
    assert await client.get_experiment_run_by_params(name="run-1", experiment_id="x") is None
    assert await client.get_experiment_run_by_id("31313") is None
    assert [r.name for r in await client.get_experiment_runs(experiment_id=exp.id)] == [
        "run-1",
        "run-2",
    ]
    assert len(await client.get_experiment_runs()) == 2
    assert await client.get_experiment_runs(experiment_id="31313") == []
    with pytest.raises(ValueError):
        await client.upsert_experiment_run(ExperimentRun("orphan"))

    for step, value in ((1, 0.5), (2, 0.7), (3, 0.9)):
        metric = await client.upsert_experiment_run_artifact(
            Metric("accuracy", value=value, step=step, timestamp=1000 + step), run.id
        )
        assert isinstance(metric, Metric)
    await client.upsert_experiment_run_artifact(Metric("loss", value=0.1, step=1), run.id)
    await client.upsert_experiment_run_artifact(Parameter("lr", value="0.01"), run.id)
    await client.upsert_experiment_run_artifact(DataSet("train", uri="s3://d"), run.id)

    artifacts = await client.get_experiment_run_artifacts(experiment_run_id=run.id)
    assert {type(a) for a in artifacts} == {Metric, Parameter, DataSet}
    params = await client.get_experiment_run_artifacts(
        ArtifactType.PARAMETER, experiment_run_id=run.id
    )
    assert [a.name for a in params] == ["lr"]
    with pytest.raises(ValueError):
        await client.get_experiment_run_artifacts()

    history = await client.get_experiment_run_metric_history(
        name="accuracy", experiment_run_id=run.id
    )
    assert sorted(m.step for m in history if m.step is not None) == [1, 2, 3]
    assert all(m.name == "accuracy" for m in history)
    some = await client.get_experiment_run_metric_history(
        name="accuracy", step_ids=[1, 3], experiment_run_id=run.id
    )
    assert sorted(m.value for m in some if m.value is not None) == [0.5, 0.9]
    across = await client.get_experiment_run_metric_history(name="loss")
    assert [m.value for m in across] == [0.1]
    assert await client.get_experiment_run_metric_history(experiment_run_id="31313") == []
