"""p2c in the open model with single-server pods runs in a kernel of its own
(clusters._simkernels.p2c_ring, for speed): it predicts exactly what the general event loop
predicts, and only those runs take it."""

import pytest

from clusters import _simkernels
from clusters import simulate as simulate_module
from clusters.simulate import PodSpec, Workload, simulate

CASES = {
    # the benchmark's pool: one pod at half speed, about 70 % busy
    "slow-pod": ([PodSpec(f"pod-{i}", speed=0.5 if i == 0 else 1.0) for i in range(8)],
                 Workload(requests=50_000, rate_rps=5_250.0)),
    # unequal weights (the load comparison in floats), round trips, overheads, a request mix
    "weights-rtt-mix": ([PodSpec("a", weight=2.0, rtt_ms=1.0), PodSpec("b", overhead_ms=0.2),
                         PodSpec("c", speed=0.25, weight=0.5)],
                        Workload(requests=30_000, rate_rps=700.0, distribution="lognormal",
                                 mix=((1.0, 3.0), (5.0, 1.0)))),
    # fixed service times: many ties in the in-flight counts
    "fixed-two-pods": ([PodSpec("a"), PodSpec("b")],
                       Workload(requests=30_000, rate_rps=1_500.0, distribution="fixed")),
    # three times more work than the pods can do: queues of thousands, rings widen many times
    "overload": ([PodSpec("a"), PodSpec("b"), PodSpec("c", speed=0.5)], Workload(requests=20_000, rate_rps=9_000.0)),
    "many-pods": ([PodSpec(f"pod-{i}", speed=1.0 + (i % 5) / 4) for i in range(300)],
                  Workload(requests=40_000, rate_rps=300_000.0)),
}


@pytest.mark.parametrize(("pods", "workload"), CASES.values(), ids=CASES.keys())
def test_fast_path_predicts_exactly_what_the_event_loop_predicts(monkeypatch, pods, workload):
    fast = simulate(pods, workload, "p2c", seed=3)
    monkeypatch.setattr(simulate_module, "_P2C_RING", False)
    general = simulate(pods, workload, "p2c", seed=3)
    assert fast == general
    assert sum(pod.requests for pod in fast.pods) == workload.requests


def test_ring_width_changes_nothing(monkeypatch):
    pods, workload = CASES["overload"]
    grown = simulate(pods, workload, "p2c")
    monkeypatch.setattr(simulate_module, "_INFLIGHT_START", 1 << 15)
    roomy = simulate(pods, workload, "p2c")
    assert grown == roomy


@pytest.mark.parametrize(
    ("pods", "workload", "algorithm", "fast"),
    [
        ([PodSpec("a"), PodSpec("b")], Workload(requests=500, rate_rps=100.0), "p2c", True),
        ([PodSpec("a"), PodSpec("b")], Workload(requests=500, users=4), "p2c", False),  # closed model
        ([PodSpec("a"), PodSpec("b", capacity=2)], Workload(requests=500, rate_rps=100.0), "p2c", False),
        ([PodSpec("a")], Workload(requests=500, rate_rps=100.0), "p2c", False),  # one pod: no choice
        ([PodSpec("a"), PodSpec("b")], Workload(requests=500, rate_rps=100.0), "least_conn", False),
    ],
    ids=["open-single-servers", "closed", "two-servers", "one-pod", "least-conn"],
)
def test_only_p2c_in_the_open_model_with_single_servers_takes_it(monkeypatch, pods, workload, algorithm, fast):
    calls = []
    real = _simkernels.p2c_ring

    def spy(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(_simkernels, "p2c_ring", spy)
    prediction = simulate(pods, workload, algorithm)
    assert calls == ([workload.requests] if fast else [])
    assert sum(pod.requests for pod in prediction.pods) == workload.requests
