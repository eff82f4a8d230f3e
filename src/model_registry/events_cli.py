"""``model-registry watch`` (the registry's changes as they commit) and ``webhooks``.

Registered on the ``model-registry`` group (``cli.py``) as a lazily loaded command, so this
module is read only when it runs. It uses the group's connection settings (``--url``,
``--token-file``, ``--grpc``) through the sync facade's ``watch()``, which reconnects by itself
and resumes from the last cursor it printed.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import click

from model_registry.types import Event

__all__ = ["watch", "webhooks"]

_COLUMNS = (("cursor", 8), ("time (UTC)", 23), ("type", 32), ("id", 8), ("name", 0))


def _names(values: tuple[str, ...]) -> list[str] | None:
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    return names or None


def _when(millis: int) -> str:
    moment = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def event_json(event: Event) -> str:
    """One JSON line of an event (the REST wire names)."""
    data: dict[str, Any] = {
        "cursor": str(event.cursor),
        "type": event.type,
        "kind": event.kind,
        "action": event.action,
        "entityId": event.entity_id,
        "timeSinceEpoch": str(event.time_since_epoch),
    }
    if event.project is not None:
        data["project"] = event.project
    if event.subject is not None:
        data["subject"] = event.subject
    data["entity"] = dict(event.entity)
    return json.dumps(data, separators=(",", ":"))


def _row(cells: tuple[str, ...]) -> str:
    return "  ".join(
        cell.ljust(width) if width else cell
        for cell, (_, width) in zip(cells, _COLUMNS, strict=True)
    ).rstrip()


@click.command("watch")
@click.option(
    "--kinds",
    multiple=True,
    help="Only these kinds, comma separated or repeated (registered_model, model_version, "
    "model_artifact, ...).",
)
@click.option(
    "--actions",
    multiple=True,
    help="Only these actions (created, updated, state_changed, deleted, uploaded).",
)
@click.option(
    "--since",
    type=click.IntRange(min=0),
    default=None,
    help="Start after this event cursor (default: with the changes from now on).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many events (default: until interrupted).",
)
@click.pass_context
def watch(
    ctx: click.Context,
    kinds: tuple[str, ...],
    actions: tuple[str, ...],
    since: int | None,
    as_json: bool,
    count: int | None,
) -> None:
    """Print the registry's changes as they commit (Ctrl-C stops).

    Each line is one event: its cursor (pass it as --since to resume after it), time, type
    (kind.action, as model_version.created), entity id and name; --json prints each event
    as a JSON line with the entity after the change.
    """
    registry = ctx.obj.registry()
    if not as_json:
        click.echo(_row(tuple(header for header, _ in _COLUMNS)))
    printed = 0
    try:
        for event in registry.watch(_names(kinds), _names(actions), since):
            if as_json:
                click.echo(event_json(event))
            else:
                name = event.entity.get("name")
                click.echo(
                    _row(
                        (
                            str(event.cursor),
                            _when(event.time_since_epoch),
                            event.type,
                            event.entity_id,
                            "" if name is None else str(name),
                        )
                    )
                )
            printed += 1
            if count is not None and printed >= count:
                return
    except KeyboardInterrupt:
        return  # the way to stop watching, not an error


# -- webhooks --------------------------------------------------------------------------------


def _call(ctx: click.Context, method: str, path: str, body: Any = None) -> Any:
    """One call of the v1 webhooks API with the group's URL, token and project."""
    import os
    import urllib.error
    import urllib.request

    settings = ctx.obj
    base = settings.url if "://" in settings.url else f"http://{settings.url}"
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    token = None
    if settings.token_file is not None:
        token = settings.token_file.read_text(encoding="utf-8").strip()
    elif os.environ.get("MODEL_REGISTRY_TOKEN"):
        token = os.environ["MODEL_REGISTRY_TOKEN"].strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if getattr(settings, "project", None):
        headers["X-Model-Registry-Project"] = settings.project
    url = f"{base.rstrip('/')}/api/model_registry/v1/webhooks{path}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    from model_registry.exceptions import ConnectionFailed, from_http_response

    try:
        with urllib.request.urlopen(request, timeout=settings.timeout or 30) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise from_http_response(exc.code, exc.read(), method=method, path=url) from None
    except OSError as exc:
        raise ConnectionFailed(f"cannot reach {base}: {exc}", method=method, path=url) from None
    return json.loads(raw) if raw else None


@click.group("webhooks")
def webhooks() -> None:
    """Webhooks: signed deliveries of the registry's events to a URL."""


@webhooks.command("create")
@click.argument("url")
@click.option("--secret", required=True, help="Signs every delivery (shown never again).")
@click.option(
    "--events",
    "events",
    multiple=True,
    required=True,
    help="Event types, comma separated or repeated (model_version.created, ...; * for all).",
)
@click.option("--description", default=None)
@click.pass_context
def webhooks_create(
    ctx: click.Context, url: str, secret: str, events: tuple[str, ...], description: str | None
) -> None:
    """Register a webhook; prints it as JSON."""
    body: dict[str, Any] = {"url": url, "secret": secret, "events": _names(events) or []}
    if description is not None:
        body["description"] = description
    click.echo(json.dumps(_call(ctx, "POST", "", body), indent=2))


_PAGE_SIZE = 100


def _pages(ctx: click.Context, path: str, limit: int | None) -> list[Any]:
    """The items of a paged list of the webhooks API, page after page (at most ``limit``)."""
    from urllib.parse import urlencode

    items: list[Any] = []
    token = ""
    while limit is None or len(items) < limit:
        query = {"pageSize": str(_PAGE_SIZE)}
        if token:
            query["nextPageToken"] = token
        page = _call(ctx, "GET", f"{path}?{urlencode(query)}")
        items.extend(page["items"])
        token = page["nextPageToken"]
        if not token:
            break
    return items if limit is None else items[:limit]


@webhooks.command("list")
@click.pass_context
def webhooks_list(ctx: click.Context) -> None:
    """List the webhooks (id, url, events, last delivery) as JSON."""
    click.echo(json.dumps(_pages(ctx, "", None), indent=2))


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Show at most this many (the newest); default: the whole log.",
)
@click.pass_context
def webhooks_deliveries(ctx: click.Context, webhook_id: str, limit: int | None) -> None:
    """Show a webhook's delivery log, newest first, as JSON (each delivery's event, status,
    attempts, the receiver's last HTTP status and the error)."""
    click.echo(json.dumps(_pages(ctx, f"/{webhook_id}/deliveries", limit), indent=2))


@webhooks.command("get")
@click.argument("webhook_id")
@click.pass_context
def webhooks_get(ctx: click.Context, webhook_id: str) -> None:
    """Show one webhook (with its last delivery's status) as JSON."""
    click.echo(json.dumps(_call(ctx, "GET", f"/{webhook_id}"), indent=2))


@webhooks.command("delete")
@click.argument("webhook_id")
@click.pass_context
def webhooks_delete(ctx: click.Context, webhook_id: str) -> None:
    """Remove a webhook and its delivery log."""
    _call(ctx, "DELETE", f"/{webhook_id}")
