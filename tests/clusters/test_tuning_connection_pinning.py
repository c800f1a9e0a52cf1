"""Keep-alive clients pinned by l4_connection: the controller diagnoses connection pinning and switches
to an algorithm that picks per request, predicted above target, through the cluster."""

from __future__ import annotations

from clusters.algorithms import ALGORITHMS
from clusters.tuning.controller import Controller
from clusters.tuning.policy import Policy
from clusters.tuning.state import TargetState
from tests.clusters.support import RecordingCluster
from tests.clusters.tuning_support import PINNED, feed

ALLOWED = ("least_conn", "round_robin", "p2c")


def test_pinned_connections_get_an_algorithm_switch_predicted_above_target():
    cluster = RecordingCluster()
    policy = Policy(actions=("set_algorithm", "advise_connection_reuse"), algorithms=ALLOWED, window_s=5, cooldown_s=5)
    state = TargetState(algorithm="l4_connection", replicas=4, options={"pick": "random"}, capacity=8)
    controller = Controller(policy, state, cluster)

    decisions = feed(controller, 5, 1, PINNED)

    assert len(decisions) == 1
    decision = decisions[0]
    assert decision.action == "set_algorithm"
    assert decision.outcome == "applied"
    assert decision.before["algorithm"] == "l4_connection"
    assert decision.after["algorithm"] in ALLOWED
    assert ALGORITHMS[decision.after["algorithm"]].layer == "L7"
    assert decision.score_before < policy.target_score
    assert decision.predicted_score >= policy.target_score
    assert [finding["cause"] for finding in decision.data["findings"]] == ["connection_pinning"]
    assert decision.data["baseline"]["score"] < policy.target_score  # the simulator sees the pinning too
    # the alternatives are ranked, the chosen one first, by predicted score
    scores = [alt["predicted_score"] for alt in decision.alternatives if alt["allowed"]]
    assert scores == sorted(scores, reverse=True)
    assert decision.alternatives[0]["after"] == decision.after
    # applied through the cluster: the new algorithm, without l4_connection's `pick`
    assert cluster.calls == [("set_algorithm", decision.after["algorithm"], {})]
    assert controller.state.algorithm == decision.after["algorithm"]


def test_advice_only_when_no_allowed_setting_fixes_the_pinning():
    cluster = RecordingCluster()
    policy = Policy(actions=("set_algorithm", "advise_connection_reuse"), algorithms=("consistent_hash",),
                    window_s=5, cooldown_s=5)
    state = TargetState(algorithm="l4_connection", replicas=4, capacity=8)
    controller = Controller(policy, state, cluster)

    decisions = feed(controller, 30, 1, PINNED)

    # consistent_hash keyed on the connection pins just the same: only the advice is left, once
    assert [(d.action, d.outcome) for d in decisions] == [("advise_connection_reuse", "advised")]
    assert decisions[0].after == {"keep_alive": False}
    assert decisions[0].predicted_score >= policy.target_score
    assert cluster.calls == []


def test_a_pod_that_holds_more_because_it_gets_more_is_not_called_slow():
    # in flight follows the pinned connections (3, 1, 2, 0 for 300, 100, 200, 0 requests): same latency
    policy = Policy(actions=("set_algorithm",), algorithms=ALLOWED, window_s=5, cooldown_s=5)
    controller = Controller(policy, TargetState(algorithm="l4_connection", replicas=4, capacity=8), RecordingCluster())
    (decision,) = feed(controller, 5, 1, PINNED, in_flight={"pod-0": 3, "pod-1": 1, "pod-2": 2, "pod-3": 0})
    assert [finding["cause"] for finding in decision.data["findings"]] == ["connection_pinning"]
