"""MLflow as a peer: an ``mlflow server`` (one worker, SQLite) and its ``MlflowClient`` scenarios.

The server runs from this interpreter's ``mlflow`` script (the ``mlflow`` extra) in a temporary
folder of its own, on a free port, with its SQLite backend store and artifact root there. The
client runs in the bench process, synchronously, as MLflow users call it. Each scenario matches
one of ours where MLflow has the operation:

- ``m_get``: ``get_registered_model(name)``, one at a time (ours: ``a_get_rest``);
- ``m_create``: ``create_registered_model`` then ``create_model_version`` (ours: ``b_create_rest``);
- ``m_concurrent``: ``create_registered_model`` from 8 threads (ours: ``c_concurrent_rest``);
- ``m_page``: ``search_model_versions("name='...'", max_results=1000, page_token=...)`` over
  the versions of one model, created beforehand from 8 threads (ours: ``d_page_rest``).

MLflow imports in about a second and is only imported here, when the scenarios run.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.timing import Recorder, Result

THREADS = 8
"""Client threads of the concurrent scenario (and of the paging seed)."""

SOURCE = "s3://bench-artifacts/model"
"""The ``source`` of every created version (MLflow stores it; nothing is uploaded)."""


def mlflow_version() -> str:
    """The installed MLflow's version ("not installed" when absent)."""
    try:
        return importlib.metadata.version("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mlflow_command() -> list[str]:
    script = Path(sys.executable).parent / "mlflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlflow"]


@dataclass
class MlflowServer:
    """``mlflow server`` with one worker on SQLite, in a temporary folder, on a free port.

    Use as a context manager: started on entry (once ``/health`` answers), stopped on exit and
    its folder removed.

    Attributes:
        start_timeout: Seconds to wait for ``/health``.
        url: ``http://127.0.0.1:PORT`` once started.
    """

    start_timeout: float = 180.0
    url: str = ""
    _proc: subprocess.Popen[bytes] | None = None
    _proc_rc: int | None = None
    _dir: Path | None = None

    def start(self) -> MlflowServer:
        """Start the server and wait until it answers.

        Raises:
            RuntimeError: MLflow is not installed, or the server exited or did not answer.
        """
        if mlflow_version() == "not installed":
            raise RuntimeError("mlflow is not installed (make installs the 'mlflow' extra)")
        self._dir = Path(tempfile.mkdtemp(prefix="mr-bench-mlflow-"))
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [
            *_mlflow_command(),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{self._dir / 'mlflow.db'}",
            "--default-artifact-root",
            str(self._dir / "artifacts"),
        ]
        log_path = self._dir / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        with log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self._dir,
                env=env,
                start_new_session=True,  # its workers are stopped with it
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"mlflow server exited with {self._proc_rc}: {tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as resp:
                    if int(resp.status) == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        tail = log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"mlflow server did not answer in {self.start_timeout:.0f}s: {tail}")

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL) and remove its folder."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._proc_rc = proc.poll()
            if self._proc_rc is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class MlflowCounts:
    """How much each MLflow scenario does."""

    gets: int
    creates: int
    concurrent_creates: int
    page_versions: int
    page_size: int
    page_walks: int


def _client(url: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def _timed_loop(ops: list[Callable[[], object]]) -> Recorder:
    rec = Recorder()
    with rec:
        for op in ops:
            rec.call(op)
    return rec


def _threaded(fns: list[Callable[[], object]], threads: int) -> Recorder:
    """Run ``fns`` on ``threads`` threads; one recorder for all (appends under a lock)."""
    rec = Recorder()
    lock = threading.Lock()

    def one(fn: Callable[[], object]) -> None:
        part = Recorder()
        part.call(fn)
        with lock:
            rec.latencies.extend(part.latencies)
            rec.errors += part.errors
            if rec.first_error is None:
                rec.first_error = part.first_error

    with rec, ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, fns))
    return rec


