"""The HPA-like autoscaler scales up under load and back down after the scale-down window."""

import collections
import threading

import pytest

from clusters.base import EventType
from clusters.sandbox import AutoscalerConfig, ServiceTime
from clusters.sandbox.autoscaler import desired_replicas, stabilised

pytestmark = pytest.mark.timeout(90)

CONFIG = AutoscalerConfig(min_replicas=1, max_replicas=4, target_utilisation=0.5, tolerance=0.1,
                          scale_up_window_s=0.0, scale_down_window_s=10.0)


def test_desired_replicas_follows_the_hpa_formula():
    assert desired_replicas(2, 1.0, CONFIG) == 4  # ceil(2 * 1.0 / 0.5)
    assert desired_replicas(2, 0.52, CONFIG) == 2  # within tolerance: no change
    assert desired_replicas(4, 0.1, CONFIG) == 1
    assert desired_replicas(3, 5.0, CONFIG) == 4  # clamped to max


def test_scale_down_waits_for_the_highest_recommendation_in_its_window():
    recs = collections.deque([(0.0, 4), (5.0, 1), (9.0, 1)])
    assert stabilised(4, recs, now=9.0, config=CONFIG) == 4  # the 4 at t=0 is still in the window
    assert stabilised(4, recs, now=10.5, config=CONFIG) == 1


def test_scales_up_under_load_and_down_after_it(start_sandbox, http, wait_until):
    cluster = start_sandbox(
        pods=1, capacity=1, service_time=ServiceTime(distribution="fixed", mean_ms=10.0),
        autoscaler=AutoscalerConfig(min_replicas=1, max_replicas=3, target_utilisation=0.5,
                                    sync_period_s=0.3, scale_up_window_s=0.0, scale_down_window_s=1.5))
    stop = threading.Event()
    failures = []

    def client():
        conn = http.connect(cluster.endpoint)
        try:
            while not stop.is_set():
                status, _, _ = http.get(conn)
                if status != 200:
                    failures.append(status)
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len([p for p in cluster.pods() if p.ready]) == 3, timeout=30,
                   message="scaled up to max under load")
        events = cluster.client.call("GET", "/autoscaler")["events"]
        assert any(e.get("to", 0) > e.get("from", 0) for e in events)
        # the cluster's log (what a run's timeline reads) says who scaled, on what reading
        ups = [e for e in cluster.events(0) if e.type == EventType.SCALED and e.details["replicas"] > e.details["previous"]]
        assert ups and all(e.details["by"] == "autoscaler" for e in ups)
        [reading] = ups[0].details["metrics"]
        assert reading["name"] == "utilisation" and reading["target"] == 0.5 and reading["current"] > 0.5
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    wait_until(lambda: len(cluster.pods()) == 1, timeout=30, message="scaled back down after the load")
    assert cluster.client.status()["replicas"] == 1


def test_autoscaler_can_be_turned_on_and_off_at_run_time(start_sandbox):
    cluster = start_sandbox(pods=1)
    status = cluster.set_autoscaler(min_replicas=2, max_replicas=3, target_utilisation=0.5)
    assert status["enabled"] is True
    assert cluster.client.call("GET", "/autoscaler")["config"]["min_replicas"] == 2
    assert cluster.set_autoscaler(enabled=False) == {"enabled": False}
