from tests_app.verdict import judge, judge_chaos

THRESHOLDS = {"threshold_balance": 95.0, "threshold_error_rate": 0.01, "threshold_p95_ms": 250.0}


def test_passes_when_every_threshold_holds():
    assert judge(requests=1000, failures=10, balance_score=95.0, p95_ms=250.0, **THRESHOLDS) == (True, [])


def test_each_missed_threshold_is_a_reason():
    passed, reasons = judge(requests=1000, failures=11, balance_score=80.0, p95_ms=300.0, **THRESHOLDS)
    assert passed is False
    assert reasons == [
        "balance score 80.0 % is under the 95.0 % threshold",
        "error rate 1.10 % is over the 1.00 % threshold",
        "p95 latency 300.0 ms is over the 250.0 ms threshold",
    ]


def test_no_p95_threshold_means_latency_is_not_judged():
    assert judge(requests=10, failures=0, balance_score=100.0, p95_ms=9999.0,
                 **{**THRESHOLDS, "threshold_p95_ms": None})[0] is True


def test_no_traffic_fails_with_a_reason():
    passed, reasons = judge(requests=0, failures=0, balance_score=None, p95_ms=None, **THRESHOLDS)
    assert passed is False
    assert "no request completed" in reasons[0]


def test_each_failing_injection_fails_the_run_with_its_reason():
    chaos = [{"kind": "pod_kill", "passed": True, "reason": "pod_kill recovered in 0.1 s, within 30 s"},
             {"kind": "partition", "passed": False, "reason": "partition did not recover within 60 s"},
             {"kind": "latency", "passed": None, "reason": "not measurable"}]
    assert judge_chaos(True, [], chaos) == (False, ["partition did not recover within 60 s"])
    assert judge_chaos(False, ["balance"], chaos[:1]) == (False, ["balance"])
