"""The one vocabulary of fault kinds: each kind's severities, parameters, step syntax and the
Cluster method it calls; the sandbox and chaos_app read it; a new kind is one new entry."""

from __future__ import annotations

import pytest

from chaos_app.choices import FaultKindChoices, SeverityChoices
from chaos_app.models import ChaosInjection, steps_problem
from clusters.base import Cluster, ClusterError, Fault
from clusters.durations import SpecError
from clusters.faults import FAULT_KINDS, SEVERITIES, FaultKind, FaultStep, parse_step, register
from clusters.sandbox.config import pod_fault_kinds, validate_fault
from clusters.sandbox.pod import POD_FAULTS
from tests.clusters.support import RecordingCluster

NO_MAGNITUDE = {"low": {}, "medium": {}, "high": {}}


def test_kinds_in_the_order_users_see_them():
    assert list(FAULT_KINDS) == ["latency", "errors", "pod_kill", "partition", "node_drain", "cpu_stress",
                                 "not_ready", "primary_kill", "primary_stop", "external"]
    assert SEVERITIES == ("low", "medium", "high")


@pytest.mark.parametrize(
    ("kind", "severities"),
    [
        ("latency", {"low": {"ms": 50}, "medium": {"ms": 250}, "high": {"ms": 1000}}),
        ("errors", {"low": {"rate": 0.05}, "medium": {"rate": 0.20}, "high": {"rate": 0.50}}),
        ("pod_kill", NO_MAGNITUDE), ("partition", NO_MAGNITUDE), ("node_drain", NO_MAGNITUDE),
        ("cpu_stress", NO_MAGNITUDE), ("not_ready", NO_MAGNITUDE), ("primary_kill", NO_MAGNITUDE),
        ("primary_stop", NO_MAGNITUDE), ("external", NO_MAGNITUDE),
    ],
)
def test_what_each_severity_means(kind, severities):
    assert FAULT_KINDS[kind].severities == severities


@pytest.mark.parametrize(
    ("spec", "params"),
    [
        ("latency@5s:20s:high", {"duration": 20.0, "ms": 1000.0, "jitter": 0.0}),
        ("latency@5s:20s:low", {"duration": 20.0, "ms": 50.0, "jitter": 0.0}),
        ("errors@5s:10s", {"duration": 10.0, "rate": 0.20, "status": 500}),
        ("partition@5s:10s", {"duration": 10.0}),
        ("cpu_stress@5s:10s:high", {"duration": 10.0, "workers": 1}),
        ("not_ready@5s:10s", {"duration": 10.0}),
        ("pod_kill@5s:0s", {}),
        ("node_drain@5s:30s", {}),
        ("primary_kill@5s:0s", {}),
        ("external@5s:10s", {"duration": 10.0}),
    ],
)
def test_a_steps_parameters_come_from_its_severity_and_duration(spec, params):
    step = parse_step(spec)
    assert FAULT_KINDS[step.kind].params_for(step) == params


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("latency", {"ms": 300}, {"duration": 30.0, "ms": 300.0, "jitter": 0.0}),
        ("latency", {"ms": 10, "jitter": 5, "duration": 2}, {"duration": 2.0, "ms": 10.0, "jitter": 5.0}),
        ("errors", {"rate": 0.5}, {"duration": 30.0, "rate": 0.5, "status": 500}),
        ("errors", {"rate": 1, "status": 503, "duration": 1}, {"duration": 1.0, "rate": 1.0, "status": 503}),
        ("partition", {"duration": 5, "kind": "partition", "pods": ["pod-0"]}, {"duration": 5.0}),
        ("cpu_stress", {}, {"duration": 30.0, "workers": 1}),
        ("cpu_stress", {"workers": 16}, {"duration": 30.0, "workers": 16}),
        ("not_ready", {"duration": 0.5}, {"duration": 0.5}),
        ("pod_kill", {"duration": 0}, {}),
        ("node_drain", {}, {}),
        ("primary_kill", {}, {}),
        ("primary_stop", {}, {}),
        ("external", {}, {"duration": 30.0}),
    ],
)
def test_valid_parameters_are_completed(kind, params, expected):
    assert FAULT_KINDS[kind].validate(params) == expected


