"""The global ``--project`` option: sent with every call, named under every listing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from model_registry.cli import _Settings, cli
from model_registry.server import RunningServer


def test_listings_name_the_chosen_project_under_their_table(
    threaded_server: RunningServer,
) -> None:
    chosen = CliRunner().invoke(cli, ["--url", threaded_server.url, "models", "list"])
    by_server = "project: chosen by the server (the token's first, else default)"
    assert chosen.exit_code == 0, chosen.output
    assert "models (0)" in chosen.stdout and by_server in " ".join(chosen.stdout.split())


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--project", "fraud"], {}, "fraud"),
        ([], {"MODEL_REGISTRY_PROJECT": "churn"}, "churn"),
        (["--project", "fraud"], {"MODEL_REGISTRY_PROJECT": "churn"}, "fraud"),
        ([], {"MODEL_REGISTRY_PROJECT": ""}, None),
    ],
)
def test_the_project_comes_from_the_option_else_the_environment(
    args: list[str], env: dict[str, str], expected: str | None
) -> None:
    seen: list[str | None] = []

    def capture(self: _Settings) -> None:
        seen.append(self.project)
        raise SystemExit(0)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Settings, "registry", capture)
        CliRunner().invoke(cli, [*args, "models", "list"], env=env)
    assert seen == [expected]


def test_a_project_that_cannot_travel_in_a_header_is_bad_input() -> None:
    result = CliRunner().invoke(
        cli, ["--url", "http://127.0.0.1:9", "--project", "détection", "models", "list"]
    )
    assert result.exit_code == 2 and "printable ASCII" in result.stderr
