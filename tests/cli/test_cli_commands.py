"""The ``model-registry`` command through click's runner and as a real subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from model_registry.cli import cli
from model_registry.server import RunningServer


def run(server: RunningServer | None, *args: str, env: dict[str, str] | None = None) -> Result:
    url = ["--url", server.url] if server is not None else []
    return CliRunner().invoke(cli, [*url, *args], env=env)


def register_hal(server: RunningServer, version: str = "9000") -> Result:
    return run(
        server,
        "register",
        "model",
        "HAL",
        "s3://cool-bucket/build/onnx/hal.onnx",
        "--version",
        version,
        "--format-name",
        "onnx",
        "--format-version",
        "1",
        "--metadata",
        "framework=onnx",
    )


def write_csv(path: Path, columns: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([columns, [f"{c}-1" for c in columns]])
    return path


def test_register_model_prints_the_version_id_and_lists_show_it(
    threaded_server: RunningServer,
) -> None:
    registered = register_hal(threaded_server)
    models = run(threaded_server, "models", "list", "--json")
    versions = run(threaded_server, "versions", "list", "HAL", "--json")
    artifacts = run(threaded_server, "artifacts", "list", "HAL", "--version", "9000", "--json")
    table = run(threaded_server, "models", "list")

    assert registered.exit_code == 0, registered.output
    version_id = registered.stdout.strip()
    assert [m["name"] for m in json.loads(models.stdout)] == ["HAL"]
    assert [(v["id"], v["name"], v["custom_properties"]) for v in json.loads(versions.stdout)] == [
        (version_id, "9000", {"framework": "onnx"})
    ]
    (artifact,) = json.loads(artifacts.stdout)
    assert artifact["uri"] == "s3://cool-bucket/build/onnx/hal.onnx"
    assert artifact["artifact_type"] == "model-artifact"
    assert "models (1)" in table.stdout and "HAL" in table.stdout


def test_register_model_json_gives_the_model_version_and_artifact_ids(
    threaded_server: RunningServer,
) -> None:
    registered = run(
        threaded_server, "register", "model", "HAL", "s3://b/hal.onnx", "--version", "1",
        "--format-name", "onnx", "--format-version", "1", "--json",
    )  # fmt: skip
    from_config = run(
        threaded_server, "register", "model", "hf", "--version", "1", "--json",
        "--config", '{"hugging_face": {"model_uri": "org/model"}}',
    )  # fmt: skip
    models = json.loads(run(threaded_server, "models", "list", "--json").stdout)
    (model,) = (m for m in models if m["name"] == "HAL")
    (version,) = json.loads(run(threaded_server, "versions", "list", "HAL", "--json").stdout)
    (artifact,) = json.loads(run(threaded_server, "artifacts", "list", "HAL", "--json").stdout)

    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout) == {
        "kind": "model_version",
        "id": version["id"],
        "name": "HAL",
        "version": "1",
        "registered_model_id": model["id"],
        "model_version_id": version["id"],
        "model_artifact_id": artifact["id"],
    }
    ids = json.loads(from_config.stdout)
    assert from_config.exit_code == 0, from_config.output
    assert ids["kind"] == "model_version" and ids["id"] == ids["model_version_id"]
    assert None not in ids.values() and ids["registered_model_id"] != model["id"]


def test_listing_options_filter_order_and_limit(threaded_server: RunningServer) -> None:
    for name in ("alpha", "beta", "gamma"):
        assert run(
            threaded_server, "register", "model", name, "s3://b/m", "--version", "1",
            "--format-name", "onnx", "--format-version", "1",
        ).exit_code == 0  # fmt: skip

    def names(*args: str) -> list[str]:
        result = run(threaded_server, "models", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        return [m["name"] for m in json.loads(result.stdout)]

    assert names("--page-size", "1") == ["alpha", "beta", "gamma"]
    assert names("--order-by", "create_time", "--desc") == ["gamma", "beta", "alpha"]
    assert names("--limit", "2", "--page-size", "1") == ["alpha", "beta"]
    assert names("--filter", "name = 'beta' OR name = 'gamma'") == ["beta", "gamma"]


def test_dataset_and_predictions_registration(
    threaded_server: RunningServer, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "eval.csv", ["ts", "text", "label"])
    preds = write_csv(tmp_path / "preds.csv", ["ts", "pred"])
    assert register_hal(threaded_server).exit_code == 0

    dataset = run(
        threaded_server, "register", "dataset", "eval", str(data), "--label-col", "label",
        "--timestamp-col", "ts", "--text-feature", "text", "--class-name", "a",
        "--class-name", "b", "--json",
    )  # fmt: skip
    predictions = run(
        threaded_server, "register", "predictions", "eval", "HAL", str(preds),
        "--pred-col", "pred", "--json",
    )  # fmt: skip
    listed = run(threaded_server, "datasets", "list", "--json")
    table = run(threaded_server, "datasets", "list")

    assert dataset.exit_code == 0, dataset.output
    assert predictions.exit_code == 0, predictions.output
    dataset_id = json.loads(dataset.stdout)["id"]
    assert json.loads(predictions.stdout)["dataset_id"] == dataset_id
    (stored,) = json.loads(listed.stdout)
    assert stored["id"] == dataset_id
    assert stored["custom_properties"]["params.class_names"] == '["a","b"]'
    assert 'label_col="label"' in table.stdout


def test_register_model_from_config_file(threaded_server: RunningServer, tmp_path: Path) -> None:
    config = tmp_path / "model.json"
    config.write_text(
        json.dumps({"hugging_face": {"model_uri": "org/model", "tokenizer_uri": "t"}})
    )

    result = run(
        threaded_server, "register", "model", "hf", "--version", "1", "--config", f"@{config}"
    )
    artifacts = run(threaded_server, "artifacts", "list", "hf", "--json")

    assert result.exit_code == 0, result.output
    (artifact,) = json.loads(artifacts.stdout)
    assert (artifact["uri"], artifact["model_format_name"]) == ("org/model", "hugging_face")


def test_conflict_exits_4_with_one_line(threaded_server: RunningServer) -> None:
    register_hal(threaded_server)

    again = register_hal(threaded_server)

    assert again.exit_code == 4
    assert again.stderr.startswith("error: conflict:") and "9000" in again.stderr
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.output


def test_not_found_exits_3(threaded_server: RunningServer) -> None:
    result = run(threaded_server, "versions", "list", "nobody")

    assert result.exit_code == 3
    assert result.stderr == "error: not found: model 'nobody' does not exist\n"


def test_unreachable_server_exits_5() -> None:
    result = CliRunner().invoke(
        cli, ["--url", "http://127.0.0.1:9", "--timeout", "5", "models", "list"]
    )

    assert result.exit_code == 5
    assert result.stderr.startswith("error: server unreachable:")
    assert result.stderr.count("\n") == 1


def test_bad_input_exits_2_naming_the_problem(
    threaded_server: RunningServer, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "d.csv", ["ts", "text"])

    missing_column = run(
        threaded_server, "register", "dataset", "d", str(data), "--label-col", "label"
    )
    bad_filter = run(threaded_server, "models", "list", "--filter", "name = = 'x'")
    bad_metadata = run(
        threaded_server, "register", "model", "m", "s3://b", "--version", "1",
        "--format-name", "onnx", "--format-version", "1", "--metadata", "novalue",
    )  # fmt: skip

    assert missing_column.exit_code == 2
    assert "'label' (label_col) not found" in missing_column.stderr
    assert bad_filter.exit_code == 2 and bad_filter.stderr.startswith("error: bad request:")
    assert bad_metadata.exit_code == 2 and "KEY=VALUE" in bad_metadata.stderr


def test_token_comes_from_environment_or_file(auth_server: RunningServer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")

    refused = run(auth_server, "models", "list")
    from_env = run(auth_server, "models", "list", env={"MODEL_REGISTRY_TOKEN": "s3cret"})
    from_file = run(auth_server, "--token-file", str(token_file), "models", "list", "--json")

    assert refused.exit_code == 6 and refused.stderr.startswith("error: unauthorized:")
    assert from_env.exit_code == 0, from_env.output
    assert from_file.exit_code == 0 and json.loads(from_file.stdout) == []


def test_entry_point_runs_as_a_subprocess_with_url_from_environment(
    threaded_server: RunningServer,
) -> None:
    assert register_hal(threaded_server).exit_code == 0
    command = Path(sys.executable).with_name("model-registry")

    listed = subprocess.run(
        [str(command), "models", "list", "--json"],
        env={"MODEL_REGISTRY_URL": threaded_server.url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    missing = subprocess.run(
        [str(command), "--url", threaded_server.url, "versions", "list", "nobody"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert listed.returncode == 0, listed.stderr
    assert [m["name"] for m in json.loads(listed.stdout)] == ["HAL"]
    assert missing.returncode == 3
    assert missing.stderr == "error: not found: model 'nobody' does not exist\n"


@pytest.mark.parametrize("argv", [["serve", "--help"]])
def test_serve_is_delegated_to_the_server_command(argv: list[str]) -> None:
    command = Path(sys.executable).with_name("model-registry")

    result = subprocess.run(
        [str(command), *argv], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0
    assert "--database-url" in result.stdout


def test_grpc_flag_talks_to_the_grpc_port(grpc_threaded_server: RunningServer) -> None:
    grpc_url = f"http://{grpc_threaded_server.host}:{grpc_threaded_server.grpc_port}"
    assert register_hal(grpc_threaded_server).exit_code == 0

    over_grpc = CliRunner().invoke(cli, ["--url", grpc_url, "--grpc", "versions", "list", "HAL"])
    missing = CliRunner().invoke(cli, ["--url", grpc_url, "--grpc", "versions", "list", "nobody"])

    assert over_grpc.exit_code == 0, over_grpc.output
    assert "versions of HAL (1)" in over_grpc.stdout and "9000" in over_grpc.stdout
    assert missing.exit_code == 3


def test_url_that_is_not_http_is_bad_input() -> None:
    result = CliRunner().invoke(cli, ["--url", "ftp://example.org", "models", "list"])

    assert result.exit_code == 2
    assert "not an http(s) URL" in result.output
