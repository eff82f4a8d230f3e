"""Writes from the web UI: description and labels, archive and restore, refusals shown."""

from __future__ import annotations

from typing import Any

from ui_support import Api


def test_editing_a_model_description_and_labels_keeps_its_other_properties(
    browser: Any, api: Api, seeded: dict[str, str]
) -> None:
    page = browser.page
    browser.open(f"/ui/models/{seeded['model']}")
    page.click("details.edit summary")
    page.fill("#edit-form textarea[name=description]", "Flags card fraud, daily")
    page.fill("#edit-form input[name=labels]", "production, emea")
    browser.submit("#edit-form button")
    assert page.locator("#description").inner_text() == "Flags card fraud, daily"
    assert page.locator("#labels").inner_text().split() == ["emea", "production"]
    model = api.call("GET", f"/registered_models/{seeded['model']}")
    assert model["description"] == "Flags card fraud, daily"
    assert model["customProperties"]["team"]["string_value"] == "risk"
    assert model["customProperties"]["emea"]["string_value"] == ""
    browser.shot("model-edited")


def test_archiving_and_restoring_a_version_goes_through_the_service(
    browser: Any, api: Api, seeded: dict[str, str]
) -> None:
    page = browser.page
    browser.open(f"/ui/versions/{seeded['v1']}")
    browser.submit("#state-form button")
    assert "ARCHIVED" in page.locator("h1").inner_text()
    assert api.call("GET", f"/model_versions/{seeded['v1']}")["state"] == "ARCHIVED"
    browser.submit("#state-form button")  # now "Restore"
    assert api.call("GET", f"/model_versions/{seeded['v1']}")["state"] == "LIVE"

    browser.open(f"/ui/models/{seeded['model']}")
    browser.submit("#state-form button")
    assert "ARCHIVED" in page.locator("h1").inner_text()
    assert api.call("GET", f"/registered_models/{seeded['model']}")["state"] == "ARCHIVED"


def test_a_refused_edit_shows_the_service_message_on_the_page(
    browser: Any, seeded: dict[str, str]
) -> None:
    page = browser.page
    browser.open(f"/ui/models/{seeded['model']}")
    page.click("details.edit summary")
    page.fill("#edit-form input[name=labels]", "x" * 300)  # longer than a property name may be
    browser.submit("#edit-form button")
    assert page.locator("#page-error").is_visible()
    assert "customProperties key" in page.locator("#page-error").inner_text()
    assert "production" in page.locator("#labels").inner_text()  # nothing was written
