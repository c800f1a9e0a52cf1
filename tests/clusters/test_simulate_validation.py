"""Bad input to the simulator raises ClusterError naming the field, before anything runs."""

import pytest

from clusters.base import ClusterError
from clusters.simulate import PodSpec, Workload, simulate

PODS = [PodSpec("a"), PodSpec("b")]
OPEN = Workload(requests=100, rate_rps=100.0)


def error_of(pods=PODS, workload=OPEN, algorithm="round_robin", **kwargs) -> ClusterError:
    with pytest.raises(ClusterError) as caught:
        simulate(pods, workload, algorithm, **kwargs)
    return caught.value


def test_unknown_algorithm():
    error = error_of(algorithm="fastest")
    assert error.field == "algorithm"
    assert "round_robin" in str(error)  # the message lists the valid names


@pytest.mark.parametrize(
    ("pods", "field"),
    [
        ([], "pods"),
        ("ab", "pods"),
        ([PodSpec("a"), "b"], "pods"),
        ([PodSpec("a"), PodSpec("a")], "pods.name"),
        ([PodSpec("")], "pods.name"),
        ([PodSpec("a", speed=0.0)], "pods.speed"),
        ([PodSpec("a", speed=-1.0)], "pods.speed"),
        ([PodSpec("a", capacity=0)], "pods.capacity"),
        ([PodSpec("a", capacity=1.5)], "pods.capacity"),
        ([PodSpec("a", weight=0.0)], "pods.weight"),
        ([PodSpec("a", weight=float("inf"))], "pods.weight"),
        ([PodSpec("a", overhead_ms=-1.0)], "pods.overhead_ms"),
        ([PodSpec("a", rtt_ms=-0.5)], "pods.rtt_ms"),
    ],
)
def test_bad_pods(pods, field):
    assert error_of(pods=pods).field == field


@pytest.mark.parametrize(
    ("workload", "field"),
    [
        (Workload(requests=0, rate_rps=10.0), "requests"),
        (Workload(requests=-5, rate_rps=10.0), "requests"),
        (Workload(requests=100), "users"),  # neither model
        (Workload(requests=100, users=2, rate_rps=10.0), "users"),  # both
        (Workload(requests=100, users=0), "users"),
        (Workload(requests=100, rate_rps=0.0), "rate_rps"),
        (Workload(requests=100, rate_rps=float("nan")), "rate_rps"),
        (Workload(requests=100, rate_rps=10.0, think_time_ms=-1.0), "think_time_ms"),
        (Workload(requests=100, rate_rps=10.0, service_time_ms=-1.0), "service_time_ms"),
        (Workload(requests=100, rate_rps=10.0, service_time_ms=0.0), "service_time_ms"),
        (Workload(requests=100, rate_rps=10.0, distribution="pareto"), "distribution"),
        (Workload(requests=100, rate_rps=10.0, service_sigma=-0.1), "service_sigma"),
        (Workload(requests=100, rate_rps=10.0, requests_per_connection=-1), "requests_per_connection"),
        (Workload(requests=100, rate_rps=10.0, keep_alive="yes"), "keep_alive"),
        (Workload(requests=100, users=3, connections=4), "connections"),
        (Workload(requests=100, rate_rps=10.0, connections=0), "connections"),
        (Workload(requests=100, rate_rps=10.0, mix=()), "mix"),
        (Workload(requests=100, rate_rps=10.0, mix=((0.0, 1.0),)), "mix"),
        (Workload(requests=100, rate_rps=10.0, mix=((1.0, 0.0),)), "mix"),
        (Workload(requests=100, rate_rps=10.0, mix=((1.0,),)), "mix"),
    ],
)
def test_bad_workload(workload, field):
    assert error_of(workload=workload).field == field


@pytest.mark.parametrize(
    ("algorithm", "options", "field"),
    [
        ("round_robin", {"decay_s": 1.0}, "options.decay_s"),
        ("ewma", {"decay_s": 0.0}, "options.decay_s"),
        ("ewma", ["decay_s"], "options"),
        ("l4_connection", {"pick": "least"}, "options.pick"),
        ("consistent_hash", {"vnodes": 0}, "options.vnodes"),
        ("consistent_hash", {"header": ""}, "options.header"),
        ("consistent_hash", {"header": "X-Key", "keys": 0}, "options.keys"),
        ("consistent_hash", {"header": "X-Key", "zipf": -1.0}, "options.zipf"),
        ("consistent_hash", {"keys": 10}, "options.header"),  # keys need a header to be drawn from
    ],
)
def test_bad_options(algorithm, options, field):
    workload = Workload(requests=100, rate_rps=10.0, connections=2)
    assert error_of(workload=workload, algorithm=algorithm, options=options).field == field


def test_connection_level_algorithms_need_the_open_models_connections():
    error = error_of(algorithm="l4_connection", workload=Workload(requests=100, rate_rps=10.0))
    assert error.field == "connections"
    # without keep-alive every request opens its own connection: nothing to ask
    prediction = simulate(PODS, Workload(requests=100, rate_rps=10.0, keep_alive=False), "l4_connection")
    assert prediction.connections == 100


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed(seed):
    assert error_of(seed=seed).field == "seed"


def test_error_message_names_the_field():
    assert str(error_of(workload=Workload(requests=100, rate_rps=-3.0))).startswith("rate_rps: ")
