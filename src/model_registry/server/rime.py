"""Seed 003's REST calls: a thin front door over the same service as every other route.

The notebook of seed 003 (``../shared/seeds/003_*.txt``) creates a project and registers a
dataset and a model with these calls, sending its token as the ``rime-api-key`` header (the
access middleware accepts it as it accepts ``Authorization: Bearer``):

* ``POST /v1/projects`` ``{"name", "description", "model_task"}`` -> ``200``
  ``{"project": {"id": {"uuid": ...}, "name", "description", "model_task"}}``;
* ``POST /v1/registry/dataset/{project uuid}`` ``{"name", "data_info": {"connection_info",
  "data_params"}}`` -> ``{"datasetId": ...}``;
* ``POST /v1/registry/model/{project uuid}`` ``{"name", "model_info": {"hugging_face":
  {"model_uri"}} | {"model_path": {"path"}}}`` -> ``{"modelId": ...}``.

Each handler translates and calls the service (``create_project``, then
:func:`~model_registry.server.service.register_seed_dataset` and
:func:`~model_registry.server.service.register_seed_model` in the project the path names, as
the caller); errors are the usual ``{"code", "message"}`` bodies.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from model_registry.server.errors import BadRequest
from model_registry.server.rest import json_response, read_json_object
from model_registry.server.rest import service_of as _service
from model_registry.server.service import register_seed_dataset, register_seed_model

__all__ = ["add_rime_routes"]

_PROJECT_FIELDS = {"name": "name", "description": "description", "model_task": "modelTask"}


async def _create_project(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    unknown = [key for key in body if key not in _PROJECT_FIELDS]
    if unknown:
        raise BadRequest(f'json: unknown field "{unknown[0]}"')
    created = await _service(request).create_project(
        {_PROJECT_FIELDS[key]: value for key, value in body.items()}
    )
    project: dict[str, Any] = {"id": {"uuid": created["id"]}, "name": created["name"]}
    if "description" in created:
        project["description"] = created["description"]
    if "modelTask" in created:
        project["model_task"] = created["modelTask"]
    return json_response({"project": project})


def _fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = [key for key in body if key not in allowed]
    if unknown:
        raise BadRequest(f'json: unknown field "{unknown[0]}"')


async def _register_dataset(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    _fields(body, ("name", "data_info", "integration_id", "skip_validation"))
    view = _service(request)
    scoped = await view.acting_as(view.principal, request.match_info["project"])
    dataset_id = await register_seed_dataset(scoped, body.get("name"), body.get("data_info"))
    return json_response({"datasetId": dataset_id})


async def _register_model(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    _fields(body, ("name", "model_info", "model_endpoint_integration_id", "skip_validation"))
    view = _service(request)
    scoped = await view.acting_as(view.principal, request.match_info["project"])
    model_id = await register_seed_model(scoped, body.get("name"), body.get("model_info"))
    return json_response({"modelId": model_id})


def add_rime_routes(app: web.Application) -> None:
    """Add the three routes of seed 003 (see the module docstring)."""
    app.router.add_post("/v1/projects", _create_project)
    app.router.add_post("/v1/registry/dataset/{project}", _register_dataset)
    app.router.add_post("/v1/registry/model/{project}", _register_model)