def run_scenarios(
    counts: MlflowCounts, record: Callable[[str, Callable[[], Result]], None]
) -> None:
    """Start an MLflow server and run every scenario against it, through ``record``.

    ``record(key, fn)`` runs one scenario and keeps its result or failure (``Run.attempt``).

    Raises:
        RuntimeError: The server could not start (the caller reports it as a failure).
    """
    with MlflowServer() as server:
        client = _client(server.url)
        record("m_get", lambda: _gets(client, counts))
        record("m_create", lambda: _creates(client, counts))
        record("m_concurrent", lambda: _concurrent(client, counts))
        record("m_page", lambda: _paging(client, counts))


def _gets(client: Any, counts: MlflowCounts) -> Result:
    names = [f"get-model-{i}" for i in range(10)]
    for name in names:
        client.create_registered_model(name, description="read by the get scenario")
    for name in names:
        client.get_registered_model(name)  # warm-up
    order = [names[i % len(names)] for i in range(counts.gets)]
    rec = _timed_loop([lambda n=n: client.get_registered_model(n) for n in order])
    return rec.result("m_get", "sequential get_registered_model", "mlflow", "get")


def _creates(client: Any, counts: MlflowCounts) -> Result:
    def pair(i: int) -> None:
        name = f"seq-model-{i}"
        client.create_registered_model(name)
        client.create_model_version(name, SOURCE)

    pair(-1)  # warm-up
    rec = _timed_loop([lambda i=i: pair(i) for i in range(counts.creates)])
    return rec.result("m_create", "sequential create model + version", "mlflow", "model+version")


def _concurrent(client: Any, counts: MlflowCounts) -> Result:
    rec = _threaded(
        [
            lambda i=i: client.create_registered_model(f"conc-model-{i}")
            for i in range(counts.concurrent_creates)
        ],
        THREADS,
    )
    stored, token = 0, None
    while True:  # MLflow answers at most 1,000 models a page
        page = client.search_registered_models(
            "name LIKE 'conc-model-%'", max_results=1000, page_token=token
        )
        stored += len(page)
        token = page.token
        if not token:
            break
    return rec.result(
        "m_concurrent",
        f"create registered model, {THREADS} threads",
        "mlflow",
        "create",
        in_flight=THREADS,
        stored=stored,
    )


def _paging(client: Any, counts: MlflowCounts) -> Result:
    name = "paged-model"
    client.create_registered_model(name)
    seed = _threaded(
        [lambda: client.create_model_version(name, SOURCE)] * counts.page_versions, THREADS
    )
    if seed.errors:
        raise RuntimeError(f"seeding MLflow versions: {seed.first_error}")
    pages = Recorder()
    items = 0

    def walk() -> int:
        seen, token = 0, None
        while True:
            t0 = time.perf_counter()
            page = client.search_model_versions(
                f"name='{name}'", max_results=counts.page_size, page_token=token
            )
            pages.latencies.append(time.perf_counter() - t0)
            seen += len(page)
            token = page.token
            if not token:
                return seen

    walk()  # warm-up
    pages.latencies.clear()
    with pages:
        for _ in range(counts.page_walks):
            got = walk()
            if got != counts.page_versions:
                raise RuntimeError(f"an MLflow walk saw {got} of {counts.page_versions} versions")
            items += got
    stats = pages.result("pages", "", "", "page")
    return Result(
        key="m_page",
        title=f"search_model_versions of one model, pages of {counts.page_size}",
        client="mlflow",
        ops=items,
        seconds=pages.elapsed,
        unit="item",
        p50_ms=stats.p50_ms,
        p99_ms=stats.p99_ms,
        extra={
            "pages": len(pages.latencies),
            "latency_is_per": "page",
            "walks": counts.page_walks,
            "versions": counts.page_versions,
            "seeded_per_s": counts.page_versions / seed.elapsed if seed.elapsed else None,
        },
    )
