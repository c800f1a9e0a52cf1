"""An injection's recovery figures from synthetic 100 ms buckets and cluster events."""

import json

import pytest

from metrics_app.recovery import (
    DEFAULT_RTO_LIMITS_S,
    FIGURE_KEYS,
    SteadyState,
    breaching_bucket,
    chaos_section,
    injection_figures,
    rto_limit_for,
)

PODS = ["pod-0", "pod-1", "pod-2", "pod-3"]
KILL = {"step": 0, "kind": "pod_kill", "target": "pod-1", "severity": "medium",
        "started_at_s": 10.0, "ended_at_s": 10.0}


def bucket(t, *, per_pod=10, failures=0, pods=PODS, latency_ms=2.0, slow=0, slow_ms=900.0):
    """A 100 ms bucket: `per_pod` requests on each of `pods`, `failures` of them failed, `slow` of
    them taking `slow_ms`."""
    counts = {pod: per_pod for pod in pods}
    requests = sum(counts.values())
    hist = [[latency_ms, requests - slow]] + ([[slow_ms, slow]] if slow else [])
    return {"t": round(t, 1), "requests": requests, "failures": failures, "p95_ms": None, "pods": counts,
            "latency_hist": [pair for pair in hist if pair[1]]}


def timeline(end_s=30.0, shape=lambda t: {}):
    return [bucket(i / 10, **shape(round(i / 10, 1))) for i in range(round(end_s * 10))]


def killed_between(first, last):
    """pod-1 killed at 10.0: its share fails from `first` to `last`, then it is back."""
    def shape(t):
        if first <= t < last:
            return {"failures": 10}
        return {}
    return shape


def figures(buckets, injection=KILL, **kwargs):
    options = {"bounds": SteadyState(), "rto_limit_s": 30.0, "threshold_balance": 95.0, "expected_pods": PODS,
               "end_s": 30.0}
    options.update(kwargs)
    return injection_figures(injection, buckets, **options)


def test_kill_with_failures_until_12_3_recovers_in_2_3_s():
    result = figures(timeline(shape=killed_between(10.0, 12.3)))
    assert result["rto_s"] == pytest.approx(2.3, abs=0.05)
    assert result["recovered_at_s"] == pytest.approx(12.3, abs=0.05)
    assert result["first_failure_s"] == 10.0 and result["last_failure_s"] == 12.3
    assert result["passed"] is True
    assert result["reason"] == "pod_kill recovered in 2.3 s, within 30 s"


def test_availability_and_requests_failed_are_exact_over_the_disruption():
    result = figures(timeline(shape=killed_between(10.0, 12.3)))
    # 23 buckets of 40 requests, 10 failed in each
    assert result["requests"] == 23 * 40
    assert result["requests_failed"] == 23 * 10
    assert result["availability"] == 0.75


def test_no_failures_means_no_disruption():
    result = figures(timeline())
    assert result["rto_s"] == 0.0 and result["recovered_at_s"] == 10.0
    assert result["requests"] == 0 and result["availability"] is None  # nothing to measure it over
    assert result["first_failure_s"] is None and result["last_failure_s"] is None
    assert result["passed"] is True


def test_never_recovering_is_none_with_the_reason():
    result = figures(timeline(shape=killed_between(10.0, 99.0)))
    assert result["rto_s"] is None and result["recovered_at_s"] is None
    assert result["passed"] is False
    assert "never recovered before the load ended" in result["reason"]
    # availability over the injection to the end of the load
    assert result["requests"] == 200 * 40 and result["requests_failed"] == 200 * 10


def test_over_the_limit_fails_and_says_so():
    result = figures(timeline(end_s=60.0, shape=killed_between(10.0, 45.0)), end_s=60.0)
    assert result["rto_s"] == pytest.approx(35.0, abs=0.05)
    assert result["passed"] is False
    assert result["reason"] == "pod_kill recovered in 35.0 s, over the 30 s limit"


def test_a_window_without_requests_is_not_a_recovery():
    def shape(t):
        if 10.0 <= t < 14.0:
            return {"per_pod": 0}  # a blackhole: nothing completes
        return {}
    buckets = [b for b in timeline(shape=shape) if b["requests"]]  # the plugin sends only non-empty buckets
    result = figures(buckets, injection={**KILL, "kind": "partition"}, rto_limit_s=60.0)
    assert result["rto_s"] == pytest.approx(4.0, abs=0.05)


