"""Pods whose measured speeds differ by no more than their seconds' noise are modelled equally
fast: identical pods on a shared machine never measure the same over a few seconds, and a model
that took a pod "7 % slower" at its word predicted an imbalance the balancer would never show
(issue 18). A pod slower by far more than that noise stays apart."""

from __future__ import annotations

import numpy as np
import pytest

from clusters.tuning.window import Observed, fold

PODS = ("pod-0", "pod-1", "pod-2", "pod-3")


def _window(in_flight_per_second: list[dict[str, float]], requests: int = 300):
    seconds = []
    for t, in_flight in enumerate(in_flight_per_second, start=1):
        pods = {pod: {"requests": requests, "failures": 0, "p95_ms": 12.0, "cpu": None, "ready": True,
                      "in_flight": value, "queued": 0.0} for pod, value in in_flight.items()}
        seconds.append(Observed(float(t), {"users": 32, "rps": float(requests * len(pods)), "p95_ms": 12.0}, pods))
    return fold(seconds)


def _noisy(means: dict[str, float], seconds: int = 8, rel_sd: float = 0.06, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [{pod: mean * (1 + rel_sd * rng.standard_normal()) for pod, mean in means.items()} for _ in range(seconds)]


def test_pods_within_noise_of_each_other_are_equally_fast():
    window = _window(_noisy({"pod-0": 3.0, "pod-1": 3.0, "pod-2": 3.0, "pod-3": 18.0}))

    raw = window.service_times(8)
    assert max(raw[pod] for pod in PODS[:3]) / min(raw[pod] for pod in PODS[:3]) > 1.02  # they did differ
    speeds = window.speeds(8)
    assert speeds["pod-0"] == speeds["pod-1"] == speeds["pod-2"] == 1.0
    assert speeds["pod-3"] == pytest.approx(1 / 6, rel=0.1)  # the slow pod is not pooled with them
    pooled = window.service_times(8, pooled=True)
    assert pooled["pod-0"] == pytest.approx(sum(raw[pod] for pod in PODS[:3]) / 3)


def test_a_difference_larger_than_the_noise_is_kept():
    # pod-1 steadily 20 % slower, the seconds' noise 1 %: not the same speed
    window = _window(_noisy({"pod-0": 3.0, "pod-1": 3.6, "pod-2": 3.0}, rel_sd=0.01))

    speeds = window.speeds(8)
    assert speeds["pod-0"] == speeds["pod-2"] == 1.0
    assert speeds["pod-1"] == pytest.approx(1 / 1.2, rel=0.03)


def test_without_seconds_to_judge_the_noise_by_nothing_is_pooled():
    window = _window([{"pod-0": 3.0, "pod-1": 3.1}])  # one second: no spread known

    assert window.speeds(8)["pod-1"] == pytest.approx(3.0 / 3.1)
