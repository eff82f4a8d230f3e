"""The reference Python client (``model-registry`` from PyPI) against our server.

Two releases that speak ``v1alpha3``, 0.3.9 (the one the project targeted first) and 0.3.14 (the
newest of them), and 0.3.18, which speaks only ``v1`` (what ``pip install model-registry`` gives
today), run the scenarios. Each client meets a server that serves ONLY the API version it speaks,
so a pass proves the version it really used. 0.3.14 and 0.3.18 (the releases issue 18 names) also
run every scenario against a server with authentication on, holding an issued token with a role
in one project only: the reference client cannot name a project, so it works in its token's
default project, and nothing may land anywhere else. Each lives in its own virtual environment under
``tests/.ref-venv/``, created on first use with one ``pip install``, so its pins never touch
ours; the scenarios in ``tests/server/refclient/`` run there as subprocesses and print JSON for
these tests to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from model_registry.server import RunningServer, run_server

ALPHA_CLIENTS = ["0.3.9", "0.3.14"]
"""Reference client releases that speak v1alpha3 (COMPAT.md "API v1")."""
V1_CLIENTS = ["0.3.18"]
"""Reference client releases that speak v1."""
REFERENCE_VERSIONS = ALPHA_CLIENTS + V1_CLIENTS
PROJECT_CLIENTS = ["0.3.14", "0.3.18"]
"""Releases that also run every scenario with an issued project token (issue 18)."""
OPEN = "open"
PROJECT_TOKEN = "project-token"
ADMIN = "admin-token"
VENV_ROOT = Path(__file__).resolve().parent.parent / ".ref-venv"
SCENARIO = Path(__file__).resolve().parent / "refclient" / "scenario.py"
SCENARIO_TIMEOUT = 300  # a hang detector: 0.3.9 pages 25 models in ~70 s on a loaded machine


def venv_python(venv: Path) -> Path:
    """Return the interpreter of a virtual environment."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def build_reference_venv(version: str) -> Path:
    """Create the environment of one reference release unless a complete one exists.

    Args:
        version: The ``model-registry`` release to install.

    Returns:
        The environment's interpreter.
    """
    venv = VENV_ROOT / version
    # Written last, so a half-built environment (an interrupted install) is never trusted.
    stamp = venv / ".installed"
    if stamp.exists():
        return venv_python(venv)
    if (VENV_ROOT / "pyvenv.cfg").exists():
        shutil.rmtree(VENV_ROOT)  # an earlier layout kept one environment right here
    VENV_ROOT.mkdir(parents=True, exist_ok=True)
    # Build aside and move into place, so a concurrent or interrupted run never sees half.
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=VENV_ROOT))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True)
        subprocess.run(
            [
                str(venv_python(staging)),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"model-registry=={version}",
            ],
            check=True,
        )
        if venv.exists():
            shutil.rmtree(venv)
        staging.rename(venv)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # The interpreter finds its environment through pyvenv.cfg beside it, so the move is safe.
    stamp.write_text(f"model-registry=={version}\n")
    return venv_python(venv)


@dataclass(frozen=True)
class ReferenceClient:
    """One reference client release, ready to run scenarios.

    Attributes:
        version: The ``model-registry`` release.
        python: The interpreter of its virtual environment.
        api_version: The REST API version it speaks (``"v1"`` or ``"v1alpha3"``).
    """

    version: str
    python: Path
    api_version: str
    access: str = OPEN


def _params(versions: list[str]) -> list[Any]:
    """Each release with no token, and the project clients with a project token too."""
    return [pytest.param((v, OPEN), id=v) for v in versions] + [
        pytest.param((v, PROJECT_TOKEN), id=f"{v}-{PROJECT_TOKEN}")
        for v in versions
        if v in PROJECT_CLIENTS
    ]


def _client(param: tuple[str, str]) -> ReferenceClient:
    version, access = param
    api_version = "v1" if version in V1_CLIENTS else "v1alpha3"
    return ReferenceClient(version, build_reference_venv(version), api_version, access)


@pytest.fixture(scope="session", params=_params(REFERENCE_VERSIONS))
def reference_client(request: pytest.FixtureRequest) -> ReferenceClient:
    """One reference client release of every API version."""
    return _client(request.param)


@pytest.fixture(scope="session", params=_params(ALPHA_CLIENTS))
def alpha_reference_client(request: pytest.FixtureRequest) -> ReferenceClient:
    """One reference client release that speaks v1alpha3 (the only one with experiments)."""
    return _client(request.param)


