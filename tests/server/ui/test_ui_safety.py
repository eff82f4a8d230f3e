"""The web UI's sign-in, CSRF protection, escaping and Content-Security-Policy, in a browser."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from ui_support import UI_TOKEN, Api, string_props

from model_registry.server import RunningServer

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_with_auth_on_pages_need_the_login_token_kept_in_a_strict_httponly_cookie(
    auth_browser: Any, ui_auth_server: RunningServer
) -> None:
    Api(ui_auth_server, UI_TOKEN).post("/registered_models", {"name": "secret-model"})
    page = auth_browser.page
    auth_browser.open("/ui/models")
    assert "/ui/login" in page.url
    assert "secret-model" not in page.content()
    auth_browser.shot("login")

    page.fill("input[name=token]", "wrong")
    page.click("form.login button")
    assert page.locator("#login-error").inner_text() == "this token is not accepted"
    assert "secret-model" not in page.content()

    page.fill("input[name=token]", UI_TOKEN)
    page.click("form.login button")
    page.wait_for_url("**/ui/models")
    assert "secret-model" in page.locator("#models").inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "mr_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # script never sees the token

    page.click(".logout button")
    page.wait_for_url("**/ui/login")
    auth_browser.open("/ui/models")
    assert "/ui/login" in page.url


def test_with_auth_on_the_api_still_refuses_requests_without_a_token(
    ui_auth_server: RunningServer,
) -> None:
    api_path = "/api/model_registry/v1alpha3/registered_models"
    for path, accept in [("/", "application/json"), (api_path, "text/html")]:
        request = urllib.request.Request(ui_auth_server.url + path, headers={"Accept": accept})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 401


def test_user_text_with_script_and_onerror_renders_as_text_and_no_dialog_fires(
    browser: Any, api: Api
) -> None:
    model = api.post(
        "/registered_models",
        {
            "name": HOSTILE,
            "owner": HOSTILE,
            "description": HOSTILE,
            "customProperties": string_props(**{"note": HOSTILE, "<b>label</b>": ""}),
        },
    )
    version = api.post(f"/registered_models/{model['id']}/versions", {"name": HOSTILE})
    api.post(
        f"/model_versions/{version['id']}/artifacts",
        {"artifactType": "model-artifact", "name": HOSTILE, "uri": "javascript:alert(3)"},
    )
    dataset = api.post(
        "/artifacts",
        {
            "artifactType": "dataset-artifact",
            "name": HOSTILE,
            "description": HOSTILE,
            "customProperties": string_props(
                **{"registry.kind": "dataset", "params.label_col": HOSTILE}
            ),
        },
    )
    page = browser.page
    for path in [
        "/ui/models",
        f"/ui/models/{model['id']}",
        f"/ui/versions/{version['id']}",
        f"/ui/datasets?dataset={dataset['id']}",
    ]:
        browser.open(path)
        page.wait_for_load_state("load")
        assert page.locator("img[src=x]").count() == 0
        assert page.locator("main script").count() == 0
        assert HOSTILE in page.locator("main").inner_text()
    assert page.locator("a[href^=javascript]").count() == 0  # URIs are shown, not linked
    bad_filter = f"name = '{HOSTILE}' AND"
    browser.open("/ui/models?filter=" + urllib.parse.quote(bad_filter))  # echoed in its box
    assert page.locator("input[name=filter]").input_value() == bad_filter
    assert page.locator("#filter-error").is_visible()
    assert page.locator("img[src=x]").count() == 0
    browser.open(f"/ui/models/{model['id']}")
    assert page.locator("#labels").inner_text().strip() == "<b>label</b>"
    assert page.locator("#labels b").count() == 0
    browser.shot("escaping")
    assert browser.dialogs == []


def test_every_page_forbids_inline_script_by_content_security_policy(
    browser: Any, seeded: dict[str, str]
) -> None:
    answer = browser.open(f"/ui/models/{seeded['model']}")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # Even a script that made it into the page would not run.
    browser.page.set_content("<script>window.ran = 1</script>")  # about:blank: no CSP there
    browser.open(f"/ui/models/{seeded['model']}")
    assert browser.page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 2';"
        " document.body.appendChild(s); return window.ran === undefined; }"
    )
    assert browser.dialogs == []


def test_a_write_without_the_csrf_token_or_from_another_origin_is_refused(
    ui_server: RunningServer, seeded: dict[str, str]
) -> None:
    url = f"{ui_server.url}/ui/models/{seeded['model']}/state"
    body = urllib.parse.urlencode({"state": "ARCHIVED", "csrf": "x" * 43}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"))
    assert refused.value.code == 403
    cookie = f"mr_csrf={'x' * 43}"
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Cookie": cookie, "Origin": "https://evil.test"}
    )
    with pytest.raises(urllib.error.HTTPError) as foreign:
        urllib.request.urlopen(request)
    assert foreign.value.code == 403
    model = Api(ui_server).call("GET", f"/registered_models/{seeded['model']}")
    assert model["state"] == "LIVE"


def test_with_auth_on_a_write_without_the_login_cookie_goes_to_the_login_page_and_changes_nothing(
    ui_auth_server: RunningServer,
) -> None:
    api = Api(ui_auth_server, UI_TOKEN)
    model = api.post("/registered_models", {"name": "guarded"})
    csrf = "y" * 43
    request = urllib.request.Request(
        f"{ui_auth_server.url}/ui/models/{model['id']}/state",
        data=urllib.parse.urlencode({"state": "ARCHIVED", "csrf": csrf}).encode(),
        method="POST",
        headers={"Cookie": f"mr_csrf={csrf}; mr_token=not-a-token"},
    )
    with urllib.request.urlopen(request) as answer:  # follows the redirect
        assert "/ui/login" in answer.url
        assert "guarded" not in answer.read().decode()
    assert api.call("GET", f"/registered_models/{model['id']}")["state"] == "LIVE"


def test_with_auth_on_a_browser_asking_for_the_root_lands_on_the_login_page(
    auth_browser: Any,
) -> None:
    auth_browser.open("/")
    assert "/ui/login" in auth_browser.page.url
    assert auth_browser.page.locator("input[name=token]").is_visible()
