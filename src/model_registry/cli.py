"""The ``model-registry`` command line.

``model-registry serve`` runs the embedded server (``model_registry.server.cli.serve``);
``backup PATH`` and ``restore PATH`` work on its database directly (``model_registry.backup``).
Every other command talks to a registry at ``--url`` (or ``$MODEL_REGISTRY_URL``, default
``http://127.0.0.1:8080``) through the sync ``ModelRegistry`` facade, with the bearer token from
``$MODEL_REGISTRY_TOKEN`` or ``--token-file``:

* ``models list``, ``versions list MODEL``, ``artifacts list [--version V] MODEL``,
  ``datasets list``: tables (or ``--json``), with ``--filter``, ``--order-by``, ``--desc``,
  ``--limit`` (total items) and ``--page-size``, read page by page through the ``Pager``;
* ``register model`` (prints the new version's id), ``register dataset``,
  ``register predictions``: print the new id (``--json``: every id written);
* ``projects list|create|show|delete``: the projects (``create`` prints the new project's id);
* ``tokens create|list|revoke``: tokens with a role per project (``create`` prints the new
  token alone on its line; ``list`` never shows a secret).

``--project`` (or ``$MODEL_REGISTRY_PROJECT``), a project's name or id, chooses the project
every command works in; without it the server chooses (the token's first project, else
``default``). Listings name the project under their table.

Errors are one line on stderr (``error: ...``), no traceback, with the exit code telling what
went wrong: 2 bad input (usage errors too), 3 not found, 4 conflict, 5 server unreachable (or
unavailable, or timed out), 6 refused credentials, 1 anything else the server reported or a
missing extra.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from model_registry._entry import DISTRIBUTION, extra_error, extra_message
from model_registry._version import __version__
from model_registry.exceptions import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    ModelRegistryError,
    NotFound,
    Timeout,
    Unauthorized,
    Unavailable,
    UnprocessableEntity,
)
from model_registry.integrations.cli import import_group
from model_registry.types.projects import MODEL_TASKS, ROLES

__all__ = ["EXIT_CODES", "cli", "main"]

DEFAULT_URL = "http://127.0.0.1:8080"
MODEL_TASKS_CHOICES = list(MODEL_TASKS)
T = TypeVar("T")

#: Exit code per error class, most specific first.
EXIT_CODES: tuple[tuple[type[BaseException], int, str], ...] = (
    (NotFound, 3, "not found"),
    (Conflict, 4, "conflict"),
    (ConnectionFailed, 5, "server unreachable"),
    (Timeout, 5, "timed out"),
    (Unavailable, 5, "server unavailable"),
    (Unauthorized, 6, "unauthorized"),
    (Forbidden, 6, "forbidden"),
    (BadRequest, 2, "bad request"),
    (UnprocessableEntity, 2, "refused"),
    (ValueError, 2, "bad input"),
    (ModelRegistryError, 1, "error"),
)


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


class _Group(click.Group):
    """The top-level group: turns registry errors into one line and an exit code.

    ``serve`` is loaded when asked for (or listed by ``--help``): the server's imports
    (SQLAlchemy, the web framework, gRPC) would slow down every other command.
    """

    _LAZY = {
        "serve": ("model_registry.server.cli", "serve"),
        "sweep-artifacts": ("model_registry.server.cli", "sweep_artifacts"),
        "fill-answers": ("model_registry.server.cli", "fill_answers"),
        "watch": ("model_registry.events_cli", "watch"),
        "webhooks": ("model_registry.events_cli", "webhooks"),
        "push": ("model_registry.cli_artifacts", "push"),
        "pull": ("model_registry.cli_artifacts", "pull"),
        "aliases": ("model_registry.cli_aliases", "aliases"),
        "delete": ("model_registry.cli_aliases", "delete"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self._LAZY.get(cmd_name)
        if lazy is not None and cmd_name not in self.commands:
            module, name = lazy
            try:
                command: click.Command = getattr(importlib.import_module(module), name)
            except ModuleNotFoundError as exc:
                message = extra_message(exc)
                if message is None:
                    raise
                command = _needs_extra(cmd_name, message)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            click.echo(_usage_line(exc), err=True)
            raise click.exceptions.Exit(exc.exit_code) from None
        except (ModelRegistryError, ValueError) as exc:
            for cls, code, label in EXIT_CODES:
                if isinstance(exc, cls):
                    click.echo(f"error: {label}: {_one_line(exc)}", err=True)
                    raise click.exceptions.Exit(code) from None
            raise  # pragma: no cover - ModelRegistryError is the last entry


def _needs_extra(name: str, message: str) -> click.Command:
    """A stand-in for command ``name`` whose extra is missing: it says what to install."""

    def fail(args: tuple[str, ...]) -> None:
        raise click.ClickException(message)

    return click.Command(
        name,
        callback=fail,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        help=message,
        short_help=message.partition(":")[0],
        context_settings={"ignore_unknown_options": True},
        add_help_option=False,
    )


@dataclasses.dataclass
class _Settings:
    url: str
    token_file: Path | None
    author: str
    transport: str
    timeout: float | None
    project: str | None = None
    _registry: Any = None

    def registry(self) -> Any:
        """Build (once) the sync client for ``url``."""
        if self._registry is None:
            from model_registry.client import ModelRegistry

            parts = urlsplit(self.url if "://" in self.url else f"http://{self.url}")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise click.BadParameter(f"not an http(s) URL: {self.url!r}", param_hint="--url")
            secure = parts.scheme == "https"
            port = parts.port or (443 if secure else 80)
            token: Any = self.token_file or os.environ.get("MODEL_REGISTRY_TOKEN") or None
            self._registry = ModelRegistry(
                f"{parts.scheme}://{parts.hostname}",
                port,
                author=self.author,
                is_secure=secure,
                user_token=token,
                transport=self.transport,  # type: ignore[arg-type]
                timeout=self.timeout,
                project=self.project,
            )
        return self._registry

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()


pass_settings = click.make_pass_decorator(_Settings)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__,
    "--version",
    package_name=DISTRIBUTION,
    prog_name="model-registry",
    message=f"%(prog)s %(version)s ({DISTRIBUTION})",
)
@click.option(
    "--url",
    envvar="MODEL_REGISTRY_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="Registry base URL (or $MODEL_REGISTRY_URL).",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File holding the bearer token (default: $MODEL_REGISTRY_TOKEN).",
)
@click.option(
    "--author",
    default=lambda: os.environ.get("USER") or "model-registry-cli",
    help="Author of what is registered (default: $USER).",
)
@click.option(
    "--grpc",
    "transport",
    flag_value="grpc",
    help="Use the gRPC transport (--url then gives the gRPC host and port).",
)
@click.option("--rest", "transport", flag_value="rest", default=True, help="Use REST (default).")
@click.option("--timeout", type=float, default=None, help="Timeout of each call in seconds.")
@click.option(
    "--project",
    envvar="MODEL_REGISTRY_PROJECT",
    default=None,
    help="Project (name or id) to work in (or $MODEL_REGISTRY_PROJECT; default: the token's "
    "first project, else 'default').",
)
@click.pass_context
def cli(
    ctx: click.Context,
    url: str,
    token_file: Path | None,
    author: str,
    transport: str,
    timeout: float | None,
    project: str | None,
) -> None:
    """Inspect and fill a model registry."""
    settings = _Settings(url, token_file, author, transport, timeout, project or None)
    ctx.obj = settings
    ctx.call_on_close(settings.close)


# -- listings --------------------------------------------------------------------------------


def _list_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--filter", "filter_query", default=None, help="filterQuery expression."),
        click.option(
            "--order-by",
            type=click.Choice(["id", "create_time", "update_time"], case_sensitive=False),
            default="id",
            show_default=True,
        ),
        click.option("--desc", is_flag=True, help="Descending order."),
        click.option("--limit", type=click.IntRange(min=1), default=None, help="Items at most."),
        click.option("--page-size", type=click.IntRange(min=1), default=100, show_default=True),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _configure(
    pager: Any,
    *,
    filter_query: str | None,
    order_by: str,
    desc: bool,
    limit: int | None,
    page_size: int,
) -> Any:
    pager.page_size(page_size)
    {
        "id": pager.order_by_id,
        "create_time": pager.order_by_creation_time,
        "update_time": pager.order_by_update_time,
    }[order_by.lower()]()
    if desc:
        pager.descending()
    if filter_query:
        pager.filter(filter_query)
    if limit is not None:
        pager.max_items(limit)
    return pager


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _as_dict(entity: Any) -> dict[str, Any]:
    data = {field.name: _plain(getattr(entity, field.name)) for field in dataclasses.fields(entity)}
    artifact_type = getattr(type(entity), "artifact_type", None)
    if artifact_type is not None:
        data["artifact_type"] = _plain(artifact_type)
    return data


def _when(millis: Any) -> str:
    if millis is None:
        return ""
    moment = datetime.fromtimestamp(int(millis) / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _collect(items: Iterable[T], *, label: str) -> list[T]:
    """Read every item, showing a live counter on a terminal while pages arrive."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return list(items)
    collected: list[T] = []
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as progress:
        task = progress.add_task(f"reading {label}: 0", total=None)
        for item in items:
            collected.append(item)
            progress.update(task, description=f"reading {label}: {len(collected)}")
    return collected