@pytest.fixture(scope="session", params=_params(V1_CLIENTS))
def v1_reference_client(request: pytest.FixtureRequest) -> ReferenceClient:
    """One reference client release that speaks v1."""
    return _client(request.param)


@contextlib.asynccontextmanager
async def serving_only(
    client: ReferenceClient, database_url: str, **options: Any
) -> AsyncIterator[tuple[RunningServer, str | None]]:
    """A server that serves only the API version ``client`` speaks, and the token the
    scenario sends (None: none).

    With :data:`PROJECT_TOKEN` access, authentication is on (``auth_tokens``, else
    :data:`ADMIN`) and the token is an ``editor`` token of the project ``team`` alone. On the
    way out this checks that what the scenario made is in ``team`` and nothing in ``default``.
    """
    if client.access == PROJECT_TOKEN:
        options.setdefault("auth_tokens", [ADMIN])
    async with run_server(database_url, api_versions=[client.api_version], **options) as srv:
        if client.access != PROJECT_TOKEN:
            yield srv, None
            return
        # Set up through the service (the server's admin): a v1alpha3-only server has no
        # /projects route, and the scenario needs a server that speaks only its version.
        await srv.service.create_project({"name": "team"})
        issued = await srv.service.create_token({"subject": "ref", "roles": {"team": "editor"}})
        yield srv, str(issued["token"])
        counts = {
            project: await _entities_in(srv, client, options["auth_tokens"][0], project)
            for project in ("team", "default")
        }
        assert counts["team"] > 0 and counts["default"] == 0, counts


async def _entities_in(
    server: RunningServer, client: ReferenceClient, admin: str, project: str
) -> int:
    """How many top-level entities ``project`` holds (the admin token reads every project)."""
    collections = ["registered_models", "serving_environments"]
    if client.api_version == "v1alpha3":
        collections.append("experiments")
    base = f"{server.url}/api/model_registry/{client.api_version}"
    headers = {"Authorization": f"Bearer {admin}", "X-Model-Registry-Project": project}
    total = 0
    async with aiohttp.ClientSession(headers=headers) as http:
        for collection in collections:
            async with http.get(f"{base}/{collection}?pageSize=1000") as response:
                assert response.status == 200, await response.text()
                total += len((await response.json())["items"])
    return total


