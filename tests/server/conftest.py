"""Fixtures of the server suites (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from conformance.s3 import ContentStore, S3Server

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


@pytest.fixture(params=["folder", "s3"])
def content_store(request: pytest.FixtureRequest, tmp_path: Path) -> ContentStore:
    """An artifact store of each kind: a folder of the test's, and a fresh bucket of a real
    S3-wire server (moto's)."""
    if request.param == "folder":
        root = tmp_path / "store"

        def place_file(digest: str, data: bytes) -> None:
            path = root / "sha256" / digest[:2] / digest
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        return ContentStore(
            root.as_uri(),
            None,
            lambda: sorted(p.name for p in (root / "sha256").rglob("*") if p.is_file()),
            place_file,
        )
    s3: S3Server = request.getfixturevalue("s3_server")
    bucket = s3.new_bucket()

    def place_object(digest: str, data: bytes) -> None:
        s3.client().put_object(Bucket=bucket, Key=f"content/sha256/{digest}", Body=data)

    return ContentStore(
        f"s3://{bucket}/content",
        s3.endpoint_url,
        lambda: [key.rsplit("/", 1)[-1] for key in s3.keys(bucket, "content/sha256/")],
        place_object,
    )