def _emit(
    items: Sequence[Any],
    *,
    as_json: bool,
    title: str,
    columns: Sequence[tuple[str, Callable[[Any], Any]]],
    caption: str | None = None,
) -> None:
    if as_json:
        click.echo(json.dumps([_as_dict(item) for item in items], indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{title} ({len(items)})", caption=caption)
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for item in items:
        table.add_row(*("" if (cell := get(item)) is None else str(cell) for _, get in columns))
    Console(width=max(100, Console().width)).print(table)


_ENTITY_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("id", lambda e: e.id),
    ("name", lambda e: e.name),
]


def _listing(
    settings: _Settings,
    /,
    pager_of: Callable[[Any], Any],
    *,
    label: str,
    columns: Sequence[tuple[str, Callable[[Any], Any]]],
    as_json: bool,
    **paging: Any,
) -> None:
    pager = _configure(pager_of(settings.registry()), **paging)
    items = _collect(pager, label=label)
    chosen = settings.project or "chosen by the server (the token's first, else default)"
    caption = f"project: {chosen}"
    _emit(items, as_json=as_json, title=label, columns=columns, caption=caption)


@cli.group()
def models() -> None:
    """Registered models."""


@models.command("list")
@_list_options
@pass_settings
def models_list(settings: _Settings, /, as_json: bool, **paging: Any) -> None:
    """List registered models."""
    _listing(
        settings,
        lambda registry: registry.get_registered_models(),
        label="models",
        as_json=as_json,
        columns=[
            *_ENTITY_COLUMNS,
            ("owner", lambda e: e.owner),
            ("state", lambda e: e.state),
            ("created", lambda e: _when(e.create_time_since_epoch)),
            ("description", lambda e: e.description),
        ],
        **paging,
    )


@cli.group()
def versions() -> None:
    """Model versions."""


@versions.command("list")
@click.argument("model")
@_list_options
@pass_settings
def versions_list(settings: _Settings, /, model: str, as_json: bool, **paging: Any) -> None:
    """List the versions of MODEL."""
    _listing(
        settings,
        lambda registry: registry.get_model_versions(model),
        label=f"versions of {model}",
        as_json=as_json,
        columns=[
            *_ENTITY_COLUMNS,
            ("author", lambda e: e.author),
            ("state", lambda e: e.state),
            ("created", lambda e: _when(e.create_time_since_epoch)),
            ("description", lambda e: e.description),
        ],
        **paging,
    )


@cli.group()
def artifacts() -> None:
    """Artifacts of model versions."""


@artifacts.command("list")
@click.argument("model")
@click.option("--version", "version", default=None, help="Version name (default: the latest).")
@_list_options
@pass_settings
def artifacts_list(
    settings: _Settings, /, model: str, version: str | None, as_json: bool, **paging: Any
) -> None:
    """List the artifacts of one version of MODEL."""
    _listing(
        settings,
        lambda registry: registry.get_model_artifacts(model, version),
        label=f"artifacts of {model}" + (f" {version}" if version else ""),
        as_json=as_json,
        columns=[
            *_ENTITY_COLUMNS,
            ("type", lambda e: getattr(type(e), "artifact_type", "")),
            ("uri", lambda e: e.uri),
            ("format", lambda e: getattr(e, "model_format_name", None)),
            ("created", lambda e: _when(e.create_time_since_epoch)),
        ],
        **paging,
    )


def _params_text(artifact: Any) -> str:
    from model_registry.workflows.params import decode_params

    params = decode_params(artifact.custom_properties)
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in params.items())


