"""``model-registry watch``: the registry's changes as a table or JSON lines."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from click.testing import CliRunner, Result

from model_registry.cli import cli
from model_registry.server import RunningServer, ServerThread


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


def test_webhooks_deliveries_shows_the_log_newest_first(database_url: str) -> None:
    taken: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            taken.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    options = {"webhook_allow_http": True, "webhook_allow_private": True}
    try:
        with ServerThread(database_url, **options) as srv:  # type: ignore[arg-type]
            url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
            created = run(
                srv, "webhooks", "create", url, "--secret", "s", "--events",
                "registered_model.created",
            )  # fmt: skip
            assert created.exit_code == 0, created.output
            hook = json.loads(created.stdout)["id"]
            for name in ("a", "b", "c"):
                registered = run(
                    srv, "register", "model", name, "s3://b/x", "--version", "1",
                    "--format-name", "onnx", "--format-version", "1",
                )  # fmt: skip
                assert registered.exit_code == 0, registered.output
            deadline = time.monotonic() + 30
            log: list[dict[str, object]] = []
            while len(log) < 3 and time.monotonic() < deadline:
                shown = run(srv, "webhooks", "deliveries", hook)
                assert shown.exit_code == 0, shown.output
                log = json.loads(shown.stdout)
                time.sleep(0.05)
            newest = run(srv, "webhooks", "deliveries", hook, "--limit", "1")
            missing = run(srv, "webhooks", "deliveries", "999")
    finally:
        receiver.shutdown()
    names = [json.loads(body)["entity"]["name"] for body in taken]
    assert names == ["a", "b", "c"]
    cursors = [int(str(d["cursor"])) for d in log]
    assert cursors == sorted(cursors, reverse=True) and len(cursors) == 3
    assert {(d["status"], d["httpStatus"]) for d in log} == {("delivered", 204)}
    assert json.loads(newest.stdout) == log[:1]
    assert missing.exit_code == 3 and missing.stderr.startswith("error: not found:")
