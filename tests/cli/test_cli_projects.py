"""``model-registry projects``, ``--project`` and ``tokens`` against real servers."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import click
import pytest
from click.testing import CliRunner, Result

from model_registry.cli import _expiry, cli
from model_registry.server import RunningServer

ADMIN = "s3cret"  # the auth_server's admin token (tests/conftest.py AUTH_TOKEN)
MODEL = ["--format-name", "onnx", "--format-version", "1"]


def run(server: RunningServer, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--url", server.url, *args], env=env)


def run_as(server: RunningServer, token: str, *args: str) -> Result:
    return run(server, *args, env={"MODEL_REGISTRY_TOKEN": token})


def test_projects_create_prints_the_id_and_list_and_show_find_it(
    threaded_server: RunningServer,
) -> None:
    created = run(
        threaded_server,
        "projects",
        "create",
        "fraud",
        "--description",
        "card fraud",
        "--model-task",
        "model_task_binary_classification",
    )
    assert created.exit_code == 0, created.output
    project_id = created.stdout.strip()
    assert str(uuid.UUID(project_id)) == project_id

    listed = json.loads(run(threaded_server, "projects", "list", "--json").stdout)
    assert sorted(p["name"] for p in listed) == ["default", "fraud"]
    table = run(threaded_server, "projects", "list").stdout
    assert "projects (2)" in table and "fraud" in table and "MODEL_TASK_" in table

    by_name = run(threaded_server, "projects", "show", "fraud")
    by_id = json.loads(run(threaded_server, "projects", "show", project_id, "--json").stdout)
    assert f"id: {project_id}" in by_name.stdout and "description: card fraud" in by_name.stdout
    assert (by_id["name"], by_id["model_task"]) == ("fraud", "MODEL_TASK_BINARY_CLASSIFICATION")

    again = run(threaded_server, "projects", "create", "fraud")
    missing = run(threaded_server, "projects", "show", "nowhere")
    odd_task = run(threaded_server, "projects", "create", "x", "--model-task", "ASTROLOGY")
    assert (again.exit_code, missing.exit_code, odd_task.exit_code) == (4, 3, 2)
    assert "conflict" in again.stderr and "nowhere" in missing.stderr


def test_the_global_project_option_chooses_where_commands_work_and_listings_say_so(
    threaded_server: RunningServer,
) -> None:
    assert run(threaded_server, "projects", "create", "fraud").exit_code == 0
    in_fraud = run(
        threaded_server,
        "--project",
        "fraud",
        "register",
        "model",
        "HAL",
        "s3://b/h",
        "--version",
        "1",
        *MODEL,
    )
    in_default = run(
        threaded_server, "register", "model", "HAL", "s3://b/h", "--version", "9000", *MODEL
    )
    assert (in_fraud.exit_code, in_default.exit_code) == (0, 0), in_fraud.output

    fraud_versions = run(threaded_server, "--project", "fraud", "versions", "list", "HAL", "--json")
    default_versions = run(threaded_server, "versions", "list", "HAL", "--json")
    assert [v["name"] for v in json.loads(fraud_versions.stdout)] == ["1"]
    assert [v["name"] for v in json.loads(default_versions.stdout)] == ["9000"]

    table = run(threaded_server, "--project", "fraud", "models", "list")
    assert "models (1)" in table.stdout and "project: fraud" in table.stdout
    from_env = run(threaded_server, "models", "list", env={"MODEL_REGISTRY_PROJECT": "fraud"})
    assert "project: fraud" in from_env.stdout
    assert "chosen by the server" in run(threaded_server, "models", "list").stdout

    lost = run(threaded_server, "--project", "nowhere", "models", "list")
    assert lost.exit_code == 3 and "nowhere" in lost.stderr


def test_tokens_create_list_and_revoke(auth_server: RunningServer) -> None:
    admin = ADMIN
    assert run_as(auth_server, admin, "projects", "create", "fraud").exit_code == 0
    created = run_as(
        auth_server,
        admin,
        "tokens",
        "create",
        "--subject",
        "alice",
        "--project",
        "fraud:editor",
        "--project",
        "default:reader",
        "--expires",
        "30d",
    )
    assert created.exit_code == 0, created.output
    (secret,) = created.stdout.splitlines()  # the token alone on its line
    assert "alice" in created.stderr and "fraud:editor" in created.stderr

    listed = json.loads(run_as(auth_server, admin, "tokens", "list", "--json").stdout)
    (alice,) = [t for t in listed if t["subject"] == "alice"]
    assert alice["roles"] == {"fraud": "editor", "default": "reader"}
    assert alice["expires_time_since_epoch"] is not None
    assert secret not in json.dumps(listed)
    table = run_as(auth_server, admin, "tokens", "list")
    assert "fraud:editor, default:reader" in table.stdout and secret not in table.stdout

    # Alice's token works in her first project by default, and only where she has a role.
    mine = run_as(
        auth_server, secret, "register", "model", "HAL", "s3://b/h", "--version", "1", *MODEL
    )
    assert mine.exit_code == 0, mine.output
    assert "HAL" in run_as(auth_server, secret, "--project", "fraud", "models", "list").stdout
    refused = run_as(
        auth_server,
        secret,
        "--project",
        "default",
        "register",
        "model",
        "X",
        "s3://b/x",
        "--version",
        "1",
        *MODEL,
    )
    assert refused.exit_code == 6 and "editor" in refused.stderr

    revoked = run_as(auth_server, admin, "tokens", "revoke", alice["id"])
    assert revoked.exit_code == 0 and alice["id"] in revoked.stdout
    assert run_as(auth_server, secret, "models", "list").exit_code == 6
    assert run_as(auth_server, admin, "tokens", "revoke", "999999").exit_code == 3


def test_tokens_need_authentication_on_the_server(threaded_server: RunningServer) -> None:
    result = run(
        threaded_server, "tokens", "create", "--subject", "a", "--project", "default:reader"
    )
    assert result.exit_code == 2 and "authentication is off" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "fraud"],
        ["--project", "fraud:owner"],
        ["--project", ":editor"],
        ["--project", "fraud:editor", "--project", "fraud:reader"],
        ["--project", "fraud:editor", "--expires", "soon"],
        ["--project", "fraud:editor", "--expires", "2001-01-01"],
    ],
)
def test_tokens_create_refuses_bad_options_before_asking_the_server(args: list[str]) -> None:
    result = CliRunner().invoke(
        cli, ["--url", "http://127.0.0.1:9", "tokens", "create", "--subject", "a", *args]
    )
    assert result.exit_code == 2, result.output
    assert "--project" in result.stderr or "--expires" in result.stderr


def test_expiry_reads_durations_and_dates() -> None:
    now = datetime(2026, 12, 7, tzinfo=timezone.utc)
    start = int(now.timestamp() * 1000)
    assert _expiry("30d", now) == start + 30 * 86_400_000
    assert _expiry("12h", now) == start + 12 * 3_600_000
    assert _expiry("2w", now) == start + 14 * 86_400_000
    assert _expiry("2027-01-01", now) == int(
        datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp() * 1000
    )
    with pytest.raises(click.BadParameter):
        _expiry("0d", now)


def test_projects_delete_refuses_a_held_project_unless_cascade(
    threaded_server: RunningServer,
) -> None:
    assert run(threaded_server, "projects", "create", "fraud").exit_code == 0
    registered = run(
        threaded_server,
        "--project",
        "fraud",
        "register",
        "model",
        "HAL",
        "s3://b/h",
        "--version",
        "1",
        *MODEL,
    )
    assert registered.exit_code == 0, registered.output
    refused = run(threaded_server, "projects", "delete", "fraud")
    assert refused.exit_code == 4 and "1 registered model" in refused.stderr, refused.output
    deleted = run(threaded_server, "projects", "delete", "fraud", "--cascade")
    assert deleted.exit_code == 0 and deleted.stdout == "deleted project fraud\n", deleted.output
    assert run(threaded_server, "projects", "show", "fraud").exit_code == 3
    default = run(threaded_server, "projects", "delete", "default")
    assert default.exit_code != 0 and "cannot be deleted" in default.stderr
