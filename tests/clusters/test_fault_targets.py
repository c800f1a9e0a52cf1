"""What a chaos step acts on: a named pod or slot, a random pod, N pods, a percentage, all pods, the
pods of a node, or a node; checked before the run, resolved against the pods of the moment with
the run's seeded random generator."""

from __future__ import annotations

import random

import pytest

from clusters.base import ClusterError, Pod
from clusters.durations import SpecError
from clusters.faults import FAULT_KINDS, FaultStep, parse_step
from clusters.faults.targets import (
    ALL,
    FIXED,
    FIXED_PERCENT,
    NAMED,
    NODE,
    ON_NODE,
    ONE,
    PODS,
    STATEFUL,
    FaultTarget,
    parse_target,
    percent_of,
    resolve,
)
from tests.clusters.support import RecordingCluster


def pods_named(*names: str, ready: bool = True) -> list[Pod]:
    """Pods `pod-<slot>-<suffix>`, the slot's parity giving the node (slot 0 on node-0)."""
    return [Pod(name=name, node=f"node-{int(name.split('-')[1]) % 2}", address="127.0.0.1:1", ready=ready)
            for name in names]


FOUR = pods_named("pod-0-bcdfg", "pod-1-hjklm", "pod-2-npqrs", "pod-3-tvwxz")


def rng(seed: int = 7) -> random.Random:
    return random.Random(seed)


# Parsing.
@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("", FaultTarget(ONE)),
        ("random", FaultTarget(ONE)),
        ("one", FaultTarget(ONE)),  # Chaos Mesh's word for it
        (" Random ", FaultTarget(ONE)),
        ("all", FaultTarget(ALL)),
        ("2", FaultTarget(FIXED, count=2)),
        ("50%", FaultTarget(FIXED_PERCENT, percent=50.0)),
        ("12.5%", FaultTarget(FIXED_PERCENT, percent=12.5)),
        ("100%", FaultTarget(FIXED_PERCENT, percent=100.0)),
        ("pod-1-ab12c", FaultTarget(NAMED, names=("pod-1-ab12c",))),
        ("pod-1", FaultTarget(NAMED, names=("pod-1",))),
        ("pod-0,pod-2", FaultTarget(NAMED, names=("pod-0", "pod-2"))),
        ("pod-0, pod-2 ,pod-0", FaultTarget(NAMED, names=("pod-0", "pod-2"))),
        ("web-7d4b9c-x2x7z", FaultTarget(NAMED, names=("web-7d4b9c-x2x7z",))),
        ("node:node-0", FaultTarget(ON_NODE, names=("node-0",))),
        ("node:ip-10-0-1-5.ec2.internal", FaultTarget(ON_NODE, names=("ip-10-0-1-5.ec2.internal",))),
    ],
)
def test_pod_targets_parse(text, target):
    assert parse_target(text) == target
    assert parse_target(str(target)) == target  # the canonical form reads back


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "target '0' picks no pod; ask for 1 or more"),
        ("0%", "a percentage of the pods is more than 0% and at most 100%"),
        ("150%", "a percentage of the pods is more than 0% and at most 100%"),
        ("-1", "'-1' is not a pod name"),
        ("2pods", "target '2pods': write a number of pods as the number alone, e.g. 2"),
        ("1 pod", "write a number of pods as the number alone"),
        ("Pod-1", "'Pod-1' is not a pod name"),
        ("pod 1", "'pod 1' is not a pod name"),
        ("pod-1,", "'' is not a pod name"),
        ("node:", "'' is not a node name"),
        ("node:Node_0", "'Node_0' is not a node name"),
        ("x" * 254, "is not a pod name"),
    ],
)
def test_bad_pod_targets_say_what_is_wrong_and_what_is_right(text, message):
    with pytest.raises(ClusterError) as caught:
        parse_target(text)
    assert caught.value.field == "target"
    assert message in caught.value.args[0]
    if "name" in message:  # the forms are listed so the user can correct it
        assert "50%" in caught.value.args[0] and "node:NODE" in caught.value.args[0]


def test_a_target_must_be_text():
    with pytest.raises(ClusterError) as caught:
        parse_target(3)
    assert (caught.value.field, caught.value.args[0]) == (
        "target", "target must be a pod or node name (empty: chosen at run time)")


@pytest.mark.parametrize(
    ("text", "target"),
    [("", FaultTarget(ONE)), ("random", FaultTarget(ONE)), ("node-1", FaultTarget(ON_NODE, names=("node-1",))),
     ("node:node-1", FaultTarget(ON_NODE, names=("node-1",)))],
)
def test_node_targets_parse(text, target):
    assert parse_target(text, NODE) == target


@pytest.mark.parametrize("text", ["all", "2", "50%", "node-0,node-1", "node:node-0,node-1"])
def test_a_node_fault_takes_one_node(text):
    with pytest.raises(ClusterError) as caught:
        parse_target(text, NODE)
    assert caught.value.field == "target"
    assert "a node fault's target is a node (node-0 or node:node-0)" in caught.value.args[0]


