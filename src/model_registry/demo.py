"""``make demo``: the registry end to end on one machine, in a few seconds.

It starts the embedded server on a SQLite file in the working directory,
``demo-registry.db`` (replaced when it exists; the data files it registers go to
``demo-registry-files/`` beside it), with its gRPC port when the gRPC front door is available,
then, through the async client:

1. registers the HAL model, its 9000 version and the ONNX model artifact of the API guide;
2. registers an evaluation dataset (a small CSV, validated for its label, timestamp and text
   columns) and the predictions of HAL 9000 on it;
3. lists everything back through the ``Pager`` over REST, and again over gRPC;
4. stops the server, keeps the database, and prints the command that serves it again and the
   web UI's address, where everything registered can be found by clicking.

Run it with ``python -m model_registry.demo``; it exits non-zero if any step fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_registry.core import ModelRegistryAPIClient

__all__ = ["DEMO_DATABASE", "main", "run_demo"]

DEMO_DATABASE = "demo-registry.db"
"""The demo's SQLite file, in the working directory (kept for ``model-registry serve``)."""
SERVE_PORT = 8080
"""The REST port ``model-registry serve`` listens on by default (the printed UI address's)."""

Say = Callable[[str], None]

EVAL_ROWS = [
    {"timestamp": "2001-01-12T09:00:00", "prompt": "Open the pod bay doors", "label": "refuse"},
    {"timestamp": "2001-01-12T09:01:00", "prompt": "What is the problem?", "label": "explain"},
    {"timestamp": "2001-01-12T09:02:00", "prompt": "Sing me a song", "label": "comply"},
]


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def grpc_available() -> bool:
    """Whether both the gRPC front door and the gRPC client transport are installed."""
    try:
        return all(
            importlib.util.find_spec(name) is not None
            for name in ("model_registry.server.grpc", "model_registry.transport.grpc")
        )
    except ImportError:
        return False


def _stored_id(entity: Any, what: str) -> str:
    """The id the server gave ``entity``; a missing one means the demo failed."""
    if not getattr(entity, "id", None):
        raise RuntimeError(f"the server returned the {what} without an id")
    return str(entity.id)


def _line(label: str, text: str) -> str:
    return f"{label:<24}{text}"


async def _register(api: ModelRegistryAPIClient, workdir: Path, say: Say) -> dict[str, str]:
    """Register the guide's model, version and artifact, a dataset and predictions."""
    from model_registry.types import ModelArtifact, ModelVersion, RegisteredModel
    from model_registry.utils import s3_uri_from
    from model_registry.workflows import registration as wf

    model = await api.upsert_registered_model(RegisteredModel(name="HAL", owner="me"))
    model_id = _stored_id(model, "model")
    say(_line("registered model", f"{model.name} id={model_id} owner={model.owner}"))
    version = await api.upsert_model_version(
        ModelVersion(name="9000", author="Mr. Tom A.I.", external_id="HAL-9000"), model_id
    )
    version_id = _stored_id(version, "version")
    say(_line("registered version", f"{version.name} id={version_id} author={version.author}"))
    trained_model = await api.upsert_model_artifact(
        ModelArtifact(
            name="HAL-core",
            uri=s3_uri_from("build/onnx/hal.onnx", "cool-bucket"),
            model_format_name="onnx",
            model_format_version="1",
            storage_key="secret_secret",
        ),
        version_id,
    )
    artifact_id = _stored_id(trained_model, "model artifact")
    say(_line("registered artifact", f"{trained_model.name} id={artifact_id}"))
    say(_line("", f"uri={trained_model.uri} format=onnx 1"))

    data_file = _write_csv(workdir / "hal-eval.csv", EVAL_ROWS)
    dataset = await wf.register_dataset(
        api,
        "hal-eval",
        str(data_file),
        data_params={
            "label_col": "label",
            "timestamp_col": "timestamp",
            "text_features": ["prompt"],
            "class_names": ["comply", "explain", "refuse"],
        },
        description="What HAL was asked",
    )
    dataset_id = _stored_id(dataset, "dataset")
    say(_line("registered dataset", f"{dataset.name} id={dataset_id} ({data_file.name} validated)"))
    predictions_file = _write_csv(
        workdir / "hal-9000-predictions.csv",
        [{**row, "prediction": "refuse"} for row in EVAL_ROWS],
    )
    predictions = await wf.register_predictions(
        api, dataset, version, str(predictions_file), pred_col="prediction"
    )
    predictions_id = _stored_id(predictions, "predictions")
    say(
        _line(
            "registered predictions",
            f"{predictions.name} id={predictions_id} (version {version_id}, dataset {dataset_id})",
        )
    )
    return {
        "model": model_id,
        "version": version_id,
        "artifact": artifact_id,
        "dataset": dataset_id,
        "predictions": predictions_id,
    }


