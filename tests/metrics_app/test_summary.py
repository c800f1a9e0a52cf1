"""The run summary built from Locust's final report: the shape of ARCHITECTURE.md s6,
idle pods as zeros, utilisation apart from requests, connection skew diagnosed."""

import pytest

from metrics_app.summary import summarise

FINAL = {"duration_s": 10.0, "requests": 400, "failures": 4, "unattributed": 2,
         "latency_ms": {"p50": 1.0, "p95": 3.0, "p99": 5.0, "max": 9.0},
         "pods": {"pod-a": {"requests": 200, "failures": 2, "p95_ms": 3.0},
                  "pod-b": {"requests": 198, "failures": 2, "p95_ms": 3.1}}}


def per_second(a, b, seconds=10):
    return [{"pod-a": a, "pod-b": b}] * seconds


def test_shape_and_totals():
    summary = summarise(run_id=7, final=FINAL, per_second_pods=per_second(20, 20), expected_pods=["pod-a", "pod-b"],
                        shares=None, threshold=95.0)
    assert summary["run_id"] == 7 and summary["requests"] == 400 and summary["rps"] == 40.0
    assert set(summary["balance"]) == {"score", "cv", "jain", "max_over_mean", "p_value", "grade", "threshold",
                                       "balanced", "window_s", "windows"}
    assert summary["balance"]["windows"] == [100.0]
    assert summary["unattributed"] == 2 and summary["diagnosis"] is None and summary["utilisation"] is None


def test_expected_pod_with_nothing_is_a_zero_that_lowers_the_score():
    summary = summarise(run_id=1, final=FINAL, per_second_pods=per_second(20, 20), shares=None, threshold=95.0,
                        expected_pods=["pod-a", "pod-b", "pod-c"])
    assert summary["pods"]["pod-c"] == {"requests": 0, "failures": 0, "p95_ms": None}
    assert summary["balance"]["score"] == 0.0  # CV of (200, 198, 0) is ~0.7: floored at 0


def test_utilisation_balance_is_reported_apart():
    summary = summarise(run_id=1, final=FINAL, per_second_pods=per_second(20, 20), expected_pods=["pod-a", "pod-b"],
                        shares=None, threshold=95.0, cpu_by_pod={"pod-a": 0.5, "pod-b": 0.1})
    assert summary["balance"]["score"] > 95
    assert summary["utilisation"]["score"] == pytest.approx(0.0)  # CV 2/3: far apart in CPU


def test_pinned_connections_are_diagnosed():
    final = {**FINAL, "requests": 300, "pods": {"pod-a": {"requests": 200, "failures": 0, "p95_ms": 1.0},
                                                "pod-b": {"requests": 100, "failures": 0, "p95_ms": 1.0},
                                                "pod-c": {"requests": 0, "failures": 0, "p95_ms": None}}}
    summary = summarise(run_id=1, final=final, per_second_pods=[{"pod-a": 20, "pod-b": 10, "pod-c": 0}] * 10,
                        expected_pods=["pod-a", "pod-b", "pod-c"], shares=None, threshold=95.0,
                        keep_alive=True, algorithm="l4_connection", users=3)
    assert summary["diagnosis"]["cause"] == "connection_skew"
    assert summary["diagnosis"]["advice"]


def test_a_window_without_traffic_is_a_gap_in_the_summarys_windows():
    rows = per_second(20, 20) + [{"pod-a": 0, "pod-b": 0}] * 10 + per_second(20, 20)
    summary = summarise(run_id=1, final=FINAL, per_second_pods=rows, expected_pods=["pod-a", "pod-b"], shares=None,
                        threshold=95.0)
    assert summary["balance"]["windows"] == [100.0, None, 100.0]


def test_an_expected_pod_no_cluster_reported_is_diagnosed_as_never_answered():
    expected = ["pod-a", "pod-b", "expected-3 (no response)"]
    summary = summarise(run_id=1, final=FINAL, per_second_pods=per_second(20, 20), expected_pods=expected, shares=None,
                        threshold=95.0, keep_alive=True, algorithm=None, users=3, present_pods=set())
    diagnosis = summary["diagnosis"]
    assert diagnosis["cause"] == "pods_never_answered"
    assert "1 of the 3 expected pods never answered" in diagnosis["explanation"]
    assert "expected-3 (no response)" in diagnosis["explanation"]
    assert "connection" not in diagnosis["explanation"]


def test_pod_health_names_the_pod_whose_error_rate_stands_out():
    final = {**FINAL, "failures": 62, "pods": {"pod-a": {"requests": 200, "failures": 60, "p95_ms": 3.0},
                                                "pod-b": {"requests": 198, "failures": 2, "p95_ms": 3.1}}}
    summary = summarise(run_id=1, final=final, per_second_pods=per_second(20, 20), expected_pods=["pod-a", "pod-b"],
                        shares=None, threshold=95.0)
    assert summary["balance"]["grade"] == "A"  # the spread of requests is fine: only pod health shows it
    health = summary["pod_health"]
    assert health["error_rate_pct"] == {"pod-a": 30.0, "pod-b": pytest.approx(100 * 2 / 198)}
    (outlier,) = health["outliers"]
    assert (outlier["pod"], outlier["figure"], outlier["value"]) == ("pod-a", "error_rate", 30.0)
    assert health["diagnosis"]["cause"] == "pod_outlier" and "pod-a" in health["diagnosis"]["explanation"]


def test_healthy_pods_give_an_empty_pod_health():
    summary = summarise(run_id=1, final=FINAL, per_second_pods=per_second(20, 20), expected_pods=["pod-a", "pod-b"],
                        shares=None, threshold=95.0)
    assert summary["pod_health"]["outliers"] == [] and summary["pod_health"]["diagnosis"] is None


ENDPOINTS = [{"endpoint": "GET /broken", "requests": 100, "failures": 4, "rps": 10.0, "failures_per_s": 0.4,
              "p50_ms": 1.1, "p95_ms": 3.2, "p99_ms": 5.0, "max_ms": 8.0},
             {"endpoint": "GET /api/items", "requests": 300, "failures": 0, "rps": 30.0, "failures_per_s": 0.0,
              "p50_ms": 1.0, "p95_ms": 2.9, "p99_ms": 4.8, "max_ms": 9.0}]
ERRORS = [{"endpoint": "GET /broken", "type": "HTTPError", "status": 503, "message": "Service Unavailable",
           "count": 4, "first_s": 0.5, "last_s": 9.2}]


def test_endpoints_and_errors_are_the_final_lines_tables():
    summary = summarise(run_id=1, final={**FINAL, "endpoints": ENDPOINTS, "errors": ERRORS},
                        per_second_pods=per_second(20, 20), expected_pods=["pod-a", "pod-b"], shares=None,
                        threshold=95.0)
    assert summary["endpoints"] == ENDPOINTS  # in the mix's order, whatever it is
    assert summary["errors"] == ERRORS
    bare = summarise(run_id=1, final=FINAL, per_second_pods=per_second(20, 20), expected_pods=["pod-a", "pod-b"],
                     shares=None, threshold=95.0)
    assert (bare["endpoints"], bare["errors"]) == ([], [])  # a final line without them: empty tables, not missing keys