@pytest.mark.parametrize(
    ("kind", "params", "field", "message"),
    [
        ("latency", {}, "ms", "must be a finite number"),
        ("latency", {"ms": -5}, "ms", "must be >= 0"),
        ("latency", {"ms": 600_001}, "ms", "must be <= 600000"),
        ("latency", {"ms": 5, "jitter": -1}, "jitter", "must be >= 0"),
        ("latency", {"ms": True}, "ms", "must be a finite number"),
        ("errors", {"rate": 1.5}, "rate", "must be <= 1"),
        ("errors", {"rate": 0.5, "status": 200}, "status", "must be >= 400"),
        ("errors", {"rate": 0.5, "status": 600}, "status", "must be <= 599"),
        ("errors", {"rate": 0.5, "status": 500.5}, "status", "must be a whole number"),
        ("partition", {"duration": -1}, "duration", "must be > 0"),
        ("partition", {"duration": 0}, "duration", "must be > 0"),
        ("partition", {"duration": 7 * 24 * 3600 + 1}, "duration", "must be <= 604800"),
        ("partition", {"duration": "5s"}, "duration", "must be a finite number"),
        ("cpu_stress", {"workers": 0}, "workers", "must be >= 1"),
        ("cpu_stress", {"workers": 17}, "workers", "must be <= 16"),
        ("not_ready", {"duration": float("nan")}, "duration", "must be a finite number"),
        # The duration is checked first, as the sandbox always did.
        ("latency", {"ms": -5, "duration": 0}, "duration", "must be > 0"),
    ],
)
def test_bad_parameters_name_their_field(kind, params, field, message):
    with pytest.raises(ClusterError) as caught:
        FAULT_KINDS[kind].validate(params)
    assert caught.value.field == field
    assert caught.value.args[0] == message


def test_the_sandbox_takes_the_faults_its_pods_hold_from_the_registry():
    assert pod_fault_kinds() == ("latency", "errors", "partition", "cpu_stress", "not_ready")
    # The pod process keeps a handler per such kind, no more, no fewer.
    assert set(POD_FAULTS) == set(pod_fault_kinds())
    assert validate_fault("latency", {"ms": 300, "duration": 2}) == {"duration": 2.0, "ms": 300.0, "jitter": 0.0}


@pytest.mark.parametrize("kind", ["flood", "pod_kill", "node_drain", "primary_kill", None, ["latency"]])
def test_the_sandbox_refuses_other_faults_by_kind(kind):
    with pytest.raises(ClusterError) as caught:
        validate_fault(kind, {"duration": 5})
    assert caught.value.field == "kind"
    assert caught.value.args[0] == (f"unknown fault {kind!r}; one of latency, errors, partition, cpu_stress, "
                                    "not_ready")


@pytest.mark.parametrize(
    ("spec", "step"),
    [
        ("latency@5s:20s:high:pod-1", FaultStep("latency", 5.0, 20.0, "high", "pod-1")),
        ("pod_kill@3s:0s", FaultStep("pod_kill", 3.0, 0.0)),
        ("node_drain@1m:1m30s::node-0", FaultStep("node_drain", 60.0, 90.0, "medium", "node-0")),
        ("errors@0.25:500ms:low", FaultStep("errors", 0.25, 0.5, "low")),
        (" not_ready@10:2.5 ", FaultStep("not_ready", 10.0, 2.5)),
        ("cpu_stress@0.1234567s:1h", FaultStep("cpu_stress", 0.1234567, 3600.0)),
    ],
)
def test_steps_round_trip(spec, step):
    parsed = parse_step(spec)
    assert parsed == step
    assert FaultStep.from_dict(parsed.to_dict()) == parsed
    assert parse_step(parsed.to_spec()) == parsed


