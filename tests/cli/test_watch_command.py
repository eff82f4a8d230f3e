"""``model-registry watch``: the registry's changes as a table or JSON lines."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result

from model_registry.cli import cli
from model_registry.server import RunningServer


def run(server: RunningServer, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--url", server.url, *args])


def seed(server: RunningServer) -> None:
    result = run(
        server, "register", "model", "HAL", "s3://b/hal.onnx", "--version", "9000",
        "--format-name", "onnx", "--format-version", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_watch_prints_json_lines_from_a_cursor(threaded_server: RunningServer) -> None:
    seed(threaded_server)
    result = run(threaded_server, "watch", "--since", "0", "--count", "3", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in lines] == [
        "registered_model.created",
        "model_version.created",
        "model_artifact.created",
    ]
    assert [e["cursor"] for e in lines] == ["1", "2", "3"]
    assert lines[0]["entity"]["name"] == "HAL"


def test_watch_prints_a_table_filtered_by_kind(threaded_server: RunningServer) -> None:
    seed(threaded_server)
    result = run(
        threaded_server, "watch", "--since", "0", "--count", "1", "--kinds", "model_version"
    )
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split()[:2] == ["cursor", "time"]
    assert row.split()[0] == "2"
    assert "model_version.created" in row and row.endswith("9000")


def test_watch_with_an_unknown_kind_exits_2_naming_it(threaded_server: RunningServer) -> None:
    result = run(threaded_server, "watch", "--kinds", "models")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad request:")
    assert "unknown kinds models" in result.stderr


def test_webhooks_are_created_listed_shown_and_deleted(threaded_server: RunningServer) -> None:
    created = run(
        threaded_server, "webhooks", "create", "https://hooks.example.com/x",
        "--secret", "s3cret", "--events", "model_version.created,model_version_alias.created",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    hook = json.loads(created.stdout)
    assert "secret" not in hook
    assert hook["events"] == ["model_version.created", "model_version_alias.created"]
    listed = run(threaded_server, "webhooks", "list")
    assert [h["id"] for h in json.loads(listed.stdout)] == [hook["id"]]
    assert json.loads(run(threaded_server, "webhooks", "get", hook["id"]).stdout) == hook
    assert run(threaded_server, "webhooks", "delete", hook["id"]).exit_code == 0
    gone = run(threaded_server, "webhooks", "get", hook["id"])
    assert gone.exit_code == 3
    assert gone.stderr.startswith("error: not found:")


def test_a_refused_webhook_exits_2_saying_why(threaded_server: RunningServer) -> None:
    result = run(
        threaded_server, "webhooks", "create", "http://hooks.example.com/x",
        "--secret", "s", "--events", "*",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--webhook-allow-http" in result.stderr
