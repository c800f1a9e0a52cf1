"""A tuned run's page in a real browser (what `make run` starts, no Redis): the tuner's decision is
marked on the balance score chart with its reason, and listed in the decisions table with its
prediction and observed effect; no console error."""

import pytest
from django.utils import timezone

from tests.conftest import log_in
from tests.factories import (
    LoadTestRunFactory,
    MetricSampleFactory,
    PodSampleFactory,
    TuningDecisionFactory,
    UserFactory,
)

pytestmark = pytest.mark.timeout(240)

PASSWORD = "a-long-browser-password"
REASON = "connection pinning: 5 kept-alive clients over 4 pods"


def test_a_tuned_runs_page_marks_and_lists_its_decision(start_site, browser, transactional_db):
    user = UserFactory(username="tuner")
    user.set_password(PASSWORD)
    user.save()
    started = timezone.now() - timezone.timedelta(minutes=5)
    run = LoadTestRunFactory(owner=user, status="passed", verdict_passed=True, started_at=started,
                             ended_at=started + timezone.timedelta(seconds=20), target__pods=2)
    for t in range(20):
        MetricSampleFactory(run=run, t=float(t))
        pinned = t < 8  # one pod got everything until the algorithm changed
        PodSampleFactory(run=run, t=float(t), pod="pod-0", requests=100 if pinned else 50)
        PodSampleFactory(run=run, t=float(t), pod="pod-1", requests=0 if pinned else 50)
    TuningDecisionFactory(run=run, t=8.0, reason=REASON, score_before=41.0, predicted_score=99.5, score_after=98.7,
                          prediction_error=-0.8, outcome="improved")
    site = start_site(REDIS_URL=None)
    page = browser.page
    log_in(page, site.url, "tuner", password=PASSWORD, via="/")

    page.goto(f"{site.url}/runs/{run.pk}/")
    page.wait_for_selector("#live-tuning:not([hidden])")
    rows = page.evaluate("""() => Array.from(document.querySelectorAll('#live-decisions tbody tr'))
      .map((row) => Array.from(row.cells).map((cell) => cell.textContent.trim()))""")
    assert rows == [["8.0 s", "set_algorithm", "algorithm: l4_connection -> least_conn", REASON, "41.0", "99.5", "98.7",
                     "-0.8", "improved"]]
    # the balance chart: a dotted line at the decision, labelled with the change, its reason on hover
    page.wait_for_function("""() => { const chart = document.getElementById('chart-balance');
      return chart && chart.layout && (chart.layout.annotations || []).some((note) => note.hovertext); }""")
    marks = page.evaluate("""() => { const layout = document.getElementById('chart-balance').layout;
      return {lines: layout.shapes.filter((shape) => shape.line && shape.line.dash === 'dot').length,
              notes: layout.annotations.filter((note) => note.hovertext).map((note) => [note.text, note.hovertext])}; }""")
    assert marks["lines"] == 1
    assert marks["notes"] == [["algorithm: l4_connection -> least_conn", REASON]]
    assert browser.console_problems == []
