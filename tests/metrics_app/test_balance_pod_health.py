"""Pod health (clusters.pod_health): a pod whose error rate or p95 stands out from the other
pods' is named, even when it keeps its share of requests and the balance score is perfect."""

import pytest

from clusters.pod_health import judge_pods


def pods(**figures):
    """pod_0=(requests, failures, p95 ms) -> the summary's per-pod figures."""
    return {name.replace("_", "-"): {"requests": r, "failures": f, "p95_ms": p95} for name, (r, f, p95) in figures.items()}


def test_a_pod_failing_thirty_percent_is_named_with_the_others_rate():
    health = judge_pods(pods(pod_0=(1000, 0, 3.0), pod_1=(1000, 300, 3.0), pod_2=(1000, 10, 3.0)))
    (outlier,) = health.outliers
    assert (outlier.pod, outlier.figure) == ("pod-1", "error_rate")
    assert outlier.value == pytest.approx(30.0)
    assert outlier.others == pytest.approx(0.5)  # 10 of the other pods' 2000 requests
    assert "pod-1 failed 30.0 % of its requests (300 of 1000)" in outlier.message
    assert health.error_rate_pct == {"pod-0": 0.0, "pod-1": 30.0, "pod-2": 1.0}
    diagnosis = health.diagnosis()
    assert diagnosis.cause == "pod_outlier" and "pod-1" in diagnosis.explanation and diagnosis.advice


def test_errors_spread_over_every_pod_are_not_one_pods_problem():
    health = judge_pods(pods(pod_0=(1000, 300, 3.0), pod_1=(1000, 290, 3.0), pod_2=(1000, 310, 3.0)))
    assert health.outliers == () and health.diagnosis() is None


def test_a_few_failures_say_nothing():
    # 4 failures in 20 requests is 20 %, but too few to stand out from chance
    assert judge_pods(pods(pod_0=(1000, 0, 3.0), pod_1=(20, 4, 3.0))).outliers == ()
    assert judge_pods(pods(pod_0=(1000, 0, 3.0), pod_1=(19, 10, 3.0))).outliers == ()  # too few requests


def test_a_pod_whose_p95_is_far_above_the_others_median_is_named():
    health = judge_pods(pods(pod_0=(500, 0, 3.0), pod_1=(500, 0, 260.0), pod_2=(500, 0, 4.0), pod_3=(500, 0, 3.5)))
    (outlier,) = health.outliers
    assert (outlier.pod, outlier.figure, outlier.value, outlier.others) == ("pod-1", "p95_ms", 260.0, 3.5)
    assert "pod-1" in outlier.message and "260.0 ms" in outlier.message
    assert "least_conn" in health.diagnosis().advice  # a slow pod: balancers that see it send it less


def test_a_small_latency_difference_is_not_an_outlier():
    # twice the others but only 4 ms apart: jitter on a shared machine, not a slow pod
    assert judge_pods(pods(pod_0=(500, 0, 4.0), pod_1=(500, 0, 8.0))).outliers == ()


def test_pods_without_requests_or_a_single_pod_are_not_judged():
    assert judge_pods(pods(pod_0=(1000, 300, 3.0))).outliers == ()
    health = judge_pods(pods(pod_0=(1000, 0, 3.0), pod_1=(0, 0, None), pod_2=(1000, 0, 3.0)))
    assert health.outliers == () and health.error_rate_pct["pod-1"] is None


def test_to_dict_is_the_summarys_pod_health_section():
    health = judge_pods(pods(pod_0=(1000, 0, 3.0), pod_1=(1000, 300, 3.0)))
    section = health.to_dict()
    assert set(section) == {"error_rate_pct", "outliers", "diagnosis"}
    assert section["outliers"][0] == {"pod": "pod-1", "figure": "error_rate", "value": 30.0, "others": 0.0,
                                      "message": health.outliers[0].message}
    assert section["diagnosis"]["cause"] == "pod_outlier"
