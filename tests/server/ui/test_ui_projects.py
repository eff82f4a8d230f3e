"""The web UI with projects, in a browser: sign-in with an issued (project-scoped) token, the
project switcher listing the token's projects, only what the token may read, its role's
refusals shown; and the tables sorted by name (the API's NAME ordering)."""

from __future__ import annotations

from typing import Any

from ui_support import UI_TOKEN, Api

from model_registry.server import RunningServer

V1 = "/api/model_registry/v1"


def _sign_in(browser: Any, token: str) -> None:
    page = browser.page
    browser.open("/ui/models")
    page.fill("input[name=token]", token)
    page.click("form.login button")
    page.wait_for_url("**/ui/models")


def _models(browser: Any) -> list[str]:
    return [
        cell.inner_text()
        for cell in browser.page.locator("#models tbody tr td:first-child a").all()
    ]


def _switcher(browser: Any) -> tuple[list[str], str]:
    select = browser.page.locator("#project-switch")
    options = [o.inner_text() for o in select.locator("option").all()]
    return options, select.input_value()


def test_an_issued_token_signs_in_and_sees_only_its_projects(
    auth_browser: Any, ui_auth_server: RunningServer
) -> None:
    admin = Api(ui_auth_server, UI_TOKEN, base_path=V1)
    for name in ("fraud", "churn", "secret"):
        admin.post("/projects", {"name": name})
    for project, model in (
        ("fraud", "fraud-model"),
        ("churn", "churn-model"),
        ("secret", "secret-model"),
        ("default", "default-model"),
    ):
        Api(ui_auth_server, UI_TOKEN, project=project, base_path=V1).post(
            "/registered_models", {"name": model}
        )
    issued = admin.post(
        "/tokens", {"subject": "alice", "roles": {"fraud": "editor", "churn": "reader"}}
    )
    page = auth_browser.page

    # Sign-in with the issued token: its default project (the first it was issued for).
    _sign_in(auth_browser, issued["token"])
    assert _models(auth_browser) == ["fraud-model"]
    assert _switcher(auth_browser) == (["churn", "fraud"], "fraud")
    auth_browser.shot("project-fraud")

    # The switcher goes to the other project, and the choice stays while browsing.
    with page.expect_navigation():
        page.locator("#project-switch").select_option("churn")
    assert _models(auth_browser) == ["churn-model"]
    auth_browser.open("/ui/experiments")
    assert _switcher(auth_browser)[1] == "churn"
    auth_browser.open("/ui/models")
    assert _models(auth_browser) == ["churn-model"]
    auth_browser.shot("project-churn")

    # A reader's write is refused with the role it needs, and changes nothing.
    churn_model = page.locator("#models tbody tr td:first-child a").first.get_attribute("href")
    auth_browser.open(churn_model)
    auth_browser.submit("#state-form button")
    message = page.locator("#page-error").inner_text()
    assert "'editor'" in message and "'churn'" in message, message
    model = Api(ui_auth_server, UI_TOKEN, project="churn", base_path=V1).call(
        "GET", "/registered_model?name=churn-model"
    )
    assert model["state"] == "LIVE"

    # Other projects do not exist for this token: not by name, not by a model's id.
    response = auth_browser.open("/ui/models?project=secret")
    assert response.status == 404 and "secret-model" not in page.content()
    assert page.locator("#page-error").inner_text() == "project 'secret' not found"
    secret = Api(ui_auth_server, UI_TOKEN, project="secret", base_path=V1).call(
        "GET", "/registered_model?name=secret-model"
    )
    for project in ("fraud", "churn"):
        response = auth_browser.open(f"/ui/models/{secret['id']}?project={project}")
        assert response.status == 404 and "secret-model" not in page.content()
    for path in ("/ui/models", "/ui/datasets", "/ui/experiments", "/ui/serving"):
        auth_browser.open(path)
        assert "default-model" not in page.content() and "secret-model" not in page.content()

    # Revoked: the next page asks for a token again.
    admin.call("DELETE", f"/tokens/{issued['id']}")
    page.wait_for_timeout(700)  # the server's token cache (0.5 s)
    auth_browser.open("/ui/models")
    assert "/ui/login" in page.url


def test_the_admin_token_switches_between_every_project(
    auth_browser: Any, ui_auth_server: RunningServer
) -> None:
    Api(ui_auth_server, UI_TOKEN, base_path=V1).post("/projects", {"name": "fraud"})
    Api(ui_auth_server, UI_TOKEN, project="fraud", base_path=V1).post(
        "/registered_models", {"name": "fraud-model"}
    )
    _sign_in(auth_browser, UI_TOKEN)
    assert _switcher(auth_browser) == (["default", "fraud"], "default")
    assert _models(auth_browser) == []
    auth_browser.open("/ui/models?project=fraud")
    assert _models(auth_browser) == ["fraud-model"]


def test_the_models_table_sorts_by_name_both_ways_and_pages(browser: Any, api: Api) -> None:
    # 25 names (more than a page of 20), ids in no name order.
    names = [f"model-{c}" for c in "kcxaqbzmdrwefgtyuiopl"] + [f"model-a{i}" for i in (3, 1, 2, 0)]
    for name in names:
        api.post("/registered_models", {"name": name})
    page = browser.page
    browser.open("/ui/models?size=50")
    browser.submit("#sort-by-name")
    assert "order=NAME" in page.url and "dir=asc" in page.url
    assert _models(browser) == sorted(names)
    browser.submit("#sort-by-name")
    assert _models(browser) == sorted(names, reverse=True)
    browser.shot("models-by-name")
    # The Sort box offers it too, and the pages of a name ordering chain.
    browser.open("/ui/models")
    page.select_option("select[name=order]", "NAME")
    page.select_option("select[name=dir]", "asc")
    page.select_option("select[name=size]", "20")
    browser.submit("form.tools button")
    assert _models(browser) == sorted(names)[:20]
    browser.submit("#next-page")
    assert _models(browser) == sorted(names)[20:]
    browser.submit("#previous-page")
    assert _models(browser) == sorted(names)[:20]
