"""The REST API's own description, served: the OpenAPI documents and a page to read them.

For each served API version (``v1``, ``v1alpha3``):

- ``/api/model_registry/<version>/openapi.yaml`` and ``.../openapi.json``: the document the
  server implements, byte for byte the one in the repository (``openapi/``), shipped as
  package data by ``make generate`` (``model_registry/_generated/specs/``);
- ``/docs`` lists the versions, ``/docs/<version>`` lists every operation (method, path,
  summary, parameters, request body, answers), rendered on the server from the JSON document.

The page is plain HTML with one inline style sheet and no script, so it works offline and
needs nothing outside the package (no CDN, no Swagger UI bundle): the documents themselves
are what tools (Swagger UI, Redoc, code generators) should be pointed at. Both are public,
also with auth on (docs/security.md says why).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from aiohttp import web

from model_registry.server.versions import API_VERSIONS

__all__ = ["DOCS_PATH", "add_doc_routes", "public_doc_paths", "spec_bytes"]

DOCS_PATH = "/docs"
"""The docs page; ``/docs/<version>`` for one API version."""

_METHODS = ("get", "put", "post", "delete", "patch")
_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
    "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
    "code{font-size:.9em}.m{font-weight:bold;text-transform:uppercase}"
)


def spec_bytes(version: str, suffix: str) -> bytes:
    """The OpenAPI document of ``version`` (``"yaml"`` or ``"json"``) as shipped."""
    files = resources.files("model_registry._generated") / "specs"
    return (files / f"{version}.{suffix}").read_bytes()


def spec_paths(version: str) -> tuple[str, str]:
    """The URLs of the YAML and JSON documents of ``version``."""
    base = API_VERSIONS[version].base_path
    return f"{base}/openapi.yaml", f"{base}/openapi.json"


def public_doc_paths(versions: Iterable[str]) -> frozenset[str]:
    """Every path :func:`add_doc_routes` serves for ``versions`` (all public)."""
    paths = {DOCS_PATH}
    for version in versions:
        paths.update(spec_paths(version))
        paths.add(f"{DOCS_PATH}/{version}")
    return frozenset(paths)


def _page(title: str, body: str) -> web.Response:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    response = web.Response(text=text, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _schema_text(schema: Mapping[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"array of {_schema_text(schema.get('items'))}"
    return str(schema.get("type", ""))


def _resolve(spec: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node`` itself, or what its ``$ref`` points to inside ``spec``."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = spec
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, Mapping) else {}
    return target if isinstance(target, Mapping) else {}


def render_version(version: str, spec: Mapping[str, Any]) -> str:
    """The body of ``/docs/<version>``: every operation of ``spec``."""
    e = html.escape
    yaml_url, json_url = spec_paths(version)
    info = spec.get("info", {})
    parts = [
        f"<h1>{e(str(info.get('title', 'REST API')))} {e(version)}</h1>",
        f"<p>{e(str(info.get('description', '')))}</p>",
        f'<p>OpenAPI document: <a href="{e(yaml_url)}">YAML</a>, '
        f'<a href="{e(json_url)}">JSON</a>. <a href="{DOCS_PATH}">All versions</a>.</p>',
    ]
    base = API_VERSIONS[version].base_path
    for path, item in spec.get("paths", {}).items():
        shared = [_resolve(spec, p) for p in item.get("parameters", [])]
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            parts.append(
                f'<h2 id="{e(str(op.get("operationId", "")))}"><span class="m">{method}</span> '
                f"<code>{e(base + path)}</code></h2>"
                f"<p>{e(str(op.get('summary') or op.get('description') or ''))}</p>"
            )
            params = shared + [_resolve(spec, p) for p in op.get("parameters", [])]
            if params:
                rows = "".join(
                    f"<tr><td><code>{e(str(p.get('name', '')))}</code></td>"
                    f"<td>{e(str(p.get('in', '')))}</td>"
                    f"<td>{'yes' if p.get('required') else 'no'}</td>"
                    f"<td>{e(_schema_text(p.get('schema')))}</td>"
                    f"<td>{e(str(p.get('description', '')))}</td></tr>"
                    for p in params
                )
                parts.append(
                    "<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th>"
                    f"<th>description</th></tr>{rows}</table>"
                )
            body = _resolve(spec, op.get("requestBody", {}))
            if body:
                schema = body.get("content", {}).get("application/json", {}).get("schema")
                parts.append(f"<p>Request body: <code>{e(_schema_text(schema))}</code></p>")
            answers = ", ".join(e(str(code)) for code in op.get("responses", {}))
            parts.append(f"<p>Answers: {answers}</p>")
    return "".join(parts)


def add_doc_routes(app: web.Application, versions: Iterable[str]) -> None:
    """Serve the OpenAPI documents of ``versions`` and the docs page (rendered once, here)."""
    versions = tuple(versions)
    rendered: dict[str, str] = {}
    for version in versions:
        yaml_url, json_url = spec_paths(version)
        yaml_body = spec_bytes(version, "yaml")
        json_body = spec_bytes(version, "json")
        rendered[version] = render_version(version, json.loads(json_body))

        def document(body: bytes, content_type: str) -> Any:
            async def handler(request: web.Request) -> web.Response:
                return web.Response(body=body, content_type=content_type, charset="utf-8")

            return handler

        app.router.add_get(yaml_url, document(yaml_body, "application/yaml"), allow_head=False)
        app.router.add_get(json_url, document(json_body, "application/json"), allow_head=False)

    async def index(request: web.Request) -> web.Response:
        items = "".join(
            f'<li><a href="{DOCS_PATH}/{v}">REST API {v}</a> (<a href="{spec_paths(v)[0]}">'
            f'YAML</a>, <a href="{spec_paths(v)[1]}">JSON</a>)</li>'
            for v in versions
        )
        return _page("Model registry REST API", f"<h1>Model registry REST API</h1><ul>{items}</ul>")

    async def one_version(request: web.Request) -> web.Response:
        version = request.match_info["version"]
        if version not in rendered:
            raise web.HTTPNotFound()
        return _page(f"Model registry REST API {version}", rendered[version])

    app.router.add_get(DOCS_PATH, index, allow_head=False)
    app.router.add_get(DOCS_PATH + "/{version}", one_version, allow_head=False)
