"""The web UI's routes and page handlers.

Each page has its own URL whose query holds the page's state (search, filter, ordering, page
token), so links, the back button and reloads work without script. Every page runs as the
signed-in token's principal (the server's admin token or an issued, project-scoped one) in the
project the switcher chose (``?project=``, kept in a cookie; else the token's default), on the
same service view the API gives that token, so the UI shows only what the token may read.
Each table costs a fixed number of service calls whatever its length (a page of rows, then one
batch read for what the rows link to), never one call per row.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from model_registry.server.auth import RequestAuth, bearer_token
from model_registry.server.errors import BadRequest, NotFound, ServiceError
from model_registry.server.service import RegistryService
from model_registry.server.ui import security
from model_registry.server.ui.charts import Chart, line_chart
from model_registry.workflows.params import (
    KIND_DATASET,
    KIND_PREDICTIONS,
    KIND_PROPERTY,
    PARAM_PREFIX,
)

__all__ = ["UI_PREFIX", "is_ui_request", "setup_ui", "wants_html"]

UI_PREFIX = "/ui"
PAGE_SIZES = (20, 50, 100)
"""Rows per table page the UI offers (the first is the default)."""
ORDERINGS = (
    ("LAST_UPDATE_TIME", "last update"),
    ("CREATE_TIME", "creation time"),
    ("NAME", "name"),
    ("ID", "id"),
)
"""The API's orderings, as the tables offer them."""
MAX_SWITCHER_PROJECTS = 100
"""Most projects the switcher lists (one page of the API)."""
MAX_BACK_PAGES = 20
"""How many pages back a table's "Previous page" reaches (the tokens ride in its URL)."""
_FIRST_PAGE = "~"
"""The first page's (empty) token in a ``back`` list; page tokens are base64url, never ``~``."""
MAX_CHART_POINTS = 10_000
"""Most metric-history rows a run page reads (one page of the API)."""

_DATASET_FILTER = f'`{KIND_PROPERTY}` = "{KIND_DATASET}"'
_PREDICTIONS_FILTER = f'`{KIND_PROPERTY}` = "{KIND_PREDICTIONS}"'

Context = dict[str, Any]
PageResult = tuple[str, Context] | web.StreamResponse
Handler = Callable[[web.Request], Awaitable[PageResult]]


@dataclass(frozen=True)
class _Config:
    access: RequestAuth
    templates: jinja2.Environment


_CONFIG_KEY: web.AppKey[_Config] = web.AppKey("ui_config", _Config)
_VIEW_KEY: web.RequestKey[RegistryService] = web.RequestKey("ui_view", RegistryService)


def wants_html(request: web.Request) -> bool:
    """Whether the request comes from a browser (it accepts ``text/html``)."""
    return "text/html" in request.headers.get("Accept", "")


def is_ui_request(request: web.Request) -> bool:
    """Whether the UI answers this request (and does its own sign-in check).

    The UI's paths, and ``/`` asked by a browser (redirected to the UI); an API client's ``/``
    stays the API's.
    """
    path = request.path
    if path == UI_PREFIX or path.startswith(UI_PREFIX + "/"):
        return True
    return path == "/" and request.method == "GET" and wants_html(request)


# -------------------------------------------------------------------------------------------
# formatting helpers (template filters)


