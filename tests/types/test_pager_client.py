"""The async Pager over real list methods of the running server."""

from __future__ import annotations

import asyncio

import pytest

from model_registry.core import ModelRegistryAPIClient
from model_registry.types import DocArtifact, ModelVersion, Pager, RegisteredModel


async def _models(client: ModelRegistryAPIClient, n: int) -> list[str]:
    names = [f"model-{i:02d}" for i in range(n)]
    for name in names:
        await client.upsert_registered_model(RegisteredModel(name))
    return names


@pytest.mark.parametrize("n", [0, 1, 3, 4])
async def test_async_for_yields_every_item_with_page_size_3(
    client: ModelRegistryAPIClient, n: int
) -> None:
    names = await _models(client, n)
    got = [m.name async for m in Pager(client.get_registered_models).limit(3)]
    assert got == names


async def test_descending_order_and_max_items(client: ModelRegistryAPIClient) -> None:
    names = await _models(client, 7)
    newest = Pager(client.get_registered_models).order_by_creation_time().descending().limit(2)
    assert [m.name async for m in newest] == list(reversed(names))
    capped = Pager(client.get_registered_models).page_size(3).max_items(5)
    assert [m.name async for m in capped] == names[:5]
    by_id = Pager(client.get_registered_models).order_by_id().descending()
    assert [m.name async for m in by_id] == list(reversed(names))
    filtered = Pager(client.get_registered_models).filter("name LIKE 'model-0%'").limit(2)
    assert [m.name async for m in filtered] == names


async def test_lambda_page_function_over_a_child_list(client: ModelRegistryAPIClient) -> None:
    rm = await client.upsert_registered_model(RegisteredModel("parent"))
    mv = await client.upsert_model_version(ModelVersion("v1"), rm.id)
    for i in range(5):
        await client.upsert_model_version_artifact(DocArtifact(f"d{i}", uri="u"), mv.id)
    pager = Pager(lambda o: client.get_model_version_artifacts(mv.id, o)).limit(2)
    assert [a.name async for a in pager] == ["d0", "d1", "d2", "d3", "d4"]
    assert [a.name for a in await pager.next_page()] == ["d0", "d1"]
    assert [a.name for a in await pager.next_page()] == ["d2", "d3"]
    assert [a.name for a in await pager.next_page()] == ["d4"]
    assert await pager.next_page() == []
    pager.restart()
    assert [a.name for a in await pager.next_page()] == ["d0", "d1"]


async def test_plain_for_over_the_async_client_is_a_clear_type_error(
    client: ModelRegistryAPIClient,
) -> None:
    await _models(client, 1)
    with pytest.raises(TypeError, match="async for"):
        for _ in Pager(client.get_registered_models):
            pass


async def test_concurrent_calls_share_the_client(client: ModelRegistryAPIClient) -> None:
    names = await _models(client, 3)
    results = await asyncio.gather(
        *(client.get_registered_model_by_params(name=name) for name in names * 5)
    )
    assert [r.name for r in results if r is not None] == names * 5
