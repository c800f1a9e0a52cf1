"""A pod's service time follows its distribution with the configured mean, divided by its speed."""

import statistics

import pytest

from clusters.sandbox.pod import Pod


def make_pod(distribution: str, mean_ms: float, speed: float = 1.0, sigma: float = 0.5) -> Pod:
    settings = {"name": "pod-0-test1", "speed": speed,
                "service_time": {"distribution": distribution, "mean_ms": mean_ms, "sigma": sigma}}
    return Pod(settings, loop=None)


@pytest.mark.parametrize("distribution", ["fixed", "exponential", "lognormal"])
def test_mean_matches_the_configuration(distribution):
    pod = make_pod(distribution, 10.0)
    samples = [pod.service_time_s() for _ in range(40_000)]
    assert statistics.fmean(samples) == pytest.approx(0.010, rel=0.03)
    assert min(samples) >= 0


def test_distributions_differ_in_spread():
    fixed = [make_pod("fixed", 10.0).service_time_s() for _ in range(5000)]
    exponential = [make_pod("exponential", 10.0).service_time_s() for _ in range(5000)]
    assert statistics.pstdev(fixed) == 0
    # An exponential's standard deviation equals its mean.
    assert statistics.pstdev(exponential) == pytest.approx(0.010, rel=0.1)


def test_speed_factor_divides_the_service_time():
    assert make_pod("fixed", 10.0, speed=2.0).service_time_s() == pytest.approx(0.005)
    assert make_pod("fixed", 10.0, speed=0.1).service_time_s() == pytest.approx(0.100)
