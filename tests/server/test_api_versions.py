"""Which REST API versions a server serves, and the deprecation headers of v1alpha3."""

from __future__ import annotations

import email.utils
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from reliability.serving import serve_process, serve_refused

from model_registry.server import rest, run_server
from model_registry.server.app import check_api_versions
from model_registry.server.rest import (
    EXPERIMENT_EXTENSION_ROUTES,
    EXTENSION_ROUTES,
    ExtensionRoute,
    add_routes,
)
from model_registry.server.versions import (
    API_VERSIONS,
    V1_STABLE_SINCE,
    ApiVersion,
    parse_api_versions,
    parse_sunset_date,
)

V1_BASE = API_VERSIONS["v1"].base_path
ALPHA_BASE = API_VERSIONS["v1alpha3"].base_path
SUNSET = date(2027, 6, 30)


def _operations(versions: tuple[str, ...]) -> dict[str, set[tuple[str, str]]]:
    app = web.Application()
    add_routes(app, versions)
    ops: dict[str, set[tuple[str, str]]] = {name: set() for name in versions}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        for name in versions:
            base = API_VERSIONS[name].base_path + "/"
            if path.startswith(base) and route.method != "*":
                ops[name].add((route.method, path[len(base) - 1 :]))
    return ops


def test_v1_serves_the_40_operations_of_v1alpha3_that_are_not_about_experiments() -> None:
    ops = _operations(("v1", "v1alpha3"))
    extensions = {(route.method, route.path) for route in EXTENSION_ROUTES}
    alpha_extensions = {(route.method, route.path) for route in EXPERIMENT_EXTENSION_ROUTES}

    assert len(ops["v1alpha3"] - alpha_extensions) == 56
    assert alpha_extensions == {
        ("DELETE", "/experiments/{id}"),
        ("DELETE", "/experiment_runs/{id}"),
    }
    assert alpha_extensions <= ops["v1alpha3"]
    assert len(ops["v1"] - extensions) == 40
    experiment_ops = {op for op in ops["v1alpha3"] if op[1].startswith("/experiment")}
    assert ops["v1"] - extensions == ops["v1alpha3"] - experiment_ops
    assert extensions <= ops["v1"]


