"""The simulator's balance score is within 3 points of the real sandbox's on the same setup.

Real load over loopback: client threads with keep-alive connections (a closed model, no
think time) against the sandbox balancer, pods with fixed service times, one pod at
half speed. The sandbox's per-request overhead (HTTP handling, event-loop lateness on
a shared 2-core machine) is not part of the configuration, so it is the one parameter
fitted, from the run's total throughput, never from its per-pod counts.

ewma is not compared: a peak-EWMA balancer follows the slowest answers each pod gave,
so its spread depends on the rare late answers of a busy machine's event loops, which
the simulator does not model. ewma scored 37.8 and 42.4 on two new sandboxes of this
configuration, and 33.2 and 36.7 on them again after the other algorithms: the sandbox
does not repeat itself within 3 points, so no prediction can be checked to 3 points (the
simulator said 44.8 with the overhead fitted at the pods, 37.4-38.8 fitted as client
think time instead).
"""

import time

import pytest

from clusters.balance import analyse
from clusters.sandbox import ServiceTime
from clusters.simulate import PodSpec, Workload, simulate

pytestmark = pytest.mark.timeout(180)

USERS = 8
SPEEDS = (1.0, 1.0, 0.5)
TOLERANCE = 3.0


def measure(cluster, http, algorithm: str, per_client: int) -> tuple[list[int], float]:
    """Per-pod counts (pods in slot order) and throughput of one closed-loop run."""
    cluster.set_algorithm(algorithm)
    start = time.perf_counter()
    counts, errors = http.count_parallel(cluster.endpoint, clients=USERS, per_client=per_client)
    elapsed = time.perf_counter() - start
    assert not errors
    assert sum(counts.values()) == USERS * per_client
    names = sorted(pod.name for pod in cluster.pods())  # pod-<slot>-<suffix>
    return [counts[name] for name in names], USERS * per_client / elapsed


def pods_for(capacity: int, overhead_ms: float = 0.0) -> list[PodSpec]:
    return [PodSpec(f"pod-{slot}", speed=speed, capacity=capacity, overhead_ms=overhead_ms)
            for slot, speed in enumerate(SPEEDS)]


def fitted_overhead(algorithm: str, workload: Workload, capacity: int, throughput: float,
                    service_ms: float) -> float:
    """Per-request pod overhead (ms) at which the simulator matches the measured throughput."""
    low, high = 0.0, service_ms
    for _ in range(16):
        middle = (low + high) / 2
        predicted = simulate(pods_for(capacity, middle), workload, algorithm).throughput_rps
        low, high = (middle, high) if predicted > throughput else (low, middle)
    return (low + high) / 2


@pytest.fixture(scope="module")
def slow_pod_cluster():
    from clusters.sandbox import SandboxCluster, SandboxConfig

    config = SandboxConfig(pods=3, speeds=SPEEDS, capacity=2, health_interval_s=0.2,
                           service_time=ServiceTime(distribution="fixed", mean_ms=10.0))
    cluster = SandboxCluster(config)
    try:
        yield cluster
    finally:
        cluster.close()


def score_of(counts: list[int]) -> float:
    return analyse({f"pod-{slot}": count for slot, count in enumerate(counts)}).score


@pytest.mark.parametrize("algorithm", ["round_robin", "least_conn", "p2c"])
def test_predicted_score_matches_the_sandbox(slow_pod_cluster, http, algorithm):
    per_client = 150
    counts, throughput = measure(slow_pod_cluster, http, algorithm, per_client)
    workload = Workload(requests=USERS * per_client, users=USERS, service_time_ms=10.0, distribution="fixed")
    overhead = fitted_overhead(algorithm, workload, 2, throughput, 10.0)
    predicted = simulate(pods_for(2, overhead), workload, algorithm)
    measured = score_of(counts)
    assert abs(predicted.score - measured) <= TOLERANCE, (algorithm, counts, predicted.counts(), overhead)
    if algorithm == "least_conn":  # and the comparison is not trivial: the slow pod gets less
        assert counts[2] < 0.8 * counts[0]
        assert measured < 90.0


def test_predicted_random_score_matches_the_sandbox(start_sandbox, http):
    # random's score depends only on how many requests were counted (the sampling noise):
    # many fast requests, compared with the simulator's mean score over seeds
    # no health check during the measurement: on a busy machine a probe queued behind the load
    # times out twice and takes a pod out for a moment, a spread random itself never makes
    cluster = start_sandbox(pods=3, speeds=SPEEDS, capacity=2, health_interval_s=60,
                            service_time=ServiceTime(distribution="fixed", mean_ms=1.0))
    per_client = 2_000
    counts, _ = measure(cluster, http, "random", per_client)
    workload = Workload(requests=USERS * per_client, users=USERS, service_time_ms=1.0, distribution="fixed")
    scores = [simulate(pods_for(2), workload, "random", seed=seed).score for seed in range(20)]
    predicted = sum(scores) / len(scores)
    assert abs(predicted - score_of(counts)) <= TOLERANCE, (counts, predicted)
