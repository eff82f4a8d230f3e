"""The neutral hash-and-write pipeline of content uploads (server) and downloads (client)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from model_registry._hashwrite import HashingWriter


async def test_pieces_are_written_and_hashed_in_order(tmp_path: Path) -> None:
    pieces = [os.urandom(n) for n in (1, 70_000, 1 << 20, 0, 12345)]
    hasher = hashlib.sha256()
    with (tmp_path / "out").open("wb", buffering=0) as out:
        writer = HashingWriter(out, hasher)
        for piece in pieces:
            await writer.add(piece)
        await writer.finish()
    data = b"".join(pieces)
    assert (tmp_path / "out").read_bytes() == data
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()


async def test_a_failed_write_is_raised_by_the_next_call(tmp_path: Path) -> None:
    with (tmp_path / "out").open("wb", buffering=0) as out:
        out.close()  # every write now fails
        writer = HashingWriter(out, hashlib.sha256())
        await writer.add(b"first")
        with pytest.raises(ValueError):
            await writer.finish()
        await writer.settle()  # nothing left running: returns at once