def test_p95_bound_judges_latency_during_and_after():
    def shape(t):
        if 10.0 <= t < 15.0:
            return {"slow": 20}  # half the requests take 900 ms while the fault lasts
        return {}
    latency = {**KILL, "kind": "latency", "started_at_s": 10.0, "ended_at_s": 15.0}
    result = figures(timeline(shape=shape), injection=latency, bounds=SteadyState(max_p95_ms=100.0),
                     rto_limit_s=60.0)
    assert result["rto_s"] == pytest.approx(5.0, abs=0.05)
    assert result["p95_during_ms"] == 900.0
    assert result["p95_after_ms"] == 2.0
    unbounded = figures(timeline(shape=shape), injection=latency, rto_limit_s=60.0)
    assert unbounded["rto_s"] == 0.0  # without a p95 bound the errors alone decide


def test_healing_from_the_replacement_pods_ready_event():
    events = [
        {"t": 10.02, "type": "pod_killed", "pod": "pod-1"},
        {"t": 10.03, "type": "pod_exited", "pod": "pod-1"},
        {"t": 10.40, "type": "pod_started", "pod": "pod-1b", "replaces": "pod-1"},
        {"t": 11.85, "type": "pod_ready", "pod": "pod-1b"},
        {"t": 20.0, "type": "pod_ready", "pod": "pod-1"},
    ]
    result = figures(timeline(shape=killed_between(10.0, 12.3)), events=events)
    assert result["healing_s"] == pytest.approx(1.85, abs=1e-6)
    assert figures(timeline(), events=[])["healing_s"] is None  # no events kept
    only_faults = [{"t": 10.0, "type": "fault_applied", "kind": "latency"}]
    assert figures(timeline(), events=only_faults)["healing_s"] is None  # nothing had to heal
    never_back = [{"t": 10.02, "type": "pod_killed", "pod": "pod-1"}]
    assert figures(timeline(), events=never_back)["healing_s"] is None


def test_balance_recovery_waits_for_the_new_pod_to_take_its_share():
    def shape(t):
        if 10.0 <= t < 12.0:
            return {"pods": ["pod-0", "pod-2", "pod-3"]}  # pod-1 gone, its traffic elsewhere
        if 12.0 <= t < 16.0:
            return {"pods": PODS, "per_pod": 10} if t >= 14.0 else {"pods": ["pod-0", "pod-2", "pod-3", "pod-1"],
                                                                     "per_pod": 10}
        return {}
    # pod-1's replacement gets a thin share from 12.0 to 14.0, its full share from 14.0
    buckets = timeline(shape=shape)
    for b in buckets:
        if 12.0 <= b["t"] < 14.0:
            b["pods"]["pod-1"] = 2
            b["requests"] = sum(b["pods"].values())
            b["latency_hist"] = [[2.0, b["requests"]]]
    result = figures(buckets)
    assert result["rto_s"] == 0.0  # no user saw an error
    # the first 3 s window at or above 95 %: it starts a little before 14.0, where the thin
    # share's last 100 ms no longer pull the window's score under the threshold
    assert 3.5 <= result["balance_recovery_s"] <= 4.0
    gone = timeline(shape=lambda t: {"pods": ["pod-0", "pod-2", "pod-3"]} if t >= 10.0 else {})
    assert figures(gone)["balance_recovery_s"] is None  # an expected pod that gets nothing counts, as 0
    assert figures(gone, expected_pods=[])["balance_recovery_s"] == 0.0
    balanced_all_along = figures(timeline())
    assert balanced_all_along["balance_recovery_s"] == 0.0


def test_the_result_is_json_and_has_exactly_the_figures():
    result = figures(timeline(shape=killed_between(10.0, 12.3)),
                     events=[{"t": 10.0, "type": "pod_killed", "pod": "pod-1"},
                             {"t": 11.0, "type": "pod_ready", "pod": "pod-1"}])
    assert tuple(result) == FIGURE_KEYS
    assert json.loads(json.dumps(result)) == result


def test_not_measurable_when_the_load_ends_too_soon():
    result = figures(timeline(end_s=11.0), end_s=11.0)
    assert result["rto_s"] is None and result["passed"] is None
    assert "not measurable" in result["reason"]


def test_min_availability_fails_an_injection_that_recovered_in_time():
    result = figures(timeline(shape=killed_between(10.0, 12.3)), bounds=SteadyState(min_availability=0.99))
    assert result["passed"] is False
    assert "availability 75.00 % is under the 99.00 % floor" in result["reason"]


