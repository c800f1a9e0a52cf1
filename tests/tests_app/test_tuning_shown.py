"""A run's tuning decisions where a user reads them: the run page's decisions table, the HTML and
Markdown reports, `loadtest`'s final "Tuning" table and its live panel's line per decision."""

import io

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory, TuningDecisionFactory
from tests_app.cli_display import LiveDisplay, cli_console, decision_line, print_results

pytestmark = pytest.mark.django_db

SWITCH = {"t": 12.0, "action": "set_algorithm", "from": {"algorithm": "l4_connection", "options": {}},
          "to": {"algorithm": "least_conn", "options": {}}, "score_before": 41.0, "score_after": 98.7,
          "outcome": "improved", "reason": "connection pinning: 5 kept-alive clients over 4 pods <b>",
          "view": "requests", "predicted_score": 99.5, "prediction_error": -0.8, "p95_before_ms": 3.0,
          "p95_after_ms": 2.5}
SUMMARY = {"run_id": 0, "requests": 600, "failures": 0, "duration_s": 20.0, "rps": 30.0,
           "pods": {"pod-0": {"requests": 300, "failures": 0, "p95_ms": 3.0}},
           "balance": {"score": 98.0, "grade": "A", "threshold": 95.0, "cv": 0.01, "jain": 0.999,
                       "max_over_mean": 1.01, "p_value": 0.5},
           "verdict": {"passed": True, "reasons": []}, "chaos": [], "tuning": [SWITCH]}


@pytest.fixture
def tuned_run(alice):
    return LoadTestRunFactory(owner=alice, status="passed", summary=SUMMARY, verdict_passed=True, name="tuned")


def test_the_html_report_lists_each_decision(client, alice, tuned_run):
    client.force_login(alice)
    page = client.get(reverse("run-report", args=[tuned_run.pk])).content.decode()
    assert "<h2>Tuning</h2>" in page
    row = ("<tr><td>12.0</td><td>set_algorithm</td><td>algorithm: l4_connection -&gt; least_conn</td>"
           "<td>connection pinning: 5 kept-alive clients over 4 pods &lt;b&gt;</td><td>41.0</td><td>99.5</td>"
           "<td>98.7</td><td>-0.8</td><td>improved</td></tr>")
    assert row in page


def test_the_markdown_report_lists_each_decision(client, alice, tuned_run):
    client.force_login(alice)
    body = client.get(reverse("run-export", args=[tuned_run.pk, "report.md"])).content.decode()
    assert "## Tuning" in body
    assert "| 12.0 | set\\_algorithm | algorithm: l4\\_connection -&gt; least\\_conn |" in body
    assert "| 41.0 | 99.5 | 98.7 | -0.8 | improved |" in body
    assert "<b>" not in body


def test_a_run_without_decisions_has_no_tuning_section(client, alice):
    run = LoadTestRunFactory(owner=alice, status="passed", summary={**SUMMARY, "tuning": []}, verdict_passed=True)
    client.force_login(alice)
    assert "<h2>Tuning</h2>" not in client.get(reverse("run-report", args=[run.pk])).content.decode()
    assert "## Tuning" not in client.get(reverse("run-export", args=[run.pk, "report.md"])).content.decode()


def test_the_run_page_has_the_decisions_table_for_the_live_script(client, alice, tuned_run):
    client.force_login(alice)
    page = client.get(reverse("run-detail", args=[tuned_run.pk])).content.decode()
    assert 'id="live-decisions"' in page
    assert "<th>Predicted</th><th>Observed</th><th>Prediction error</th><th>Outcome</th>" in page


def printed(run) -> list[str]:
    out = io.StringIO()
    print_results(run, console=cli_console(out))
    return [" ".join(line.replace("│", " ").split()) for line in out.getvalue().splitlines()]


def test_loadtest_prints_a_tuning_table(tuned_run):
    lines = printed(tuned_run)
    assert "Tuning" in lines
    assert ("12.0 set_algorithm algorithm: l4_connection -> least_conn connection pinning: 5 kept-alive clients "
            "over 4 pods <b> 41.0 99.5 98.7 -0.8 improved") in lines


def test_the_live_panel_shows_each_decision_as_it_is_taken(alice):
    run = LoadTestRunFactory(owner=alice, status="running", autotune=None)
    out = io.StringIO()
    display = LiveDisplay(run, console=cli_console(out))
    run.autotune_id = 1  # as if attached: the panel reads the run's decisions each second
    TuningDecisionFactory(run=run, t=7.0, reason="pinned <i>", predicted_score=99.0)

    class Second:
        messages = [{"type": "sample", "t": 8.0, "requests": 10, "failures": 0, "pods": {"pod-0": {"requests": 10}},
                     "score": 60.0, "p95_ms": 2.0, "users": 5, "rps": 10.0}]

    display.on_second(None, Second())
    assert [decision["t"] for decision in display.decisions] == [7.0]
    line = decision_line(display.decisions[0])
    assert line.startswith("tuning 7 s · set_algorithm · algorithm: l4_connection -> least_conn · applied")
    assert "predicted 99.0" in line and line.endswith("pinned <i>")
    shown = io.StringIO()
    cli_console(shown).print(display.live.renderable)  # what the panel draws now
    assert line in shown.getvalue()


def test_a_prediction_error_that_rounds_to_nothing_reads_0():
    from metrics_app.reports import signed_points

    assert [signed_points(value) for value in (-0.04, 0.0, 1.25, -0.8, None)] == ["0.0", "0.0", "+1.2", "-0.8", "–"]