def _time(ms: object) -> str:
    try:
        when = datetime.fromtimestamp(int(str(ms)) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _plain(value: Mapping[str, Any]) -> Any:
    """The value of a tagged ``customProperties`` entry."""
    for key in ("string_value", "int_value", "double_value", "bool_value", "struct_value"):
        if key in value:
            return value[key]
    return value.get("proto_value")


def labels_of(properties: Mapping[str, Any] | None) -> list[str]:
    """The labels of an entity: its string custom properties with an empty value.

    That is how the reference registry's UI stores labels; the UI keeps to it so labels set
    there and here are the same thing.
    """
    return [
        name
        for name, value in (properties or {}).items()
        if value.get("metadataType") == "MetadataStringValue" and value.get("string_value") == ""
    ]


def properties_of(
    properties: Mapping[str, Any] | None, *, skip_params: bool = False
) -> list[tuple[str, str]]:
    """``(name, shown value)`` of the custom properties that are not labels (nor, with
    ``skip_params``, the ``params.*`` a parameters table shows already)."""
    labels = set(labels_of(properties))
    return [
        (name, str(_plain(value)))
        for name, value in (properties or {}).items()
        if name not in labels and not (skip_params and name.startswith(PARAM_PREFIX))
    ]


def params_of(properties: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``(parameter, shown value)`` of a dataset's or predictions' ``params.*`` properties."""
    return [
        (name[len(PARAM_PREFIX) :], str(_plain(value)))
        for name, value in (properties or {}).items()
        if name.startswith(PARAM_PREFIX)
    ]


def _prop(properties: Mapping[str, Any] | None, name: str) -> str | None:
    value = (properties or {}).get(name)
    if value is None:
        return None
    plain = _plain(value)
    return None if plain is None else str(plain)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("model_registry.server.ui", "templates"),
        autoescape=True,  # every value, whatever the template's name
        auto_reload=False,  # shipped in the package: no file checks on every render
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = _time
    env.filters["labels"] = labels_of
    env.filters["properties"] = properties_of
    env.filters["params"] = params_of
    env.filters["prop"] = _prop
    return env


# -------------------------------------------------------------------------------------------
# the page wrapper: sign-in, CSRF, errors, headers


def _service(request: web.Request) -> RegistryService:
    """The service view of the request: its token's principal, in the chosen project."""
    return request[_VIEW_KEY]


def _token(request: web.Request) -> bytes | None:
    """The sign-in cookie's token, else an ``Authorization: Bearer`` header's."""
    cookie = request.cookies.get(security.TOKEN_COOKIE)
    if cookie:
        return cookie.encode("utf-8", "surrogateescape")
    return bearer_token(request.headers.get("Authorization"))


async def _view(request: web.Request, access: RequestAuth) -> RegistryService | None:
    """The service view of the request, or None when it is not signed in.

    The project is the query's ``project`` (the switcher; kept in a cookie), else the
    cookie's, else the token's default. A cookie naming a project the token cannot see (left
    by another token) is dropped; a query naming one is a 404, as in the API.
    """
    try:
        principal = await access.principal(_token(request))
    except ServiceError:
        return None
    chosen = request.rel_url.query.get("project")
    if chosen:
        return await access.service.acting_as(principal, chosen)
    kept = request.cookies.get(security.PROJECT_COOKIE) or None
    try:
        return await access.service.acting_as(principal, kept)
    except NotFound:
        if kept is None:
            raise
        request[_DROP_PROJECT_KEY] = True
        return await access.service.acting_as(principal, None)


_DROP_PROJECT_KEY: web.RequestKey[bool] = web.RequestKey("ui_drop_project", bool)


async def _projects_of(view: RegistryService) -> list[str]:
    """The names of the projects the view's principal may switch to (one list call)."""
    page = await view.as_principal(view.principal).list_projects(
        {"pageSize": str(MAX_SWITCHER_PROJECTS), "orderBy": "NAME"}
    )
    return [str(p["name"]) for p in page["items"]]


def _render(
    request: web.Request, template: str, context: Context, *, status: int = 200
) -> web.Response:
    config = request.app[_CONFIG_KEY]
    csrf, new_csrf = security.csrf_token(request)
    body = config.templates.get_template(template).render(
        **{"title": "", "nav": "", "project": None, "projects": [], **context},
        csrf=csrf,
        auth_on=config.access.on,
        path=request.path,
        ui=UI_PREFIX,
        orderings=ORDERINGS,
    )
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    if new_csrf:
        security.set_cookie(request, response, security.CSRF_COOKIE, csrf)
    chosen = request.rel_url.query.get("project")
    if chosen and context.get("project") is not None:
        security.set_cookie(request, response, security.PROJECT_COOKIE, str(context["project"]))
    elif request.get(_DROP_PROJECT_KEY):
        response.del_cookie(security.PROJECT_COOKIE, path=security.COOKIE_PATH)
    security.security_headers(response)
    return response


def _page(
    *, public: bool = False
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap a handler: sign-in check, CSRF on POST, service errors as an error page."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def page(request: web.Request) -> web.StreamResponse:
            config = request.app[_CONFIG_KEY]
            if not public:
                try:
                    view = await _view(request, config.access)
                except ServiceError as exc:  # the chosen project is not the token's
                    return _render(
                        request,
                        "error.html",
                        {"status": exc.http_status, "message": exc.message},
                        status=exc.http_status,
                    )
                if view is None:
                    target = request.path_qs if request.method == "GET" else UI_PREFIX + "/models"
                    raise _redirect(f"{UI_PREFIX}/login?{urlencode({'next': target})}")
                request[_VIEW_KEY] = view
            if request.method == "POST":
                form = await request.post()
                if not security.csrf_ok(request, form.get("csrf")):
                    return _render(
                        request,
                        "error.html",
                        {
                            "status": 403,
                            "message": "the form expired or came from another site: "
                            "reload the page and try again",
                        },
                        status=403,
                    )
            try:
                result = await handler(request)
            except ServiceError as exc:
                return _render(
                    request,
                    "error.html",
                    {"status": exc.http_status, "message": exc.message},
                    status=exc.http_status,
                )
            if isinstance(result, web.StreamResponse):
                security.security_headers(result)
                return result
            template, context = result
            if not public and context.get("nav"):
                # The header's project switcher: the view's project and the token's others.
                view = request[_VIEW_KEY]
                context.setdefault("project", view.project_name)
                context.setdefault("projects", await _projects_of(view))
            return _render(request, template, context, status=context.pop("_status", 200))

        return page

    return wrap


def _redirect(location: str) -> web.HTTPSeeOther:
    response = web.HTTPSeeOther(location)
    security.security_headers(response)
    return response


# -------------------------------------------------------------------------------------------
# table state: search, filter, ordering, paging


@dataclass(frozen=True)
class TableQuery:
    """What a table page shows, read from (and written back to) its URL's query."""

    search: str = ""
    filter: str = ""
    order: str = "LAST_UPDATE_TIME"
    desc: bool = True
    size: int = PAGE_SIZES[0]
    token: str = ""
    back: tuple[str, ...] = ()
    """The page tokens of the pages before this one, nearest last (``""`` is the first page):
    API page tokens only go forward, so the URL carries the way back."""

    @classmethod
    def from_request(cls, request: web.Request, *, order: str = "LAST_UPDATE_TIME") -> TableQuery:
        """Read the table state; unknown values fall back to the defaults."""
        q = request.rel_url.query
        ordering = q.get("order", order)
        size = q.get("size", "")
        return cls(
            search=q.get("q", "").strip(),
            filter=q.get("filter", "").strip(),
            order=ordering if ordering in dict(ORDERINGS) else order,
            desc=q.get("dir", "desc") != "asc",
            size=int(size) if size.isdigit() and int(size) in PAGE_SIZES else PAGE_SIZES[0],
            token=q.get("token", ""),
            back=tuple("" if t == _FIRST_PAGE else t for t in q.get("back", "").split(".") if t)[
                -MAX_BACK_PAGES:
            ],
        )

    def api_params(self, *, base_filter: str = "") -> dict[str, str]:
        """The list call's query parameters."""
        parts = [p for p in (base_filter, self.filter) if p]
        if self.search:
            parts.append(f'name ILIKE "%{_like_literal(self.search)}%"')
        params = {
            "pageSize": str(self.size),
            "orderBy": self.order,
            "sortOrder": "DESC" if self.desc else "ASC",
        }
        if parts:
            params["filterQuery"] = " AND ".join(f"({p})" for p in parts)
        if self.token:
            params["nextPageToken"] = self.token
        return params

    def url(self, path: str, **changes: Any) -> str:
        """This table's URL with some of its state changed (``token=""`` for the first page).

        Any change but a page move starts the way back afresh (the old tokens belong to
        another search, filter or ordering).
        """
        back = self.back if set(changes) <= {"token", "back"} else ()
        state = {
            "q": self.search,
            "filter": self.filter,
            "order": self.order,
            "dir": "desc" if self.desc else "asc",
            "size": str(self.size),
            "token": self.token,
        }
        state.update({k: str(v) for k, v in changes.items() if k != "back"})
        back = tuple(changes.get("back", back))
        if back and state["token"]:
            state["back"] = ".".join(t or _FIRST_PAGE for t in back[-MAX_BACK_PAGES:])
        return f"{path}?{urlencode({k: v for k, v in state.items() if v})}"

    def next_url(self, path: str, next_token: str) -> str:
        """The URL of the page after this one."""
        return self.url(path, token=next_token, back=(*self.back, self.token))

    def previous_url(self, path: str) -> str | None:
        """The URL of the page before this one, or None when it is not known (or this is the
        first page)."""
        if not self.token or not self.back:
            return None
        return self.url(path, token=self.back[-1], back=self.back[:-1])


def _like_literal(text: str) -> str:
    """``text`` as a filter string literal's content that LIKE matches literally."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\\\\\")  # the literal's \\\\ is LIKE's \\, a literal backslash
        elif char in "%_":
            out.append("\\" + char)  # kept as \% / \_ by the literal: LIKE's escaped wildcard
        elif char == '"':
            out.append('\\"')
        else:
            out.append(char)
    return "".join(out)


async def _table(
    service: RegistryService,
    kind: str,
    query: TableQuery,
    *,
    base_filter: str = "",
    extra: Mapping[str, str] | None = None,
    parent_id: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """One page of a list; a bad filter or token is returned as the message to show inline."""
    params = {**query.api_params(base_filter=base_filter), **(extra or {})}
    try:
        return await service.list(kind, params, parent_id=parent_id), None
    except BadRequest as exc:
        return {"items": [], "nextPageToken": ""}, exc.message


async def _by_ids(service: RegistryService, kind: str, ids: Iterable[str]) -> dict[str, Any]:
    """The entities of ``kind`` with these ids, in one list call (``id IN (...)``)."""
    wanted = sorted({i for i in ids if i and i.isdigit()}, key=int)
    if not wanted:
        return {}
    page = await service.list(
        kind, {"filterQuery": f"id IN ({','.join(wanted)})", "pageSize": str(len(wanted))}
    )
    return {item["id"]: item for item in page["items"]}


# -------------------------------------------------------------------------------------------
# pages


@_page()
async def _home(request: web.Request) -> PageResult:
    raise _redirect(f"{UI_PREFIX}/models")


async def _list_page(
    request: web.Request, kind: str, template: str, title: str, *, nav: str | None = None
) -> tuple[str, Context]:
    """A top-level table page: one page of ``kind`` in the URL's search, filter and order.

    The rows are ``rows`` in the template (``nav`` defaults to the title in lower case).
    """
    query = TableQuery.from_request(request)
    page, error = await _table(_service(request), kind, query)
    return template, {
        "title": title,
        "nav": nav or title.lower(),
        "query": query,
        "rows": page["items"],
        "next_token": page["nextPageToken"],
        "filter_error": error,
    }


@_page()
async def _models(request: web.Request) -> PageResult:
    template, context = await _list_page(request, "registered-model", "models.html", "Models")
    context["latest"] = await _service(request).newest_versions([m["id"] for m in context["rows"]])
    return template, context


async def _version_links(
    service: RegistryService, versions: list[dict[str, Any]]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Artifacts of each version (one batch read) and the datasets their predictions use."""
    artifacts = await service.linked_artifacts([v["id"] for v in versions])
    dataset_ids = [
        _prop(a.get("customProperties"), "dataset_id") or ""
        for items in artifacts.values()
        for a in items
        if _prop(a.get("customProperties"), KIND_PROPERTY) == KIND_PREDICTIONS
    ]
    return artifacts, await _by_ids(service, "artifact", dataset_ids)


async def _model_page(
    service: RegistryService, model_id: str, query: TableQuery, error: str | None = None
) -> PageResult:
    """A model with a page of its versions, their artifacts and the datasets they use."""
    model = await service.get("registered-model", model_id)
    page, filter_error = await _table(service, "model-version", query, parent_id=model["id"])
    artifacts, datasets = await _version_links(service, page["items"])
    return "model.html", {
        "title": model.get("name", ""),
        "nav": "models",
        "model": model,
        "versions": page["items"],
        "artifacts": artifacts,
        "datasets": datasets,
        "query": query,
        "next_token": page["nextPageToken"],
        "error": error or filter_error,
        "_status": 400 if error else 200,
    }


async def _version_page(
    service: RegistryService, version_id: str, error: str | None = None
) -> PageResult:
    """A version with its model, artifacts and the datasets its predictions use."""
    version = await service.get("model-version", version_id)
    model = await service.get("registered-model", version["registeredModelId"])
    artifacts, datasets = await _version_links(service, [version])
    return "version.html", {
        "title": f"{model.get('name', '')} {version.get('name', '')}",
        "nav": "models",
        "model": model,
        "version": version,
        "artifacts": artifacts.get(version["id"], []),
        "datasets": datasets,
        "error": error,
        "_status": 400 if error else 200,
    }


@_page()
async def _model(request: web.Request) -> PageResult:
    query = TableQuery.from_request(request, order="CREATE_TIME")
    return await _model_page(_service(request), request.match_info["id"], query)


@_page()
async def _version(request: web.Request) -> PageResult:
    return await _version_page(_service(request), request.match_info["id"])


# writes ------------------------------------------------------------------------------------

_EDIT_KINDS = {"models": "registered-model", "versions": "model-version"}


def _labels_from_form(text: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


@_page()
async def _edit(request: web.Request) -> PageResult:
    """Edit description and labels; labels replace the empty-string properties only."""
    service = _service(request)
    collection = request.match_info["collection"]
    kind = _EDIT_KINDS[collection]
    entity_id = request.match_info["id"]
    form = await request.post()
    current = await service.get(kind, entity_id)
    properties = {
        name: value
        for name, value in (current.get("customProperties") or {}).items()
        if name not in set(labels_of(current.get("customProperties")))
    }
    for label in _labels_from_form(str(form.get("labels", ""))):
        properties[label] = {"metadataType": "MetadataStringValue", "string_value": ""}
    body = {"description": str(form.get("description", "")), "customProperties": properties}
    try:
        await service.update(kind, entity_id, body)
    except BadRequest as exc:
        return await _rerender_with_error(request, collection, entity_id, exc.message)
    raise _redirect(f"{UI_PREFIX}/{collection}/{entity_id}")


@_page()
async def _set_state(request: web.Request) -> PageResult:
    """Archive or restore a model or a version."""
    service = _service(request)
    collection = request.match_info["collection"]
    entity_id = request.match_info["id"]
    form = await request.post()
    state = str(form.get("state", ""))
    try:
        await service.update(_EDIT_KINDS[collection], entity_id, {"state": state})
    except BadRequest as exc:
        return await _rerender_with_error(request, collection, entity_id, exc.message)
    raise _redirect(f"{UI_PREFIX}/{collection}/{entity_id}")


async def _rerender_with_error(
    request: web.Request, collection: str, entity_id: str, message: str
) -> PageResult:
    """The entity's page again, with the service's refusal shown on it (status 400)."""
    service = _service(request)
    if collection == "models":
        return await _model_page(service, entity_id, TableQuery(order="CREATE_TIME"), message)
    return await _version_page(service, entity_id, message)


# datasets and predictions -------------------------------------------------------------------


@_page()
async def _datasets(request: web.Request) -> PageResult:
    service = _service(request)
    query = TableQuery.from_request(request)
    page, error = await _table(
        service,
        "artifact",
        query,
        base_filter=_DATASET_FILTER,
        extra={"artifactType": "dataset-artifact"},
    )
    selected_id = request.rel_url.query.get("dataset", "")
    selected = None
    if selected_id:
        selected = next((d for d in page["items"] if d["id"] == selected_id), None)
        if selected is None:
            selected = await service.get("dataset-artifact", selected_id)
    predictions: list[dict[str, Any]] = []
    versions: dict[str, Any] = {}
    if selected is not None:
        # The predictions made on this dataset (one list), and their versions (one batch).
        on_dataset = f'{_PREDICTIONS_FILTER} AND dataset_id = "{selected["id"]}"'
        found = await service.list(
            "artifact",
            {"artifactType": "dataset-artifact", "filterQuery": on_dataset, "pageSize": "100"},
        )
        predictions = found["items"]
        versions = await _by_ids(
            service,
            "model-version",
            [_prop(p.get("customProperties"), "model_version_id") or "" for p in predictions],
        )
    return "datasets.html", {
        "predictions": predictions,
        "versions": versions,
        "title": "Datasets",
        "nav": "datasets",
        "query": query,
        "datasets": page["items"],
        "next_token": page["nextPageToken"],
        "filter_error": error,
        "selected": selected,
    }


@_page()
async def _predictions(request: web.Request) -> PageResult:
    service = _service(request)
    query = TableQuery.from_request(request)
    page, error = await _table(
        service,
        "artifact",
        query,
        base_filter=_PREDICTIONS_FILTER,
        extra={"artifactType": "dataset-artifact"},
    )
    items = page["items"]

    def refs(name: str) -> list[str]:
        return [_prop(p.get("customProperties"), name) or "" for p in items]

    datasets = await _by_ids(service, "artifact", refs("dataset_id"))
    versions = await _by_ids(service, "model-version", refs("model_version_id"))
    models = await _by_ids(service, "registered-model", refs("registered_model_id"))
    return "predictions.html", {
        "title": "Predictions",
        "nav": "predictions",
        "query": query,
        "predictions": items,
        "datasets": datasets,
        "versions": versions,
        "models": models,
        "next_token": page["nextPageToken"],
        "filter_error": error,
    }


# experiments and runs -----------------------------------------------------------------------


@_page()
async def _experiments(request: web.Request) -> PageResult:
    return await _list_page(request, "experiment", "experiments.html", "Experiments")


@_page()
async def _experiment(request: web.Request) -> PageResult:
    service = _service(request)
    experiment = await service.get("experiment", request.match_info["id"])
    query = TableQuery.from_request(request)
    page, error = await _table(service, "experiment-run", query, parent_id=experiment["id"])
    return "experiment.html", {
        "title": experiment.get("name", ""),
        "nav": "experiments",
        "experiment": experiment,
        "query": query,
        "runs": page["items"],
        "next_token": page["nextPageToken"],
        "filter_error": error,
    }


def _charts(history: list[dict[str, Any]]) -> list[Chart]:
    series: dict[str, list[tuple[float, float]]] = {}
    for row in history:
        value = row.get("value")
        if value is None:
            continue
        step = row.get("step")
        series.setdefault(str(row.get("name", "")), []).append(
            (float(step) if step is not None else math.nan, float(value))
        )
    return [line_chart(name, samples) for name, samples in sorted(series.items())]


@_page()
async def _run(request: web.Request) -> PageResult:
    service = _service(request)
    run = await service.get("experiment-run", request.match_info["id"])
    experiment = await service.get("experiment", run["experimentId"])
    history = await service.list_metric_history(
        {"pageSize": str(MAX_CHART_POINTS), "orderBy": "ID"}, run_id=run["id"]
    )
    linked = await service.linked_artifacts([run["id"]])
    artifacts = linked.get(run["id"], [])
    return "run.html", {
        "title": run.get("name", ""),
        "nav": "experiments",
        "run": run,
        "experiment": experiment,
        "charts": _charts(history["items"]),
        "truncated": bool(history["nextPageToken"]),
        "parameters": [a for a in artifacts if a.get("artifactType") == "parameter"],
        "metrics": [a for a in artifacts if a.get("artifactType") == "metric"],
        "others": [a for a in artifacts if a.get("artifactType") not in ("parameter", "metric")],
    }


# serving ---------------------------------------------------------------------------------------


@_page()
async def _environments(request: web.Request) -> PageResult:
    return await _list_page(
        request, "serving-environment", "environments.html", "Serving", nav="serving"
    )


@_page()
async def _environment(request: web.Request) -> PageResult:
    service = _service(request)
    environment = await service.get("serving-environment", request.match_info["id"])
    query = TableQuery.from_request(request)
    page, error = await _table(service, "inference-service", query, parent_id=environment["id"])
    services = page["items"]
    models = await _by_ids(service, "registered-model", [s["registeredModelId"] for s in services])
    pinned = await _by_ids(
        service, "model-version", [s.get("modelVersionId", "") for s in services]
    )
    newest = await service.newest_versions(
        [s["registeredModelId"] for s in services if not s.get("modelVersionId")]
    )
    served = {
        s["id"]: pinned.get(s.get("modelVersionId", "")) or newest.get(s["registeredModelId"])
        for s in services
    }
    return "environment.html", {
        "title": environment.get("name", ""),
        "nav": "serving",
        "environment": environment,
        "query": query,
        "services": services,
        "models": models,
        "served": served,
        "next_token": page["nextPageToken"],
        "filter_error": error,
    }


# sign-in -----------------------------------------------------------------------------------------


def _safe_next(target: str) -> str:
    """Only a path of the UI (never another site) is a place to go after signing in."""
    if target.startswith(UI_PREFIX + "/") and not target.startswith("//"):
        return target
    return UI_PREFIX + "/models"


@_page(public=True)
async def _login(request: web.Request) -> PageResult:
    config = request.app[_CONFIG_KEY]
    target = _safe_next(request.rel_url.query.get("next", ""))
    if request.method == "GET":
        if not config.access.on:
            raise _redirect(target)
        return "login.html", {"title": "Sign in", "nav": "", "next": target, "error": None}
    form = await request.post()
    target = _safe_next(str(form.get("next", "")))
    token = str(form.get("token", "")).strip()
    try:
        # The server's admin token or an issued one (live, not revoked), as the API accepts.
        accepted = config.access.on and bool(
            await config.access.principal(token.encode("utf-8", "surrogateescape"))
        )
    except ServiceError:
        accepted = False
    if not accepted:
        return "login.html", {
            "title": "Sign in",
            "nav": "",
            "next": target,
            "error": "this token is not accepted",
            "_status": 401,
        }
    response = _redirect(target)
    security.set_cookie(request, response, security.TOKEN_COOKIE, token)
    # A new token starts in its own default project.
    response.del_cookie(security.PROJECT_COOKIE, path=security.COOKIE_PATH)
    raise response


@_page(public=True)
async def _logout(request: web.Request) -> PageResult:
    response = _redirect(f"{UI_PREFIX}/login")
    response.del_cookie(security.TOKEN_COOKIE, path=security.COOKIE_PATH)
    response.del_cookie(security.PROJECT_COOKIE, path=security.COOKIE_PATH)
    raise response


@_page()
async def _not_found(request: web.Request) -> PageResult:
    raise NotFound(f"no page at {request.path}")


def setup_ui(app: web.Application, *, access: RequestAuth) -> None:
    """Add the UI's routes to the server's application.

    Args:
        app: The application.
        access: How the API resolves a token's principal (the UI signs in the same tokens).
    """
    templates = _templates()
    for name in templates.list_templates():
        templates.get_template(name)  # compiled now, not on the first request of each page
    app[_CONFIG_KEY] = _Config(access, templates)
    r = app.router
    p = UI_PREFIX
    r.add_get(p, _home, allow_head=False)
    r.add_get(f"{p}/", _home, allow_head=False)
    r.add_get(f"{p}/models", _models, allow_head=False)
    r.add_get(f"{p}/models/{{id}}", _model, allow_head=False)
    r.add_get(f"{p}/versions/{{id}}", _version, allow_head=False)
    r.add_post(f"{p}/{{collection:models|versions}}/{{id}}/edit", _edit)
    r.add_post(f"{p}/{{collection:models|versions}}/{{id}}/state", _set_state)
    r.add_get(f"{p}/datasets", _datasets, allow_head=False)
    r.add_get(f"{p}/predictions", _predictions, allow_head=False)
    r.add_get(f"{p}/experiments", _experiments, allow_head=False)
    r.add_get(f"{p}/experiments/{{id}}", _experiment, allow_head=False)
    r.add_get(f"{p}/runs/{{id}}", _run, allow_head=False)
    r.add_get(f"{p}/serving", _environments, allow_head=False)
    r.add_get(f"{p}/serving/{{id}}", _environment, allow_head=False)
    r.add_get(f"{p}/login", _login, allow_head=False)
    r.add_post(f"{p}/login", _login)
    r.add_post(f"{p}/logout", _logout)
    static = resources.files("model_registry.server.ui") / "static"
    r.add_static(f"{p}/static", str(static), append_version=False)
    r.add_get(f"{p}/{{tail:.*}}", _not_found, allow_head=False)  # last: any other UI path
