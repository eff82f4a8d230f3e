"""``model-registry push`` / ``pull``: a model's files up with its registration, and back.

Loaded by the ``model-registry`` group when one of them is asked for; they use its top-level
``--url``/``--token-file``/``--author`` settings. Progress bars (rich) go to stderr when it
is a terminal (``--no-progress`` turns them off); stdout gets one line, or JSON with
``--json``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from model_registry._memory import keep_freed_pieces
from model_registry.utils import S3Params

__all__ = ["pull", "push"]


@contextlib.contextmanager
def _progress_bar(label: str, enabled: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A progress callback drawing a bar on stderr (a no-op when not ``enabled`` or stderr is
    not a terminal)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _registry(ctx: click.Context) -> Any:
    keep_freed_pieces()  # a process moving content: its pieces reuse memory (see _memory)
    return ctx.find_root().obj.registry()


@click.command("push")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--version", "version", required=True, help="Version name (must be new).")
@click.option("--format-name", required=True, help="Model format name, e.g. onnx.")
@click.option("--format-version", required=True, help="Model format version, e.g. 1.")
@click.option("--description", default=None, help="Version description.")
@click.option(
    "--s3-bucket",
    default=None,
    help="Upload to this bucket from here (boto3; credentials from the usual AWS sources) "
    "instead of the registry's store.",
)
@click.option("--s3-prefix", default=None, help="Key prefix in --s3-bucket (default: NAME).")
@click.option("--s3-endpoint-url", default=None, help="S3-compatible service URL.")
@click.option("--s3-region", default=None, help="The bucket's region.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def push(
    ctx: click.Context,
    /,
    name: str,
    path: Path,
    version: str,
    format_name: str,
    format_version: str,
    description: str | None,
    s3_bucket: str | None,
    s3_prefix: str | None,
    s3_endpoint_url: str | None,
    s3_region: str | None,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Upload PATH (a file or a directory) as version VERSION of model NAME.

    The version must be new: that is checked before anything is uploaded. Without
    --s3-bucket the files go to the registry's own store (a directory as one archive of its
    tree); prints the new artifact's id (--json: model, version, artifact, uri, sha256).
    """
    if s3_bucket is None and (s3_prefix or s3_endpoint_url or s3_region):
        raise click.UsageError("--s3-prefix, --s3-endpoint-url and --s3-region need --s3-bucket")
    params = None
    if s3_bucket is not None:
        params = S3Params(
            s3_bucket, s3_prefix or name, endpoint_url=s3_endpoint_url, region=s3_region
        )
    registry = _registry(ctx)
    with _progress_bar(f"push {name} {version}", not no_progress) as progress:
        model = registry.upload_artifact_and_register_model(
            name,
            path,
            upload_params=params,
            version=version,
            model_format_name=format_name,
            model_format_version=format_version,
            description=description,
            progress=progress,
        )
    artifact = registry.get_model_artifact(name, version)
    digest = (artifact.custom_properties or {}).get("registry.sha256") if artifact else None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "registered_model_id": model.id,
                    "model_version_id": registry.get_model_version(name, version).id,
                    "model_artifact_id": artifact.id if artifact else None,
                    "uri": artifact.uri if artifact else None,
                    "sha256": digest,
                }
            )
        )
    else:
        click.echo(artifact.id if artifact else "")


@click.command("pull")
@click.argument("name")
@click.argument("version")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--s3-endpoint-url", default=None, help="S3-compatible service URL (s3:// URIs).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_context
def pull(
    ctx: click.Context,
    /,
    name: str,
    version: str,
    dest: Path,
    s3_endpoint_url: str | None,
    no_progress: bool,
) -> None:
    """Download the files of version VERSION of model NAME to DEST.

    Content in the registry's store is checked against its SHA-256 before it lands; a
    directory uploaded as a tree is unpacked into DEST. Prints the path written.
    """
    s3_params = None
    if s3_endpoint_url is not None:
        s3_params = S3Params("", "", endpoint_url=s3_endpoint_url)
    registry = _registry(ctx)
    with _progress_bar(f"pull {name} {version}", not no_progress) as progress:
        written = registry.download_model_artifact(
            name, version, dest, progress=progress, s3_params=s3_params
        )
    click.echo(str(written))
