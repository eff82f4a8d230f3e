"""keep_freed_pieces: freed 1 MiB pieces are reused, not faulted in again page by page."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Four 1 MiB pieces alive at once, then all freed, round after round: with glibc's defaults
# the 4 MiB freed at the heap's top pass its trim threshold and go back to the kernel, so the
# next round faults every page in again. Prints the minor page faults of the rounds after the
# first.
_CHURN = """
import resource, sys
from model_registry._memory import keep_freed_pieces
if sys.argv[1] == "keep":
    assert keep_freed_pieces()
def churn():
    pieces = [b"x" * (1 << 20) for _ in range(4)]
    del pieces
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _CHURN, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_freed_pieces_are_reused_without_page_faults() -> None:
    default, kept = _faults("default"), _faults("keep")
    # 50 rounds of 4 MiB are 51,200 pages: the default faults most of them in again, kept
    # pieces next to none.
    assert default > 10_000
    assert kept < 500
