"""Fixtures of the web UI tests: a real server on its own thread and a fresh browser.

The helpers live in ``ui_support`` (tests import them from there, never from a conftest).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_support import UI_TOKEN, Api, Browser, chromium, seed_registry

from model_registry.server import RunningServer, ServerThread


def _browser(server: RunningServer, tmp_path: Path) -> Iterator[Browser]:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with chromium(tmp_path / "chromium-profile") as context:
        page = context.pages[0] if context.pages else context.new_page()
        yield Browser(page, server.url, shots)


@pytest.fixture
def ui_server(database_url: str) -> Iterator[RunningServer]:
    """A server (auth off) on its own thread over a clean database."""
    with ServerThread(database_url) as srv:
        yield srv


@pytest.fixture
def ui_auth_server(database_url: str) -> Iterator[RunningServer]:
    """A server that requires the token :data:`UI_TOKEN`."""
    with ServerThread(database_url, auth_tokens=[UI_TOKEN]) as srv:
        yield srv


@pytest.fixture
def browser(ui_server: RunningServer, tmp_path: Path) -> Iterator[Browser]:
    """A fresh browser (new profile, no cookies) on the auth-off server."""
    yield from _browser(ui_server, tmp_path)


@pytest.fixture
def auth_browser(ui_auth_server: RunningServer, tmp_path: Path) -> Iterator[Browser]:
    """A fresh browser (new profile, no cookies) on the server with auth on."""
    yield from _browser(ui_auth_server, tmp_path)


@pytest.fixture
def api(ui_server: RunningServer) -> Api:
    """The REST API of ``ui_server``."""
    return Api(ui_server)


@pytest.fixture
def seeded(api: Api) -> dict[str, str]:
    """``ui_server`` with one of everything (see :func:`seed_registry`)."""
    return seed_registry(api)