def test_a_step_dict_takes_the_defaults_a_chaos_experiment_does():
    assert FaultStep.from_dict({"kind": "pod_kill"}) == FaultStep("pod_kill", 0.0, 0.0, "medium", "")
    assert FaultStep.from_dict({"kind": "pod_kill", "start_s": 10}).to_dict() == {
        "kind": "pod_kill", "start_s": 10.0, "duration_s": 0.0, "severity": "medium", "target": ""}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "meteor"}, "unknown chaos kind 'meteor'; one of latency, errors, pod_kill"),
        ({"kind": ["latency"]}, "unknown chaos kind"),
        ({"kind": "latency", "severity": "extreme"}, "severity must be low, medium or high"),
        ({"kind": "latency", "start_s": -1}, "start_s must be a number of seconds, 0 or more"),
        ({"kind": "latency", "duration_s": "10s"}, "duration_s must be a number of seconds, 0 or more"),
        ({"kind": "latency", "duration_s": True}, "duration_s must be a number of seconds, 0 or more"),
        ({"kind": "latency", "target": 3}, "target must be a pod or node name"),
    ],
)
def test_a_step_is_always_valid(data, message):
    with pytest.raises(SpecError, match=message):
        FaultStep.from_dict(data)


def test_unknown_kinds_are_listed_from_the_registry():
    with pytest.raises(SpecError) as caught:
        parse_step("meteor@1s:1s")
    assert str(caught.value) == ("unknown chaos kind 'meteor'; one of latency, errors, pod_kill, partition, "
                                 "node_drain, cpu_stress, not_ready, primary_kill, primary_stop, external")


# (step, targets, the Cluster calls its kind's `apply` makes).
APPLY_CASES = [
    ("latency@0s:20s:high", ["pod-1"], [("add_latency", ["pod-1"], 1000.0, 0.0, 20.0)]),
    ("errors@0s:20s:high", ["pod-1", "pod-2"], [("add_errors", ["pod-1", "pod-2"], 0.5, 500, 20.0)]),
    ("pod_kill@0s:0s", ["pod-1", "pod-2"], [("kill_pod", "pod-1"), ("kill_pod", "pod-2")]),
    ("partition@0s:20s", ["pod-1"], [("partition", ["pod-1"], 20.0)]),
    ("node_drain@0s:30s", ["node-0"], [("drain", "node-0")]),
    ("cpu_stress@0s:20s", ["pod-1"], [("stress_cpu", ["pod-1"], 1, 20.0)]),
    ("not_ready@0s:20s", ["pod-1"], [("set_not_ready", ["pod-1"], 20.0)]),
    ("external@0s:20s", [], []),  # the user's own fault: LB Lab calls nothing
    ("primary_kill@0s:5s", [], [("kill_primary",)]),
    ("primary_stop@0s:5s", [], [("stop_primary",)]),
]


@pytest.mark.parametrize(("spec", "targets", "calls"), APPLY_CASES)
def test_apply_calls_the_kinds_cluster_method(spec, targets, calls):
    step = parse_step(spec)
    kind = FAULT_KINDS[step.kind]
    cluster = RecordingCluster()
    fault = kind.apply(cluster, targets, kind.params_for(step))
    assert cluster.calls == calls
    assert isinstance(fault, Fault)
    assert fault.kind == step.kind


def test_every_kind_is_applied_above():
    applied = {parse_step(spec).kind for spec, _, _ in APPLY_CASES}
    assert applied == set(FAULT_KINDS)


@pytest.mark.parametrize("name", ["primary_kill", "primary_stop"])
def test_stateful_kinds_name_the_server_and_restore_brings_it_back(name):
    cluster = RecordingCluster()
    fault = FAULT_KINDS[name].apply(cluster, [], {})
    assert fault.pods == ("redis-0",)  # what the recording cluster says it took down
    FAULT_KINDS[name].restore(cluster, fault)
    assert cluster.calls[-1] == ("restore_stateful",)


@pytest.mark.parametrize("name", ["primary_kill", "primary_stop"])
def test_stateful_kinds_are_refused_by_a_cluster_without_a_store(name):
    class NoStore(RecordingCluster):
        kill_primary = stop_primary = Cluster.kill_primary  # the interface's own refusal

    with pytest.raises(ClusterError, match="no stateful store"):
        FAULT_KINDS[name].apply(NoStore(), [], {})


