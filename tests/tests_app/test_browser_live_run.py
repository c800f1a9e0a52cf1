"""What a Locust user expects of a run's page, in a real browser against what `make run` starts
(no Redis: the page tails the database): a URL target whose request mix has a broken path.
While the run goes, the header and headline numbers move, the per-endpoint table and the
failures fill, CPU and memory (which a URL target cannot give) are left out with the reason;
a reload mid-run shows the tables again; after a stop the results hold the final tables, the
headline's total is the summary's, and the standalone report shows them too.

Set LBLAB_SCREENSHOTS to a directory to keep screenshots of the page and the report."""

import os
import re
from pathlib import Path

import pytest

from metrics_app.models import MetricSample
from tests.conftest import log_in
from tests.factories import ScenarioFactory, UrlTargetFactory, UserFactory
from tests_app.engine.testing import PodEchoServer
from tests_app.models import LoadTestRun

PASSWORD = "a-long-browser-password"
MIX = [{"path": "/api/items", "method": "GET", "weight": 3}, {"path": "/broken", "method": "GET", "weight": 1}]
SCREENSHOTS = os.environ.get("LBLAB_SCREENSHOTS")


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def table_rows(page, selector: str) -> list[list[str]]:
    return page.evaluate("""(selector) => Array.from(document.querySelectorAll(selector + ' tbody tr'))
      .map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()))""", selector)


def samples_shown(page) -> int:
    return int(page.get_attribute("#run-live", "data-samples") or 0)


@pytest.mark.timeout(300)
def test_a_runs_endpoints_failures_and_numbers_live_after_a_reload_and_in_the_results(
        start_site, browser, transactional_db):
    user = UserFactory(username="locust-user")
    user.set_password(PASSWORD)
    user.save()
    with PodEchoServer(["pod-a", "pod-b"], header="X-Pod", failing={"/broken": 503}) as server:
        target = UrlTargetFactory(owner=user, name="echo", base_url=server.url, expected_pod_count=2)
        scenario = ScenarioFactory(owner=user, name="mix with a broken path", users=4, spawn_rate=4, duration_s=120,
                                   request_mix=MIX)
        site = start_site(REDIS_URL=None)
        page = browser.page
        page.set_viewport_size({"width": 1280, "height": 900})
        log_in(page, site.url, "locust-user", password=PASSWORD, via="/")

        page.goto(site.url + "/runs/new/")
        page.select_option("#id_target", str(target.pk))
        page.select_option("#id_scenario", str(scenario.pk))
        page.click("text=Start the run")
        page.wait_for_url(re.compile(r"/runs/\d+/$"))
        run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

        page.wait_for_function("() => Number(document.querySelector('#run-live').dataset.samples) >= 3",
                               timeout=90_000)
        page.wait_for_function("() => document.querySelectorAll('#live-errors tbody tr').length > 0")
        endpoints = table_rows(page, "#live-endpoints")
        assert [row[0] for row in endpoints] == ["GET /api/items", "GET /broken"]
        assert all(int(row[1]) > 0 for row in endpoints) and endpoints[1][1] == endpoints[1][2]  # all /broken fail
        [failure] = table_rows(page, "#live-errors")
        assert failure[:4] == ["GET /broken", "HTTPError", "503", "Service Unavailable"]
        for number in ("rps", "requests", "errors", "p95", "score"):
            assert page.text_content(f"#headline-{number}").strip() != "–", number
        assert page.text_content("#run-elapsed").strip().endswith(" s")
        assert page.locator("#chart-cpu").count() == 0 and page.locator("#chart-memory").count() == 0
        assert "CPU and memory per pod are not shown" in page.text_content(".chart-note")
        assert page.locator("#chart-users .scatterlayer .trace").count() == 1
        assert page.evaluate("() => document.getElementById('chart-throughput').layout.xaxis.type") == "date"
        screenshot(page, "live-during.png")

        page.reload()  # a late join: the tables are back with the backlog, without waiting for a change
        page.wait_for_function("() => document.querySelectorAll('#live-errors tbody tr').length > 0")
        assert [row[0] for row in table_rows(page, "#live-endpoints")] == ["GET /api/items", "GET /broken"]
        assert page.text_content("#run-started").strip() != "–"

        early = samples_shown(page)
        page.wait_for_function(f"() => Number(document.querySelector('#run-live').dataset.samples) > {early}")
        page.click("#stop-form button")
        page.wait_for_function("() => document.querySelector('#run-live').dataset.status === 'cancelled'",
                               timeout=60_000)
        page.wait_for_selector("#run-results table.endpoints")
        served = dict(server.requests)

    run = LoadTestRun.objects.get(pk=run_id)
    seconds = MetricSample.objects.filter(run=run).count()
    page.wait_for_function(f"() => Number(document.querySelector('#run-live').dataset.samples) === {seconds}")
    summary = run.summary
    assert page.text_content("#headline-requests").strip() == f"{summary['requests']:,}"
    assert page.is_hidden("#live-requests")
    final = table_rows(page, "#run-results table.endpoints")
    assert [(row[0], int(row[1]), int(row[2])) for row in final] == [
        ("GET /api/items", served[("GET", "/api/items")], 0),
        ("GET /broken", served[("GET", "/broken")], served[("GET", "/broken")])]
    [failure] = table_rows(page, "#run-results table.errors")
    assert failure[:5] == ["GET /broken", "HTTPError", "503", "Service Unavailable", str(served[("GET", "/broken")])]
    assert page.text_content("#run-remaining").strip() == "–"
    screenshot(page, "live-after.png")

    report = page.request.get(f"{site.url}/runs/{run_id}/report/")
    assert report.ok
    # A download, opened as a file: outside the site's pages and their Content-Security-Policy.
    page.goto("about:blank")
    page.set_content(report.text())
    page.wait_for_function("() => document.querySelectorAll('[data-plotted=true]').length > 5")
    assert [row[0] for row in table_rows(page, "table.endpoints")] == ["GET /api/items", "GET /broken"]
    assert table_rows(page, "table.errors")[0][:3] == ["GET /broken", "HTTPError", "503"]
    assert "CPU and memory per pod are not shown" in page.content()
    screenshot(page, "report.png")
    assert browser.console_problems == []
