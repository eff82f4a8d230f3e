"""``model-registry import ...``: copy models from other registries into ours.

``model-registry import mlflow --tracking-uri URI`` copies an MLflow model registry. This
module stays light (click only): MLflow is imported when the command runs, so ``model-registry``
starts fast, and without the ``mlflow`` extra the command says how to install it.

Under ``model-registry`` the command uses the top-level ``--url``/``--token-file``/``--author``
settings; run on its own it reads ``$MODEL_REGISTRY_URL`` (default ``http://127.0.0.1:8080``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from model_registry.client import ModelRegistry

__all__ = ["import_group", "import_mlflow"]

_DEFAULT_URL = "http://127.0.0.1:8080"


@click.group("import")
def import_group() -> None:
    """Copy models from other registries into this one."""


def _registry(ctx: click.Context) -> tuple[ModelRegistry, bool]:
    # Under `model-registry`, the top-level settings object builds (and closes) the facade.
    settings: Any = ctx.find_root().obj
    build = getattr(settings, "registry", None)
    if callable(build):
        return build(), False
    from model_registry.integrations.mlflow._connection import REGISTRY_URL_ENV, open_registry

    return open_registry(os.environ.get(REGISTRY_URL_ENV) or _DEFAULT_URL)


@import_group.command("mlflow")
@click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    required=True,
    help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000 "
    "(or $MLFLOW_TRACKING_URI).",
)
@click.option(
    "--registry-uri", default=None, help="MLflow registry URI, when not the tracking URI."
)
@click.option(
    "--model",
    "names",
    multiple=True,
    help="Copy only this model (repeatable); all models by default.",
)
@click.option(
    "--update",
    is_flag=True,
    help="Also bring models and versions copied before up to date "
    "(description, tags, stage, aliases).",
)
@click.pass_context
def import_mlflow(
    ctx: click.Context,
    tracking_uri: str,
    registry_uri: str | None,
    names: tuple[str, ...],
    update: bool,
) -> None:
    """Copy MLflow registered models, versions, descriptions, tags and sources.

    Running it again copies only what is new: copied entities carry the external ids
    mlflow:NAME and mlflow:NAME:VERSION.
    """
    try:
        from model_registry.integrations.mlflow.errors import MlflowIntegrationError
        from model_registry.integrations.mlflow.importer import (
            ImportReport,
            import_models,
            read_mlflow_registry,
        )
    except ImportError as exc:  # the mlflow extra is not installed
        raise click.ClickException(str(exc)) from exc
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    try:
        models = read_mlflow_registry(tracking_uri, registry_uri=registry_uri, names=names or None)
    except MlflowIntegrationError as exc:
        raise click.ClickException(str(exc)) from exc
    registry, owned = _registry(ctx)
    total = len(models) + sum(len(m.versions) for m in models)
    console = Console(stderr=True)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("importing from MLflow", total=total)

            def step(text: str) -> None:
                progress.update(task, advance=1, description=f"importing {text}")

            report: ImportReport = registry.run(
                lambda api: import_models(
                    api, models, author=registry.author, update=update, on_step=step
                )
            )
            progress.update(task, description="imported from MLflow")
    finally:
        if owned:
            registry.close()
    click.echo(report.summary())
