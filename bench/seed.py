"""Bulk seeding of model versions, straight into the database before the server starts.

Creating 100,000 versions through the API would take minutes and measure writes, not paging.
Instead the seeder opens the database with the server's own store module (so the schema is
migrated exactly as the server would), creates the registered model and ONE template version
through :class:`~model_registry.server.service.RegistryService` (so every column and property
row is what a real create writes), then copies that template's row and custom-property rows
``count - 1`` times with executemany in one transaction, changing only the name and the times.

The scale scenario seeds :data:`SCALE_PROPERTIES` instead, where each copy gets its own
``accuracy`` (a double spread over [0, 1), about 10% above 0.9) so that a filter on it selects a
tenth of the rows, spread over the whole walk.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from model_registry.server.entities import MODEL_VERSION, REGISTERED_MODEL, EntityKind
from model_registry.server.service import (
    WIRE_VERSION,
    RegistryService,
    render_message,
    render_wire,
)
from model_registry.server.store import Record, Store
from model_registry.server.store.schema import contexts, contexts_properties
from model_registry.server.store.statements import KEEP_WIRE

_BATCH = 10_000

VERSION_PROPERTIES: dict[str, dict[str, str]] = {
    "framework": {"metadataType": "MetadataStringValue", "string_value": "onnx"},
    "accuracy_bp": {"metadataType": "MetadataIntValue", "int_value": "9312"},
}
"""Custom properties of every seeded version (a realistic, small payload)."""

SCALE_PROPERTIES: dict[str, dict[str, object]] = {
    "framework": {"metadataType": "MetadataStringValue", "string_value": "onnx"},
    "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": 0.5},
}
"""Custom properties of the scale scenario's versions (``accuracy`` varies per copy)."""


def scale_accuracy(i: int) -> float:
    """The ``accuracy`` of the ``i``-th scale version: spread over [0, 1), 10% above 0.9."""
    return (i * 7919 % 1000) / 1000


def version_name(i: int) -> str:
    """The name of the ``i``-th seeded version (1-based)."""
    return f"v{i:06d}"


def database_url(database: Path | str) -> str:
    """A SQLite file's URL, or ``database`` itself when it is already a URL."""
    return database if isinstance(database, str) else f"sqlite:///{database}"


async def seed_versions(
    database: Path | str,
    count: int,
    *,
    model_name: str = "paged-model",
    scale: bool = False,
) -> str:
    """Create one registered model with ``count`` versions in ``database``.

    Args:
        database: The SQLite file (created when absent) or a database URL; no server may be
            running on it.
        count: How many versions to create (>= 1).
        model_name: The registered model's name.
        scale: Seed :data:`SCALE_PROPERTIES` (a varying ``accuracy``) instead of
            :data:`VERSION_PROPERTIES`.

    Returns:
        The registered model's id.
    """
    store = await Store.open(database_url(database))
    try:
        service = RegistryService(store)
        model = await service.create(
            "registered-model", {"name": model_name, "owner": "bench", "description": "paging"}
        )
        template = await service.create(
            "model-version",
            {
                "name": version_name(1),
                "registeredModelId": model["id"],
                "author": "bench",
                "description": "a seeded version",
                "customProperties": SCALE_PROPERTIES if scale else VERSION_PROPERTIES,
            },
        )
        await _copy_template(store, int(template["id"]), count - 1, scale=scale)
        return str(model["id"])
    finally:
        await store.close()


async def _copy_template(store: Store, template_id: int, copies: int, *, scale: bool) -> None:
    """Insert ``copies`` clones of the template version (row + property rows)."""
    if copies <= 0:
        return
    async with store.engine.connect() as conn:
        conn = await conn.execution_options(sqlite_write=True)
        async with conn.begin():
            row = dict(
                (await conn.execute(select(contexts).where(contexts.c.id == template_id)))
                .mappings()
                .one()
            )
            props = [
                dict(p)
                for p in (
                    await conn.execute(
                        select(contexts_properties).where(
                            contexts_properties.c.owner_id == template_id
                        )
                    )
                ).mappings()
            ]
            del row["id"]
            stamp = int(row["create_time"])
            for start in range(2, copies + 2, _BATCH):
                stop = min(start + _BATCH, copies + 2)
                rows: list[dict[str, Any]] = [
                    {
                        **row,
                        "name": version_name(i),
                        "create_time": stamp + i,
                        "update_time": stamp + i,
                    }
                    for i in range(start, stop)
                ]
                await conn.execute(insert(contexts), rows)
            new_ids = (
                (
                    await conn.execute(
                        select(contexts.c.id)
                        .where(contexts.c.kind == row["kind"], contexts.c.id > template_id)
                        .order_by(contexts.c.id)
                    )
                )
                .scalars()
                .all()
            )
            for start in range(0, len(new_ids), _BATCH):
                prop_rows = [
                    {**p, "owner_id": owner}
                    if not (scale and p["name"] == "accuracy")
                    else {**p, "owner_id": owner, "double_value": scale_accuracy(start + n + 2)}
                    for n, owner in enumerate(new_ids[start : start + _BATCH])
                    for p in props
                ]
                if prop_rows:
                    await conn.execute(insert(contexts_properties), prop_rows)
                await _keep_answers(
                    conn, MODEL_VERSION, row, new_ids[start : start + _BATCH], prop_rows
                )


