"""Stateless algorithms in the simulator: exact rotations, fair randomness, connection pinning."""

import pytest

from clusters.simulate import PodSpec, Workload, simulate

FOUR = [PodSpec(f"pod-{i}") for i in range(4)]


def counts(prediction) -> list[int]:
    return [pod.requests for pod in prediction.pods]


@pytest.mark.parametrize(
    "workload",
    [
        Workload(requests=10_003, rate_rps=2000.0),
        Workload(requests=10_003, users=7, think_time_ms=2.0),
        Workload(requests=10_003, users=7, keep_alive=False),
    ],
    ids=["open", "closed", "closed-no-keep-alive"],
)
def test_round_robin_gives_each_pod_its_share_within_one(workload):
    got = counts(simulate(FOUR, workload, "round_robin"))
    assert sum(got) == 10_003
    assert max(got) - min(got) <= 1


def test_round_robin_ignores_speed_and_capacity():
    pods = [PodSpec("fast", speed=4.0, capacity=8), PodSpec("slow", speed=0.25)]
    got = counts(simulate(pods, Workload(requests=2_000, rate_rps=100.0), "round_robin"))
    assert got == [1_000, 1_000]


def test_weighted_round_robin_gives_exact_shares_over_a_period():
    pods = [PodSpec("a", weight=5), PodSpec("b", weight=1), PodSpec("c", weight=1)]
    prediction = simulate(pods, Workload(requests=7_000, rate_rps=1000.0), "weighted_round_robin")
    assert counts(prediction) == [5_000, 1_000, 1_000]
    assert prediction.score == pytest.approx(100.0)  # shares match the weights


def test_weighted_round_robin_with_fractional_weights_is_within_one_percent():
    pods = [PodSpec("a", weight=1.5), PodSpec("b", weight=1.0), PodSpec("c", weight=0.3)]
    prediction = simulate(pods, Workload(requests=100_001, users=10), "weighted_round_robin")
    for pod in prediction.pods:
        assert pod.share == pytest.approx(pod.expected_share, rel=0.01)


def test_random_is_close_to_fair_but_not_exact():
    prediction = simulate(FOUR, Workload(requests=200_000, rate_rps=2000.0), "random", seed=3)
    got = counts(prediction)
    assert sum(got) == 200_000
    assert all(abs(c - 50_000) < 1_500 for c in got)  # 6.7 binomial standard deviations
    assert len(set(got)) > 1
    assert prediction.score > 97.0


def test_random_ignores_the_pods_speed():
    pods = [PodSpec("fast"), PodSpec("slow", speed=0.2)]
    prediction = simulate(pods, Workload(requests=50_000, rate_rps=500.0), "random", seed=1)
    assert prediction.pods[1].share == pytest.approx(0.5, abs=0.01)


def test_l4_with_few_long_connections_is_skewed():
    # three users keep one connection each for the whole run: at most 3 of 6 pods serve
    pods = [PodSpec(f"pod-{i}") for i in range(6)]
    pinned = simulate(pods, Workload(requests=30_000, users=3), "l4_connection", seed=5)
    assert pinned.connections == 3
    assert sum(1 for c in counts(pinned) if c == 0) >= 3
    assert pinned.score < 50.0


def test_l4_without_keep_alive_is_fair():
    pods = [PodSpec(f"pod-{i}") for i in range(6)]
    fresh = simulate(pods, Workload(requests=30_000, users=3, keep_alive=False), "l4_connection", seed=5)
    assert fresh.connections == 30_000
    assert fresh.score > 95.0


def test_l4_connection_recycling_spreads_load():
    # open model, 4 client connections: renewing them every 10 requests spreads far better
    pods = [PodSpec(f"pod-{i}") for i in range(8)]
    forever = Workload(requests=40_000, rate_rps=1000.0, connections=4)
    recycled = Workload(requests=40_000, rate_rps=1000.0, connections=4, requests_per_connection=10)
    pinned = simulate(pods, forever, "l4_connection", seed=2)
    renewed = simulate(pods, recycled, "l4_connection", seed=2)
    assert pinned.connections == 4
    assert renewed.connections == 4_000
    assert sum(1 for c in counts(pinned) if c == 0) >= 4
    assert renewed.score > pinned.score + 40


def test_l4_round_robin_pick_spreads_connections_evenly():
    # IPVS-style: 8 long connections over 4 pods land exactly 2 per pod. Users think 20 ms
    # per 1 ms of service, so a pod's requests follow its number of users.
    workload = Workload(requests=8_000, users=8, think_time_ms=20.0, distribution="fixed")
    rr = simulate(FOUR, workload, "l4_connection", options={"pick": "round_robin"})
    assert rr.score > 95.0
    drawn = simulate(FOUR, workload, "l4_connection", seed=1)  # iptables-style random picks
    assert drawn.score < rr.score - 20


def test_consistent_hash_on_one_key_sends_everything_to_one_pod():
    prediction = simulate(FOUR, Workload(requests=1_000, rate_rps=100.0), "consistent_hash",
                          options={"header": "X-Key", "keys": 1})
    assert sorted(counts(prediction)) == [0, 0, 0, 1_000]
    assert prediction.score == 0.0


def test_consistent_hash_with_many_keys_spreads_by_ring_share():
    prediction = simulate(FOUR, Workload(requests=200_000, rate_rps=1000.0), "consistent_hash",
                          options={"header": "X-Key", "keys": 20_000}, seed=4)
    assert all(0.15 < pod.share < 0.35 for pod in prediction.pods)  # 100 points a pod: near fair


def test_consistent_hash_with_popular_keys_is_less_balanced():
    options = {"header": "X-Key", "keys": 1_000}
    uniform = simulate(FOUR, Workload(requests=100_000, rate_rps=1000.0), "consistent_hash",
                       options=options, seed=4)
    zipf = simulate(FOUR, Workload(requests=100_000, rate_rps=1000.0), "consistent_hash",
                    options=options | {"zipf": 1.2}, seed=4)
    assert zipf.score < uniform.score - 10


def test_consistent_hash_on_the_client_address_pins_keep_alive_users():
    pinned = simulate(FOUR, Workload(requests=10_000, users=2), "consistent_hash", seed=9)
    assert pinned.connections == 2
    assert sum(1 for c in counts(pinned) if c == 0) >= 2
