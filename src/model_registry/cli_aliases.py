"""``model-registry aliases set|delete|list`` and ``model-registry delete model|version``.

Registered on the ``model-registry`` group (``cli.py``) as lazily loaded commands. They use the
group's connection settings (``--url``, ``--token-file``, ``--grpc``) through the sync facade,
by model name and version name. Aliases and delete are extensions of this registry: against a
server without them (the reference) they fail with one line saying so.
"""

from __future__ import annotations

import click

__all__ = ["aliases", "delete"]


@click.group("aliases")
def aliases() -> None:
    """Point aliases (champion, staging, ...) at model versions."""


@aliases.command("set")
@click.argument("model")
@click.argument("alias")
@click.argument("version")
@click.pass_context
def set_alias(ctx: click.Context, model: str, alias: str, version: str) -> None:
    """Point ALIAS of MODEL at its VERSION (creates it, or moves it from another version).

    Alias names: 1 to 255 characters out of A-Z, a-z, 0-9, '_' and '-'; 'latest' and 'v'
    followed by digits are reserved.
    """
    found = ctx.obj.registry().set_alias(model, alias, version)
    click.echo(f"{model}@{alias} -> version {found.name} (id {found.id})")


@aliases.command("delete")
@click.argument("model")
@click.argument("alias")
@click.pass_context
def delete_alias(ctx: click.Context, model: str, alias: str) -> None:
    """Remove ALIAS of MODEL (the version stays)."""
    ctx.obj.registry().delete_alias(model, alias)
    click.echo(f"removed {model}@{alias}")


@aliases.command("list")
@click.argument("model")
@click.pass_context
def list_aliases(ctx: click.Context, model: str) -> None:
    """List the aliases of MODEL and the versions they point at."""
    registry = ctx.obj.registry()
    found = registry.get_registered_model(model)
    if found is None:
        raise click.ClickException(f"model {model!r} does not exist")
    if not found.aliases:
        click.echo(f"{model} has no aliases")
        return
    names = {v.id: v.name for v in registry.get_model_versions(model)}
    width = max(len(alias) for alias in found.aliases)
    for alias, version_id in sorted(found.aliases.items()):
        click.echo(f"{alias.ljust(width)}  {names.get(version_id, '?')} (id {version_id})")


@click.group("delete")
def delete() -> None:
    """Delete a model or a model version (asks first unless --yes)."""


@delete.command("model")
@click.argument("model")
@click.option(
    "--cascade", is_flag=True, help="Delete its versions, their artifacts and aliases with it."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete_model(ctx: click.Context, model: str, cascade: bool, yes: bool) -> None:
    """Delete MODEL (refused while it has versions, unless --cascade)."""
    what = f"model {model!r}" + (" with its versions, artifacts and aliases" if cascade else "")
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    ctx.obj.registry().delete_registered_model(model, cascade=cascade)
    click.echo(f"deleted {what}")


@delete.command("version")
@click.argument("model")
@click.argument("version")
@click.option("--cascade", is_flag=True, help="Delete its artifacts and the aliases on it with it.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete_version(ctx: click.Context, model: str, version: str, cascade: bool, yes: bool) -> None:
    """Delete VERSION of MODEL (refused while it has artifacts or aliases, unless --cascade)."""
    what = f"version {version!r} of model {model!r}"
    if cascade:
        what += " with its artifacts and aliases"
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    ctx.obj.registry().delete_model_version(model, version, cascade=cascade)
    click.echo(f"deleted {what}")