@cli.group()
def datasets() -> None:
    """Registered datasets."""


@datasets.command("list")
@_list_options
@pass_settings
def datasets_list(settings: _Settings, /, as_json: bool, **paging: Any) -> None:
    """List registered datasets."""
    _listing(
        settings,
        lambda registry: registry.get_datasets(),
        label="datasets",
        as_json=as_json,
        columns=[
            *_ENTITY_COLUMNS,
            ("uri", lambda e: e.uri),
            ("params", _params_text),
            ("created", lambda e: _when(e.create_time_since_epoch)),
        ],
        **paging,
    )


# -- registration ----------------------------------------------------------------------------


def _pairs(values: Iterable[str], option: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
        result[key] = item
    return result


def _json_object(text: str | None, option: str) -> dict[str, Any]:
    if text is None:
        return {}
    source = text
    if text.startswith("@"):
        try:
            source = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            why = exc.strerror or exc
            raise click.BadParameter(
                f"cannot read {text[1:]!r}: {why}", param_hint=option
            ) from None
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc.msg}", param_hint=option) from None
    if not isinstance(value, dict):
        raise click.BadParameter("expected a JSON object", param_hint=option)
    return value


def _done(as_json: bool, kind: str, entity_id: str, **extra: Any) -> None:
    if as_json:
        click.echo(json.dumps({"kind": kind, "id": entity_id, **extra}))
    else:
        click.echo(entity_id)