def test_steady_state_from_an_experiments_hypothesis():
    state = SteadyState.from_hypothesis({"max_error_rate": 0.05, "min_availability": 0.9, "max_rto_s": 10})
    assert state == SteadyState(max_error_rate=0.05, max_p95_ms=None, min_availability=0.9)
    assert SteadyState.from_hypothesis(None) == SteadyState()


def test_chaos_section_in_step_order_with_limits_per_kind():
    latency = {"step": 1, "kind": "latency", "target": "pod-2", "severity": "high",
               "started_at_s": 20.0, "ended_at_s": 22.0}
    section = chaos_section([latency, KILL], timeline(shape=killed_between(10.0, 12.3)), bounds=SteadyState(),
                            rto_limits={"latency": 5}, threshold_balance=95.0, expected_pods=PODS, end_s=30.0)
    assert [row["step"] for row in section] == [0, 1]
    assert section[0]["rto_limit_s"] == DEFAULT_RTO_LIMITS_S["pod_kill"] and section[1]["rto_limit_s"] == 5.0
    assert section[0]["kind"] == "pod_kill" and section[0]["rto_s"] == pytest.approx(2.3, abs=0.05)
    assert rto_limit_for("cpu_stress") == 60.0
    json.dumps(section)


def test_a_pod_replaced_under_a_new_name_is_waited_for_as_its_replacement():
    renamed = ["pod-0", "pod-1-b", "pod-2", "pod-3"]

    def shape(t):
        if 10.0 <= t < 13.0:
            return {"pods": ["pod-0", "pod-2", "pod-3"]}
        if t >= 13.0:
            return {"pods": renamed}
        return {}
    events = [{"t": 10.0, "type": "pod_killed", "pod": "pod-1"},
              {"t": 10.5, "type": "pod_started", "pod": "pod-1-b", "replaces": "pod-1"},
              {"t": 12.9, "type": "pod_ready", "pod": "pod-1-b"}]
    result = figures(timeline(shape=shape), events=events)
    # a window's score weighs its 3 s: one 100 ms bucket without the new pod still scores >= 95 %
    assert result["balance_recovery_s"] == pytest.approx(3.0, abs=0.15)
    assert result["healing_s"] == pytest.approx(2.9)
    # known by count only (a URL target that declared 4 pods): the missing one counts as 0
    by_count = figures(timeline(shape=shape), expected_pods=[], expected_count=4)
    assert by_count["balance_recovery_s"] == pytest.approx(3.0, abs=0.15)
    assert figures(timeline(shape=shape), expected_pods=[])["balance_recovery_s"] == 0.0


def test_requests_a_blackhole_held_fail_late_and_recovery_waits_for_them():
    # a partition at 10.0: requests sent into it fail only at the client's timeout, at 15-16 s,
    # after 5 s that look clean by completion time: users saw errors until 16 s
    partition = {**KILL, "kind": "partition", "ended_at_s": 12.0}
    result = figures(timeline(shape=killed_between(15.0, 16.0)), injection=partition, rto_limit_s=60.0)
    assert result["recovered_at_s"] == pytest.approx(16.0, abs=0.05)
    assert result["rto_s"] == pytest.approx(6.0, abs=0.05)
    assert result["requests_failed"] == 10 * 10


def test_the_hypothesis_max_rto_is_the_limit_of_every_kind_without_its_own():
    assert rto_limit_for("partition", None, 10.0) == 10.0
    assert rto_limit_for("partition", {"partition": 45}, 10.0) == 45.0
    assert rto_limit_for("partition") == DEFAULT_RTO_LIMITS_S["partition"]
    section = chaos_section([KILL], timeline(shape=killed_between(10.0, 22.0)), bounds=SteadyState(),
                            max_rto_s=10.0, threshold_balance=95.0, expected_pods=PODS, end_s=30.0)
    assert section[0]["rto_limit_s"] == 10.0 and section[0]["passed"] is False


def test_a_breaching_bucket_is_the_first_outside_the_steady_state_before_the_end():
    buckets = timeline(20.0, lambda t: {"failures": 10} if t in (12.3, 15.0) else {})
    bounds = SteadyState()
    assert breaching_bucket(buckets, bounds, start_s=10.0) == pytest.approx(12.3)
    assert breaching_bucket(buckets, bounds, start_s=12.4) == pytest.approx(15.0)
    assert breaching_bucket(buckets, bounds, start_s=12.4, end_s=15.0) is None  # the next injection's
    assert breaching_bucket(buckets, SteadyState(max_error_rate=0.5), start_s=10.0) is None
