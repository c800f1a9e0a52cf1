"""The chaos schedule on its own (pure): steps at their offsets on the load clock, removed at their
ends, the steady state before the first, the stop condition, and the checks before a run."""

from __future__ import annotations

from chaos_app.schedule import ChaosPlan, Layout, Schedule, plan_problem
from clusters.base import Pod
from tests.clusters.support import RecordingCluster

PODS = [Pod(name=f"pod-{i}-ab{i}", node=f"node-{i % 2}", address="127.0.0.1:1") for i in range(4)]
LAYOUT = Layout(slots=("pod-0", "pod-1", "pod-2", "pod-3"), nodes=("node-0", "node-1"))


class Log:
    def __init__(self):
        self.events = []

    def injected(self, index, step, targets, at_s):
        self.events.append(("injected", index, tuple(targets), at_s))

    def ended(self, index, at_s, *, rolled_back, error=""):
        self.events.append(("ended", index, at_s, rolled_back))

    def failed(self, index, step, at_s, error):
        self.events.append(("failed", index, error))

    def not_run(self, index, step, reason):
        self.events.append(("not_run", index, reason))

    def note(self, what, message):
        self.events.append(("note", what, message))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def schedule_of(*specs, hypothesis=None, stop=None):
    cluster, log, clock = RecordingCluster(PODS), Log(), Clock()
    plan = ChaosPlan.build(specs, hypothesis=hypothesis, stop_conditions=stop)
    return Schedule(plan, cluster, log, clock=clock), cluster, log, clock


def steady_seconds(schedule, upto, failures=0):
    for t in range(1, upto + 1):
        schedule.on_second(float(t), requests=100, failures=failures, p95_ms=5.0)


def test_a_step_is_applied_at_its_offset_and_removed_at_its_end():
    schedule, cluster, log, clock = schedule_of("latency@4s:2s:high:pod-1")
    steady_seconds(schedule, 3)
    clock.now = 3.95
    schedule.on_tick()
    assert cluster.calls == []
    clock.now = 4.0123
    schedule.on_tick()
    assert cluster.calls == [("add_latency", ["pod-1-ab1"], 1000, 0.0, 2.0)]
    assert log.events == [("injected", 0, ("pod-1-ab1",), 4.012)]
    clock.now = 6.02
    schedule.on_tick()
    assert log.events[-1] == ("ended", 0, 6.02, True)


def test_a_kill_ends_as_it_is_applied():
    schedule, cluster, log, clock = schedule_of("pod_kill@1s:0s::pod-2")
    clock.now = 1.0
    schedule.on_tick()
    assert cluster.calls == [("kill_pod", "pod-2-ab2")]
    assert [event[0] for event in log.events] == ["injected", "ended"]


def test_a_failing_steady_state_injects_nothing_and_says_why():
    schedule, cluster, log, clock = schedule_of("pod_kill@4s:0s", "latency@6s:1s")
    steady_seconds(schedule, 3, failures=5)  # 5 % errors against the default 1 %
    clock.now = 4.0
    schedule.on_tick()
    clock.now = 7.0
    schedule.on_tick()
    assert cluster.calls == []
    assert log.events[0][:2] == ("note", "steady_state") and "5.00 %" in log.events[0][2]
    assert [event[:2] for event in log.events[1:]] == [("not_run", 0), ("not_run", 1)]


def test_the_stop_condition_aborts_and_rolls_back():
    schedule, cluster, log, clock = schedule_of("node_drain@2s:20s:medium:node-1", "latency@15s:2s",
                                                stop={"max_error_rate": 0.5, "for_s": 3})
    steady_seconds(schedule, 1)
    clock.now = 2.0
    schedule.on_tick()
    assert cluster.calls == [("drain", "node-1")]
    for t in (3, 4, 5):
        schedule.on_second(float(t), requests=10, failures=8, p95_ms=5.0)
    assert cluster.calls[-1] == ("uncordon", "node-1")
    kinds = [event[:2] for event in log.events]
    assert ("note", "aborted") in kinds and ("ended", 0) in kinds and ("not_run", 1) in kinds
    clock.now = 16.0
    schedule.on_tick()
    assert ("add_latency",) not in [call[:1] for call in cluster.calls]


def test_finish_removes_what_is_applied_and_marks_the_rest_not_run():
    schedule, cluster, log, clock = schedule_of("node_drain@1s:60s:medium:node-0", "pod_kill@50s:0s")
    clock.now = 1.0
    schedule.on_tick()
    schedule.finish()
    assert cluster.calls[-1] == ("uncordon", "node-0")
    assert log.events[-1][:2] == ("not_run", 1)


def test_checks_before_the_run():
    assert plan_problem(["pod_kill@5s:0s::pod-1"], duration_s=10, layout=LAYOUT) is None
    assert "unknown pod 'pod-7'" in plan_problem(["pod_kill@5s:0s::pod-7"], duration_s=10, layout=LAYOUT)
    assert "name its slot 'pod-1'" in plan_problem(["pod_kill@5s:0s::pod-1-x1"], duration_s=10, layout=LAYOUT)
    assert "unknown node 'node-5'" in plan_problem(["node_drain@5s:1s::node-5"], duration_s=10, layout=LAYOUT)
    assert "end of the 10 s load" in plan_problem(["pod_kill@10s:0s"], duration_s=10, layout=LAYOUT)
    assert "severity" in plan_problem(["latency@1s:1s:extreme"], duration_s=10, layout=LAYOUT)
    assert "unknown chaos kind" in plan_problem(["meteor@1s:1s"], duration_s=10, layout=LAYOUT)
    assert "asks for 5 pods" in plan_problem(["latency@1s:1s:low:5"], duration_s=10, layout=LAYOUT)
    assert "replace the first" in plan_problem(["latency@1s:5s:low:pod-1", "latency@3s:5s:high:pod-1,pod-2"],
                                               duration_s=10, layout=LAYOUT)
    assert "kill would end" in plan_problem(["errors@1s:5s:low:pod-1", "pod_kill@3s:0s::pod-1"],
                                            duration_s=10, layout=LAYOUT)
    assert "needs a stateful store" in plan_problem(["primary_kill@1s:0s"], duration_s=10, layout=LAYOUT)
    assert plan_problem(["primary_kill@1s:0s"], duration_s=10, layout=Layout(LAYOUT.slots, LAYOUT.nodes, "redis")) is None
    # different pods, or one after the other: no conflict
    assert plan_problem(["latency@1s:2s:low:pod-1", "latency@3s:2s:low:pod-1", "errors@1s:5s::pod-2"],
                        duration_s=10, layout=LAYOUT) is None


def test_a_fault_whose_recording_failed_is_still_removed():
    schedule, cluster, log, clock = schedule_of("latency@1s:30s:high:pod-1")

    def failing(*args):
        raise RuntimeError("database gone")

    log.injected = failing
    steady_seconds(schedule, 1)
    clock.now = 1.0
    try:
        schedule.on_tick()
    except RuntimeError:
        pass
    assert len(schedule.active) == 1  # tracked before it was recorded
    schedule.finish()
    assert not schedule.active and log.events[-1][:2] == ("ended", 0)


def test_a_step_too_long_to_hold_is_refused_before_the_run():
    many = ",".join(f"pod-{i}" for i in range(60))
    layout = Layout(slots=tuple(f"pod-{i}" for i in range(60)), nodes=("node-0", "node-1"))
    assert "at most 300 characters" in plan_problem([f"latency@1s:1s:low:{many}"], duration_s=10, layout=layout)
