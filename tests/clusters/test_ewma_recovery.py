"""ewma tries a pod again once it may be fast again.

A pod that answered slowly during a latency fault then loses every pick (its peak
estimate is far above the others'), so no response of its own can pull the estimate
down. Read, the estimate decays towards 0 with the time since the pod's last response
(as tower and ingress-nginx read it), so the pod is tried again after a few decay
times instead of never.
"""

import pytest

SANDBOX = {"pods": 3}
DECAY_S = 0.2

pytestmark = pytest.mark.timeout(60)


def test_pod_that_was_slow_once_is_tried_again(module_sandbox, http, wait_until):
    cluster = module_sandbox
    cluster.set_algorithm("ewma", {"decay_s": DECAY_S})
    slow = next(p.name for p in cluster.pods() if p.name.startswith("pod-0-"))
    cluster.add_latency([slow], ms=300, jitter=0, duration=1.0)

    def slow_answer_seen() -> bool:
        http.count(cluster.endpoint, 3)
        return cluster.client.balancer_stats()[slow]["ewma_ms"] >= 250

    wait_until(slow_answer_seen, message="the slow pod answered under the fault")
    wait_until(lambda: not cluster.client.call("GET", "/pods/metrics")["pods"][slow]["faults"],
               message="latency fault cleared")

    # The others answer in about a millisecond; the slow pod's 300 ms peak must decay
    # below that (about 6 decay times) before it wins a pick.
    wait_until(lambda: http.count(cluster.endpoint, 20)[slow] > 0, timeout=30.0,
               message="the once-slow pod receives traffic again")
    stats = cluster.client.balancer_stats()[slow]
    assert stats["ewma_ms"] < 250  # its new, fast answers brought the estimate down
