"""`loadtest`'s final output (tests_app/cli_display.print_results): besides the pods, the
per-endpoint table and the failures, as Locust prints its own stats at the end."""

import io

import pytest

from tests.factories import LoadTestRunFactory
from tests_app.cli_display import cli_console, print_results

pytestmark = pytest.mark.django_db

SUMMARY = {
    "requests": 400, "failures": 4, "rps": 40.0, "unattributed": 0, "duration_s": 10.0,
    "latency_ms": {"p50": 1.0, "p95": 3.0, "p99": 5.0, "max": 9.0},
    "pods": {"pod-a": {"requests": 200, "failures": 2, "p95_ms": 3.0}, "pod-b": {"requests": 200, "failures": 2,
                                                                           "p95_ms": 3.1}},
    "endpoints": [{"endpoint": "GET /api/items", "requests": 300, "failures": 0, "rps": 30.0, "failures_per_s": 0.0,
                   "p50_ms": 1.0, "p95_ms": 2.9, "p99_ms": 4.8, "max_ms": 9.0},
                  {"endpoint": "GET /broken", "requests": 100, "failures": 4, "rps": 10.0, "failures_per_s": 0.4,
                   "p50_ms": 1.1, "p95_ms": 3.25, "p99_ms": 5.0, "max_ms": 8.0}],
    "errors": [{"endpoint": "GET /broken", "type": "HTTPError", "status": 503, "message": "Service Unavailable",
                "count": 4, "first_s": 0.5, "last_s": 9.2}],
}


def printed(summary) -> list[str]:
    run = LoadTestRunFactory(status="failed", summary=summary, verdict_passed=False)
    out = io.StringIO()
    print_results(run, console=cli_console(out))
    return [" ".join(line.replace("│", " ").split()) for line in out.getvalue().splitlines()]


def test_the_endpoints_and_failures_are_printed_as_tables():
    lines = printed(SUMMARY)
    assert "GET /api/items 300 0 30.0 1.0 2.9 4.8 9.0" in lines
    assert "GET /broken 100 4 10.0 1.1 3.2 5.0 8.0" in lines  # latencies in ms with one decimal
    assert "4 GET /broken HTTPError 503: Service Unavailable 0.5 9.2" in lines


def test_a_run_without_failures_says_so():
    lines = printed({**SUMMARY, "failures": 0, "errors": []})
    assert "no failures" in lines


def test_each_scale_change_is_a_line_with_who_made_it():
    scaling = [{"t": 3.25, "replicas": 5, "previous": 3, "by": "hpa", "desired": 5,
                "metrics": [{"name": "cpu", "current": 85, "target": 60, "unit": "%"}]},
               {"t": 6.0, "replicas": 2, "previous": 5, "by": "external"}]
    lines = printed({**SUMMARY, "scaling": scaling})
    assert "scaling: at 3.250 s, replicas 3 -> 5 by hpa (cpu 85/60 %)" in lines
    assert "scaling: at 6.000 s, replicas 5 -> 2 by external" in lines
