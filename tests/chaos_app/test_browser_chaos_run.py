"""A chaos run from the new-run form, watched in a real browser against what `make run` starts (no
Redis: the page tails the database): the injection is shaded and labelled on the time charts and
listed in the live injection table while the run goes, its window closes when the step ends, and the
results list it with its figures; no console error."""

from __future__ import annotations

import re

import pytest

from chaos_app.models import ChaosInjection
from tests.conftest import log_in
from tests.factories import UserFactory

PASSWORD = "a-long-browser-password"

BANDS = """() => {
  const chart = document.getElementById('chart-throughput');
  const labels = (chart.layout.annotations || []).map((note) => note.text);
  return {labels: labels, shapes: (chart.layout.shapes || []).length};
}"""


@pytest.mark.timeout(300)
def test_an_injection_is_shaded_on_the_live_charts_and_listed_in_the_results(start_site, browser, transactional_db):
    user = UserFactory(username="chaos-user")
    user.set_password(PASSWORD)
    user.save()
    site = start_site(REDIS_URL=None)
    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, site.url, "chaos-user", password=PASSWORD, via="/")

    page.goto(site.url + "/runs/new/")
    page.fill("#id_users", "6")
    page.fill("#id_spawn_rate", "6")
    page.fill("#id_duration_s", "12")
    page.fill("#id_chaos", "latency@4s:3s:high:pod-1")
    page.click("text=Start the run")
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    # while the run goes: the band and its label appear once the step is applied
    page.wait_for_function(
        "() => (document.getElementById('chart-throughput').layout.annotations || [])"
        ".some((note) => String(note.text).startsWith('latency pod-1-'))", timeout=90_000)
    injection = ChaosInjection.objects.get(run_id=run_id)
    assert injection.kind == "latency" and injection.target.startswith("pod-1-")
    # and listed in the live injection table, where its recovery figures are filled in as measured
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#live-injections tbody tr'))"
        ".some((row) => row.cells[0].textContent.startsWith('step 0: latency on pod-1-'))", timeout=10_000)
    assert page.is_visible("#live-chaos")

    page.wait_for_function("() => document.querySelector('#run-live').dataset.status === 'failed'"
                           " || document.querySelector('#run-live').dataset.status === 'passed'", timeout=90_000)
    injection.refresh_from_db()
    assert injection.rollback == ChaosInjection.Rollback.ROLLED_BACK and injection.ended_at_s is not None
    drawn = page.evaluate(BANDS)
    assert any(label.startswith("latency pod-1-") for label in drawn["labels"]) and drawn["shapes"] >= 1
    assert browser.console_problems == []
    # the standalone report: its chaos table has the injection, with the summary's figures
    report = page.request.get(f"{site.url}/runs/{run_id}/report/")
    assert report.ok
    page.goto("about:blank")  # a download, opened as a file
    page.set_content(report.text())
    page.wait_for_function("() => document.querySelectorAll('[data-plotted=true]').length > 5")
    page.wait_for_selector("table.chaos")
    (row,) = page.evaluate("""() => Array.from(document.querySelectorAll('table.chaos tbody tr'))
      .map((tr) => Array.from(tr.cells).map((cell) => cell.textContent.trim()))""")
    assert row[0].startswith("step 0: latency on pod-1-")
    assert row[1] == f"{injection.started_at_s:.3f}" or row[1].startswith(f"{injection.started_at_s:.1f}"), row
    assert browser.console_problems == []