@cli.group()
def register() -> None:
    """Register models, datasets and predictions (each prints the new id)."""


@register.command("model")
@click.argument("name")
@click.argument("uri", required=False)
@click.option("--version", "version", required=True, help="Version name (must be new).")
@click.option("--format-name", default=None, help="Model format name, e.g. onnx.")
@click.option("--format-version", default=None, help="Model format version, e.g. 1.")
@click.option(
    "--config",
    "config_text",
    default=None,
    help='Model config as JSON, or @FILE: {"hugging_face": {...}} or {"model_path": {...}}.',
)
@click.option("--description", default=None)
@click.option("--metadata", multiple=True, help="KEY=VALUE custom property of the version.")
@click.option("--storage-key", default=None)
@click.option("--storage-path", default=None)
@click.option("--skip-validation", is_flag=True, help="Don't check a local model path.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def register_model(
    settings: _Settings,
    /,
    name: str,
    uri: str | None,
    version: str,
    format_name: str | None,
    format_version: str | None,
    config_text: str | None,
    description: str | None,
    metadata: tuple[str, ...],
    storage_key: str | None,
    storage_path: str | None,
    skip_validation: bool,
    as_json: bool,
) -> None:
    """Register version VERSION of model NAME stored at URI (or described by --config).

    Prints the new version's id (``--json``: the model's, the version's and the artifact's).
    """
    properties = _pairs(metadata, "--metadata")
    registry = settings.registry()
    if config_text is not None:
        if uri is not None:
            raise click.UsageError("give either URI or --config, not both")
        model_id = registry.register_model_from_config(
            name,
            _json_object(config_text, "--config"),
            version=version,
            description=description,
            metadata=properties,
            skip_validation=skip_validation,
        )
    else:
        if uri is None:
            raise click.UsageError("URI is required (or --config)")
        if not format_name or not format_version:
            raise click.UsageError("--format-name and --format-version are required with URI")
        model_id = registry.register_model(
            name,
            uri,
            version=version,
            model_format_name=format_name,
            model_format_version=format_version,
            description=description,
            metadata=properties,
            storage_key=storage_key,
            storage_path=storage_path,
        ).id
    # The facade answers with the model (as the reference client does); the version and its
    # artifact are read back by name, which the registration just made unique.
    mv = registry.get_model_version(name, version)
    if mv is None or mv.id is None:
        raise NotFound(f"model {name!r} has no version {version!r} after registering it")
    artifact = next(iter(registry.get_model_artifacts(name, version)), None)
    _done(
        as_json,
        "model_version",
        mv.id,
        name=name,
        version=version,
        registered_model_id=model_id,
        model_version_id=mv.id,
        model_artifact_id=None if artifact is None else artifact.id,
    )


