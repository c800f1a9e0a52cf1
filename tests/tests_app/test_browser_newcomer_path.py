"""The newcomer's path of issue 15, end to end in a real browser against what `make run` starts
with nothing set (SQLite, no Redis: the live page tails the database): log in, add a target,
start a run from the form with custom stages and a request mix that has a failing path, watch it
live with its headline numbers, read the results with the per-endpoint table and the failures,
run it again from the runs list, compare the two.

Set LBLAB_SCREENSHOTS to a directory to keep a screenshot of every page on the way."""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import log_in
from tests.factories import UserFactory
from tests_app.engine.testing import PodEchoServer
from tests_app.models import LoadTestRun

PASSWORD = "a-long-newcomer-password"
SCREENSHOTS = os.environ.get("LBLAB_SCREENSHOTS")


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def rows(page, selector: str) -> list[list[str]]:
    return page.evaluate("""(selector) => Array.from(document.querySelectorAll(selector + ' tbody tr'))
      .map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()))""", selector)


def wait_until_finished(page) -> str:
    page.wait_for_function("() => ['passed', 'failed'].includes(document.querySelector('#run-live').dataset.status)",
                           timeout=120_000)
    page.wait_for_selector("#run-results table.endpoints")
    return page.get_attribute("#run-live", "data-status")


@pytest.mark.timeout(420)
def test_the_newcomer_path_from_login_to_compare(start_site, browser, transactional_db):
    user = UserFactory(username="newcomer")
    user.set_password(PASSWORD)
    user.save()
    with PodEchoServer(["pod-a", "pod-b"], header="X-Pod", failing={"/broken": 503}) as echo:
        site = start_site(REDIS_URL=None)
        page = browser.page
        page.set_viewport_size({"width": 1280, "height": 900})
        log_in(page, site.url, "newcomer", password=PASSWORD, via="/")
        screenshot(page, "1-runs-empty")

        page.goto(site.url + "/targets/new/")
        page.fill("#id_name", "echo service")
        page.select_option("#id_kind", "url")
        page.fill("#id_base_url", echo.url)
        page.fill("#id_expected_pod_count", "2")
        screenshot(page, "2-target-form")
        page.click("text=Save target")
        page.wait_for_url(re.compile(r"/targets/"))

        page.goto(site.url + "/runs/new/")
        page.select_option("#id_target", label="echo service")
        page.select_option("#id_scenario", "")  # custom
        page.select_option("#id_shape", "stages")
        page.fill("#id_stages", "3s 4\n3s 2")
        page.fill("#id_request_mix", "GET /api/items 3\nGET /broken 1")
        page.fill("#id_threshold_error_rate", "0.5")
        screenshot(page, "3-new-run-form")
        page.click("text=Start the run")
        page.wait_for_url(re.compile(r"/runs/\d+/$"))
        first = int(page.url.rstrip("/").rsplit("/", 1)[1])

        page.wait_for_function("() => Number(document.querySelector('#run-live').dataset.samples) >= 2", timeout=90_000)
        for number in ("rps", "requests", "errors", "p95", "score"):
            assert page.text_content(f"#headline-{number}").strip() != "–", number
        screenshot(page, "4-live")
        wait_until_finished(page)
        screenshot(page, "5-results")
        endpoints = rows(page, "#run-results table.endpoints")
        assert [row[0] for row in endpoints] == ["GET /api/items", "GET /broken"]
        assert int(endpoints[0][1]) > int(endpoints[1][1]) > 0  # the mix's weights, 3 to 1
        failures = rows(page, "#run-results table.errors")
        assert len(failures) == 1 and "503" in " ".join(failures[0]) and "GET /broken" in failures[0]
        run = LoadTestRun.objects.get(pk=first)
        assert run.scenario_spec.shape == "stages" and len(run.scenario_spec.stages) == 2
        assert "2 stages · up to 4 users" in page.text_content("dl.facts")  # not the form's idle users field
        assert run.name in page.text_content("h1")
        assert run.summary["endpoints"][1]["failures"] == run.summary["endpoints"][1]["requests"]

        page.goto(site.url + "/")
        screenshot(page, "6-runs-list")
        page.click(f"button[form='run-again-{first}']")
        page.wait_for_url(re.compile(r"/runs/\d+/$"))
        second = int(page.url.rstrip("/").rsplit("/", 1)[1])
        assert second != first
        wait_until_finished(page)
        again = LoadTestRun.objects.get(pk=second)
        assert (again.target_id, again.scenario_spec.stages, again.scenario_spec.request_mix) == (
            run.target_id, run.scenario_spec.stages, run.scenario_spec.request_mix)

        page.goto(site.url + "/")
        page.check(f"input[name=ids][value='{first}']")
        page.check(f"input[name=ids][value='{second}']")
        page.click("text=Compare selected")
        page.wait_for_url(re.compile(r"/runs/compare/"))
        page.wait_for_selector("#compare-figures .main-svg")
        screenshot(page, "7-compare")
        labels = page.locator("table.deltas thead th a").all_inner_texts()
        assert labels[0].startswith(f"#{first} ")  # the older run is the reference
        assert page.locator("table.deltas tbody tr").count() > 5
    assert browser.console_problems == []
