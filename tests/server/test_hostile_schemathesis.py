"""Negative fuzzing: schemathesis sends only requests the spec forbids; none may be a 5xx.

tests/server/test_schemathesis.py checks conformance with mostly valid data; this module
switches generation to negative mode (wrong types, missing required fields, out-of-range and
malformed values in paths, queries and bodies) and checks one thing only: the server never
answers with a server error. Its coverage phase adds the systematic boundary values. Bounded
and seeded, so CI runs are repeatable. The server runs with a bearer token, as production
would, and every request carries it (so the fuzzed parts reach the handlers, not the 401).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error

from model_registry.server import RunningServer, run_server

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "model-registry.yaml"
SEED = 9_2026_11_25
MAX_EXAMPLES = 8  # per operation (56 operations), plus the coverage phase's own cases
TOKEN = "fuzz-token"
_START_TIMEOUT = 30.0


def negative_config() -> schemathesis.Config:
    """Negative data only, coverage + fuzzing phases, no stateful phase, one check."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {TOKEN}"},
            "generation": {
                "mode": "negative",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
        }
    )


class _BackgroundServer:
    """``run_server`` on its own event loop in a daemon thread (schemathesis calls are sync)."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="negative-fuzz", daemon=True)
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self.server: RunningServer | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._started.set()
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with run_server(self._database_url, auth_tokens=[TOKEN]) as srv:
            self.server = srv
            self._started.set()
            await self._stop.wait()

    def __enter__(self) -> RunningServer:
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT) or self.server is None:
            raise RuntimeError("server did not start")
        return self.server

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_START_TIMEOUT)


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One guarded server for the module (negative requests create nothing worth isolating)."""
    database = tmp_path_factory.mktemp("negative") / "registry.db"
    with _BackgroundServer(f"sqlite:///{database}") as srv:
        yield srv


schema = schemathesis.openapi.from_path(SPEC, config=negative_config())

# Statuses seen by the fuzzing test, checked by the last test of the module.
STATUSES: list[int] = []


@schema.parametrize()
@hypothesis.settings(
    suppress_health_check=list(hypothesis.HealthCheck), deadline=None, print_blob=True
)
@pytest.mark.slow
def test_no_forbidden_request_is_a_server_error(
    case: schemathesis.Case[Any], fuzzed_server: RunningServer
) -> None:
    response = case.call(base_url=fuzzed_server.url)
    STATUSES.append(response.status_code)
    case.validate_response(response, checks=[not_a_server_error])


@pytest.mark.slow
def test_the_fuzzed_server_is_still_ready_and_serving(fuzzed_server: RunningServer) -> None:
    # Runs after the fuzzing above (definition order): it really refused many requests.
    if STATUSES:
        assert not [s for s in STATUSES if s >= 500]
        assert sum(400 <= s < 500 for s in STATUSES) >= 500
    ready = requests.get(fuzzed_server.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    listed = requests.get(
        fuzzed_server.url + "/api/model_registry/v1alpha3/registered_models",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert listed.status_code == 200
    assert "items" in listed.json()
