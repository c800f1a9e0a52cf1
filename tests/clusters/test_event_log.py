"""The sandbox's own event log: pod lives, node drains, faults and the balancer's failure streaks,
with wall-clock timestamps, in a bounded ring read through GET /events?since=<seq>."""

from __future__ import annotations

import time

import pytest

from clusters.base import ClusterError, ClusterEvent, EventType
from clusters.sandbox import ServiceTime
from clusters.sandbox.events import STREAK_QUIET_S, EventLog, FailureStreaks
from tests.clusters.support import HELD_REQUESTS, RecordingCluster, assert_no_faults, kill_under_load

pytestmark = pytest.mark.timeout(90)


def last_seq(cluster) -> int:
    return cluster.client.call("GET", "/events?since=0")["last_seq"]


def one(events, type, **details):
    """The one event of `type` whose pod/node/details match; fails unless there is exactly one."""
    found = [e for e in events if e.type == type and all(
        getattr(e, key) == value if key in ("pod", "node") else e.details.get(key) == value
        for key, value in details.items())]
    assert len(found) == 1, (type, details, events)
    return found[0]


# The log itself.
def test_the_ring_keeps_the_last_events_and_numbers_them_without_gaps():
    log = EventLog(size=3)
    for n in range(5):
        log.record(EventType.SCALED, replicas=n)
    assert [e["seq"] for e in log.since(0)] == [3, 4, 5]  # 1 and 2 were dropped: the reader sees the gap
    assert [e["replicas"] for e in log.since(3)] == [3, 4]
    assert log.since(5) == [] and log.since(99) == []
    assert log.last_seq == 5


def test_an_event_has_the_wall_clock_time():
    before = time.time()
    event = EventLog().record(EventType.POD_READY, pod="pod-0-bcdfg", first=True)
    assert before <= event["t"] <= time.time()
    assert event == {"seq": 1, "t": event["t"], "type": "pod_ready", "pod": "pod-0-bcdfg", "first": True}


def test_a_failure_streak_is_two_events_with_its_first_and_last_failure():
    log = EventLog()
    streaks = FailureStreaks(log)
    for outcome in ("502", "502", "reset"):
        streaks.failed("pod-1-hjklm", outcome)
    streaks.failed(None, "503")  # no pod was ready
    started = log.since(0)
    assert [(e["type"], e["pod"], e["outcome"]) for e in started] == [
        ("failures_started", "pod-1-hjklm", "502"), ("failures_started", None, "503")]
    last = streaks.open["pod-1-hjklm"].last_t

    streaks.close_quiet(now=last + STREAK_QUIET_S / 2)  # still within the streak
    assert log.last_seq == 2
    streaks.failed("pod-1-hjklm", "504")  # the same streak goes on
    last = streaks.open["pod-1-hjklm"].last_t
    streaks.close_quiet(now=last + STREAK_QUIET_S)
    ended = log.since(2)
    assert [e["pod"] for e in ended] == ["pod-1-hjklm", None]
    assert ended[0]["t"] == last  # the last failure's time, not the time it was noticed
    assert ended[0]["first_t"] == started[0]["t"]
    assert ended[0]["failures"] == 4
    assert ended[0]["outcomes"] == {"502": 2, "reset": 1, "504": 1}
    assert streaks.open == {}


def test_events_read_back_as_cluster_events():
    event = ClusterEvent.from_dict({"seq": 4, "t": 1.5, "type": "pod_killed", "pod": "pod-1-hjklm",
                                    "node": "node-1", "slot": 1, "pid": 42})
    assert event == ClusterEvent(4, 1.5, "pod_killed", "pod-1-hjklm", "node-1", {"slot": 1, "pid": 42})
    assert event.type == EventType.POD_KILLED


def test_a_cluster_without_a_log_has_no_events():
    assert RecordingCluster().events() == []


# The sandbox's log.
def test_a_pod_kill_under_load_is_logged_in_order(start_sandbox, wait_until):
    cluster = start_sandbox(pods=3, retries=0, service_time=ServiceTime("fixed", 5.0))
    since = last_seq(cluster)
    started_at = time.time()
    load, victim = kill_under_load(cluster, wait_until, slot=1)
    wait_until(lambda: any(e.type == EventType.FAILURES_ENDED for e in cluster.events(since)),
               message="the failure streak closed")
    ended_at = time.time()
    events = cluster.events(since)

    assert [e.seq for e in events] == list(range(since + 1, since + 1 + len(events)))
    assert all(started_at <= e.t <= ended_at for e in events)  # time.time(), the clock Locust reads
    killed = one(events, EventType.POD_KILLED, pod=victim)
    assert killed.details["slot"] == 1
    first_failure = one(events, EventType.FAILURES_STARTED, pod=victim)
    streak = one(events, EventType.FAILURES_ENDED, pod=victim)
    exited = one(events, EventType.POD_EXITED, pod=victim)
    replacement = one(events, EventType.POD_STARTED, replaces=victim)
    ready = one(events, EventType.POD_READY, pod=replacement.pod)
    assert (exited.details["returncode"], exited.details["expected"]) == (-9, False)
    assert (replacement.details["reason"], replacement.details["slot"]) == ("restart", 1)
    assert ready.details["first"] is True
    # kill -> failed responses -> replacement started -> replacement ready, by time ...
    assert killed.t <= first_failure.t <= streak.details["first_t"] <= streak.t < replacement.t < ready.t
    assert killed.t <= exited.t <= replacement.t
    # ... and the pod's life in the order it was logged.
    assert killed.seq < exited.seq < replacement.seq < ready.seq
    # The balancer logged every failed response the clients got, and only those.
    assert streak.details["failures"] == load.failures >= HELD_REQUESTS
    assert streak.details["outcomes"] == {"502": load.statuses[502]}
    assert not [e for e in events if e.type == EventType.FAILURES_STARTED and e.pod != victim]
    # The latency fault that held requests on the pod died with it.
    assert one(events, EventType.FAULT_CLEARED, pod=None, reason="pod_gone").details["pods"] == [victim]
    assert_no_faults(cluster)


