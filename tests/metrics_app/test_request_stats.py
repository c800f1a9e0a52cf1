"""A run's per-endpoint and failures tables as the live page shows them: recorded with each
second in one row per run (the run so far), read back as the live `request_stats` message."""

import pytest

from metrics_app.models import MetricSample, RequestStats
from metrics_app.selectors import request_stats
from metrics_app.services import record_second
from tests.factories import LoadTestRunFactory

pytestmark = pytest.mark.django_db

TOTALS = {"users": 2, "requests": 10, "failures": 1, "rps": 10.0, "failures_per_s": 1.0, "active_connections": 2}


def tables(requests: int, failures: int) -> tuple[list, list]:
    endpoints = [{"endpoint": "GET /", "requests": requests, "failures": failures, "rps": 10.0, "failures_per_s": 1.0,
                  "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0}]
    errors = [{"endpoint": "GET /", "type": "HTTPError", "status": 500, "message": "Internal Server Error",
               "count": failures, "first_s": 0.3, "last_s": float(failures)}]
    return endpoints, errors


def test_each_second_replaces_the_runs_tables_and_they_read_back_as_the_live_message():
    run = LoadTestRunFactory(status="running")
    assert request_stats(run.pk) is None  # nothing recorded yet: no message
    for t in (1.0, 2.0):
        endpoints, errors = tables(int(10 * t), int(t))
        record_second(run_id=run.pk, t=t, totals=TOTALS, pods={}, unattributed=0, endpoints=endpoints, errors=errors)
    assert RequestStats.objects.filter(run=run).count() == 1
    assert MetricSample.objects.filter(run=run).count() == 2
    endpoints, errors = tables(20, 2)
    assert request_stats(run.pk) == {"type": "request_stats", "t": 2.0, "endpoints": endpoints, "errors": errors}


def test_a_second_without_tables_leaves_the_last_ones():
    run = LoadTestRunFactory(status="running")
    endpoints, errors = tables(10, 1)
    record_second(run_id=run.pk, t=1.0, totals=TOTALS, pods={}, unattributed=0, endpoints=endpoints, errors=errors)
    record_second(run_id=run.pk, t=2.0, totals=TOTALS, pods={}, unattributed=0)
    assert request_stats(run.pk)["t"] == 1.0
