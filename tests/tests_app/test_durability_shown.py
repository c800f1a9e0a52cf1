"""A stateful run's durability verdict and failover, shown on the run page, in the HTML and Markdown
reports and in `loadtest`'s final output, from the summary's `durability` and `stateful` sections."""

import io

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory
from tests_app.cli_display import cli_console, print_results

pytestmark = pytest.mark.django_db

SUMMARY = {
    "run_id": 0, "requests": 60, "failures": 9, "rps": 5.0, "duration_s": 12.0,
    "balance": {"score": 99.0, "grade": "A", "threshold": 95.0, "cv": 0.01, "jain": 0.99, "max_over_mean": 1.0, "p_value": 0.5},
    "durability": {"acked": 1141, "lost": 2, "recovered": 3, "unexpected": 0, "lost_ids": ["run1-77", "run1-78"],
                   "mode": "sync", "promise": "WAIT is best effort", "failed": 225, "errors": {"HTTP 503": 225}},
    "stateful": {"store": "redis", "durability": "sync", "timeline": [
        {"t": 3.01, "type": "primary_killed", "event": "primary_killed", "server": "redis-0", "detail": ""},
        {"t": 4.21, "type": "store_event", "event": "+odown", "server": "sentinel-2", "detail": "master lblab"},
        {"t": 5.29, "type": "failover", "event": "failover", "server": "redis-1", "detail": "127.0.0.1:1 → 127.0.0.1:2"}]},
}


@pytest.fixture
def stateful_run(alice):
    return LoadTestRunFactory(owner=alice, status="failed", summary=SUMMARY, verdict_passed=False,
                              verdict_reasons=["durability: 2 acknowledged writes lost in sync mode"])


def test_run_page_and_html_report_show_the_durability_and_the_failover(client, alice, stateful_run):
    client.force_login(alice)
    for page in (reverse("run-detail", args=[stateful_run.pk]), reverse("run-report", args=[stateful_run.pk])):
        body = client.get(page).content.decode()
        assert "Durability (redis, sync)" in body
        assert "run1-77, run1-78" in body and "1141" in body and "WAIT is best effort" in body
        assert "+odown" in body and "127.0.0.1:1 → 127.0.0.1:2" in body


def test_markdown_report_has_the_durability_section(client, alice, stateful_run):
    client.force_login(alice)
    response = client.get(reverse("run-export", args=[stateful_run.pk, "report.md"]))
    body = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
    section = body.split("## Durability (redis, sync)", 1)[1]
    assert "- **Lost (acknowledged but absent)**: 2: run1-77, run1-78" in section
    assert "| 5.29 | failover | redis-1 | 127.0.0.1:1 → 127.0.0.1:2 |" in section


def test_loadtest_prints_the_durability_and_the_failover(stateful_run):
    out = io.StringIO()
    print_results(stateful_run, console=cli_console(out))
    printed = out.getvalue()
    assert "Lost (acknowledged but absent): 2: run1-77, run1-78" in printed
    assert "127.0.0.1:1 → 127.0.0.1:2" in printed and "+odown" in printed
