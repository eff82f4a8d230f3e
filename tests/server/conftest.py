"""Fixtures of the server suites (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from model_registry.server.service import RegistryService
from model_registry.server.store import Store


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session for raw HTTP checks."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[RegistryService]:
    """A registry service over a clean, migrated store (no HTTP in between)."""
    store = await Store.open(database_url)
    try:
        yield RegistryService(store)
    finally:
        await store.close()
