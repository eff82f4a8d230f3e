"""``make demo`` (``python -m model_registry.demo``) end to end, as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model_registry.demo", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_demo_registers_lists_over_rest_and_grpc_and_stops() -> None:
    result = run_demo()

    assert result.returncode == 0, result.stderr
    out = result.stdout
    for line in (
        "registered model        HAL id=",
        "registered version      9000 id=",
        "registered artifact     HAL-core id=",
        "uri=s3://cool-bucket/build/onnx/hal.onnx",
        "registered dataset      hal-eval id=",
        "registered predictions  predictions-",
        "listing over REST:",
        "listing over gRPC:",
        "server stopped",
        "demo finished",
    ):
        assert line in out
    assert out.count("name=HAL-core") == 2  # read back once per transport
    assert out.count("name=hal-eval params=") == 2


def test_demo_exits_non_zero_with_one_line_when_a_step_fails(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'kept.db'}"

    first = run_demo("--database-url", database_url)
    second = run_demo("--database-url", database_url)  # HAL is there already

    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert second.stderr.startswith("demo failed: Conflict: ")
    assert second.stderr.count("\n") == 1
