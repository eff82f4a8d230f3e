"""The store: migrations, database-enforced uniqueness, keyset-paging indexes, no N+1 reads."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, event, insert, text

from model_registry.server.entities import ARTIFACT_KINDS, MODEL_VERSION, REGISTERED_MODEL
from model_registry.server.errors import Conflict
from model_registry.server.paging import PageRequest
from model_registry.server.service import RegistryService
from model_registry.server.store import Scope, Store, Tx, migrations
from model_registry.server.store.engine import create_engine_from_url, run_migrations
from model_registry.server.store.schema import (
    DEFAULT_PROJECT_ID,
    artifacts,
    attributions,
    contexts,
    contexts_properties,
    metadata,
)
from model_registry.server.store.statements import page_statement


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


HEAD_REVISION = max(
    path.name.split("_", 1)[0]
    for path in (Path(migrations.__file__).parent / "versions").glob("[0-9]*_*.py")
)
"""The newest migration (file names start with the revision number)."""


def _schema_diff(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def test_migrations_build_the_schema_from_an_empty_database(
    fresh_database_url: str,
) -> None:
    store = await Store.open(fresh_database_url)
    try:
        async with store.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            diff = await conn.run_sync(_schema_diff)
    finally:
        await store.close()
    assert version == HEAD_REVISION
    assert diff == []


async def test_opening_a_migrated_database_again_keeps_its_rows(fresh_database_url: str) -> None:
    database_url = fresh_database_url
    first = await Store.open(database_url)
    try:
        await RegistryService(first).create("registered-model", {"name": "kept"})
    finally:
        await first.close()
    second = await Store.open(database_url)
    try:
        found = await RegistryService(second).find("registered-model", {"name": "kept"})
        assert found["name"] == "kept"
    finally:
        await second.close()


async def test_32_concurrent_creates_of_one_name_give_one_success_and_31_conflicts(
    store: Store,
) -> None:
    service = RegistryService(store)
    results = await asyncio.gather(
        *(service.create("registered-model", {"name": "same"}) for _ in range(32)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, dict)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 1, results
    assert len(conflicts) == 31, results
    page = await service.list("registered-model", {})
    assert [m["name"] for m in page["items"]] == ["same"]


async def test_concurrent_creates_of_one_external_id_give_one_success(store: Store) -> None:
    service = RegistryService(store)
    results = await asyncio.gather(
        *(
            service.create("experiment", {"name": f"e{i}", "externalId": "shared"})
            for i in range(16)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, dict) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 15


async def test_concurrent_patches_keep_last_update_time_strictly_increasing(
    store: Store,
) -> None:
    service = RegistryService(store)
    model = await service.create("registered-model", {"name": "m"})
    stamps = [int(model["lastUpdateTimeSinceEpoch"])]
    updated = await asyncio.gather(
        *(
            service.update("registered-model", model["id"], {"description": str(i)})
            for i in range(20)
        )
    )
    stamps += sorted(int(u["lastUpdateTimeSinceEpoch"]) for u in updated)
    assert all(a < b for a, b in itertools.pairwise(stamps)), stamps


async def _plan(store: Store, stmt: Any) -> str:
    """The query plan of ``stmt`` as text (SQLite's EXPLAIN QUERY PLAN or PostgreSQL's EXPLAIN)."""
    sql = str(stmt.compile(store.engine, compile_kwargs={"literal_binds": True}))
    sqlite = store.engine.dialect.name == "sqlite"

    def explain(conn: Connection) -> str:
        if sqlite:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
            return "\n".join(str(r[-1]) for r in rows)
        # Small tables make a sequential scan the cheapest plan; with fresh statistics and
        # sequential scans off, the plan shows which index serves the ordered, limited page.
        for table in metadata.sorted_tables:
            conn.exec_driver_sql(f"ANALYZE {table.name}")
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return "\n".join(str(r[0]) for r in conn.exec_driver_sql(f"EXPLAIN {sql}").all())

    async with store.engine.begin() as conn:
        return await conn.run_sync(explain)


@pytest.mark.parametrize(
    ("order_by", "index"),
    [
        ("ID", "ix_contexts_project_kind_parent_id"),
        ("CREATE_TIME", "ix_contexts_project_kind_parent_create_time"),
        ("LAST_UPDATE_TIME", "ix_contexts_project_kind_parent_update_time"),
    ],
)
async def test_a_page_of_versions_reads_an_index_in_order_without_sorting(
    store: Store, order_by: str, index: str
) -> None:
    # 40 models with 50 versions each: one model's versions are a small slice of the table,
    # so only the (kind, parent, order, id) index serves its page without a scan or a sort.

    async def insert_parents(tx: Tx) -> list[int]:
        return [await tx.insert(REGISTERED_MODEL, {"name": f"m{p}"}, []) for p in range(40)]

    parents = await store.write(insert_parents)
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(contexts),
            [
                {
                    "project_id": DEFAULT_PROJECT_ID,
                    "kind": "model-version",
                    "parent_id": parent,
                    "name": f"v{i}",
                    "create_time": 1000 + i,
                    "update_time": 1000 + i,
                }
                for parent in parents
                for i in range(50)
            ],
        )
    token_page = PageRequest.from_query({"pageSize": "10", "orderBy": order_by})
    stmt = page_statement(
        (MODEL_VERSION,),
        Scope(("model-version",), parent_id=parents[7]),
        None,
        token_page,
        DEFAULT_PROJECT_ID,
    )
    plan = await _plan(store, stmt)
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


async def test_a_page_with_custom_properties_loads_them_in_one_query(store: Store) -> None:
    service = RegistryService(store)
    for i in range(30):
        await service.create(
            "registered-model",
            {
                "name": f"m{i}",
                "customProperties": {
                    "a": {"metadataType": "MetadataStringValue", "string_value": "x"},
                    "b": {"metadataType": "MetadataIntValue", "int_value": str(i)},
                },
            },
        )
    await service.events.assigned()  # PostgreSQL: the creates' events got their cursors
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(store.query_engine, "before_cursor_execute", count)
    try:
        page = await service.list("registered-model", {"pageSize": "25"})
    finally:
        event.remove(store.query_engine, "before_cursor_execute", count)
    assert page["size"] == 25
    assert all(len(m["customProperties"]) == 2 for m in page["items"])
    # The page, its properties, and its aliases (a model's alias map): one query each.
    assert len(statements) == 3, statements
    assert "model_version_aliases" in statements[2]


async def test_a_page_of_versions_loads_their_aliases_in_one_query(store: Store) -> None:
    service = RegistryService(store)
    model = await service.create("registered-model", {"name": "m"})
    versions = [
        await service.create("model-version", {"name": f"v{i}", "registeredModelId": model["id"]})
        for i in range(30)
    ]
    for i, version in enumerate(versions):
        await service.set_alias(model["id"], f"a{i}", {"modelVersionId": version["id"]})
        await service.set_alias(model["id"], f"b{i}", {"modelVersionId": version["id"]})
    await service.events.assigned()  # PostgreSQL: the writes' events got their cursors
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(store.query_engine, "before_cursor_execute", count)
    try:
        page = await service.list("model-version", {"pageSize": "25"}, parent_id=model["id"])
    finally:
        event.remove(store.query_engine, "before_cursor_execute", count)
    assert [item["aliases"] for item in page["items"]] == [[f"a{i}", f"b{i}"] for i in range(25)]
    # The page, its properties, its aliases (and the parent check): never a query per version.
    assert sum("model_version_aliases" in stmt for stmt in statements) == 1, statements
    assert len(statements) <= 4, statements


async def test_a_page_of_a_versions_artifacts_starts_from_its_links(store: Store) -> None:
    # 20 versions with 100 linked artifacts each: a page of one version's artifacts must read
    # that version's attribution rows and fetch artifacts by id, not scan all artifacts.
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(contexts),
            [
                {
                    "project_id": DEFAULT_PROJECT_ID,
                    "kind": "model-version",
                    "parent_id": 1,
                    "name": f"v{v}",
                    "create_time": 1,
                    "update_time": 1,
                }
                for v in range(20)
            ],
        )
        await conn.execute(
            insert(artifacts),
            [
                {
                    "project_id": DEFAULT_PROJECT_ID,
                    "kind": "doc-artifact",
                    "parent_id": a % 20 + 1,
                    "name": f"a{a}",
                    "create_time": a,
                    "update_time": a,
                }
                for a in range(2000)
            ],
        )
        await conn.execute(
            insert(attributions),
            [{"context_id": a % 20 + 1, "artifact_id": a + 1} for a in range(2000)],
        )
    kinds = tuple(ARTIFACT_KINDS.values())
    page = PageRequest.from_query({"pageSize": "10"})
    stmt = page_statement(kinds, Scope(tuple(ARTIFACT_KINDS), context_id=7), None, page, 1)
    plan = await _plan(store, stmt)
    if store.engine.dialect.name == "sqlite":
        assert "SEARCH artifacts USING INTEGER PRIMARY KEY" in plan, plan
        assert "attributions USING COVERING INDEX" in plan and "(context_id=?)" in plan, plan
    else:
        assert "attributions_pkey" in plan and "artifacts_pkey" in plan, plan
    assert "SCAN artifacts" not in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize("order_by", ["ID", "CREATE_TIME", "LAST_UPDATE_TIME"])
async def test_a_page_of_all_artifacts_is_read_in_index_order_without_sorting(
    store: Store, order_by: str
) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(artifacts),
            [
                {
                    "project_id": DEFAULT_PROJECT_ID,
                    "kind": list(ARTIFACT_KINDS)[a % 5],
                    "name": f"a{a}",
                    "create_time": a,
                    "update_time": a,
                }
                for a in range(2000)
            ],
        )
    kinds = tuple(ARTIFACT_KINDS.values())
    page = PageRequest.from_query({"pageSize": "10", "orderBy": order_by})
    stmt = page_statement(kinds, Scope(tuple(ARTIFACT_KINDS)), None, page, DEFAULT_PROJECT_ID)
    plan = await _plan(store, stmt)
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


@pytest.mark.slow
async def test_an_unpaged_list_longer_than_the_parameter_cap_keeps_every_property(
    store: Store,
) -> None:
    count = 33_000  # above the bound-parameter cap of one SQLite or PostgreSQL statement
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(contexts),
            [
                {
                    "project_id": DEFAULT_PROJECT_ID,
                    "kind": "experiment",
                    "name": f"e{i}",
                    "create_time": i,
                    "update_time": i,
                }
                for i in range(count)
            ],
        )
        await conn.execute(
            insert(contexts_properties),
            [
                {"owner_id": i + 1, "name": "n", "value_type": "MetadataIntValue", "int_value": i}
                for i in range(count)
            ],
        )
    page = await RegistryService(store).list("experiment", {})
    assert page["size"] == count and page["nextPageToken"] == ""
    assert page["items"][-1]["customProperties"] == {
        "n": {"metadataType": "MetadataIntValue", "int_value": str(count - 1)}
    }


async def test_a_database_at_the_first_revision_upgrades_to_head_keeping_rows(
    fresh_database_url: str,
) -> None:
    engine = create_engine_from_url(fresh_database_url)
    try:
        await run_migrations(engine, "0001")
        async with engine.begin() as conn:
            await conn.execute(
                insert(contexts).values(
                    kind="registered-model", name="old", create_time=1, update_time=1
                )
            )
    finally:
        await engine.dispose()
    store = await Store.open(fresh_database_url)
    try:
        async with store.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            diff = await conn.run_sync(_schema_diff)
        found = await RegistryService(store).find("registered-model", {"name": "old"})
    finally:
        await store.close()
    assert version == HEAD_REVISION
    assert diff == []
    assert found["createTimeSinceEpoch"] == "1"


async def test_the_projects_migration_keeps_properties_links_and_aliases(
    fresh_database_url: str,
) -> None:
    # The migration rebuilds the entity tables (SQLite batch mode): the rows that reference
    # them ON DELETE CASCADE must survive it, and everything lands in the project "default".
    engine = create_engine_from_url(fresh_database_url)
    try:
        await run_migrations(engine, "0005")
        async with engine.begin() as conn:
            for statement in (
                "INSERT INTO contexts (id, kind, parent_id, name, create_time, update_time) "
                "VALUES (1, 'registered-model', 0, 'm', 1, 1), (2, 'model-version', 1, 'v', 1, 1)",
                "INSERT INTO contexts_properties (owner_id, name, value_type, string_value) "
                "VALUES (1, 'k', 'MetadataStringValue', 'v')",
                "INSERT INTO artifacts (id, kind, parent_id, name, create_time, update_time) "
                "VALUES (1, 'model-artifact', 2, 'a', 1, 1)",
                "INSERT INTO attributions (context_id, artifact_id) VALUES (2, 1)",
                "INSERT INTO model_version_aliases (registered_model_id, alias, model_version_id) "
                "VALUES (1, 'champion', 2)",
            ):
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
    store = await Store.open(fresh_database_url)
    try:
        service = RegistryService(store)
        model = await service.get("registered-model", "1")
        artifacts = await service.list_context_artifacts("model-version", "2", {})
        champion = await service.get_version_by_alias("1", "champion")
    finally:
        await store.close()
    assert model["customProperties"] == {
        "k": {"metadataType": "MetadataStringValue", "string_value": "v"}
    }
    assert [a["name"] for a in artifacts["items"]] == ["a"]
    assert champion["id"] == "2"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ids_are_never_reused_after_the_projects_migration(store: Store) -> None:
    # The tables the migration rebuilds keep SQLite's AUTOINCREMENT (PostgreSQL alters them
    # in place).
    async with store.engine.connect() as conn:
        sql = (
            await conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'contexts'"))
        ).scalar()
    assert "AUTOINCREMENT" in str(sql)