@register.command("dataset")
@click.argument("name")
@click.argument("uri")
@click.option("--label-col", default=None)
@click.option("--timestamp-col", default=None)
@click.option("--text-feature", "text_features", multiple=True, help="Repeat for each column.")
@click.option("--class-name", "class_names", multiple=True, help="Repeat for each class.")
@click.option("--params", "params_text", default=None, help="More data_params as JSON or @FILE.")
@click.option("--description", default=None)
@click.option("--skip-validation", is_flag=True, help="Don't open a local file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def register_dataset(
    settings: _Settings,
    /,
    name: str,
    uri: str,
    label_col: str | None,
    timestamp_col: str | None,
    text_features: tuple[str, ...],
    class_names: tuple[str, ...],
    params_text: str | None,
    description: str | None,
    skip_validation: bool,
    as_json: bool,
) -> None:
    """Register dataset NAME at URI (a local file is checked for the named columns)."""
    params = _json_object(params_text, "--params")
    given: dict[str, Any] = {
        "label_col": label_col,
        "timestamp_col": timestamp_col,
        "text_features": list(text_features) or None,
        "class_names": list(class_names) or None,
    }
    params.update({key: value for key, value in given.items() if value is not None})
    dataset_id = settings.registry().register_dataset(
        name,
        uri,
        data_params=params,
        description=description,
        skip_validation=skip_validation,
    )
    _done(as_json, "dataset", dataset_id, name=name)


@register.command("predictions")
@click.argument("dataset")
@click.argument("model")
@click.argument("uri")
@click.option("--pred-col", required=True, help="Column holding the predictions.")
@click.option("--version", "version", default=None, help="Model version (default: the latest).")
@click.option("--description", default=None)
@click.option("--skip-validation", is_flag=True, help="Don't open a local file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def register_predictions(
    settings: _Settings,
    /,
    dataset: str,
    model: str,
    uri: str,
    pred_col: str,
    version: str | None,
    description: str | None,
    skip_validation: bool,
    as_json: bool,
) -> None:
    """Register predictions at URI made by MODEL on DATASET (names)."""
    registry = settings.registry()
    found = registry.get_dataset(dataset)
    if found is None:
        raise NotFound(f"dataset {dataset!r} does not exist")
    mv = registry.get_model_version(model, version) if version else registry.latest_version(model)
    if mv is None:
        raise NotFound(f"model {model!r} has no version {version or '(none)'}")
    predictions_id = registry.register_predictions(
        found,
        mv,
        uri,
        pred_col=pred_col,
        description=description,
        skip_validation=skip_validation,
    )
    _done(as_json, "predictions", predictions_id, dataset_id=found.id, model_version_id=mv.id)


# -- projects ----------------------------------------------------------------------------------

_PROJECT_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    *_ENTITY_COLUMNS,
    ("model task", lambda p: p.model_task),
    ("created", lambda p: _when(p.create_time_since_epoch)),
    ("description", lambda p: p.description),
]


@cli.group()
def projects() -> None:
    """Projects: every registration belongs to one (choose it with --project)."""


@projects.command("list")
@_list_options
@pass_settings
def projects_list(settings: _Settings, /, as_json: bool, **paging: Any) -> None:
    """List the projects the token has a role in (all of them with the admin token)."""
    pager = _configure(settings.registry().list_projects(), **paging)
    found = [project.info for project in _collect(pager, label="projects")]
    _emit(found, as_json=as_json, title="projects", columns=_PROJECT_COLUMNS)


