"""Token sources: str, bytes, a file re-read when it changes, a callable; never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model_registry.transport.auth import TokenProvider


async def test_static_tokens() -> None:
    assert await TokenProvider("abc").get() == "abc"
    assert await TokenProvider(b"abc\n").get() == "abc"
    assert await TokenProvider("Bearer abc").get() == "abc"
    assert await TokenProvider(None).get() is None
    assert not TokenProvider(None).enabled


async def test_file_token_is_reread_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    provider = TokenProvider(path)
    assert await provider.get() == "first"
    path.write_text("second-token\n")
    # Kubernetes replaces the file atomically; a new size or mtime is noticed.
    os.utime(path, ns=(1, 10**18))
    assert await provider.get() == "second-token"


async def test_refresh_rereads_even_an_unchanged_looking_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("aaaa")
    stat = path.stat()
    provider = TokenProvider(path)
    assert await provider.get() == "aaaa"
    path.write_text("bbbb")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert await provider.refresh() == "bbbb"


async def test_missing_token_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="token file"):
        await TokenProvider(tmp_path / "absent").get()


async def test_callable_sync_and_async() -> None:
    tokens = iter(["one", "two"])
    provider = TokenProvider(lambda: next(tokens))
    assert await provider.get() == "one"
    assert await provider.refresh() == "two"

    async def fetch() -> str:
        return "async-token"

    assert await TokenProvider(fetch).get() == "async-token"


async def test_tokens_never_appear_in_repr(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_text("s3cr3t")
    for source in ("s3cr3t", b"s3cr3t", path, lambda: "s3cr3t"):
        provider = TokenProvider(source)
        await provider.get()
        assert "s3cr3t" not in repr(provider)


def test_other_types_are_refused() -> None:
    with pytest.raises(TypeError):
        TokenProvider(42)  # type: ignore[arg-type]
