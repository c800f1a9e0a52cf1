"""A newcomer's first session in a real browser, against what `make run` starts with no
other service (no Redis: the live page tails the database): log in, start a sandbox run from
the form, watch its charts grow, stop it, run a second one and compare the two."""

import re

import pytest

from tests.conftest import log_in
from tests.factories import UserFactory
from tests_app.models import LoadTestRun

PASSWORD = "a-long-browser-password"


def samples_shown(page) -> int:
    return int(page.get_attribute("#run-live", "data-samples") or 0)


def start_run_from_form(page, site_url: str, *, pods: str, duration_s: str) -> int:
    page.goto(site_url + "/runs/new/")
    page.select_option("#id_target", "")  # a new sandbox cluster
    page.fill("#id_sandbox_pods", pods)
    page.select_option("#id_scenario", "")  # custom
    page.fill("#id_users", "6")
    page.fill("#id_spawn_rate", "6")
    page.fill("#id_duration_s", duration_s)
    page.click("text=Start the run")
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


@pytest.mark.timeout(300)
def test_start_watch_stop_and_compare_in_the_browser(start_site, browser, transactional_db):
    user = UserFactory(username="newcomer")
    user.set_password(PASSWORD)
    user.save()
    site = start_site(REDIS_URL=None)  # the embedded default of `make run`
    page = browser.page

    log_in(page, site.url, "newcomer", password=PASSWORD, via="/")

    first = start_run_from_form(page, site.url, pods="3", duration_s="120")
    page.wait_for_function("() => Number(document.querySelector('#run-live').dataset.samples) >= 3", timeout=90_000)
    early = samples_shown(page)
    page.wait_for_function(f"() => Number(document.querySelector('#run-live').dataset.samples) > {early + 1}",
                           timeout=30_000)  # the charts grow without a reload
    assert page.locator("#chart-throughput .main-svg").count() > 0
    assert page.locator("#chart-pod_throughput .scatterlayer .trace").count() == 3  # a trace per pod

    page.click("#stop-form button")
    page.wait_for_function("() => document.querySelector('#run-live').dataset.status === 'cancelled'", timeout=60_000)
    page.wait_for_selector("#run-results table.pods")
    assert LoadTestRun.objects.get(pk=first).status == LoadTestRun.Status.CANCELLED

    second = start_run_from_form(page, site.url, pods="3", duration_s="5")
    page.wait_for_function("() => ['passed', 'failed'].includes(document.querySelector('#run-live').dataset.status)",
                           timeout=90_000)
    page.wait_for_selector("#run-results table.pods")

    page.goto(site.url + "/")
    page.check(f"input[name=ids][value='{first}']")
    page.check(f"input[name=ids][value='{second}']")
    page.click("text=Compare selected")
    page.wait_for_url(re.compile(r"/runs/compare/"))
    page.wait_for_selector("#compare-figures .main-svg")
    assert page.locator("table.deltas tbody tr").count() > 5
    assert browser.console_problems == []