@projects.command("create")
@click.argument("name")
@click.option("--description", default=None)
@click.option(
    "--model-task",
    type=click.Choice(MODEL_TASKS_CHOICES, case_sensitive=False),
    default=None,
    help="What its models do (MODEL_TASK_...).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def projects_create(
    settings: _Settings,
    /,
    name: str,
    description: str | None,
    model_task: str | None,
    as_json: bool,
) -> None:
    """Create project NAME; print its id."""
    created = settings.registry().create_project(
        name, description=description, model_task=model_task.upper() if model_task else None
    )
    if as_json:
        click.echo(json.dumps(_as_dict(created.info), indent=2, default=str))
    else:
        click.echo(created.project_id)


@projects.command("show")
@click.argument("project")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def projects_show(settings: _Settings, /, project: str, as_json: bool) -> None:
    """Show PROJECT (a name or an id)."""
    registry = settings.registry()
    try:
        found = registry.get_project_by_name(project)
    except NotFound:
        if not _is_uuid(project):
            raise
        found = registry.get_project(project)
    data = _as_dict(found.info)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    for key in ("id", "name", "model_task", "description", "external_id"):
        click.echo(f"{key}: {'' if data[key] is None else data[key]}")
    click.echo(f"created: {_when(data['create_time_since_epoch'])}")
    click.echo(f"updated: {_when(data['last_update_time_since_epoch'])}")
    for key, value in data["custom_properties"].items():
        click.echo(f"property {key}: {json.dumps(value, default=str)}")


@projects.command("delete")
@click.argument("project")
@click.option("--cascade", is_flag=True, help="Delete everything in it too.")
@pass_settings
def projects_delete(settings: _Settings, /, project: str, cascade: bool) -> None:
    """Delete PROJECT (a name or an id; the server's admin token only). One holding anything
    is refused, naming what it holds, unless --cascade."""
    registry = settings.registry()
    project_id = project if _is_uuid(project) else registry.get_project_by_name(project).project_id
    registry.delete_project(project_id, cascade=cascade)
    click.echo(f"deleted project {project}")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# -- tokens ------------------------------------------------------------------------------------

