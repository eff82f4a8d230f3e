"""The web UI in a real browser: browsing, search and filter, datasets, charts, serving."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from model_registry.server import RunningServer


def test_browser_root_redirects_to_the_ui_but_an_api_client_gets_404_json(
    ui_server: RunningServer,
) -> None:
    html = urllib.request.Request(ui_server.url + "/", headers={"Accept": "text/html"})
    with urllib.request.urlopen(html) as answer:
        assert answer.url.endswith("/ui/models")
        assert answer.headers["Content-Type"].startswith("text/html")
    api = urllib.request.Request(ui_server.url + "/", headers={"Accept": "application/json"})
    try:
        urllib.request.urlopen(api)
        raise AssertionError("/ answered an API client")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        assert json.loads(exc.read()) == {"code": "Not Found", "message": "not found"}


def test_browse_from_the_model_list_to_a_version_and_its_artifacts(
    browser: Any, seeded: dict[str, str]
) -> None:
    page = browser.page
    browser.open("/")
    assert page.url.endswith("/ui/models")
    row = page.locator("#models tbody tr", has_text="fraud-detector")
    assert row.locator("td").nth(1).inner_text() == "alice"
    assert row.locator("td").nth(2).inner_text() == "v2"  # the newest version
    assert "production" in row.locator("td").nth(5).inner_text()  # a label
    browser.shot("models")

    row.locator("td").nth(1).click()  # anywhere on the row follows it (ui.js)
    page.wait_for_url(f"**/ui/models/{seeded['model']}")
    assert page.locator("h1").inner_text().startswith("fraud-detector")
    assert page.locator("#description").inner_text() == "Flags card fraud"
    versions = page.locator("#versions > tbody > tr")
    assert versions.nth(0).locator("td").nth(0).inner_text() == "v2"  # newest first
    assert versions.nth(1).locator("td").nth(0).inner_text() == "v1"
    v2 = versions.nth(0).inner_text()
    assert "carol" in v2
    assert "s3://models/fraud/v2/model.onnx" in v2
    assert "onnx 1" in v2
    assert "predictions on transactions-2026" in v2
    browser.shot("model")

    page.click("#versions >> text=v2")
    page.wait_for_url(f"**/ui/versions/{seeded['v2']}")
    artifacts = page.locator("#artifacts").inner_text()
    assert "fraud-onnx" in artifacts
    assert "s3://models/fraud/v2/model.onnx" in artifacts
    browser.shot("version")

    page.go_back()
    page.wait_for_url(f"**/ui/models/{seeded['model']}")


def test_search_and_filter_narrow_the_models_and_a_bad_filter_shows_the_server_error(
    browser: Any, api: Any
) -> None:
    for name, owner in [("alpha_50%", "ann"), ("beta", "ann"), ("gamma", "ben")]:
        api.post("/registered_models", {"name": name, "owner": owner})
    page = browser.page
    browser.open("/ui/models")

    page.fill("input[name=q]", "_50%")  # wildcards are searched for literally
    page.click("form.tools button")
    assert page.locator("#models tbody tr").all_inner_texts()[0].startswith("alpha_50%")
    assert page.locator("#models tbody tr").count() == 1
    assert "q=_50%25" in page.url  # the state is in the URL (deep link, back button)

    page.fill("input[name=q]", "")
    page.fill("input[name=filter]", 'owner = "ann"')
    page.click("form.tools button")
    names = [t.split("\t")[0] for t in page.locator("#models tbody tr").all_inner_texts()]
    assert sorted(names) == ["alpha_50%", "beta"]

    page.fill("input[name=filter]", "owner = = 'x'")
    page.click("form.tools button")
    error = page.locator("#filter-error")
    assert "column" in error.inner_text()  # the parser's message names where it failed
    assert page.locator("input[name=filter]").input_value() == "owner = = 'x'"
    browser.shot("models-bad-filter")


def test_models_pages_follow_the_api_page_tokens_in_the_chosen_order(
    browser: Any, api: Any
) -> None:
    for i in range(25):
        api.post("/registered_models", {"name": f"m{i:02d}"})
    page = browser.page
    browser.open("/ui/models?order=ID&dir=asc")
    first = [t.split("\t")[0] for t in page.locator("#models tbody tr").all_inner_texts()]
    assert first == [f"m{i:02d}" for i in range(20)]
    page.click("#next-page")
    second = [t.split("\t")[0] for t in page.locator("#models tbody tr").all_inner_texts()]
    assert second == [f"m{i:02d}" for i in range(20, 25)]
    assert page.locator("#next-page").count() == 0
    page.go_back()
    assert page.locator("#models tbody tr").count() == 20


def test_previous_page_links_walk_back_through_the_pages_a_table_came_through(
    browser: Any, api: Any
) -> None:
    for i in range(45):
        api.post("/registered_models", {"name": f"m{i:02d}"})
    page = browser.page

    def names() -> list[str]:
        return [t.split("\t")[0] for t in page.locator("#models tbody tr").all_inner_texts()]

    browser.open("/ui/models?order=ID&dir=asc")
    assert page.locator("#previous-page").count() == 0
    page.click("#next-page")
    page.click("#next-page")
    assert names() == [f"m{i:02d}" for i in range(40, 45)]
    page.click("#previous-page")
    assert names() == [f"m{i:02d}" for i in range(20, 40)]
    page.click("#previous-page")
    assert names() == [f"m{i:02d}" for i in range(20)]
    assert page.locator("#previous-page").count() == 0  # the first page has none
    assert page.locator("#first-page").count() == 0
    # A new search starts the way back afresh: its second page leads back to its own first.
    browser.open("/ui/models?order=ID&dir=asc&q=m")
    page.click("#next-page")
    page.click("#previous-page")
    assert names() == [f"m{i:02d}" for i in range(20)]


def test_the_dataset_panel_shows_the_dataset_parameters(
    browser: Any, seeded: dict[str, str]
) -> None:
    page = browser.page
    browser.open("/ui/datasets")
    page.locator("#datasets tbody tr", has_text="transactions-2026").locator("td").nth(2).click()
    page.wait_for_url(f"**dataset={seeded['dataset']}*")
    params = page.locator("#dataset-params").inner_text()
    assert "label_col\tis_fraud" in params
    assert "timestamp_col\ttimestamp" in params
    assert 'class_names\t["fraud","ok"]' in params
    assert page.locator("#dataset-predictions").inner_text() == (
        f"predictions-{seeded['dataset']} by version v2"
    )
    browser.shot("datasets")

    browser.open("/ui/predictions")
    row = page.locator("#predictions tbody tr").first
    cells = row.locator("td")
    assert cells.nth(1).inner_text() == "transactions-2026"
    assert cells.nth(2).inner_text() == "fraud-detector v2"
    assert cells.nth(3).inner_text() == "score"
    browser.shot("predictions")
    cells.nth(2).locator("a").click()
    page.wait_for_url(f"**/ui/versions/{seeded['v2']}")


def test_a_run_page_charts_every_logged_metric_point_and_lists_parameters(
    browser: Any, seeded: dict[str, str]
) -> None:
    page = browser.page
    browser.open("/ui/experiments")
    page.click("text=fraud-tuning")
    page.click("text=run-1")
    page.wait_for_url(f"**/ui/runs/{seeded['run']}")
    chart = page.locator("figure.chart[data-metric=loss]")
    points = chart.locator("circle.point")
    assert points.count() == 4
    logged = [(p.get_attribute("data-step"), p.get_attribute("data-value")) for p in points.all()]
    assert logged == [("1", "0.9"), ("2", "0.5"), ("3", "0.3"), ("4", "0.25")]
    # Drawn: higher loss higher up (smaller y), steps left to right.
    ys = [float(p.get_attribute("cy")) for p in points.all()]
    xs = [float(p.get_attribute("cx")) for p in points.all()]
    assert ys == sorted(ys) and xs == sorted(xs)
    assert chart.locator("polyline.series").bounding_box()["width"] > 300
    assert page.locator("#parameters").inner_text().count("learning_rate\t0.01") == 1
    browser.shot("run")


def test_serving_pages_show_the_version_each_inference_service_serves(
    browser: Any, seeded: dict[str, str]
) -> None:
    page = browser.page
    browser.open("/ui/serving")
    page.click("text=staging")
    row = page.locator("#inference-services tbody tr", has_text="fraud-staging")
    assert row.locator("td").nth(1).inner_text() == "fraud-detector"
    assert row.locator("td").nth(2).inner_text() == "v1"  # pinned, not the newest
    browser.shot("serving")
    assert not browser.console_errors


def test_an_unknown_ui_page_or_entity_is_an_html_404_page(browser: Any) -> None:
    for path, message in [
        ("/ui/nowhere", "no page at /ui/nowhere"),
        ("/ui/models/999", "registered model with id 999 not found"),
    ]:
        answer = browser.open(path)
        assert answer.status == 404
        assert browser.page.locator("#page-error").inner_text() == message
