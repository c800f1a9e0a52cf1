"""A finished run's page shows what the CLI shows: per-pod counts, balance, the diagnosis."""

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory

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
