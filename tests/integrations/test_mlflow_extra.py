"""Without the `mlflow` extra: a clear ImportError, and a command that says what to install."""

from __future__ import annotations

import subprocess
import sys

# Makes `import mlflow` fail in a child interpreter, as when the extra is not installed.
_HIDE_MLFLOW = "import sys; sys.modules['mlflow'] = None\n"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _HIDE_MLFLOW + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_the_integration_without_mlflow_says_how_to_install_it() -> None:
    done = _run(
        "try:\n"
        "    import model_registry.integrations.mlflow\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'aio-model-registry[mlflow]'" in done.stdout


def test_the_import_command_without_mlflow_exits_1_saying_how_to_install_it() -> None:
    done = _run(
        "from model_registry.integrations.cli import import_group\n"
        "import_group(['mlflow', '--tracking-uri', 'sqlite:///x.db'])\n"
    )
    assert done.returncode == 1
    assert "pip install 'aio-model-registry[mlflow]'" in done.stderr
