"""The run report as Markdown (a download beside the others) and the chaos table of the HTML and
Markdown reports, with the figures the summary holds."""

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory

pytestmark = pytest.mark.django_db

KILL = {"step": 0, "kind": "pod_kill", "target": "pod-<b>1</b>", "severity": "medium", "started_at_s": 10.0,
        "ended_at_s": 10.0, "rto_limit_s": 30.0, "rto_s": 2.3, "recovered_at_s": 12.3, "healing_s": 1.6,
        "balance_recovery_s": 3.8, "availability": 0.75, "requests": 920, "requests_failed": 230,
        "p95_during_ms": 900.0, "p95_after_ms": 2.0, "first_failure_s": 10.0, "last_failure_s": 12.3,
        "passed": True, "reason": "pod_kill recovered in 2.3 s, within 30 s"}
SUMMARY = {"run_id": 0, "requests": 60, "failures": 1, "duration_s": 30.0, "rps": 2.0,
           "balance": {"score": 93.0, "grade": "B", "threshold": 95.0},
           "verdict": {"passed": False, "reasons": ["balance score 93.0 % is under the 95.0 % threshold"]},
           "chaos": [KILL]}


@pytest.fixture
def chaos_run(alice):
    return LoadTestRunFactory(owner=alice, status="failed", summary=SUMMARY, verdict_passed=False, name="kill test",
                              target__pods=2)


def test_markdown_report_is_a_download_with_the_chaos_table(client, alice, chaos_run):
    client.force_login(alice)
    response = client.get(reverse("run-export", args=[chaos_run.pk, "report.md"]))
    body = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/markdown")
    assert f'filename="lblab-run-{chaos_run.pk}-report.md"' in response["Content-Disposition"]
    assert body.startswith(f"# LB Lab run {chaos_run.pk}: kill test")
    assert "balance score 93.0 % is under the 95.0 % threshold" in body
    assert "## Chaos" in body and "| 2.3 s |" in body and "| 75.00 % |" in body
    assert "<b>" not in body  # a target's markup is escaped


def test_markdown_report_of_someone_elses_run_is_404(client, bob, chaos_run):
    client.force_login(bob)
    assert client.get(reverse("run-export", args=[chaos_run.pk, "report.md"])).status_code == 404


def test_the_run_page_offers_the_markdown_report(client, alice, chaos_run):
    client.force_login(alice)
    page = client.get(reverse("run-detail", args=[chaos_run.pk])).content.decode()
    assert reverse("run-export", args=[chaos_run.pk, "report.md"]) in page


def test_html_report_has_the_chaos_table_and_its_legend(client, alice, chaos_run):
    client.force_login(alice)
    page = client.get(reverse("run-report", args=[chaos_run.pk])).content.decode()
    table = page.split('<table class="chaos">')[1].split("</table>")[0]
    assert "<th>RTO (s)</th>" in table and "<th>Availability (%)</th>" in table
    for cell in ("2.3 s", "1.6 s", "3.8 s", "75.00 %", "920", "230", "900.0 ms", "passed"):
        assert f"<td>{cell}</td>" in table, cell
    assert "pod-&lt;b&gt;1&lt;/b&gt;" in table
    assert "user-visible recovery" in page  # the legend


def test_a_run_without_chaos_has_no_chaos_table(client, alice):
    run = LoadTestRunFactory(owner=alice, status="passed", summary={**SUMMARY, "chaos": []}, verdict_passed=True)
    client.force_login(alice)
    assert 'class="chaos"' not in client.get(reverse("run-report", args=[run.pk])).content.decode()
