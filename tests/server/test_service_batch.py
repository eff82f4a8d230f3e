"""The service's batch reads for tables: one query per table, never one per row."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from model_registry.server.errors import BadRequest
from model_registry.server.service import MAX_BATCH_IDS, RegistryService


async def test_newest_versions_gives_each_model_its_latest_version(
    service: RegistryService,
) -> None:
    a = await service.create("registered-model", {"name": "a"})
    b = await service.create("registered-model", {"name": "b"})
    empty = await service.create("registered-model", {"name": "empty"})
    for name in ("1", "2", "3"):
        await service.create("model-version", {"name": name}, parent_id=a["id"], full=True)
    await service.create("model-version", {"name": "only"}, parent_id=b["id"], full=True)

    newest = await service.newest_versions([a["id"], b["id"], empty["id"], a["id"]])

    assert {model: v["name"] for model, v in newest.items()} == {a["id"]: "3", b["id"]: "only"}
    assert newest[a["id"]]["registeredModelId"] == a["id"]
    assert await service.newest_versions([]) == {}


async def test_linked_artifacts_groups_the_artifacts_of_several_versions(
    service: RegistryService,
) -> None:
    model = await service.create("registered-model", {"name": "m"})
    v1 = await service.create("model-version", {"name": "1"}, parent_id=model["id"], full=True)
    v2 = await service.create("model-version", {"name": "2"}, parent_id=model["id"], full=True)
    for version, names in ((v1, ["x"]), (v2, ["y", "z"])):
        for name in names:
            await service.upsert_context_artifact(
                "model-version",
                version["id"],
                {"artifactType": "model-artifact", "name": name, "uri": f"s3://b/{name}"},
            )
    await service.upsert_context_artifact(
        "model-version", v2["id"], {"artifactType": "doc-artifact", "name": "readme"}
    )

    linked = await service.linked_artifacts([v1["id"], v2["id"]])
    models_only = await service.linked_artifacts([v2["id"]], artifact_type="model-artifact")

    assert {k: [a["name"] for a in v] for k, v in linked.items()} == {
        v1["id"]: ["x"],
        v2["id"]: ["y", "z", "readme"],
    }
    assert linked[v1["id"]][0]["uri"] == "s3://b/x"
    assert [a["name"] for a in models_only[v2["id"]]] == ["y", "z"]


async def test_batch_reads_refuse_bad_and_too_many_ids(service: RegistryService) -> None:
    with pytest.raises(BadRequest):
        await service.newest_versions(["nope"])
    with pytest.raises(BadRequest):
        await service.linked_artifacts([str(i) for i in range(1, MAX_BATCH_IDS + 2)])
    with pytest.raises(BadRequest):
        await service.linked_artifacts(["1"], artifact_type="bogus")


async def test_newest_versions_of_a_page_of_models_is_one_statement(
    service: RegistryService,
) -> None:
    ids = []
    for i in range(20):
        model = await service.create("registered-model", {"name": f"m{i}"})
        await service.create("model-version", {"name": "1"}, parent_id=model["id"], full=True)
        ids.append(model["id"])
    await service.events.assigned()  # PostgreSQL: the writes' events got their cursors
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = service.store.query_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        newest = await service.newest_versions(ids)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(newest) == 20
    # The versions, then their custom properties and their aliases: a fixed number of
    # statements for the page, none per model.
    assert 1 <= len(statements) <= 3, statements
