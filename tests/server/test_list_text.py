"""List pages spliced from the rows' kept answers (issue 24): over REST
(``RegistryService.list_json``) byte for byte the JSON of the dict path (``list`` encoded as
REST encodes it), over gRPC (``list_messages``) the same message as the dict path's once
parsed; on every kind of the contexts table, every ordering, filters, aliases shown or not,
and rows whose kept answer is missing or made by another rendering."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from google.protobuf.message import Message
from sqlalchemy import event, update

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry.server.errors import NotFound
from model_registry.server.grpc import _page_bytes, _page_message
from model_registry.server.service import WIRE_VERSION, RegistryService, lists_as_text
from model_registry.server.store import Tx
from model_registry.server.store.schema import contexts


def _props() -> dict[str, Any]:
    """One value of every tagged form, with numbers and text that encoders print differently."""
    return {
        "text": {"metadataType": "MetadataStringValue", "string_value": 'é "q" \\ \n\t \u2028 ✓'},
        "empty": {"metadataType": "MetadataStringValue", "string_value": ""},
        "int": {"metadataType": "MetadataIntValue", "int_value": "-42"},
        "sum": {"metadataType": "MetadataDoubleValue", "double_value": 0.1 + 0.2},
        "tiny": {"metadataType": "MetadataDoubleValue", "double_value": 1e-7},
        "whole": {"metadataType": "MetadataDoubleValue", "double_value": 1.0},
        "huge": {"metadataType": "MetadataDoubleValue", "double_value": 1.5e300},
        "flag": {"metadataType": "MetadataBoolValue", "bool_value": True},
        "off": {"metadataType": "MetadataBoolValue", "bool_value": False},
        "blob": {"metadataType": "MetadataStructValue", "struct_value": "eyJhIjogMX0="},
        "proto": {
            "metadataType": "MetadataProtoValue",
            "type": "t.example/Msg",
            "proto_value": "AAE=",
        },
        "Upper_Case": {"metadataType": "MetadataStringValue", "string_value": "order"},
    }


async def _registry(service: RegistryService) -> dict[str, str]:
    """Entities of every context kind, with rich values; returns the parent ids."""
    models = []
    for n in range(3):
        models.append(
            await service.create(
                "registered-model",
                {
                    "name": f"model-{n} ☃",
                    "externalId": f"ext-{n}" if n != 1 else None,
                    "description": "línea\nnueva" if n else None,
                    "owner": "owner",
                    "language": ["en", "fr"],
                    "tasks": ['a "b"'],
                    "licenseLink": "https://example.com/l",
                    "customProperties": _props() if n != 2 else {},
                },
            )
        )
    model = models[0]["id"]
    versions = []
    for n in range(5):
        versions.append(
            await service.create(
                "model-version",
                {
                    "name": f"v{n}",
                    "registeredModelId": model,
                    "author": "ä" if n % 2 else None,
                    "state": "ARCHIVED" if n == 3 else "LIVE",
                    "customProperties": _props() if n % 2 == 0 else {},
                },
            )
        )
    await service.set_alias(model, "prod", {"modelVersionId": versions[1]["id"]})
    await service.set_alias(model, "champion", {"modelVersionId": versions[1]["id"]})
    await service.set_alias(model, "b", {"modelVersionId": versions[4]["id"]})
    # Changed after its create: its kept answer is made again by the update's transaction.
    await service.update(
        "model-version",
        versions[2]["id"],
        {"description": "patched", "customProperties": {"only": _props()["sum"]}},
    )
    experiment = await service.create("experiment", {"name": "exp", "owner": "o"})
    for _ in range(3):
        await service.create(
            "experiment-run",
            {
                "experimentId": experiment["id"],
                "startTimeSinceEpoch": "123",
                "status": "FINISHED",
                "customProperties": _props(),
            },
        )
    env = await service.create("serving-environment", {"name": "env"})
    for n in range(2):
        await service.create(
            "inference-service",
            {
                "servingEnvironmentId": env["id"],
                "registeredModelId": model,
                "modelVersionId": versions[0]["id"] if n else None,
                "runtime": "rt",
            },
        )
    return {
        "registered-model": "",
        "model-version": model,
        "experiment": "",
        "experiment-run": experiment["id"],
        "serving-environment": "",
        "inference-service": env["id"],
    }


_LISTS: dict[str, type[Message]] = {
    "registered-model": pb.RegisteredModelList,
    "model-version": pb.ModelVersionList,
    "experiment": pb.ExperimentList,
    "experiment-run": pb.ExperimentRunList,
    "serving-environment": pb.ServingEnvironmentList,
    "inference-service": pb.InferenceServiceList,
}


async def _both(
    service: RegistryService, kind: str, parent: str, params: dict[str, str], aliases: bool
) -> tuple[bytes, bytes]:
    """The spliced page and the dict path's page encoded as REST encodes it."""
    parent_id = parent or None
    spliced = await service.list_json(kind, params, parent_id=parent_id, aliases=aliases)
    page = await service.list(kind, params, parent_id=parent_id)
    # gRPC: the spliced messages, parsed, are the dict path's message.
    out = _LISTS[kind]
    messages = await service.list_messages(kind, params, parent_id=parent_id)
    assert out.FromString(_page_bytes(messages, out, params)) == _page_message(page, out, params)
    if not aliases:
        for item in page["items"]:
            item.pop("aliases", None)
    return spliced, orjson.dumps(page)


