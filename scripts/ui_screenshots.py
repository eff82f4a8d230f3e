"""Regenerate the web UI screenshots of docs/ui.md (``python scripts/ui_screenshots.py``).

Runs the demo into a scratch database, adds an experiment run with logged metrics and a serving
environment, serves it, and photographs the main pages with Debian's Chromium through
Playwright (as the browser tests do) into ``docs/images/ui-*.png``.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from model_registry.demo import run_demo
from model_registry.server import ServerThread
from model_registry.server.rest import BASE_PATH

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _post(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        base + BASE_PATH + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def main() -> None:
    """Build the scratch registry and write the screenshots."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the demo writes its data files in the working directory
        database = f"sqlite:///{Path(tmp) / 'shots.db'}"
        asyncio.run(run_demo(lambda _line: None, database_url=database))
        with ServerThread(database) as server:
            url = server.url
            experiment = _post(url, "/experiments", {"name": "hal-tuning", "owner": "me"})
            run = _post(
                url,
                f"/experiments/{experiment['id']}/experiment_runs",
                {"name": "run-1", "owner": "me"},
            )
            for step in range(1, 21):
                for name, value in (("loss", 1.2 / step + 0.05), ("accuracy", 1 - 0.5 / step)):
                    _post(
                        url,
                        f"/experiment_runs/{run['id']}/artifacts",
                        {"artifactType": "metric", "name": name, "value": value, "step": step},
                    )
            _post(
                url,
                f"/experiment_runs/{run['id']}/artifacts",
                {"artifactType": "parameter", "name": "learning_rate", "value": "0.01"},
            )
            OUT.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
                context = p.chromium.launch_persistent_context(
                    profile,
                    executable_path="/usr/bin/chromium",
                    args=ARGS,
                    headless=True,
                    viewport={"width": 1100, "height": 560},
                )
                page = context.new_page()
                shots = {
                    "ui-models": "/ui/models",
                    "ui-model": "/ui/models/1",
                    "ui-datasets": "/ui/datasets?dataset=2",
                    "ui-run": f"/ui/runs/{run['id']}",
                }
                for name, path in shots.items():
                    page.goto(url + path)
                    page.screenshot(path=str(OUT / f"{name}.png"))
                context.close()


if __name__ == "__main__":
    main()