@pytest.mark.parametrize(("name", "field"), [("pod_kill", "pods"), ("node_drain", "node")])
def test_one_shot_faults_on_nothing_are_refused(name, field):
    cluster = RecordingCluster()
    for targets in ([], "pod-1"):
        with pytest.raises(ClusterError) as caught:
            FAULT_KINDS[name].apply(cluster, targets, {})
        assert caught.value.field == field
    assert cluster.calls == []


def test_restore_undoes_a_drain_and_leaves_self_clearing_faults_alone():
    cluster = RecordingCluster()
    drain = FAULT_KINDS["node_drain"]
    drain.restore(cluster, drain.apply(cluster, ["node-1"], {}))
    assert cluster.calls == [("drain", "node-1"), ("uncordon", "node-1")]
    for name in ("latency", "pod_kill", "partition", "not_ready"):
        kind = FAULT_KINDS[name]
        cluster = RecordingCluster()
        fault = kind.apply(cluster, ["pod-1"], kind.params_for(FaultStep(name, 0, 5)))
        kind.restore(cluster, fault)
        assert len(cluster.calls) == 1  # the apply; the Cluster clears it after its duration


@pytest.fixture
def blackout():
    """A kind registered by the test, as a new module would register it; unregistered after."""

    @register
    class Blackout(FaultKind):
        name = "blackout"
        label = "Blackout"
        severities = {"low": {"ms": 1}, "medium": {"ms": 2}, "high": {"ms": 3}}

        def apply(self, cluster, targets, params):
            return cluster.partition(targets, params["duration"])

    try:
        yield FAULT_KINDS["blackout"]
    finally:
        del FAULT_KINDS["blackout"]


def test_a_new_kind_is_one_entry(blackout):
    step = parse_step("blackout@1s:2s:high:pod-0")
    assert step == FaultStep("blackout", 1.0, 2.0, "high", "pod-0")
    assert blackout.params_for(step) == {"duration": 2.0}
    cluster = RecordingCluster()
    blackout.apply(cluster, [step.target], blackout.params_for(step))
    assert cluster.calls == [("partition", ["pod-0"], 2.0)]
    # chaos_app reads the same registry: a choice, a valid step, a valid field value.
    assert ("blackout", "Blackout") in FaultKindChoices.choices()
    assert steps_problem([step.to_dict()]) is None
    kind_field = ChaosInjection._meta.get_field("kind")
    assert ("blackout", "Blackout") in list(kind_field.choices)
    kind_field.clean("blackout", ChaosInjection())
    assert "blackout" in steps_problem([{"kind": "meteor"}])


def test_a_removed_kind_is_gone_everywhere():
    from django.core.exceptions import ValidationError

    assert "blackout" not in FAULT_KINDS
    with pytest.raises(SpecError):
        parse_step("blackout@1s:2s")
    assert steps_problem([{"kind": "blackout"}]) == (
        "Step 1: kind must be one of latency, errors, pod_kill, partition, node_drain, cpu_stress, not_ready, "
        "primary_kill, primary_stop, external.")
    with pytest.raises(ValidationError):
        ChaosInjection._meta.get_field("kind").clean("blackout", ChaosInjection())
    assert SeverityChoices.choices() == [("low", "Low"), ("medium", "Medium"), ("high", "High")]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"name": "latency", "label": "Again"}, "registered twice"),
        ({"name": "odd", "label": "Odd", "severities": {"low": {}, "high": {}}}, "severities must be"),
        ({"name": "odd", "label": "Odd", "acts_on": "cluster"}, "acts_on must be"),
        ({"name": "", "label": "Nameless"}, "needs a name and a label"),
    ],
)
def test_a_kind_that_does_not_fit_is_refused_at_registration(attributes, message):
    cls = type("Odd", (FaultKind,), {"apply": lambda self, cluster, targets, params: None, **attributes})
    with pytest.raises(ValueError, match=message):
        register(cls)
    assert list(FAULT_KINDS)[-1] == "external"
