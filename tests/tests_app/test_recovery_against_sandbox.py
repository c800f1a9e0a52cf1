"""The recovery figures of a real pod kill under load, from the plugin's 100 ms buckets and the
sandbox's own events on the clock line's time base, agree with the sandbox's timestamps (the
first and last failed response its balancer logged, the replacement's readiness) within 0.25 s."""

import time

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from metrics_app.recovery import SteadyState, injection_figures
from tests_app.engine.testing import base_config, run_to_end

TOLERANCE_S = 0.25


@pytest.mark.solo  # 0.25 s agreement of two clocks' readings of a kill under load: alone on the 2 cores
@pytest.mark.timeout(120)
def test_pod_kill_figures_match_the_sandboxs_own_timestamps():
    # no retries: the kill shows as failed responses, which the balancer logs
    with SandboxCluster(SandboxConfig(pods=3, retries=0, restart_delay_s=0.5)) as cluster:
        since = max((event.seq for event in cluster.events()), default=0)
        victim = sorted(pod.name for pod in cluster.pods())[1]
        killed = {}

        def kill_after_two_seconds(_run, line):
            if line["type"] == "sample" and line["t"] >= 2.0 and not killed:
                killed["at"] = time.time()
                cluster.kill_pod(victim)

        result = run_to_end(base_config(cluster.endpoint, users=6, duration_s=8), on_line=kill_after_two_seconds)
        assert not result.errors, result.log
        time.sleep(1.2)  # the balancer closes a failure streak after 1 s of quiet
        t0 = result.lines[0]["t0_unix"]
        events = [{"t": event.t - t0, "type": event.type, "pod": event.pod, "node": event.node, **event.details}
                  for event in cluster.events(since)]

    buckets = [bucket for sample in result.samples for bucket in sample["buckets"]]
    started = killed["at"] - t0
    injection = {"step": 0, "kind": "pod_kill", "target": victim, "severity": "medium",
                 "started_at_s": started, "ended_at_s": started}
    # a steady state without errors: the few failed responses of a kill count, however many succeed
    figures = injection_figures(injection, buckets, events=events, bounds=SteadyState(max_error_rate=0.0),
                                rto_limit_s=30.0,
                                threshold_balance=80.0, end_s=result.final["duration_s"])

    kill = next(event for event in events if event["type"] == "pod_killed")
    assert abs(kill["t"] - started) <= TOLERANCE_S
    replacement = next(event for event in events if event["type"] == "pod_started" and event.get("replaces") == victim)
    ready = next(event for event in events if event["type"] == "pod_ready" and event["pod"] == replacement["pod"])
    assert figures["healing_s"] == pytest.approx(ready["t"] - started, abs=TOLERANCE_S)

    streaks = [event for event in events if event["type"] == "failures_ended"]
    failed = sum(bucket["failures"] for bucket in buckets)
    assert failed > 0 and streaks, "the kill was not seen: no failed response"
    first_logged = min(event["first_t"] - t0 for event in streaks)
    last_logged = max(event["t"] for event in streaks)
    assert figures["first_failure_s"] == pytest.approx(first_logged, abs=TOLERANCE_S)
    assert figures["last_failure_s"] == pytest.approx(last_logged, abs=TOLERANCE_S)
    assert figures["recovered_at_s"] == pytest.approx(last_logged, abs=TOLERANCE_S)
    assert figures["rto_s"] == pytest.approx(last_logged - started, abs=TOLERANCE_S)
    assert figures["passed"] is True
    assert figures["requests_failed"] == failed  # every failure of the run came in the disruption