async def _walk_and_compare(service: RegistryService, parents: dict[str, str]) -> int:
    """Walk every kind in every ordering by pages of 2; every page must be the same bytes."""
    compared = 0
    for kind, parent in parents.items():
        assert lists_as_text(kind)
        for order in ("ID", "CREATE_TIME", "LAST_UPDATE_TIME", "NAME"):
            for direction in ("ASC", "DESC"):
                for aliases in (True, False):
                    token = ""
                    while True:
                        params = {"pageSize": "2", "orderBy": order, "sortOrder": direction}
                        if token:
                            params["nextPageToken"] = token
                        spliced, expected = await _both(service, kind, parent, params, aliases)
                        assert spliced == expected, (kind, order, direction, aliases)
                        compared += 1
                        token = orjson.loads(spliced)["nextPageToken"]
                        if not token:
                            break
        # Without a page size: every row on one page.
        spliced, expected = await _both(service, kind, parent, {}, True)
        assert spliced == expected
    return compared


async def test_spliced_pages_are_the_dict_pages_byte_for_byte(service: RegistryService) -> None:
    parents = await _registry(service)
    assert await _walk_and_compare(service, parents) > 100


async def test_rows_without_a_kept_answer_of_this_rendering_are_rendered(
    service: RegistryService,
) -> None:
    parents = await _registry(service)

    async def forget(tx: Tx) -> None:
        # Half the rows as a database from before the column was added, the other half as
        # kept by another rendering (a changed descriptor): neither may be spliced.
        await tx.executor.execute(
            update(contexts).where(contexts.c.id % 2 == 0).values(wire=None, wire_version=None)
        )
        await tx.executor.execute(
            update(contexts)
            .where(contexts.c.id % 2 == 1)
            .values(wire='{"stale":true}', wire_version=WIRE_VERSION + 1)
        )

    await service.store.write(forget)
    await _walk_and_compare(service, parents)


async def test_filters_and_the_children_lists_name_filters(service: RegistryService) -> None:
    parents = await _registry(service)
    model = parents["model-version"]
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("model-version", model, {"filterQuery": 'state = "LIVE" AND sum > 0.29'}),
        ("model-version", model, {"filterQuery": "alias = 'prod'"}),
        ("model-version", model, {"name": "v2"}),
        ("model-version", model, {"externalId": "none"}),
        ("registered-model", "", {"filterQuery": "name LIKE 'model-%'", "pageSize": "1"}),
    ]
    for kind, parent, params in cases:
        for aliases in (True, False):
            spliced, expected = await _both(service, kind, parent, params, aliases)
            assert spliced == expected, params
            assert orjson.loads(spliced)["items"] or params.get("externalId")


async def test_an_update_and_an_alias_move_show_on_the_next_page(service: RegistryService) -> None:
    parents = await _registry(service)
    model = parents["model-version"]
    first = orjson.loads(await service.list_json("model-version", {}, parent_id=model))
    target = first["items"][0]
    await service.update("model-version", target["id"], {"state": "ARCHIVED"})
    await service.set_alias(model, "prod", {"modelVersionId": target["id"]})
    after = orjson.loads(await service.list_json("model-version", {}, parent_id=model))
    changed = after["items"][0]
    assert changed["state"] == "ARCHIVED"
    assert changed["aliases"] == ["prod"]
    assert changed["lastUpdateTimeSinceEpoch"] != target["lastUpdateTimeSinceEpoch"]
    spliced, expected = await _both(service, "model-version", model, {}, True)
    assert spliced == expected


async def test_a_page_of_versions_with_aliases_is_one_statement_on_postgresql(
    service: RegistryService,
) -> None:
    parents = await _registry(service)
    model = parents["model-version"]
    await service.events.assigned()  # PostgreSQL: the writes' events got their cursors
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = service.store.query_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        rest = orjson.loads(await service.list_json("model-version", {}, parent_id=model))
        grpc_page = await service.list_messages("model-version", {}, parent_id=model)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert rest["size"] == len(grpc_page.items) == 5
    assert any(item["aliases"] for item in rest["items"])
    # No parent check (the page's items prove the model), the aliases in the
    # page's statement: one statement per page on PostgreSQL. (SQLite reads the aliases in a
    # second one, straight on the driver's cursor, which the engine's events do not see.)
    assert len(statements) == 2, statements
    assert all(s.lstrip().startswith("SELECT") for s in statements), statements


async def test_an_empty_page_tells_a_missing_parent_from_one_without_children(
    service: RegistryService,
) -> None:
    model = await service.create("registered-model", {"name": "childless"})
    empty = orjson.loads(await service.list_json("model-version", {}, parent_id=model["id"]))
    assert empty["items"] == [] and empty["size"] == 0
    messages = await service.list_messages("model-version", {}, parent_id=model["id"])
    assert messages.items == []
    experiment = await service.create("experiment", {"name": "not a model"})
    for parent in ("999999", experiment["id"]):
        with pytest.raises(NotFound):
            await service.list_json("model-version", {}, parent_id=parent)
        with pytest.raises(NotFound):
            await service.list_messages("model-version", {}, parent_id=parent)
        with pytest.raises(NotFound):
            await service.list("model-version", {}, parent_id=parent)


@pytest.mark.parametrize("kind", ["model-artifact", "artifact", "serve-model", "metric"])
def test_only_context_kinds_are_spliced(kind: str) -> None:
    assert not lists_as_text(kind)
