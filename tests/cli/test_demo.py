"""``make demo`` (``python -m model_registry.demo``) end to end, as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model_registry.demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_demo_registers_lists_over_rest_and_grpc_and_stops(tmp_path: Path) -> None:
    result = run_demo(tmp_path)

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


def test_demo_keeps_its_registry_in_the_working_directory_and_says_how_to_serve_it(
    tmp_path: Path,
) -> None:
    first = run_demo(tmp_path)
    again = run_demo(tmp_path)  # a second `make demo` starts over rather than failing

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "demo-registry.db").is_file()
    assert (tmp_path / "demo-registry-files" / "hal-eval.csv").is_file()
    assert (
        "serve it with  model-registry serve --database-url sqlite:///demo-registry.db"
        in first.stdout
    )
    assert "web UI at           http://127.0.0.1:8080/ui" in first.stdout
    assert "replaced                the previous demo database" in again.stdout

    # The kept registry holds what the demo registered (read with the server's own store).
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import asyncio\n"
            "from model_registry.server.service import RegistryService\n"
            "from model_registry.server.store import Store\n"
            "async def main():\n"
            "    store = await Store.open('sqlite:///demo-registry.db')\n"
            "    page = await RegistryService(store).list('registered-model', {})\n"
            "    await store.close()\n"
            "    print([m['name'] for m in page['items']])\n"
            "asyncio.run(main())\n",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "['HAL']"


def test_demo_exits_non_zero_with_one_line_when_a_step_fails(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'kept.db'}"

    first = run_demo(tmp_path, "--database-url", database_url)
    second = run_demo(tmp_path, "--database-url", database_url)  # HAL is there already

    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert second.stderr.startswith("demo failed: Conflict: ")
    assert second.stderr.count("\n") == 1
