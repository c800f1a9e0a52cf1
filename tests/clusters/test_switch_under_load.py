"""Switching algorithm, weights and the pod set while traffic flows drops no request."""

import threading
import time

import pytest

from clusters.algorithms import ALGORITHMS
from clusters.sandbox import ServiceTime

pytestmark = pytest.mark.timeout(90)


def test_no_request_dropped_while_switching(start_sandbox, http, wait_until):
    cluster = start_sandbox(pods=3, service_time=ServiceTime(distribution="exponential", mean_ms=1.0))
    stop = threading.Event()
    results = {"ok": 0, "bad": []}
    lock = threading.Lock()

    def client(keep_alive: bool):
        conn = http.connect(cluster.endpoint)
        try:
            while not stop.is_set():
                if not keep_alive:
                    conn.close()
                    conn = http.connect(cluster.endpoint)
                try:
                    status, pod, _ = http.get(conn)
                except Exception as exc:  # a dropped request: recorded, asserted below
                    with lock:
                        results["bad"].append(repr(exc))
                    conn.close()
                    conn = http.connect(cluster.endpoint)
                    continue
                with lock:
                    if status == 200 and pod:
                        results["ok"] += 1
                    else:
                        results["bad"].append((status, pod))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i % 2 == 0,)) for i in range(6)]
    for thread in threads:
        thread.start()
    try:
        options = {"consistent_hash": {"header": "X-User"}, "ewma": {"decay_s": 2.0},
                   "l4_connection": {"pick": "round_robin"}}
        for round_ in range(2):
            for algorithm in ALGORITHMS:
                pods = [p.name for p in cluster.pods()]
                extra = {"weights": {pods[0]: 3.0}} if algorithm == "weighted_round_robin" else {}
                cluster.set_algorithm(algorithm, options.get(algorithm, {}) | extra)
                time.sleep(0.15)
            # The pod set changes under load too: one more pod, then back.
            replicas = 4 if round_ == 0 else 3
            cluster.scale(replicas)
            wait_until(lambda n=replicas: len([p for p in cluster.pods() if p.ready]) == n, message="scaled")
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert results["bad"] == []
    assert results["ok"] > 200
