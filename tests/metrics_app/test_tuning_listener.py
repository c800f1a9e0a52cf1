"""The run listener that feeds the tuner: it sees a sandbox pod by its slot (the name weights are
given under), so a pod replaced in the middle of a second and its replacement are one slot, their
requests added, not one lost; requests in flight are the mean of readings between two seconds, from
the load's start on; and
a controller that fails stops tuning, says so in the run's report,
and does not end the run's load."""

from types import SimpleNamespace

from clusters.base import PodMetrics
from clusters.tuning.controller import TuningPlan
from clusters.tuning.policy import Policy
from clusters.tuning.state import TargetState
from metrics_app.run_listeners import TuningListener
from tests.clusters.support import RecordingCluster


class Metrics(RecordingCluster):
    def pod_metrics(self):
        return {"pod-0-b": PodMetrics(pod="pod-0-b", in_flight=2), "pod-1-a": PodMetrics(pod="pod-1-a", in_flight=1)}


def slot_plan() -> TuningPlan:
    """A plan whose pods are keyed by slot ("pod-0-a" -> "pod-0")."""
    return TuningPlan(Policy(actions=("set_algorithm",), algorithms=("least_conn",), window_s=5),
                      TargetState(algorithm="round_robin", replicas=2), pod_key=lambda pod: pod.rsplit("-", 1)[0])


def test_a_replaced_pod_and_its_replacement_are_one_slot():
    listener = TuningListener(publish=lambda run_id: None)
    plan = slot_plan()
    ctx = SimpleNamespace(tuning=plan, cluster=Metrics(), run_id=1, load_s=lambda: None, clock=lambda: 0.0)
    listener.start(ctx)
    second = SimpleNamespace(t=1.0, totals={"users": 4, "rps": 60.0, "p95_ms": 2.0}, pods={
        "pod-0-a": {"requests": 10, "failures": 1, "p95_ms": 2.0, "ready": False},
        "pod-0-b": {"requests": 20, "failures": 0, "p95_ms": 3.0, "ready": True},
        "pod-1-a": {"requests": 30, "failures": 0, "p95_ms": 1.0, "ready": True},
    })
    listener.second(ctx, second)
    (seen,) = listener.controller.seconds
    assert seen.pods["pod-0"]["requests"] == 30
    assert seen.pods["pod-0"]["failures"] == 1
    assert seen.pods["pod-0"]["p95_ms"] == 3.0
    assert seen.pods["pod-1"] == {"requests": 30, "failures": 0, "p95_ms": 1.0, "ready": True, "in_flight": 1}


def test_a_failing_controller_stops_tuning_and_says_so_without_ending_the_run():
    listener = TuningListener(publish=lambda run_id: None)
    plan = TuningPlan(Policy(actions=("set_algorithm",), algorithms=("least_conn",), window_s=1),
                      TargetState(algorithm="round_robin", replicas=2))
    ctx = SimpleNamespace(tuning=plan, cluster=Metrics(), run_id=1, load_s=lambda: None, report={},
                          clock=lambda: 0.0)
    listener.start(ctx)
    broken = SimpleNamespace(t=1.0, totals={"users": "many"}, pods={"pod-0-a": {"requests": 1}})
    listener.second(ctx, broken)  # no exception reaches the run's loop
    assert listener.controller is None
    assert "stopped" in ctx.report["tuning_error"]


class Moving(RecordingCluster):
    """In flight that moves between readings: pod-0 holds 0, 2, 4 ... pod-1 always 1."""

    def __init__(self):
        super().__init__()
        self.reads = 0

    def pod_metrics(self):
        self.reads += 1
        return {"pod-0-a": PodMetrics(pod="pod-0-a", in_flight=2 * (self.reads - 1)),
                "pod-1-a": PodMetrics(pod="pod-1-a", in_flight=1)}


def test_in_flight_is_the_mean_of_the_readings_between_two_seconds():
    listener = TuningListener(publish=lambda run_id: None)
    plan = slot_plan()
    now = [0.0]
    ctx = SimpleNamespace(tuning=plan, cluster=Moving(), run_id=1, load_s=lambda: now[0], clock=lambda: now[0])
    listener.start(ctx)
    for t in (0.0, 0.05, 0.2, 0.3, 0.45):  # ticks: read at 0.0, 0.2 and 0.45 (every 0.2 s at most)
        now[0] = t
        listener.tick(ctx)
    assert ctx.cluster.reads == 3
    rows = {"requests": 5, "failures": 0, "p95_ms": 1.0, "ready": True}
    listener.second(ctx, SimpleNamespace(t=1.0, totals={"users": 2, "rps": 10.0}, pods={
        "pod-0-a": dict(rows), "pod-1-a": dict(rows)}))
    (seen,) = listener.controller.seconds
    assert seen.pods["pod-0"]["in_flight"] == 2.0  # (0 + 2 + 4) / 3
    assert seen.pods["pod-1"]["in_flight"] == 1.0
    # the next second starts afresh: no tick came, so one reading at the second
    listener.second(ctx, SimpleNamespace(t=2.0, totals={"users": 2, "rps": 10.0}, pods={
        "pod-0-a": dict(rows), "pod-1-a": dict(rows)}))
    assert listener.controller.seconds[-1].pods["pod-0"]["in_flight"] == 6.0


def test_nothing_is_read_before_the_load_started():
    # the time Locust takes to start, nothing in flight, must not dilute the first second's mean
    listener = TuningListener(publish=lambda run_id: None)
    plan = slot_plan()
    now, load_t0 = [0.0], [None]
    ctx = SimpleNamespace(tuning=plan, cluster=Moving(), run_id=1, clock=lambda: now[0],
                          load_s=lambda: None if load_t0[0] is None else now[0] - load_t0[0])
    listener.start(ctx)
    for t in (0.0, 0.2, 0.4, 0.6):  # Locust still starting: its clock line has not come
        now[0] = t
        listener.tick(ctx)
    assert ctx.cluster.reads == 0
    load_t0[0] = 0.7
    for t in (0.8, 1.05, 1.3):
        now[0] = t
        listener.tick(ctx)
    assert ctx.cluster.reads == 3
    rows = {"requests": 5, "failures": 0, "p95_ms": 1.0, "ready": True}
    listener.second(ctx, SimpleNamespace(t=1.0, totals={"users": 2, "rps": 10.0}, pods={
        "pod-0-a": dict(rows), "pod-1-a": dict(rows)}))
    assert listener.controller.seconds[-1].pods["pod-0"]["in_flight"] == 2.0  # (0 + 2 + 4) / 3, from the load's start
