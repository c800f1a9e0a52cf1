"""Every algorithm serves through the balancer and, with equal pods, reaches all of them."""

import time

import pytest

from clusters.algorithms import ALGORITHMS

SANDBOX = {"pods": 3}

pytestmark = pytest.mark.timeout(60)


PER_REQUEST = [a for a in ALGORITHMS if a not in ("consistent_hash", "l4_connection")]


@pytest.mark.parametrize("algorithm", PER_REQUEST)
def test_equal_pods_all_receive_traffic(module_sandbox, http, algorithm):
    # ewma with its default 10 s decay rightly avoids, for tens of seconds, a pod that
    # answered slowly once (a busy machine in an earlier test); a short decay keeps this
    # test about reaching every pod, not about the machine's earlier hiccups
    module_sandbox.set_algorithm(algorithm, {"decay_s": 0.05} if algorithm == "ewma" else None)
    if algorithm == "ewma":
        # and a pause of many decay constants lets a slow answer of the previous test fade first:
        # a pod whose estimate is still high loses every pick of this short burst
        time.sleep(0.5)
    assert module_sandbox.client.call("GET", "/algorithm")["algorithm"] == algorithm
    counts, errors = http.count_parallel(module_sandbox.endpoint, clients=3, per_client=60)
    assert not errors
    assert sum(counts.values()) == 180
    assert sorted(counts) == sorted(p.name for p in module_sandbox.pods())


def test_balancer_counts_match_what_clients_saw(module_sandbox, http):
    module_sandbox.set_algorithm("round_robin")
    before = {name: s["requests"] for name, s in module_sandbox.client.balancer_stats().items()}
    counts = http.count(module_sandbox.endpoint, 30)
    after = module_sandbox.client.balancer_stats()
    assert {name: after[name]["requests"] - before[name] for name in after} == dict(counts)
