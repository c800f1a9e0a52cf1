"""Load-aware algorithms in the simulator: they see a slow pod and send it less."""

import pytest

from clusters import simulate as simulate_module
from clusters.simulate import PodSpec, Workload, simulate

# pod-3 works at a quarter of the others' speed; 1 ms of work, about 60 % utilisation
SLOW = [PodSpec("pod-0"), PodSpec("pod-1"), PodSpec("pod-2"), PodSpec("pod-3", speed=0.25)]
OPEN = Workload(requests=100_000, rate_rps=1_900.0)
CLOSED = Workload(requests=100_000, users=12, think_time_ms=4.0)


def slow_share(prediction) -> float:
    return prediction.pods[3].share


@pytest.mark.parametrize("workload", [OPEN, CLOSED], ids=["open", "closed"])
@pytest.mark.parametrize("algorithm", ["least_conn", "p2c", "ewma"])
def test_load_aware_algorithms_send_less_to_a_slow_pod(algorithm, workload):
    rr = simulate(SLOW, workload, "round_robin")
    aware = simulate(SLOW, workload, algorithm)
    assert slow_share(rr) == pytest.approx(0.25, abs=0.001)
    assert slow_share(aware) < 0.8 * slow_share(rr), algorithm
    assert aware.latency_p95_ms < rr.latency_p95_ms  # and requests are faster for it
    assert sum(pod.requests for pod in aware.pods) == workload.requests


def test_least_conn_at_low_load_rotates_like_round_robin():
    # nothing is ever in flight when a request comes: ties everywhere, rotation breaks them
    pods = [PodSpec(f"pod-{i}") for i in range(5)]
    workload = Workload(requests=10_000, rate_rps=1.0, distribution="fixed")
    counts = [pod.requests for pod in simulate(pods, workload, "least_conn").pods]
    assert max(counts) - min(counts) <= 1


def test_least_conn_weighs_in_flight_by_weight():
    # a big pod (2 servers, twice as fast) next to a small one: weighting it 3 sends it more
    def big_share(weight: float) -> float:
        pods = [PodSpec("big", weight=weight, speed=2.0, capacity=2), PodSpec("small")]
        return simulate(pods, Workload(requests=50_000, rate_rps=1_500.0), "least_conn").pods[0].share

    assert big_share(3.0) > big_share(1.0) + 0.03


def test_p2c_with_one_pod_sends_it_everything():
    prediction = simulate([PodSpec("only")], Workload(requests=1_000, rate_rps=100.0), "p2c")
    assert prediction.pods[0].requests == 1_000
    assert prediction.score == 100.0


def test_ewma_reacts_to_latency_even_with_spare_capacity():
    # pods with 8 servers each never queue at this load, so in-flight counts barely differ;
    # peak EWMA still sees the slow pod's latency and avoids it
    pods = [PodSpec(f"pod-{i}", capacity=8, speed=0.2 if i == 0 else 1.0) for i in range(4)]
    workload = Workload(requests=50_000, rate_rps=800.0)
    ewma = simulate(pods, workload, "ewma")
    assert ewma.pods[0].share < 0.15
    assert ewma.pods[0].wait_mean_ms == pytest.approx(0.0, abs=0.05)


def test_overloaded_pods_keep_every_request():
    # 3x more work than the pods can do: in-flight stores must grow far past their start size
    pods = [PodSpec("a"), PodSpec("b", capacity=2), PodSpec("c", speed=0.5)]
    workload = Workload(requests=20_000, rate_rps=9_000.0)
    for algorithm in ("least_conn", "p2c", "ewma"):
        prediction = simulate(pods, workload, algorithm)
        assert sum(pod.requests for pod in prediction.pods) == 20_000
        assert max(pod.utilisation for pod in prediction.pods) > 0.99, algorithm
        assert prediction.latency_p95_ms > 1_000.0  # queues of thousands of requests built up


@pytest.mark.parametrize("capacity", [1, 2], ids=["ring", "heap"])
def test_growing_the_in_flight_store_changes_nothing(monkeypatch, capacity):
    pods = [PodSpec("a"), PodSpec("b", capacity=capacity), PodSpec("c", speed=0.5)]
    workload = Workload(requests=20_000, rate_rps=9_000.0)
    grown = [simulate(pods, workload, algorithm) for algorithm in ("least_conn", "p2c", "ewma")]
    monkeypatch.setattr(simulate_module, "_INFLIGHT_START", 1 << 15)
    roomy = [simulate(pods, workload, algorithm) for algorithm in ("least_conn", "p2c", "ewma")]
    assert grown == roomy


def test_same_seed_same_prediction_and_seeds_differ():
    first = simulate(SLOW, OPEN, "p2c", seed=11)
    again = simulate(SLOW, OPEN, "p2c", seed=11)
    other = simulate(SLOW, OPEN, "p2c", seed=12)
    assert first == again
    assert first.counts() != other.counts()


def test_algorithms_share_the_workload_sample_for_a_seed():
    # common random numbers: the same arrivals and work whatever the algorithm, so total
    # busy time (work / speed summed over pods) only differs by where the work ran
    pods = [PodSpec("a"), PodSpec("b")]
    one = simulate(pods, OPEN, "p2c", seed=5)
    two = simulate(pods, OPEN, "least_conn", seed=5)
    busy_one = sum(p.utilisation for p in one.pods) * one.duration_s
    busy_two = sum(p.utilisation for p in two.pods) * two.duration_s
    assert busy_one == pytest.approx(busy_two, rel=1e-9)
