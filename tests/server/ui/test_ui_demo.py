"""``make demo`` then the web UI: everything the demo registered is found by clicking."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ui_support import Browser, chromium

from model_registry.server import ServerThread


def test_every_registration_of_the_demo_is_found_by_clicking_from_the_model_list(
    tmp_path: Path,
) -> None:
    demo = subprocess.run(
        [sys.executable, "-m", "model_registry.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with (
        ServerThread(f"sqlite:///{tmp_path / 'demo-registry.db'}") as server,
        chromium(tmp_path / "profile") as context,
    ):
        browser = Browser(context.new_page(), server.url, shots)
        page = browser.page
        browser.open("/")
        page.click("#models >> text=HAL")
        assert page.locator("#versions > tbody > tr").count() == 1
        page.click("#versions >> text=9000")
        artifacts = page.locator("#artifacts").inner_text()
        assert "HAL-core" in artifacts
        assert "s3://cool-bucket/build/onnx/hal.onnx" in artifacts
        assert "onnx 1" in artifacts
        assert "predictions on hal-eval" in artifacts
        browser.shot("demo-version")
        page.click("#artifacts >> text=hal-eval")
        params = page.locator("#dataset-params").inner_text()
        assert "label_col\tlabel" in params
        assert "timestamp_col\ttimestamp" in params
        browser.shot("demo-dataset")
        page.click("nav >> text=Predictions")
        row = page.locator("#predictions tbody tr").first.inner_text()
        assert "hal-eval" in row and "HAL 9000" in row and "prediction" in row
        assert browser.dialogs == [] and browser.console_errors == []