async def run_scenario(
    python: Path, port: int, name: str, token: str | None = None
) -> dict[str, Any]:
    """Run one reference-client scenario against ``port`` and return its JSON report."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if token is not None:
        env["MR_TEST_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        str(python),
        str(SCENARIO),
        str(port),
        name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(SCENARIO.parent),
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), SCENARIO_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"reference scenario {name!r} hung") from None
    assert process.returncode == 0, f"scenario {name!r} failed:\n{err.decode()[-4000:]}"
    lines = out.decode().strip().splitlines()
    assert lines, f"scenario {name!r} printed nothing:\n{err.decode()[-4000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


async def test_reference_client_registers_reads_updates_and_pages_models(
    reference_client: ReferenceClient, database_url: str
) -> None:
    async with serving_only(reference_client, database_url) as (server, token):
        report = await run_scenario(reference_client.python, server.port, "models", token)

    assert report["registered"]["name"] == "mnist"
    assert report["registered"]["owner"] == "ref-author"
    assert report["model"] == report["registered"]
    version = report["version"]
    assert version["name"] == "v1"
    assert version["author"] == "ref-author"
    assert version["description"] == "first version"
    assert version["registered_model_id"] == report["model"]["id"]
    assert version["custom_properties"] == {
        "accuracy": 0.97,
        "epochs": 10,
        "framework": "pytorch",
        "tuned": True,
    }
    assert report["artifact"] == {
        "id": report["artifact"]["id"],
        "name": "mnist",
        "uri": "s3://bucket/mnist/model.onnx",
        "model_format_name": "onnx",
        "model_format_version": "1",
        "storage_key": "my-secret",
        "storage_path": "/mnist",
    }
    assert report["missing_is_none"] is True
    assert report["updated"] == {
        "model_description": "updated model",
        "version_description": "updated version",
        "artifact_format_version": "2",
    }
    assert report["reread"] == {
        "model_description": "updated model",
        "version_description": "updated version",
        "artifact_format_version": "2",
        "artifact_uri": "s3://bucket/mnist/model.onnx",
    }
    assert report["pager_stopped"] is True
    expected = ["mnist"] + [f"bulk-{index:02d}" for index in range(24)]
    assert sorted(report["paged_names"]) == sorted(expected)
    assert len(report["paged_names"]) == 25
    for size, outcome in report["by_page_size"].items():
        assert outcome["stopped"] is True, size
        assert sorted(outcome["names"]) == sorted(expected), size
    assert report["newest_first"] == [f"bulk-{index:02d}" for index in range(23, -1, -1)] + [
        "mnist"
    ]
    assert report["versions_pager_stopped"] is True
    assert report["version_names"] == ["v1", "v2"]


async def test_reference_client_archives_models_and_versions(
    reference_client: ReferenceClient, database_url: str
) -> None:
    async with serving_only(reference_client, database_url) as (server, token):
        report = await run_scenario(reference_client.python, server.port, "archive", token)

    assert report == {"model_state": "ARCHIVED", "version_state": "ARCHIVED"}


async def test_reference_v1_client_serves_models_and_records_metrics_with_string_steps(
    v1_reference_client: ReferenceClient, database_url: str
) -> None:
    async with serving_only(v1_reference_client, database_url) as (server, token):
        report = await run_scenario(v1_reference_client.python, server.port, "serving", token)

    env = report["environment"]
    assert env["name"] == "prod" and env["found"] == env["id"]
    isvc = report["inference_service"]
    assert isvc["name"] == "served-isvc"
    assert isvc["runtime"] == "kserve"
    assert isvc["desired_state"] == "DEPLOYED"
    assert isvc["undeployed"] == "UNDEPLOYED"
    assert len(isvc["listed"]) == 1
    assert report["serves"] == [report["serve"]["id"]]
    assert report["served_model"] == "1"
    assert report["served_version"] == report["serve"]["model_version_id"]
    assert report["metric"] == {
        "created_step": "3",
        "updated_step": "4",
        "fetched_step": "4",
        "fetched_value": 11.0,
        "listed_steps": ["4"],
    }
    # The reference client asserts that an artifact it gets back has a name.
    assert report["doc_name"]


async def test_reference_client_logs_params_and_metrics_of_an_experiment_run(
    alpha_reference_client: ReferenceClient, database_url: str
) -> None:
    async with serving_only(alpha_reference_client, database_url) as (server, token):
        report = await run_scenario(
            alpha_reference_client.python, server.port, "experiments", token
        )

    run = report["run"]
    assert report["fetched_run"] == run
    assert report["experiments"] == [
        {"id": run["experiment_id"], "name": "churn", "owner": "ref-owner"}
    ]
    assert report["second_run"]["experiment_id"] == run["experiment_id"]
    assert report["child_run"]["experiment_id"] == run["experiment_id"]
    runs = {entry["id"]: entry for entry in report["runs"]}
    assert sorted(runs, key=int) == sorted(
        [run["id"], report["child_run"]["id"], report["second_run"]["id"]], key=int
    )
    assert runs[run["id"]]["name"] == run["name"]
    assert runs[report["child_run"]["id"]]["props"] == {"kubeflow.parent_run_id": run["id"]}
    assert report["logs_stopped"] is True
    assert report["experiments_stopped"] is True
    assert report["runs_stopped"] is True
    logs = {entry["name"]: entry for entry in report["logs"]}
    assert sorted(logs) == ["accuracy", "learning_rate", "loss", "optimizer", "train"]
    assert logs["loss"]["kind"] == "Metric"
    assert logs["loss"]["value"] == 0.25
    assert logs["loss"]["step"] == 1
    assert logs["accuracy"]["kind"] == "Metric"
    assert logs["accuracy"]["value"] == 0.9
    assert logs["accuracy"]["step"] == 2
    assert logs["learning_rate"]["kind"] == "Parameter"
    assert str(logs["learning_rate"]["value"]) == "0.01"
    assert logs["learning_rate"]["parameter_type"] == "number"
    assert logs["optimizer"]["kind"] == "Parameter"
    assert logs["optimizer"]["value"] == "adam"
    assert logs["optimizer"]["parameter_type"] == "string"
    assert logs["train"]["kind"] == "DataSet"
    assert logs["train"]["uri"] == "s3://bucket/train.csv"
    assert logs["train"]["source_type"] == "s3"
    assert report["logs_by_names"] == sorted(logs)
    assert report["logs_by_names_stopped"] is True
    assert [(log["kind"], log["name"], float(log["value"])) for log in report["child_logs"]] == [
        ("Parameter", "fold", 1.0)
    ]


async def test_reference_client_sends_its_bearer_token(
    reference_client: ReferenceClient, database_url: str
) -> None:
    options = {"auth_tokens": ["ref-token"]}
    async with serving_only(reference_client, database_url, **options) as (guarded, token):
        report = await run_scenario(
            reference_client.python, guarded.port, "token", token=token or "ref-token"
        )

    assert report == {"model": "guarded", "artifact_uri": "s3://bucket/guarded"}