async def test_an_extension_route_is_served_on_v1_only(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(version: ApiVersion) -> Any:
        async def answer(request: web.Request) -> web.Response:
            return web.json_response({"version": version.name, "id": request.match_info["id"]})

        return answer

    route = ExtensionRoute("GET", "/registered_models/{id}/probe", handler)
    monkeypatch.setattr(rest, "EXTENSION_ROUTES", (*rest.EXTENSION_ROUTES, route))
    async with run_server(database_url) as srv, aiohttp.ClientSession() as http:
        async with http.get(srv.url + V1_BASE + "/registered_models/7/probe") as r:
            assert r.status == 200
            assert await r.json() == {"version": "v1", "id": "7"}
        async with http.get(srv.url + ALPHA_BASE + "/registered_models/7/probe") as r:
            assert r.status == 404


@pytest.mark.parametrize(("served", "absent"), [("v1", ALPHA_BASE), ("v1alpha3", V1_BASE)])
async def test_a_server_with_one_api_version_answers_404_for_the_other_prefix(
    database_url: str, served: str, absent: str
) -> None:
    async with (
        run_server(database_url, api_versions=[served]) as srv,
        aiohttp.ClientSession() as http,
    ):
        present = API_VERSIONS[served].base_path
        async with http.post(srv.url + present + "/registered_models", json={"name": "m"}) as r:
            assert r.status == 201
        async with http.get(srv.url + present + "/registered_models/1") as r:
            assert r.status == 200
        for path in ("/registered_models", "/registered_models/1", "/artifacts"):
            async with http.get(srv.url + absent + path) as r:
                assert r.status == 404
                assert (await r.json())["code"] == "Not Found"
    assert srv.api_versions == (served,)


async def test_v1alpha3_answers_carry_deprecation_sunset_and_successor_link(
    database_url: str,
) -> None:
    async with (
        run_server(database_url, alpha_sunset_date=SUNSET) as srv,
        aiohttp.ClientSession() as http,
    ):
        url = srv.url + ALPHA_BASE
        async with http.post(url + "/registered_models", json={"name": "m"}) as created:
            assert created.status == 201
            model_id = (await created.json())["id"]
            headers = created.headers
        async with http.get(f"{url}/registered_models/{model_id}") as got:
            got_link = got.headers["Link"]
        async with http.get(url + "/registered_models/999") as missing:
            missing_headers = missing.headers
            assert missing.status == 404
        async with http.post(url + "/registered_models", json={"nope": 1}) as bad:
            bad_headers = bad.headers
            assert bad.status == 400
        async with http.get(url + "/experiments") as experiments:
            experiments_headers = experiments.headers
            assert experiments.status == 200
        async with http.get(srv.url + V1_BASE + "/registered_models") as stable:
            stable_headers = stable.headers
        async with http.get(srv.url + "/healthz") as health:
            health_headers = health.headers

    assert headers["Deprecation"] == f"@{int(V1_STABLE_SINCE.timestamp())}"
    assert headers["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    sunset = email.utils.parsedate_to_datetime(headers["Sunset"])
    assert sunset == datetime(2027, 6, 30, tzinfo=timezone.utc)
    assert headers["Link"] == f'<{V1_BASE}/registered_models>; rel="successor-version"'
    assert got_link == f'<{V1_BASE}/registered_models/{model_id}>; rel="successor-version"'
    for answer in (missing_headers, bad_headers, experiments_headers):
        assert answer["Deprecation"] == headers["Deprecation"]
        assert answer["Sunset"] == headers["Sunset"]
    assert missing_headers["Link"] == f'<{V1_BASE}/registered_models/999>; rel="successor-version"'
    assert "Link" not in experiments_headers  # v1 has no experiments
    for answer in (stable_headers, health_headers):
        assert "Deprecation" not in answer and "Sunset" not in answer and "Link" not in answer


async def test_v1alpha3_answers_carry_no_deprecation_without_a_sunset_date(
    database_url: str,
) -> None:
    async with run_server(database_url) as srv, aiohttp.ClientSession() as http:
        resp = await http.get(srv.url + ALPHA_BASE + "/registered_models")
        resp.release()

    assert resp.status == 200
    assert "Deprecation" not in resp.headers
    assert "Sunset" not in resp.headers
    assert "Link" not in resp.headers


async def test_a_v1alpha3_only_server_with_a_sunset_names_no_successor(database_url: str) -> None:
    async with (
        run_server(database_url, api_versions=["v1alpha3"], alpha_sunset_date=SUNSET) as srv,
        aiohttp.ClientSession() as http,
    ):
        resp = await http.get(srv.url + ALPHA_BASE + "/registered_models")
        resp.release()

    assert resp.headers["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    assert "Link" not in resp.headers


def test_api_versions_parse_from_the_option_text() -> None:
    assert parse_api_versions("v1,v1alpha3") == ("v1", "v1alpha3")
    assert parse_api_versions(" v1alpha3 ") == ("v1alpha3",)
    assert check_api_versions(["v1"]) == ("v1",)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("v2", "unknown API version 'v2'"),
        ("", "no API version"),
        ("v1,v1", "repeated"),
    ],
)
def test_bad_api_versions_are_refused_with_the_reason(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_api_versions(value)


def test_a_sunset_date_needs_v1alpha3_served() -> None:
    with pytest.raises(ValueError, match="needs v1alpha3"):
        check_api_versions(["v1"], SUNSET)


@pytest.mark.parametrize("value", ["2027-6-30", "30.06.2027", "2027-02-30", "tomorrow"])
def test_a_sunset_date_must_be_a_real_yyyy_mm_dd(value: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_sunset_date(value)
    assert parse_sunset_date("2027-06-30") == SUNSET


@pytest.mark.parametrize(("served", "absent"), [("v1", "v1alpha3"), ("v1alpha3", "v1")])
async def test_serve_with_one_api_version_serves_only_that_prefix(
    tmp_path: Path, served: str, absent: str
) -> None:
    database = f"sqlite:///{tmp_path / 'registry.db'}"
    async with (
        serve_process(["--database-url", database, "--api-versions", served], grpc=False) as srv,
        aiohttp.ClientSession() as http,
    ):
        present = await http.get(srv.url + API_VERSIONS[served].base_path + "/registered_models")
        missing = await http.get(srv.url + API_VERSIONS[absent].base_path + "/registered_models")
        present.release()
        missing.release()

    assert present.status == 200
    assert missing.status == 404
    assert f", REST API {served}, event loop" in srv.banner


async def test_serve_with_a_sunset_date_marks_v1alpha3_answers(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'registry.db'}"
    args = ["--database-url", database, "--alpha-sunset-date", "2027-06-30"]
    async with serve_process(args, grpc=False) as srv, aiohttp.ClientSession() as http:
        alpha = await http.get(srv.url + ALPHA_BASE + "/serving_environments")
        stable = await http.get(srv.url + V1_BASE + "/serving_environments")
        alpha.release()
        stable.release()

    assert ", REST API v1 and v1alpha3, event loop" in srv.banner
    assert alpha.headers["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    assert alpha.headers["Deprecation"] == f"@{int(V1_STABLE_SINCE.timestamp())}"
    assert alpha.headers["Link"] == f'<{V1_BASE}/serving_environments>; rel="successor-version"'
    assert "Sunset" not in stable.headers


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--api-versions", "v2"], "unknown API version 'v2'"),
        (["--api-versions", ","], "no API version"),
        (["--alpha-sunset-date", "30.06.2027"], "expected YYYY-MM-DD"),
        (["--api-versions", "v1", "--alpha-sunset-date", "2027-06-30"], "needs v1alpha3"),
    ],
)
async def test_serve_refuses_bad_api_version_options_with_a_usage_error(
    args: list[str], problem: str
) -> None:
    code, _, err = await serve_refused(args)

    assert code == 2
    assert problem in err.decode()
