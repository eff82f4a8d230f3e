"""The installed ``model-registry`` command as a newcomer runs it: name, version, missing extras.

The "missing extra" cases run the real console script in a child process whose
``sitecustomize`` makes the extra's modules unimportable (``sys.modules[name] = None``, which
Python's import system answers with ``ModuleNotFoundError``), as in an environment where the
extra was never installed.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import model_registry
from model_registry._entry import DISTRIBUTION, EXTRA_OF_MODULE
from model_registry._version import __version__

ROOT = Path(__file__).resolve().parents[2]
COMMAND = Path(sys.executable).with_name("model-registry")


def run_command(
    *args: str, hide: tuple[str, ...] = (), tmp_path: Path | None = None, module: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the console script (or ``python -m model_registry``) with ``hide`` unimportable."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if hide:
        assert tmp_path is not None
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(
            "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in hide)
        )
        env["PYTHONPATH"] = str(site)
    argv = [sys.executable, "-m", "model_registry"] if module else [str(COMMAND)]
    return subprocess.run(
        [*argv, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_distribution_has_its_own_name_and_the_version_is_written_once() -> None:
    metadata = importlib.metadata.metadata(DISTRIBUTION)
    project = (ROOT / "pyproject.toml").read_text().split("[project]", 1)[1].split("\n[", 1)[0]

    assert metadata["Name"] == DISTRIBUTION == "aio-model-registry"
    assert 'dynamic = ["version"]' in project and not re.search(r"^version\s*=", project, re.M)
    assert metadata["Version"] == __version__ == model_registry.__version__
    urls = {url.split(",")[0] for url in metadata.get_all("Project-URL") or []}
    assert urls >= {"Homepage", "Documentation", "Source", "Changelog"}
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert f"## [{__version__}]" in (ROOT / "CHANGELOG.md").read_text()


@pytest.mark.parametrize("module", [False, True], ids=["console-script", "python-m"])
def test_version_prints_the_distribution_and_its_version(module: bool) -> None:
    done = run_command("--version", module=module)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"model-registry {__version__} ({DISTRIBUTION})\n"


def test_python_m_model_registry_runs_the_command_line() -> None:
    done = run_command("--help", module=True)

    assert done.returncode == 0, done.stderr
    assert "register" in done.stdout and "serve" in done.stdout


def test_every_extra_module_belongs_to_that_extra_in_the_metadata() -> None:
    requirements = importlib.metadata.requires(DISTRIBUTION) or []
    # import name -> distribution name, where the two differ
    distribution_of = {
        "grpc_health": "grpcio-health-checking",
        "grpc_reflection": "grpcio-reflection",
    }

    for module, extra in EXTRA_OF_MODULE.items():
        wanted = distribution_of.get(module, module).lower()
        in_extra = [
            re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].lower()
            for req in requirements
            if re.search(rf"""extra == ["']{extra}["']""", req)
        ]
        assert wanted in in_extra, (module, extra, in_extra)


def test_without_the_cli_extra_a_command_names_it_in_one_line(tmp_path: Path) -> None:
    listing = run_command("models", "list", hide=("click", "rich"), tmp_path=tmp_path)
    version = run_command("--version", hide=("click", "rich"), tmp_path=tmp_path)

    assert listing.returncode == 1
    assert listing.stdout == ""
    assert listing.stderr == (
        "error: this command needs the 'cli' extra (click is not installed): "
        "pip install 'aio-model-registry[cli]'\n"
    )
    assert version.returncode == 0 and __version__ in version.stdout


def test_without_the_server_extra_serve_names_it_in_one_line(tmp_path: Path) -> None:
    serve = run_command("serve", "--port", "0", hide=("sqlalchemy",), tmp_path=tmp_path)
    serve_help = run_command("serve", "--help", hide=("sqlalchemy",), tmp_path=tmp_path)
    listing = run_command("--help", hide=("sqlalchemy",), tmp_path=tmp_path)

    line = (
        "error: this command needs the 'server' extra (sqlalchemy is not installed): "
        "pip install 'aio-model-registry[server]'\n"
    )
    assert (serve.returncode, serve.stdout, serve.stderr) == (1, "", line)
    assert (serve_help.returncode, serve_help.stderr) == (1, line)
    assert listing.returncode == 0, listing.stderr
    assert "needs the 'server' extra" in listing.stdout and "register" in listing.stdout


def test_without_the_server_extra_client_commands_still_work(tmp_path: Path) -> None:
    # No server is listening on port 9: the client side ran, and failed as a client does.
    done = run_command(
        "--url", "http://127.0.0.1:9", "--timeout", "5", "models", "list",
        hide=("sqlalchemy", "aiosqlite", "asyncpg", "alembic"), tmp_path=tmp_path,
    )  # fmt: skip

    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("error: server unreachable:") and done.stderr.count("\n") == 1


def test_usage_errors_are_one_line_naming_the_help(tmp_path: Path) -> None:
    unknown_option = run_command("models", "list", "--bogus")
    unknown_command = run_command("nonsense")
    bad_choice = run_command("models", "list", "--order-by", "size")

    for done in (unknown_option, unknown_command, bad_choice):
        assert done.returncode == 2
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "--bogus" in unknown_option.stderr
    assert "'model-registry models list --help'" in unknown_option.stderr
    assert "nonsense" in unknown_command.stderr
