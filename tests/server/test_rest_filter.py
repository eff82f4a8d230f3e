"""filterQuery over REST: the COMPAT.md examples, every list endpoint, and bad syntax."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conformance import entities
from conformance.checks import assert_list, double_prop, ids_of, string_prop
from conformance.http import RestApi, rest_api
from conformance.lists import LIST_ENDPOINTS


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


# Filters every list endpoint must apply, with the entity each one selects.
COMMON_FILTERS: list[tuple[str, set[str]]] = [
    ("name = 'alpha'", {"alpha"}),
    ('name = "beta"', {"beta"}),
    ("name != 'alpha'", {"beta"}),
    ("name <> 'beta'", {"alpha"}),
    ("name LIKE 'al%'", {"alpha"}),
    ("name ILIKE 'BE%'", {"beta"}),
    ("name IN ('alpha', 'beta')", {"alpha", "beta"}),
    ("name = 'alpha' OR name = 'beta'", {"alpha", "beta"}),
    ("name = 'alpha' AND name = 'beta'", set()),
    ("score > 0.95", {"beta"}),
    ("score <= 0.95", {"alpha"}),
    ("rank = 2", {"beta"}),
    ("rank.int_value >= 1", {"alpha", "beta"}),
    ('framework.string_value = "pytorch"', {"alpha"}),
    ('`mlflow.source.type` = "notebook"', {"alpha"}),
    ("deployed = true", {"alpha"}),
    ("deployed.bool_value = false", {"beta"}),
    ("(name = 'alpha' OR name = 'beta') AND score > 0.95", {"beta"}),
    ("name = 'alpha' and framework = 'pytorch'", {"alpha"}),
    ("name = 'alpha' Or name = 'beta'", {"alpha", "beta"}),
    ("name like 'be%'", {"beta"}),
    ("name in ('beta')", {"beta"}),
    ("score > 0", {"alpha", "beta"}),
    ("score.double_value < 0.95", {"alpha"}),
    ("rank IN (1, 3)", {"alpha"}),
    ("deployed = TRUE", {"alpha"}),
    ("((name = 'alpha'))", {"alpha"}),
    ("mlflow.source.type = 'notebook'", {"alpha"}),
    ("mlflow.source.type.string_value = 'job'", {"beta"}),
    ("`mlflow.source.type`.string_value = 'job'", {"beta"}),
]

BAD_FILTERS = [
    "name =",
    "name = 'alpha' AND",
    "(name = 'alpha'",
    "name = 'alpha')",
    "name ~ 'alpha'",
    "name CONTAINS 'alpha'",
    "name = 'unterminated",
    "= 'alpha'",
    "name 'alpha'",
    "name = 'alpha' OR OR name = 'beta'",
    "name IN 'alpha'",
]


async def selected(api: RestApi, path: str, query: str, ids: dict[str, str]) -> set[str]:
    """Run ``query`` on ``path`` and return the fixture names it selected."""
    items = assert_list(await api.fetch(path, {"filterQuery": query}))
    names = {name for name, entity_id in ids.items() if entity_id in ids_of(items)}
    assert len(items) == len(names), f"{query!r} on {path} matched foreign rows: {items}"
    return names


@pytest.mark.parametrize("endpoint", sorted(LIST_ENDPOINTS))
async def test_every_list_endpoint_applies_the_filter(api: RestApi, endpoint: str) -> None:
    path, ids = await LIST_ENDPOINTS[endpoint](api)

    results = {query: await selected(api, path, query, ids) for query, _ in COMMON_FILTERS}

    assert results == dict(COMMON_FILTERS)


@pytest.mark.parametrize("endpoint", sorted(LIST_ENDPOINTS))
async def test_every_list_endpoint_refuses_bad_syntax(api: RestApi, endpoint: str) -> None:
    path, _ = await LIST_ENDPOINTS[endpoint](api)

    for query in BAD_FILTERS:
        await api.fails("GET", path, 400, params={"filterQuery": query})


async def test_compat_example_name_and_state(api: RestApi) -> None:
    wanted = await entities.registered_model(api, name="my-model")
    await entities.registered_model(api, name="other")
    archived = await entities.registered_model(api, name="my-model-2", state="ARCHIVED")

    live = assert_list(
        await api.fetch("/registered_models", {"filterQuery": "name='my-model' AND state='LIVE'"})
    )
    gone = assert_list(await api.fetch("/registered_models", {"filterQuery": "state = 'ARCHIVED'"}))

    assert ids_of(live) == [wanted["id"]]
    assert ids_of(gone) == [archived["id"]]


async def test_compat_example_grouped_or_with_state(api: RestApi) -> None:
    a = await entities.registered_model(api, name="a")
    await entities.registered_model(api, name="b", state="ARCHIVED")
    await entities.registered_model(api, name="c")

    items = assert_list(
        await api.fetch(
            "/registered_models", {"filterQuery": '(name="a" OR name="b") AND state="LIVE"'}
        )
    )

    assert ids_of(items) == [a["id"]]


async def test_compat_example_accuracy_compares_doubles(api: RestApi) -> None:
    good = await entities.registered_model(api, customProperties={"accuracy": double_prop(0.97)})
    await entities.registered_model(api, customProperties={"accuracy": double_prop(0.9)})
    await entities.registered_model(api)

    items = assert_list(await api.fetch("/registered_models", {"filterQuery": "accuracy > 0.95"}))

    assert ids_of(items) == [good["id"]]


async def test_known_fields_filter_by_their_own_columns(api: RestApi) -> None:
    first = await entities.registered_model(api, owner="alice", externalId="ext-1")
    second = await entities.registered_model(api, owner="bob", description="second")
    path = "/registered_models"

    by_owner = assert_list(await api.fetch(path, {"filterQuery": "owner = 'bob'"}))
    by_external_id = assert_list(await api.fetch(path, {"filterQuery": "externalId = 'ext-1'"}))
    by_id = assert_list(await api.fetch(path, {"filterQuery": f"id = {second['id']}"}))
    by_time = assert_list(
        await api.fetch(
            path, {"filterQuery": f"createTimeSinceEpoch >= {first['createTimeSinceEpoch']}"}
        )
    )

    assert ids_of(by_owner) == [second["id"]]
    assert ids_of(by_external_id) == [first["id"]]
    assert ids_of(by_id) == [second["id"]]
    assert sorted(ids_of(by_time), key=int) == sorted([first["id"], second["id"]], key=int)


async def test_version_filters_know_author_and_state(api: RestApi) -> None:
    model = await entities.registered_model(api)
    bobs = await entities.model_version(api, model["id"], author="bob")
    await entities.model_version(api, model["id"], author="eve", state="ARCHIVED")
    path = f"/registered_models/{model['id']}/versions"

    items = assert_list(await api.fetch(path, {"filterQuery": "author = 'bob' AND state = 'LIVE'"}))

    assert ids_of(items) == [bobs["id"]]


async def test_artifact_filters_know_uri_and_artifact_fields(api: RestApi) -> None:
    wanted = await entities.model_artifact(api, uri="s3://b/keep", modelFormatName="onnx")
    await entities.model_artifact(api, uri="s3://b/drop", modelFormatName="torch")

    by_uri = assert_list(await api.fetch("/model_artifacts", {"filterQuery": "uri LIKE '%keep'"}))
    by_format = assert_list(
        await api.fetch("/model_artifacts", {"filterQuery": "modelFormatName = 'onnx'"})
    )

    assert ids_of(by_uri) == [wanted["id"]]
    assert ids_of(by_format) == [wanted["id"]]


async def test_a_filter_and_paging_combine(api: RestApi) -> None:
    wanted = [
        await entities.registered_model(api, customProperties={"team": string_prop("x")})
        for _ in range(5)
    ]
    for _ in range(3):
        await entities.registered_model(api, customProperties={"team": string_prop("y")})
    params = {"filterQuery": "team = 'x'", "pageSize": "2"}

    seen: list[str] = []
    body = await api.fetch("/registered_models", params)
    seen += ids_of(assert_list(body))
    while body["nextPageToken"]:
        body = await api.fetch(
            "/registered_models", dict(params, nextPageToken=body["nextPageToken"])
        )
        seen += ids_of(assert_list(body))

    assert seen == ids_of(wanted)


async def test_a_filter_error_message_points_at_the_problem(api: RestApi) -> None:
    message = await api.fails(
        "GET", "/registered_models", 400, params={"filterQuery": "name = 'a' AND ~"}
    )

    assert "~" in message or "position" in message.lower() or "15" in message


# The filters of COMMON_FILTERS that use only the name (history rows carry no custom properties).
NAME_FILTERS = [
    (query, names)
    for query, names in COMMON_FILTERS
    if query.startswith("name") and "framework" not in query
]


async def _run_with_history(api: RestApi) -> dict[str, Any]:
    """A run with metrics "alpha" (step 1) and "beta" (step 2), and a foreign "alpha"."""
    experiment = await entities.experiment(api)
    run: dict[str, Any] = await entities.experiment_run(api, experiment["id"])
    other = await entities.experiment_run(api, experiment["id"])
    for target, name, step in ((run, "alpha", 1), (run, "beta", 2), (other, "alpha", 3)):
        await entities.run_artifact(
            api,
            target["id"],
            {"artifactType": "metric", "name": name, "value": float(step), "step": step},
        )
    return run


@pytest.mark.parametrize("scope", ["run", "all-runs"])
async def test_metric_history_applies_the_filter(api: RestApi, scope: str) -> None:
    run = await _run_with_history(api)
    path = (
        f"/experiment_runs/{run['id']}/metric_history"
        if scope == "run"
        else "/experiment_runs/metric_history"
    )

    for query, names in NAME_FILTERS:
        items = assert_list(await api.fetch(path, {"filterQuery": query}))
        steps = sorted(item["step"] for item in items)
        expected = sorted(
            step
            for name, step in (("alpha", 1), ("beta", 2), ("alpha", 3))
            if name in names and (scope == "all-runs" or step < 3)
        )
        assert steps == expected, query
    for query in BAD_FILTERS:
        await api.fails("GET", path, 400, params={"filterQuery": query})


async def test_compat_example_run_ids_and_like_on_artifacts(api: RestApi) -> None:
    experiment = await entities.experiment(api)
    runs = [await entities.experiment_run(api, experiment["id"]) for _ in range(3)]
    wanted = []
    for run in runs:
        for name in ("val_accuracy", "loss"):
            created = await entities.run_artifact(
                api, run["id"], {"artifactType": "metric", "name": name, "value": 0.5}
            )
            if name == "val_accuracy" and run is not runs[1]:
                wanted.append(created["id"])
    query = f"experimentRunId IN ('{runs[0]['id']}','{runs[2]['id']}') AND name LIKE \"%acc%\""

    items = assert_list(await api.fetch("/artifacts", {"filterQuery": query}))

    assert sorted(ids_of(items), key=int) == sorted(wanted, key=int)


async def test_string_literals_hold_the_other_quote_and_any_text(api: RestApi) -> None:
    apostrophe = await entities.registered_model(api, name="it's")
    quoted = await entities.registered_model(api, name='say "hi"')
    unicode = await entities.registered_model(api, name="modèle-🙂")
    path = "/registered_models"

    by_double = assert_list(await api.fetch(path, {"filterQuery": 'name = "it\'s"'}))
    by_single = assert_list(await api.fetch(path, {"filterQuery": "name = 'say \"hi\"'"}))
    by_unicode = assert_list(await api.fetch(path, {"filterQuery": "name LIKE 'mod%🙂'"}))

    assert ids_of(by_double) == [apostrophe["id"]]
    assert ids_of(by_single) == [quoted["id"]]
    assert ids_of(by_unicode) == [unicode["id"]]
