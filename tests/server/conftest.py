"""Fixtures of the server suites (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session for raw HTTP checks."""
    async with aiohttp.ClientSession() as session:
        yield session