def test_a_stateful_fault_takes_no_target():
    assert parse_target("", STATEFUL) == FaultTarget(ONE)
    with pytest.raises(ClusterError, match="acts on the service's primary; leave the target empty"):
        parse_target("pod-1", STATEFUL)


# Resolving against the pods of the moment.
def test_a_name_picks_that_pod_and_a_slot_the_pod_in_it():
    assert resolve("pod-2-npqrs", FOUR, rng=rng()) == ["pod-2-npqrs"]
    assert resolve("pod-2", FOUR, rng=rng()) == ["pod-2-npqrs"]
    assert resolve("pod-3,pod-0-bcdfg,pod-3-tvwxz", FOUR, rng=rng()) == ["pod-3-tvwxz", "pod-0-bcdfg"]


def test_named_pods_need_not_be_ready():
    assert resolve("pod-1", pods_named("pod-1-hjklm", ready=False), rng=rng()) == ["pod-1-hjklm"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pod-9", "unknown pod 'pod-9'; pods now: pod-0-bcdfg, pod-1-hjklm, pod-2-npqrs, pod-3-tvwxz"),
        ("pod-1-zzzzz", "unknown pod 'pod-1-zzzzz'"),
        ("pod", "unknown pod 'pod'"),  # a prefix is not a slot: only one `-suffix` is dropped
        ("node-1", "'node-1' is a node; node:node-1 targets its pods"),
        ("node:node-7", "unknown node 'node-7'; one of node-0, node-1"),
    ],
)
def test_unknown_pods_and_nodes_are_clear_errors(text, message):
    with pytest.raises(ClusterError) as caught:
        resolve(text, FOUR, rng=rng())
    assert caught.value.field == "target"
    assert caught.value.args[0].startswith(message)


def test_a_slot_with_two_pods_must_be_named():
    with pytest.raises(ClusterError, match="target 'web-1' matches web-1-abcde, web-1-fghjk; name one"):
        resolve("web-1", pods_named("web-1-abcde", "web-1-fghjk"), rng=rng())


def test_a_node_target_picks_every_pod_on_it_ready_or_not():
    pods = [*FOUR, Pod("pod-4-bbbbb", "node-0", "127.0.0.1:1", ready=False)]
    assert resolve("node:node-0", pods, rng=rng()) == ["pod-0-bcdfg", "pod-2-npqrs", "pod-4-bbbbb"]
    assert resolve("node:node-1", pods, rng=rng()) == ["pod-1-hjklm", "pod-3-tvwxz"]


def test_a_known_node_without_pods_is_said_so():
    with pytest.raises(ClusterError, match="node 'node-2' has no pods"):
        resolve("node:node-2", FOUR, rng=rng(), nodes=["node-0", "node-1", "node-2"])


def test_all_picks_every_pod():
    assert resolve("all", list(reversed(FOUR)), rng=rng()) == [p.name for p in FOUR]
    with pytest.raises(ClusterError, match="there is no pod to act on"):
        resolve("all", [], rng=rng())


def test_random_picks_only_ready_pods():
    pods = [*pods_named("pod-0-bcdfg", "pod-1-hjklm", ready=False), *pods_named("pod-2-npqrs")]
    for seed in range(20):
        assert resolve("", pods, rng=rng(seed)) == ["pod-2-npqrs"]
        assert resolve("50%", pods, rng=rng(seed)) == ["pod-2-npqrs"]
    with pytest.raises(ClusterError, match="no pod is ready to be chosen"):
        resolve("random", pods_named("pod-0-bcdfg", ready=False), rng=rng())


def test_random_picks_reach_every_pod_over_seeds():
    picked = {resolve("random", FOUR, rng=rng(seed))[0] for seed in range(50)}
    assert picked == {p.name for p in FOUR}


def test_n_pods_are_distinct_and_no_more_than_are_ready():
    for seed in range(20):
        chosen = resolve("3", FOUR, rng=rng(seed))
        assert len(chosen) == len(set(chosen)) == 3
        assert set(chosen) <= {p.name for p in FOUR}
    with pytest.raises(ClusterError) as caught:
        resolve("5", FOUR, rng=rng())
    assert caught.value.args[0] == "target '5' asks for 5 pods; 4 are ready"


@pytest.mark.parametrize(
    ("pods", "percent", "count"),
    [(4, 50, 2), (3, 50, 1), (3, 10, 1), (3, 100, 3), (3, 100 / 3, 1), (3, 200 / 3, 2), (10, 30, 3),
     (1, 1, 1), (64, 12.5, 8)],
)
def test_a_percentage_rounds_down_but_picks_at_least_one(pods, percent, count):
    assert percent_of(pods, percent) == count


def test_a_percentage_picks_its_share_of_the_ready_pods():
    assert len(resolve("50%", FOUR, rng=rng())) == 2
    assert len(resolve("75%", FOUR, rng=rng())) == 3
    assert sorted(resolve("100%", FOUR, rng=rng())) == [p.name for p in FOUR]


