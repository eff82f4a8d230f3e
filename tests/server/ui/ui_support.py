"""Helpers of the web UI tests: Debian's Chromium, a page wrapper, and REST seeding.

The browser is Playwright for Python driving ``/usr/bin/chromium`` (``apt-get install
chromium``; ``.ci/run`` installs it when missing). Playwright's own browser download is never
used. Each test starts its own browser on a fresh profile directory. Screenshots go under
the test's own tmp directory.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright_sync

from model_registry.server import RunningServer
from model_registry.server.rest import BASE_PATH

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UI_TOKEN = "ui-s3cret"


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, with the fresh profile directory ``profile``.

    Started per test, after the server: Playwright's sync API marks the thread's event loop
    as running, which must not overlap the async setup and teardown of the database fixtures.
    """
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with playwright_sync.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield context
        finally:
            context.close()


class Browser:
    """A page of the session's browser, with the helpers the tests share."""

    def __init__(self, page: Any, base: str, shots: Path) -> None:
        self.page = page
        self.base = base
        self.shots = shots
        self.dialogs: list[str] = []
        page.on("dialog", self._on_dialog)
        self.console_errors: list[str] = []
        page.on(
            "console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None
        )

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str) -> Any:
        """Go to a path of the server; returns the navigation's response."""
        return self.page.goto(self.base + path)

    def submit(self, selector: str) -> None:
        """Click a form's button and wait for the page the server answers with."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot under the test's tmp directory."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class Api:
    """Seeds a server through its REST API (plain HTTP, as any client would)."""

    def __init__(
        self,
        server: RunningServer,
        token: str | None = None,
        *,
        project: str | None = None,
        base_path: str = BASE_PATH,
    ) -> None:
        self.base = server.url + base_path
        self.token = token
        self.project = project

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one request; return the decoded JSON answer, None for none (errors raise)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if self.project:
            request.add_header("X-Model-Registry-Project", self.project)
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if raw else None  # a 204 has no body

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body."""
        result: dict[str, Any] = self.call("POST", path, body)
        return result


def string_props(**values: str) -> dict[str, Any]:
    """``customProperties`` of string values."""
    return {
        k: {"metadataType": "MetadataStringValue", "string_value": v} for k, v in values.items()
    }


def seed_registry(api: Api) -> dict[str, str]:
    """Register one of everything the UI shows, as the workflows and clients store it.

    Returns:
        The ids by role (``model``, ``v1``, ``v2``, ``artifact``, ``dataset``, ``predictions``,
        ``experiment``, ``run``, ``environment``, ``service``).
    """
    model = api.post(
        "/registered_models",
        {
            "name": "fraud-detector",
            "owner": "alice",
            "description": "Flags card fraud",
            "customProperties": {
                **string_props(team="risk", production=""),  # "production" is a label
            },
        },
    )
    v1 = api.post(f"/registered_models/{model['id']}/versions", {"name": "v1", "author": "bob"})
    v2 = api.post(f"/registered_models/{model['id']}/versions", {"name": "v2", "author": "carol"})
    artifact = api.post(
        f"/model_versions/{v2['id']}/artifacts",
        {
            "artifactType": "model-artifact",
            "name": "fraud-onnx",
            "uri": "s3://models/fraud/v2/model.onnx",
            "modelFormatName": "onnx",
            "modelFormatVersion": "1",
        },
    )
    dataset = api.post(
        "/artifacts",
        {
            "artifactType": "dataset-artifact",
            "name": "transactions-2026",
            "externalId": "dataset:transactions-2026",
            "uri": "s3://data/transactions.csv",
            "customProperties": string_props(
                **{
                    "registry.kind": "dataset",
                    "params.label_col": "is_fraud",
                    "params.timestamp_col": "timestamp",
                    "params.class_names": '["fraud","ok"]',
                }
            ),
        },
    )
    predictions = api.post(
        f"/model_versions/{v2['id']}/artifacts",
        {
            "artifactType": "dataset-artifact",
            "name": f"predictions-{dataset['id']}",
            "externalId": f"predictions:{dataset['id']}:{v2['id']}",
            "uri": "s3://data/predictions-v2.csv",
            "customProperties": string_props(
                **{
                    "registry.kind": "predictions",
                    "dataset_id": dataset["id"],
                    "model_version_id": v2["id"],
                    "registered_model_id": model["id"],
                    "params.pred_col": "score",
                }
            ),
        },
    )
    experiment = api.post("/experiments", {"name": "fraud-tuning", "owner": "alice"})
    run = api.post(
        f"/experiments/{experiment['id']}/experiment_runs", {"name": "run-1", "owner": "alice"}
    )
    for step, value in enumerate([0.9, 0.5, 0.3, 0.25], start=1):
        api.post(
            f"/experiment_runs/{run['id']}/artifacts",
            {"artifactType": "metric", "name": "loss", "value": value, "step": step},
        )
    api.post(
        f"/experiment_runs/{run['id']}/artifacts",
        {"artifactType": "parameter", "name": "learning_rate", "value": "0.01"},
    )
    environment = api.post("/serving_environments", {"name": "staging"})
    service = api.post(
        "/inference_services",
        {
            "name": "fraud-staging",
            "servingEnvironmentId": environment["id"],
            "registeredModelId": model["id"],
            "modelVersionId": v1["id"],
            "runtime": "onnx-runtime",
        },
    )
    return {
        "model": model["id"],
        "v1": v1["id"],
        "v2": v2["id"],
        "artifact": artifact["id"],
        "dataset": dataset["id"],
        "predictions": predictions["id"],
        "experiment": experiment["id"],
        "run": run["id"],
        "environment": environment["id"],
        "service": service["id"],
    }