def test_with_retries_a_pod_kill_logs_no_failures(start_sandbox, wait_until):
    cluster = start_sandbox(pods=3, service_time=ServiceTime("fixed", 5.0))
    since = last_seq(cluster)
    load, victim = kill_under_load(cluster, wait_until, slot=2)
    events = cluster.events(since)
    assert one(events, EventType.POD_KILLED, pod=victim).seq < one(events, EventType.POD_STARTED, replaces=victim).seq
    assert load.failures == 0
    assert not [e for e in events if e.type in (EventType.FAILURES_STARTED, EventType.FAILURES_ENDED)]


def test_no_ready_pod_is_a_failure_streak_of_no_pod(start_sandbox, http, wait_until):
    cluster = start_sandbox(pods=1, nodes=1)
    since = last_seq(cluster)
    cluster.drain("node-0")
    wait_until(lambda: cluster.pods() == [], message="the only pod stopped")
    conn = http.connect(cluster.endpoint)
    try:
        assert http.get(conn)[0] == 503
    finally:
        conn.close()
    events = cluster.events(since)
    assert one(events, EventType.FAILURES_STARTED, pod=None).details["outcome"] == "503"
    cluster.restore()
    assert_no_faults(cluster)


def test_a_drain_and_its_undoing_are_logged(start_sandbox, wait_until):
    cluster = start_sandbox(pods=2, nodes=2)
    on_node0 = next(p.name for p in cluster.pods() if p.node == "node-0")
    since = last_seq(cluster)
    cluster.drain("node-0")
    wait_until(lambda: [p.node for p in cluster.pods() if p.ready] == ["node-1", "node-1"], message="moved")
    wait_until(lambda: any(e.type == EventType.POD_EXITED for e in cluster.events(since)), message="old pod gone")
    cluster.restore()
    events = cluster.events(since)

    cordoned = one(events, EventType.NODE_CORDONED, node="node-0")
    stopping = one(events, EventType.POD_STOPPING, pod=on_node0)
    moved = one(events, EventType.POD_STARTED, replaces=on_node0)
    drained = one(events, EventType.NODE_DRAINED, node="node-0")
    exited = one(events, EventType.POD_EXITED, pod=on_node0)
    uncordoned = one(events, EventType.NODE_UNCORDONED, node="node-0")
    assert stopping.details["reason"] == "drain"
    assert (moved.details["reason"], moved.node) == ("rescheduled", "node-1")
    assert drained.details["moved"] == [on_node0]
    assert exited.details["expected"] is True  # stopped on purpose, not a crash
    assert cordoned.seq < stopping.seq < moved.seq < drained.seq < uncordoned.seq
    assert stopping.seq < exited.seq
    assert_no_faults(cluster)


def test_faults_are_logged_when_applied_and_when_they_clear(start_sandbox, wait_until):
    cluster = start_sandbox(pods=2)
    first, second = (p.name for p in cluster.pods())
    since = last_seq(cluster)
    cluster.add_errors([first, second], rate=0.5, status=503, duration=30)
    cluster.add_errors([second], rate=1.0, duration=30)  # replaces the first one on that pod
    cluster.add_latency([first], ms=10, duration=0.3)
    wait_until(lambda: any(e.details.get("reason") == "expired" for e in cluster.events(since)),
               message="the latency cleared itself")
    cluster.restore()
    events = cluster.events(since)

    applied = [e for e in events if e.type == EventType.FAULT_APPLIED]
    assert [(e.details["kind"], e.details["pods"]) for e in applied] == [
        ("errors", [first, second]), ("errors", [second]), ("latency", [first])]
    assert applied[0].details["params"] == {"rate": 0.5, "status": 503}
    assert applied[0].details["duration_s"] == 30.0
    assert applied[0].details["until"] == pytest.approx(applied[0].t + 30.0, abs=0.01)
    cleared = [(e.details["kind"], e.details["pods"], e.details["reason"])
               for e in events if e.type == EventType.FAULT_CLEARED]
    assert cleared == [("errors", [second], "replaced"), ("latency", [first], "expired"),
                       ("errors", [first], "restored"), ("errors", [second], "restored")]
    assert_no_faults(cluster)


@pytest.mark.parametrize("since", ["-1", "soon", "1.5"])
def test_a_bad_since_is_refused_with_its_field(module_sandbox, since):
    with pytest.raises(ClusterError) as caught:
        module_sandbox.client.call("GET", f"/events?since={since}")
    assert caught.value.field == "since"


def test_since_reads_only_what_is_new(module_sandbox):
    seq = last_seq(module_sandbox)
    assert module_sandbox.events(seq) == []
    module_sandbox.set_algorithm("least_conn")
    new = module_sandbox.events(seq)
    assert [(e.seq, e.type, e.details["algorithm"]) for e in new] == [(seq + 1, "algorithm_set", "least_conn")]
    assert module_sandbox.events(0)[-1] == new[-1]
