"""Utilisation and queueing latency of the simulator against closed-form queueing results.

Long runs (a few hundred thousand requests, tens of milliseconds each) so the sampling
error is well under the tolerances; each case is deterministic given its seed.
"""

import math

import pytest

from clusters.simulate import PodSpec, Workload, simulate


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered load a = lambda/mu."""
    rho = offered / servers
    top = offered**servers / math.factorial(servers) / (1 - rho)
    return top / (sum(offered**k / math.factorial(k) for k in range(servers)) + top)


def mva(users: int, service: float, think: float) -> tuple[float, float]:
    """Exact mean value analysis of one FCFS exponential queue with think time: (X, R)."""
    queue = 0.0
    for n in range(1, users + 1):
        response = service * (1 + queue)
        throughput = n / (response + think)
        queue = throughput * response
    return throughput, response


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm1_utilisation_mean_and_p95(rho):
    # one pod, Poisson arrivals, exponential 2 ms service: response time ~ Exp(mu - lambda)
    service_ms = 2.0
    rate = rho / service_ms * 1000.0
    workload = Workload(requests=400_000, rate_rps=rate, service_time_ms=service_ms)
    prediction = simulate([PodSpec("only")], workload, "round_robin", seed=1)
    pod = prediction.pods[0]
    mean = service_ms / (1 - rho)
    assert pod.utilisation == pytest.approx(rho, rel=0.02)
    assert pod.latency_mean_ms == pytest.approx(mean, rel=0.05)
    assert pod.latency_p95_ms == pytest.approx(mean * math.log(20), rel=0.05)
    assert prediction.latency_p50_ms == pytest.approx(mean * math.log(2), rel=0.05)
    assert pod.wait_mean_ms == pytest.approx(rho * mean, rel=0.06)
    assert prediction.throughput_rps == pytest.approx(rate, rel=0.01)


def test_mmc_pod_with_capacity_matches_erlang_c():
    servers, service_ms, rho = 4, 1.0, 0.8
    rate_per_ms = rho * servers / service_ms
    workload = Workload(requests=1_000_000, rate_rps=rate_per_ms * 1000.0, service_time_ms=service_ms)
    prediction = simulate([PodSpec("wide", capacity=servers)], workload, "least_conn", seed=2)
    pod = prediction.pods[0]
    wait = erlang_c(servers, rate_per_ms * service_ms) / (servers / service_ms - rate_per_ms)
    assert pod.utilisation == pytest.approx(rho, rel=0.02)
    assert pod.wait_mean_ms == pytest.approx(wait, rel=0.06)
    assert pod.latency_mean_ms == pytest.approx(wait + service_ms, rel=0.04)


def test_md1_fixed_service_matches_pollaczek_khinchine():
    service_ms, rho = 1.0, 0.7
    prediction = simulate([PodSpec("only")],
                          Workload(requests=300_000, rate_rps=rho * 1000.0, distribution="fixed"),
                          "random", seed=3)
    pod = prediction.pods[0]
    assert pod.wait_mean_ms == pytest.approx(rho * service_ms / (2 * (1 - rho)), rel=0.05)
    assert prediction.latency_p50_ms >= service_ms  # nobody is faster than the fixed work


def test_mg1_lognormal_service_matches_pollaczek_khinchine():
    service_ms, rho, sigma = 1.0, 0.6, 1.0
    prediction = simulate([PodSpec("only")],
                          Workload(requests=400_000, rate_rps=rho * 1000.0, distribution="lognormal",
                                   service_sigma=sigma), "round_robin", seed=4)
    pod = prediction.pods[0]
    second_moment = service_ms**2 * math.exp(sigma**2)  # E[S^2] = mean^2 (1 + cv^2)
    wait = rho / service_ms * second_moment / (2 * (1 - rho))
    assert pod.utilisation == pytest.approx(rho, rel=0.02)
    assert pod.wait_mean_ms == pytest.approx(wait, rel=0.08)


def test_random_split_makes_independent_mm1_queues_per_pod_speed():
    # Poisson splitting: each pod is an M/M/1 with lambda / 3 and its own service rate
    pods = [PodSpec("fast", speed=2.0), PodSpec("normal"), PodSpec("slow", speed=0.8)]
    rate_per_ms = 1.8
    prediction = simulate(pods, Workload(requests=400_000, rate_rps=rate_per_ms * 1000.0), "random", seed=5)
    for pod, speed in zip(prediction.pods, (2.0, 1.0, 0.8), strict=True):
        mu, lam = speed / 1.0, rate_per_ms / 3
        assert pod.utilisation == pytest.approx(lam / mu, rel=0.03), pod.name
        assert pod.latency_mean_ms == pytest.approx(1 / (mu - lam), rel=0.06), pod.name


def test_closed_model_matches_mean_value_analysis():
    users, service_ms, think_ms = 6, 1.0, 4.0
    prediction = simulate([PodSpec("only")],
                          Workload(requests=300_000, users=users, think_time_ms=think_ms), "round_robin",
                          seed=6)
    throughput_per_ms, response_ms = mva(users, service_ms, think_ms)
    assert prediction.throughput_rps == pytest.approx(throughput_per_ms * 1000.0, rel=0.02)
    assert prediction.latency_mean_ms == pytest.approx(response_ms, rel=0.03)
    assert prediction.pods[0].utilisation == pytest.approx(throughput_per_ms * service_ms, rel=0.02)


def test_request_mix_scales_the_work():
    # classes cost 1 and 5 with weights 3:1: mean cost 2, so utilisation doubles
    plain = Workload(requests=200_000, rate_rps=300.0)
    mixed = Workload(requests=200_000, rate_rps=300.0, mix=((1.0, 3.0), (5.0, 1.0)))
    one = simulate([PodSpec("only")], plain, "round_robin", seed=7).pods[0]
    two = simulate([PodSpec("only")], mixed, "round_robin", seed=7).pods[0]
    assert one.utilisation == pytest.approx(0.3, rel=0.02)
    assert two.utilisation == pytest.approx(0.6, rel=0.02)


def test_speed_divides_service_time():
    workload = Workload(requests=100_000, rate_rps=200.0, distribution="fixed", service_time_ms=2.0)
    prediction = simulate([PodSpec("double", speed=2.0)], workload, "round_robin")
    assert prediction.pods[0].utilisation == pytest.approx(0.2, rel=0.02)
    assert prediction.latency_p50_ms >= 1.0


def test_pod_overhead_is_not_divided_by_speed():
    # 2 ms of work at speed 2 plus 1 ms of fixed overhead: 2 ms a request
    pod = PodSpec("double", speed=2.0, overhead_ms=1.0)
    workload = Workload(requests=100_000, rate_rps=200.0, distribution="fixed", service_time_ms=2.0)
    prediction = simulate([pod], workload, "round_robin")
    assert prediction.pods[0].utilisation == pytest.approx(0.4, rel=0.02)
    assert prediction.latency_p50_ms == pytest.approx(2.0, rel=0.01)


def test_round_trip_delays_responses_without_holding_servers():
    pod = PodSpec("far", rtt_ms=4.0)
    workload = Workload(requests=200_000, rate_rps=500.0, distribution="fixed")
    open_model = simulate([pod], workload, "p2c", seed=8)
    assert open_model.pods[0].utilisation == pytest.approx(0.5, rel=0.02)
    # M/D/1 at rho 0.5 waits 0.5 ms on average, plus 1 ms of service and the 4 ms round trip
    assert open_model.pods[0].wait_mean_ms == pytest.approx(0.5, rel=0.05)
    assert open_model.latency_mean_ms == pytest.approx(5.5, rel=0.02)
    # one user waits for every answer: one request per 5 ms
    closed = simulate([pod], Workload(requests=1_000, users=1, distribution="fixed"), "least_conn")
    assert closed.throughput_rps == pytest.approx(200.0, rel=0.01)


def test_a_delay_at_the_pod_holds_no_server_but_counts_in_flight():
    # 4 users, one server of 10 ms, 50 ms of delay before it: each user's turn is 60 ms, so 66.7
    # requests/s keep the server busy two thirds of the time; the pod holds all 4 (its gauge counts
    # a request from its arrival). Were the delay service, one server would answer 16.7 a second.
    pod = PodSpec("delayed", delay_ms=50.0)
    prediction = simulate([pod], Workload(requests=20_000, users=4, distribution="fixed", service_time_ms=10.0),
                          "round_robin")
    assert prediction.throughput_rps == pytest.approx(4 / 0.060, rel=0.02)
    assert prediction.pods[0].utilisation == pytest.approx(2 / 3, rel=0.02)
    assert prediction.pods[0].in_flight == pytest.approx(4.0, rel=0.02)
    assert prediction.latency_mean_ms == pytest.approx(60.0, rel=0.02)
