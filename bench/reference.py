"""The reference client (``model-registry==0.3.9``): its virtual environment and its runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.timing import Result, result_from_stdout

REF_VERSION = "0.3.9"
"""The reference client release the bench compares against."""

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
REF_VENV = BENCH_DIR / ".ref-venv"
_MARKER = REF_VENV / f".installed-model-registry=={REF_VERSION}"


class ReferenceUnavailable(RuntimeError):
    """The reference client's virtual environment could not be created."""


def ensure_ref_venv(*, log: bool = True) -> Path:
    """Return the reference venv's python, creating the venv (once) when it is missing.

    Raises:
        ReferenceUnavailable: ``venv`` or ``pip install`` failed (e.g. no network).
    """
    python = REF_VENV / "bin" / "python"
    if _MARKER.exists() and python.exists():
        return python
    base = shutil.which("python3") or sys.executable
    if log:
        print(f"bench: creating {REF_VENV} with model-registry=={REF_VERSION} ...", flush=True)
    try:
        subprocess.run([base, "-m", "venv", str(REF_VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"model-registry=={REF_VERSION}"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise ReferenceUnavailable(
            f"cannot install model-registry=={REF_VERSION} into {REF_VENV}: {exc}: "
            f"{detail.decode(errors='replace')[-500:]}"
        ) from None
    _MARKER.write_text(f"model-registry=={REF_VERSION}\n")
    return python


def run_reference(mode: str, *args: str, timeout: float = 600.0) -> Result:
    """Run ``bench.ref_client MODE ARGS...`` under the reference venv and return its result.

    Raises:
        ReferenceUnavailable: The venv could not be created.
        RuntimeError: The script failed.
    """
    python = ensure_ref_venv()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(
        [str(python), "-m", "bench.ref_client", mode, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"reference client {mode} failed: {proc.stderr[-2000:]}")
    return result_from_stdout(proc.stdout)
