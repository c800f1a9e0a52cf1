"""Utilisation balance: the same CV-based score on CPU or in-flight per pod, apart from requests."""

from __future__ import annotations

import json
import statistics

import pytest

from clusters.balance import analyse, utilisation_balance


def test_cpu_spread_matches_the_cv_definition():
    cpu = {"pod-0": 0.42, "pod-1": 0.55, "pod-2": 0.38, "pod-3": 0.61}
    values = list(cpu.values())
    cv = statistics.pstdev(values) / statistics.mean(values)
    result = utilisation_balance(cpu)
    assert result.cv == pytest.approx(cv)
    assert result.score == pytest.approx(max(0.0, 1 - cv / 0.5) * 100)
    assert result.jain == pytest.approx(sum(values) ** 2 / (4 * sum(v * v for v in values)))
    assert result.max_over_mean == pytest.approx(max(values) / statistics.mean(values))
    assert result.total == pytest.approx(sum(values))


def test_equal_utilisation_is_perfect():
    result = utilisation_balance({"pod-0": 2.5, "pod-1": 2.5, "pod-2": 2.5})
    assert (result.score, result.grade, result.balanced) == (100.0, "A", True)


def test_p_value_is_none_because_chi_square_needs_counts():
    result = utilisation_balance({"pod-0": 0.5, "pod-1": 0.7})
    assert result.p_value is None
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["p_value"] is None


def test_pods_without_a_reading_are_left_out_not_zero():
    result = utilisation_balance({"pod-0": 0.5, "pod-1": 0.5, "pod-2": None, "pod-3": float("nan")})
    assert result.pods == ("pod-0", "pod-1")
    assert result.score == 100.0


def test_an_idle_pod_with_a_reading_of_zero_is_counted():
    result = utilisation_balance({"pod-0": 0.5, "pod-1": 0.5, "pod-2": 0.0})
    assert result.pods == ("pod-0", "pod-1", "pod-2") and result.score < 50


def test_threshold_decides_balanced():
    cpu = {"pod-0": 0.9, "pod-1": 1.1}
    score = utilisation_balance(cpu).score
    assert utilisation_balance(cpu, threshold=score).balanced is True
    assert utilisation_balance(cpu, threshold=score + 0.01).balanced is False


def test_no_load_or_no_pods_is_not_balanced():
    for values in ({}, {"pod-0": 0.0, "pod-1": 0.0}, {"pod-0": None}):
        result = utilisation_balance(values)
        assert (result.score, result.grade, result.balanced, result.cv) == (0.0, "F", False, 0.0)


def test_negative_utilisation_is_rejected():
    with pytest.raises(ValueError, match="utilisation"):
        utilisation_balance({"pod-0": 0.5, "pod-1": -0.1})


def test_kept_apart_from_request_balance():
    # each pod served its fair share of requests, but one burns twice the CPU per request
    requests = analyse({"pod-0": 1000, "pod-1": 1000, "pod-2": 1000})
    cpu = utilisation_balance({"pod-0": 0.3, "pod-1": 0.3, "pod-2": 0.6})
    assert requests.balanced is True and requests.p_value == 1.0
    assert cpu.balanced is False and cpu.score < requests.score