async def _keep_answers(
    conn: Any,
    kind: EntityKind,
    template: dict[str, Any],
    ids: list[int],
    props: list[dict[str, Any]],
) -> None:
    """Keep the answers of copied rows (``contexts.wire``), as the service does after a write.

    The copies' rows are read back (their names and times differ from the template's) and
    rendered with their own property rows, so each kept answer is the one the service would
    have kept: a copy of the template's would name the template.
    """
    if not ids:
        return
    by_owner: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for p in props:
        by_owner[p["owner_id"]].append(p)
    found = (
        await conn.execute(
            select(
                contexts.c.id, contexts.c.name, contexts.c.create_time, contexts.c.update_time
            ).where(contexts.c.id.in_(ids))
        )
    ).all()
    kept = [
        {
            "b_id": record.id,
            "b_wire": render_wire(kind, record),
            "b_pb": render_message(kind, record),
            "b_version": WIRE_VERSION,
        }
        for record in (
            Record(
                {**template, "id": ident, "name": name, "create_time": c, "update_time": u},
                sorted(by_owner[ident], key=lambda p: p["name"]),
            )
            for ident, name, c, u in found
        )
    ]
    await conn.execute(KEEP_WIRE, kept)


def seed_versions_sync(database: Path | str, count: int, *, scale: bool = False) -> str:
    """:func:`seed_versions` from synchronous code (its own event loop)."""
    return asyncio.run(seed_versions(database, count, scale=scale))


MODEL_PROPERTIES: dict[str, dict[str, str]] = {
    "team": {"metadataType": "MetadataStringValue", "string_value": "vision"},
    "priority": {"metadataType": "MetadataIntValue", "int_value": "3"},
}
"""Custom properties of every seeded registered model (2, like the versions')."""


async def seed_models(database: Path | str, count: int) -> None:
    """Add ``count`` registered models, each with 2 custom properties, to ``database``.

    Like :func:`seed_versions`: ONE template through the service, then copies of its row and
    property rows (names ``m000001``...), in one transaction.
    """
    store = await Store.open(database_url(database))
    try:
        service = RegistryService(store)
        template = await service.create(
            "registered-model",
            {
                "name": "m000001",
                "owner": "bench",
                "description": "a seeded model",
                "customProperties": MODEL_PROPERTIES,
            },
        )
        template_id = int(template["id"])
        async with store.engine.connect() as conn:
            conn = await conn.execution_options(sqlite_write=True)
            async with conn.begin():
                row = dict(
                    (await conn.execute(select(contexts).where(contexts.c.id == template_id)))
                    .mappings()
                    .one()
                )
                props = [
                    dict(p)
                    for p in (
                        await conn.execute(
                            select(contexts_properties).where(
                                contexts_properties.c.owner_id == template_id
                            )
                        )
                    ).mappings()
                ]
                del row["id"]
                stamp = int(row["create_time"])
                rows = [
                    {**row, "name": f"m{i:06d}", "create_time": stamp + i, "update_time": stamp + i}
                    for i in range(2, count + 1)
                ]
                if rows:
                    await conn.execute(insert(contexts), rows)
                new_ids = (
                    (
                        await conn.execute(
                            select(contexts.c.id)
                            .where(contexts.c.kind == row["kind"], contexts.c.id > template_id)
                            .order_by(contexts.c.id)
                        )
                    )
                    .scalars()
                    .all()
                )
                prop_rows = [{**p, "owner_id": owner} for owner in new_ids for p in props]
                if prop_rows:
                    await conn.execute(insert(contexts_properties), prop_rows)
                await _keep_answers(conn, REGISTERED_MODEL, row, list(new_ids), prop_rows)
    finally:
        await store.close()