async def _list_back(
    api: ModelRegistryAPIClient, created: dict[str, str], over: str, say: Say
) -> list[tuple[str, str, str]]:
    """List everything through the Pager; return (kind, id, name) of what was read."""
    from model_registry.types import Artifact, DataSet, ModelVersion, Pager, RegisteredModel
    from model_registry.workflows import registration as wf
    from model_registry.workflows.params import decode_params

    seen: list[tuple[str, str, str]] = []
    say(f"listing over {over}:")
    models: Pager[RegisteredModel] = Pager(api.get_registered_models)
    async for rm in models.limit(10):
        say(f"  model     id={rm.id} name={rm.name} state={rm.state}")
        seen.append(("model", str(rm.id), rm.name))
    versions: Pager[ModelVersion] = Pager(lambda o: api.get_model_versions(created["model"], o))
    async for mv in versions.order_by_creation_time().descending().limit(10):
        say(f"  version   id={mv.id} name={mv.name} author={mv.author}")
        seen.append(("version", str(mv.id), mv.name))
    artifacts: Pager[Artifact] = Pager(
        lambda o: api.get_model_version_artifacts(created["version"], o)
    )
    async for art in artifacts:
        say(f"  artifact  id={art.id} {type(art).__name__} name={art.name} uri={art.uri}")
        seen.append(("artifact", str(art.id), str(art.name)))
    datasets: Pager[DataSet] = Pager(lambda o: wf.list_datasets(api, o))
    async for ds in datasets:
        params = decode_params(ds.custom_properties)
        say(f"  dataset   id={ds.id} name={ds.name} params={dict(sorted(params.items()))}")
        seen.append(("dataset", str(ds.id), str(ds.name)))
    ids = {entity_id for _, entity_id, _ in seen}
    missing = [f"{kind} {entity_id}" for kind, entity_id in created.items() if entity_id not in ids]
    if missing:
        raise RuntimeError(f"not listed back over {over}: {', '.join(missing)}")
    return seen


def _fresh_demo_database(path: Path, say: Say) -> None:
    """Remove a previous run's demo database (and its WAL files) so the demo starts empty."""
    removed = False
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if leftover.exists():
            leftover.unlink()
            removed = True
    if removed:
        say(_line("replaced", f"the previous demo database {path}"))


async def run_demo(say: Say = print, *, database_url: str | None = None) -> None:
    """Run the whole demo, reporting each step through ``say``.

    Args:
        say: Where each line of the report goes.
        database_url: The database to use; by default :data:`DEMO_DATABASE` in the working
            directory, replaced when it exists. A given database that already holds a ``HAL``
            model makes the demo fail.

    Raises:
        Exception: Any failure (the server is stopped first).
    """
    from model_registry.core import ModelRegistryAPIClient
    from model_registry.server import run_server

    with_grpc = grpc_available()
    if database_url is None:
        database = Path.cwd() / DEMO_DATABASE
        _fresh_demo_database(database, say)
        database_url = f"sqlite:///{database}"
        shown_url = f"sqlite:///{DEMO_DATABASE}"
    else:
        database = None
        shown_url = database_url
    workdir = (
        database.with_name(database.stem + "-files")
        if database is not None
        else Path.cwd() / "demo-registry-files"
    )
    workdir.mkdir(exist_ok=True)
    async with run_server(database_url, grpc_port=0 if with_grpc else None) as server:
        say(_line("REST server on", f"{server.url} (database {database_url})"))
        if server.grpc_port:
            say(_line("gRPC server on", f"{server.host}:{server.grpc_port}"))
        async with ModelRegistryAPIClient.insecure_connection(
            f"http://{server.host}", server.port
        ) as api:
            created = await _register(api, workdir, say)
            over_rest = await _list_back(api, created, "REST", say)
        if server.grpc_port:
            async with ModelRegistryAPIClient.insecure_connection(
                server.host, server.grpc_port, transport="grpc"
            ) as grpc_api:
                over_grpc = await _list_back(grpc_api, created, "gRPC", say)
            if over_grpc != over_rest:
                raise RuntimeError(f"REST listed {over_rest} but gRPC listed {over_grpc}")
        else:
            say("gRPC is not available in this build: listed over REST only")
    say("server stopped")
    say(f"kept the registry: serve it with  model-registry serve --database-url {shown_url}")
    say(f"then open the web UI at           http://127.0.0.1:{SERVE_PORT}/ui")
    say(f"  the model:    http://127.0.0.1:{SERVE_PORT}/ui/models/{created['model']}")
    say(f"  the dataset:  http://127.0.0.1:{SERVE_PORT}/ui/datasets?dataset={created['dataset']}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return 0 on success and 1 on failure (with a one-line reason).

    Args:
        argv: Command-line arguments (``[--database-url URL]``); ``sys.argv[1:]`` by default.
    """
    parser = argparse.ArgumentParser(
        prog="python -m model_registry.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"database to use (default: {DEMO_DATABASE} in the working directory, replaced)",
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(run_demo(database_url=args.database_url))
    except Exception as exc:  # the demo's job is to say what failed, in one line
        reason = " ".join(str(exc).split())
        print(f"demo failed: {type(exc).__name__}: {reason}", file=sys.stderr)
        return 1
    print("demo finished: everything registered was read back")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