def test_the_same_seed_picks_the_same_slots_in_another_run():
    # Another run: the same slots under new suffixes, listed in another order.
    again = list(reversed(pods_named("pod-0-xxxxx", "pod-1-ggggg", "pod-2-bbbbb", "pod-3-zzzzz")))

    def slots(names):
        return [name.rsplit("-", 1)[0] for name in names]

    for text in ("random", "2", "50%"):
        for seed in range(10):
            assert slots(resolve(text, FOUR, rng=rng(seed))) == slots(resolve(text, again, rng=rng(seed)))


def test_a_node_fault_resolves_to_one_node():
    assert resolve("node-1", FOUR, rng=rng(), acts_on=NODE) == ["node-1"]
    assert resolve("node:node-1", FOUR, rng=rng(), acts_on=NODE) == ["node-1"]
    # A cordoned node without pods can still be named, when the cluster lists its nodes.
    assert resolve("node-2", FOUR, rng=rng(), acts_on=NODE, nodes=["node-0", "node-1", "node-2"]) == ["node-2"]
    with pytest.raises(ClusterError, match="unknown node 'node-2'; one of node-0, node-1"):
        resolve("node-2", FOUR, rng=rng(), acts_on=NODE)


def test_a_random_node_is_one_that_has_pods():
    nodes = ["node-0", "node-1", "node-2"]
    picked = {resolve("", FOUR, rng=rng(seed), acts_on=NODE, nodes=nodes)[0] for seed in range(30)}
    assert picked == {"node-0", "node-1"}
    with pytest.raises(ClusterError, match="no node has pods to choose from"):
        resolve("", [], rng=rng(), acts_on=NODE, nodes=nodes)


def test_a_stateful_fault_resolves_to_nothing():
    assert resolve("", FOUR, rng=rng(), acts_on=STATEFUL) == []


# Wired into the step syntax and the kinds.
@pytest.mark.parametrize(
    ("spec", "target"),
    [
        ("latency@5s:20s:high:50%", "50%"),
        ("pod_kill@5s:0s::2", "2"),
        ("errors@5s:10s:low:pod-0,pod-2", "pod-0,pod-2"),
        ("partition@1s:5s::node:node-1", "node:node-1"),
        ("node_drain@1s:30s::node:node-0", "node:node-0"),
        ("cpu_stress@1s:5s::all", "all"),
    ],
)
def test_a_step_carries_its_target(spec, target):
    step = parse_step(spec)
    assert step.target == target
    assert parse_step(step.to_spec()) == step
    assert FaultStep.from_dict(step.to_dict()) == step


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("latency@5s:20s:high:150%", "target '150%': a percentage of the pods is more than 0% and at most 100%"),
        ("pod_kill@5s:0s::0", "target '0' picks no pod"),
        ("node_drain@1s:30s::all", "target 'all': a node fault's target is a node"),
        ("primary_kill@1s:0s::pod-1", "leave the target empty"),
        ("latency@5s:20s:high:pod-1:x", "'pod-1:x' is not a pod name"),
    ],
)
def test_a_bad_target_is_refused_before_the_run(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_step(spec)


def test_a_step_dict_with_a_bad_target_is_refused():
    with pytest.raises(SpecError, match="a node fault's target is a node"):
        FaultStep.from_dict({"kind": "node_drain", "target": "50%"})


def test_inject_kills_the_pods_its_target_picks():
    cluster = RecordingCluster(FOUR)
    step = parse_step("pod_kill@5s:0s::2")
    expected = resolve("2", FOUR, rng=rng(3))
    fault = FAULT_KINDS["pod_kill"].inject(cluster, step, rng=rng(3))
    assert cluster.calls == [("kill_pod", name) for name in expected]
    assert fault.pods == tuple(expected)


def test_inject_gives_a_timed_fault_the_pods_of_a_node():
    cluster = RecordingCluster(FOUR)
    fault = FAULT_KINDS["latency"].inject(cluster, parse_step("latency@0s:20s:high:node:node-1"), rng=rng())
    assert cluster.calls == [("add_latency", ["pod-1-hjklm", "pod-3-tvwxz"], 1000.0, 0.0, 20.0)]
    assert fault.pods == ("pod-1-hjklm", "pod-3-tvwxz")


def test_inject_drains_the_node_its_target_names():
    cluster = RecordingCluster(FOUR)
    fault = FAULT_KINDS["node_drain"].inject(cluster, parse_step("node_drain@0s:30s::node-1"), rng=rng())
    assert cluster.calls == [("drain", "node-1")]
    assert fault.params == {"nodes": ("node-1",)}


def test_inject_with_an_unknown_pod_changes_nothing():
    cluster = RecordingCluster(FOUR)
    with pytest.raises(ClusterError) as caught:
        FAULT_KINDS["partition"].inject(cluster, parse_step("partition@0s:5s::pod-7"), rng=rng())
    assert caught.value.field == "target"
    assert cluster.calls == []


def test_every_kind_acting_on_pods_takes_a_resolved_list():
    for name, kind in FAULT_KINDS.items():
        if kind.acts_on != PODS:
            continue
        cluster = RecordingCluster(FOUR)
        fault = kind.inject(cluster, FaultStep(name, 0.0, 5.0, target="pod-0,pod-3"), rng=rng())
        assert fault.pods == ("pod-0-bcdfg", "pod-3-tvwxz"), name
