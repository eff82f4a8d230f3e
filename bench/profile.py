"""Optional profiling of a scenario: py-spy samples the server (and the bench process).

``python -m bench --profile DIR`` records, for every scenario, the server subprocess and the
bench process itself with ``py-spy record --format raw`` (collapsed stacks, one file per
process) and writes a short summary next to them: the functions holding the most samples,
inclusive and self. py-spy needs ptrace rights over the processes (root, or
``kernel.yama.ptrace_scope = 0``); when it cannot run, the scenario runs unprofiled.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def _py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def record(pid: int | None, out: Path, *, rate: int = 250) -> Iterator[None]:
    """Sample process ``pid`` with py-spy for the duration of the block (no-op without it).

    Args:
        pid: The process to sample (None: do nothing).
        out: The collapsed-stack file to write; ``<out>.top.txt`` gets the summary.
        rate: Samples per second.
    """
    spy = _py_spy()
    if pid is None or spy is None:
        yield
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [spy, "record", "-p", str(pid), "-r", str(rate), "-f", "raw", "-o", str(out), "--threads"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        # py-spy writes its output when interrupted.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if out.exists():
            out.with_suffix(".top.txt").write_text(summarize(out))


def summarize(path: Path, top: int = 40) -> str:
    """The functions with most samples in a py-spy raw (collapsed) file, inclusive and self."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if total == 0:
        return "no samples\n"
    lines = [f"{total} samples (all threads; idle threads count too)", "", "inclusive:"]
    lines += [f"{n / total * 100:6.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{n / total * 100:6.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines) + "\n"
