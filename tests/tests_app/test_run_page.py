"""A finished run's page shows what the CLI shows: per-pod counts, balance, the diagnosis."""

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory, UrlTargetFactory

pytestmark = pytest.mark.django_db

SUMMARY = {
    "requests": 300, "failures": 0, "rps": 100.0, "unattributed": 0,
    "latency_ms": {"p50": 1.0, "p95": 3.0, "p99": 5.0, "max": 9.0},
    "pods": {"pod-0-abcde": {"requests": 200, "failures": 0, "p95_ms": 3.1},
             "pod-1-fghij": {"requests": 100, "failures": 0, "p95_ms": 2.9}},
    "balance": {"score": 33.3, "grade": "F", "threshold": 95.0, "cv": 0.3333, "jain": 0.9, "max_over_mean": 1.333},
    "diagnosis": {"explanation": "3 keep-alive connections over 2 pods pin clients.", "advice": "Use more connections."},
    "alerts": [{"message": "Balance fell to 33.3 % from 0 s to 3 s"}],
}


def test_finished_run_page_shows_pods_balance_and_diagnosis(alice, client):
    run = LoadTestRunFactory(owner=alice, status="failed", summary=SUMMARY, verdict_passed=False,
                             verdict_reasons=["balance score 33.3 % is under the 95.0 % threshold"])
    client.force_login(alice)
    page = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "<td>pod-0-abcde</td><td>200</td>" in page and "<td>pod-1-fghij</td><td>100</td>" in page
    assert "33.3 % (grade F" in page
    assert "pin clients" in page and "Use more connections." in page
    assert "balance score 33.3 % is under" in page
    assert "Balance fell to 33.3 %" in page


TABLES = {
    "endpoints": [{"endpoint": "GET /api/items", "requests": 300, "failures": 0, "rps": 30.0, "failures_per_s": 0.0,
                   "p50_ms": 1.0, "p95_ms": 2.9, "p99_ms": 4.8, "max_ms": 9.0}],
    "errors": [{"endpoint": "GET /broken", "type": "HTTPError", "status": 503, "message": "<b>Service</b> Unavailable",
                "count": 4, "first_s": 0.5, "last_s": 9.2}],
}


def test_finished_run_page_shows_the_endpoints_and_the_failures(alice, client):
    run = LoadTestRunFactory(owner=alice, status="failed", summary={**SUMMARY, **TABLES}, verdict_passed=False)
    client.force_login(alice)
    page = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "<td>GET /api/items</td><td>300</td><td>0</td><td>30.0</td><td>1.0</td><td>2.9</td><td>4.8</td>" in page
    assert ("<td>GET /broken</td><td>HTTPError</td><td>503</td><td>&lt;b&gt;Service&lt;/b&gt; Unavailable</td>"
            "<td>4</td><td>0.5 s</td><td>9.2 s</td>") in page
    assert reverse("run-export", args=[run.pk, "endpoints.csv"]) in page
    assert reverse("run-export", args=[run.pk, "errors.csv"]) in page


def test_cpu_and_memory_are_left_out_with_the_reason_for_a_url_target(alice, client):
    url_run = LoadTestRunFactory(owner=alice, status="running", target=UrlTargetFactory(owner=alice))
    sandbox_run = LoadTestRunFactory(owner=alice, status="running")
    client.force_login(alice)
    url_page = client.get(reverse("run-detail", args=[url_run.pk])).content.decode()
    assert 'id="chart-cpu"' not in url_page and 'id="chart-memory"' not in url_page
    assert url_page.count('class="chart-note"') == 1
    assert "CPU and memory per pod are not shown" in url_page
    sandbox_page = client.get(reverse("run-detail", args=[sandbox_run.pk])).content.decode()
    assert 'id="chart-cpu"' in sandbox_page and 'id="chart-memory"' in sandbox_page
    assert 'class="chart-note"' not in sandbox_page
    assert 'id="chart-users"' in url_page and 'id="chart-users"' in sandbox_page