_DURATION = re.compile(r"^([1-9][0-9]{0,6})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _expiry(text: str, now: datetime | None = None) -> int:
    """``--expires``: a duration (``30d``, ``12h``, ``90m``, ``2w``, ``3600s``) from now, or an
    ISO date or time (``2027-01-31``, ``2027-01-31T12:00:00+00:00``; UTC when no zone is
    given); returns ms since the epoch."""
    now = now or datetime.now(timezone.utc)
    match = _DURATION.match(text.strip().lower())
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return int((now.timestamp() + seconds) * 1000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"expected a duration such as 30d, 12h, 90m, 2w, or an ISO date, got {text!r}",
            param_hint="--expires",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment <= now:
        raise click.BadParameter(f"{text!r} is in the past", param_hint="--expires")
    return int(moment.timestamp() * 1000)


def _roles(values: Iterable[str]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for value in values:
        project, sep, role = value.rpartition(":")
        if not sep or not project or role not in ROLES:
            raise click.BadParameter(
                f"expected PROJECT:ROLE with ROLE one of {', '.join(ROLES)}, got {value!r}",
                param_hint="--project",
            )
        if project in roles:
            raise click.BadParameter(f"project {project!r} given twice", param_hint="--project")
        roles[project] = role
    return roles


def _roles_text(token: Any) -> str:
    return ", ".join(f"{project}:{role}" for project, role in token.roles.items())


def _token_dict(token: Any) -> dict[str, Any]:
    return dataclasses.asdict(token)


@cli.group()
def tokens() -> None:
    """Tokens with a role per project (needs the admin token or a project's admin role)."""


@tokens.command("create")
@click.option("--subject", required=True, help="Who the token is for.")
@click.option(
    "--project",
    "project_roles",
    multiple=True,
    required=True,
    metavar="PROJECT:ROLE",
    help="A project (name or id) and the role in it: reader, editor or admin. Repeat for each "
    "project; the first is the token's default project.",
)
@click.option("--expires", default=None, help="When it stops working: 30d, 12h, or an ISO date.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the secret under 'token').")
@pass_settings
def tokens_create(
    settings: _Settings,
    /,
    subject: str,
    project_roles: tuple[str, ...],
    expires: str | None,
    as_json: bool,
) -> None:
    """Issue a token; print it alone on its line (it is shown only this once)."""
    roles = _roles(project_roles)
    expires_ms = None if expires is None else _expiry(expires)
    created = settings.registry().create_token(subject, roles, expires_time_since_epoch=expires_ms)
    if as_json:
        click.echo(json.dumps({**_token_dict(created.token), "token": created.secret}))
        return
    token = created.token
    until = _when(token.expires_time_since_epoch) or "never"
    click.echo(
        f"token {token.id} for {token.subject} ({_roles_text(token)}), expires: {until}",
        err=True,
    )
    click.echo(created.secret)


@tokens.command("list")
@click.option("--page-size", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_settings
def tokens_list(settings: _Settings, /, page_size: int, as_json: bool) -> None:
    """List the tokens: id, subject, roles and expiry (never a secret)."""
    pager = settings.registry().list_tokens().page_size(page_size)
    found = _collect(pager, label="tokens")
    if as_json:
        click.echo(json.dumps([_token_dict(token) for token in found], indent=2))
        return
    _emit(
        found,
        as_json=False,
        title="tokens",
        columns=[
            ("id", lambda t: t.id),
            ("subject", lambda t: t.subject),
            ("roles", _roles_text),
            ("created", lambda t: _when(t.create_time_since_epoch)),
            ("expires", lambda t: _when(t.expires_time_since_epoch) or "never"),
        ],
    )


@tokens.command("revoke")
@click.argument("token_id", metavar="ID")
@pass_settings
def tokens_revoke(settings: _Settings, /, token_id: str) -> None:
    """Revoke token ID: it stops working at once."""
    settings.registry().revoke_token(token_id)
    click.echo(f"revoked token {token_id}")


# -- backup and restore ------------------------------------------------------------------------

_DATABASE_OPTION = click.option(
    "--database-url",
    default="sqlite:///./registry.db",
    show_default=True,
    help="The registry database, as serve takes it (sqlite:///FILE or postgresql://...).",
)


def _backup_done(verb: str, result: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"action": verb, **{k: str(v) for k, v in vars(result).items()}}))
    else:
        click.echo(
            f"{verb} {result.database} -> {result.path} ({result.size} bytes, "
            f"schema {result.revision})"
            if verb == "backup"
            else f"{verb} {result.path} -> {result.database} (schema {result.revision})"
        )


@cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_DATABASE_OPTION
@click.option("--force", is_flag=True, help="Replace PATH when it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backup_command(path: Path, database_url: str, force: bool, as_json: bool) -> None:
    """Back the registry database up to PATH (safe while a server runs on it).

    SQLite: a consistent copy through SQLite's online backup API, checked before it is
    written. PostgreSQL: pg_dump's custom format (needs PostgreSQL's client tools).
    """
    from model_registry.backup import BackupError, backup

    try:
        result = backup(database_url, path, overwrite=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    _backup_done("backup", result, as_json)


@cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_DATABASE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def restore_command(path: Path, database_url: str, as_json: bool) -> None:
    """Replace the registry database with the backup at PATH.

    SQLite: copied in under the database's write lock (a running server sees the restored
    registry at once). PostgreSQL: pg_restore --clean.
    """
    from model_registry.backup import BackupError, restore

    try:
        result = restore(database_url, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    _backup_done("restore", result, as_json)


# `import mlflow` (model_registry.integrations): light to import, MLflow loads when it runs.
cli.add_command(import_group)


def _exit_code(result: Any) -> int:
    return result if isinstance(result, int) else 0


def _usage_line(exc: click.ClickException) -> str:
    message = " ".join(exc.format_message().split())
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        # click prints usage and a hint on lines of their own; one line names the help instead.
        return f"error: {message} (see '{exc.ctx.command_path} --help')"
    return f"error: {message}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The process exit code.
    """
    args = sys.argv[1:] if argv is None else argv
    try:
        return _exit_code(cli.main(args=args, prog_name="model-registry", standalone_mode=False))
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(_usage_line(exc), err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except ModuleNotFoundError as exc:
        line = extra_error(exc)
        if line is None:
            raise
        click.echo(line, err=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
