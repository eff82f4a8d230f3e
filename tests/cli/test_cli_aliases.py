"""``model-registry aliases set|delete|list`` and ``delete model|version`` (cli_aliases.py)."""

from __future__ import annotations

from click.testing import CliRunner, Result

from model_registry.cli import cli
from model_registry.server import RunningServer


def run(server: RunningServer, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--url", server.url, *args], input=stdin)


def register(server: RunningServer, version: str) -> None:
    result = run(
        server,
        "register",
        "model",
        "HAL",
        f"s3://bucket/hal-{version}.onnx",
        "--version",
        version,
        "--format-name",
        "onnx",
        "--format-version",
        "1",
    )
    assert result.exit_code == 0, result.output


def test_aliases_are_set_moved_listed_and_deleted(threaded_server: RunningServer) -> None:
    register(threaded_server, "1.0")
    register(threaded_server, "2.0")

    first = run(threaded_server, "aliases", "set", "HAL", "champion", "1.0")
    run(threaded_server, "aliases", "set", "HAL", "staging", "1.0")
    moved = run(threaded_server, "aliases", "set", "HAL", "champion", "2.0")
    listed = run(threaded_server, "aliases", "list", "HAL")

    assert first.exit_code == 0 and "HAL@champion -> version 1.0" in first.output
    assert moved.exit_code == 0 and "HAL@champion -> version 2.0" in moved.output
    lines = listed.output.splitlines()
    assert lines[0].split()[:2] == ["champion", "2.0"]
    assert lines[1].split()[:2] == ["staging", "1.0"]

    removed = run(threaded_server, "aliases", "delete", "HAL", "staging")
    again = run(threaded_server, "aliases", "delete", "HAL", "staging")
    reserved = run(threaded_server, "aliases", "set", "HAL", "latest", "1.0")

    assert removed.exit_code == 0
    assert again.exit_code != 0 and "no alias 'staging'" in again.output
    assert reserved.exit_code != 0 and "reserved" in reserved.output
    assert "staging" not in run(threaded_server, "aliases", "list", "HAL").output


def test_delete_asks_first_refuses_children_and_cascades(threaded_server: RunningServer) -> None:
    register(threaded_server, "1.0")
    register(threaded_server, "2.0")

    declined = run(threaded_server, "delete", "version", "HAL", "1.0", stdin="n\n")
    still_there = run(threaded_server, "versions", "list", "HAL", "--json")
    refused = run(threaded_server, "delete", "model", "HAL", "--yes")
    version = run(threaded_server, "delete", "version", "HAL", "1.0", "--cascade", stdin="y\n")
    model = run(threaded_server, "delete", "model", "HAL", "--cascade", "--yes")

    assert declined.exit_code != 0
    assert '"1.0"' in still_there.output
    assert refused.exit_code != 0 and "2 model versions" in refused.output
    assert version.exit_code == 0, version.output
    assert model.exit_code == 0, model.output
    gone = run(threaded_server, "delete", "model", "HAL", "--yes")
    assert gone.exit_code != 0 and "does not exist" in gone.output
