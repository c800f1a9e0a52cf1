"""JUnit XML of a run: a test case per threshold and per injection, parsed back as CI reads it."""

import xml.etree.ElementTree as ET

from metrics_app.reports import junit_xml
from tests_app.verdict import judge

SUMMARY = {
    "run_id": 7, "status": "failed", "duration_s": 30.0, "requests": 1000, "failures": 40,
    "latency_ms": {"p50": 1.0, "p95": 4.5, "p99": 9.0, "max": 20.0},
    "balance": {"score": 97.5, "threshold": 95.0},
    "chaos": [
        {"step": 0, "kind": "pod_kill", "target": "pod-1", "severity": "medium", "started_at_s": 10.0,
         "ended_at_s": 10.0, "rto_s": 2.3, "passed": True, "reason": "pod_kill recovered in 2.3 s, within 30 s"},
        {"step": 1, "kind": "partition", "target": "pod-2", "severity": "high", "started_at_s": 15.0,
         "ended_at_s": 25.0, "rto_s": None, "passed": False,
         "reason": "partition never recovered before the load ended, 15.0 s after the injection"},
        {"step": 2, "kind": "latency", "target": "pod-3", "severity": "low", "started_at_s": 29.0,
         "ended_at_s": 30.0, "rto_s": None, "passed": None, "reason": "latency: recovery not measurable"},
    ],
}


def parse(xml: str) -> tuple[ET.Element, dict[str, ET.Element]]:
    suite = ET.fromstring(xml.encode())
    return suite, {case.get("name"): case for case in suite.iter("testcase")}


def test_a_case_per_threshold_and_per_injection_with_failures_and_skips():
    passed, reasons = judge(requests=1000, failures=40, balance_score=97.5, p95_ms=4.5, threshold_balance=95.0,
                            threshold_error_rate=0.01, threshold_p95_ms=None)
    reasons.append(SUMMARY["chaos"][1]["reason"])  # the chaos verdict adds the injection's own
    suite, cases = parse(junit_xml(SUMMARY, run_name="ci smoke", passed=False, reasons=reasons,
                                   thresholds={"error_rate": 0.01, "p95_ms": None}))

    assert suite.tag == "testsuite" and suite.get("name") == "LB Lab: ci smoke"
    assert suite.get("tests") == "6" and suite.get("failures") == "2" and suite.get("skipped") == "2"
    assert cases["balance score"].find("failure") is None
    assert cases["error rate"].find("failure").get("message").startswith("error rate 4.00 % is over")
    assert cases["p95 latency"].find("skipped").get("message") == "no p95 threshold set"
    assert cases["step 0: pod_kill on pod-1 (medium)"].find("failure") is None
    assert cases["step 0: pod_kill on pod-1 (medium)"].get("time") == "2.300"
    partition = cases["step 1: partition on pod-2 (high)"].find("failure")
    assert "never recovered" in partition.get("message")
    assert cases["step 2: latency on pod-3 (low)"].find("skipped") is not None
    assert "verdict" not in cases  # every reason belongs to a case


def test_every_verdict_reason_lands_on_its_threshold():
    passed, reasons = judge(requests=100, failures=50, balance_score=40.0, p95_ms=900.0, threshold_balance=95.0,
                            threshold_error_rate=0.01, threshold_p95_ms=100.0)
    _, cases = parse(junit_xml({**SUMMARY, "chaos": []}, run_name="r", passed=passed, reasons=reasons))
    assert {name for name, case in cases.items() if case.find("failure") is not None} == {
        "balance score", "error rate", "p95 latency"}
    _, cases = parse(junit_xml({}, run_name="r", passed=False, reasons=judge(
        requests=0, failures=0, balance_score=None, p95_ms=None, threshold_balance=95.0,
        threshold_error_rate=0.01, threshold_p95_ms=None)[1]))
    assert all(case.find("failure") is not None for case in cases.values())


def test_an_unjudged_run_skips_its_thresholds_and_other_reasons_fail_a_verdict_case():
    suite, cases = parse(junit_xml({"status": "cancelled"}, run_name="r", passed=None, reasons=[]))
    assert suite.get("tests") == "3" and suite.get("skipped") == "3" and suite.get("failures") == "0"
    suite, cases = parse(junit_xml({"status": "error"}, run_name="r", passed=False,
                                   reasons=["Locust ran past the scenario's duration"]))
    assert cases["verdict"].find("failure").get("message") == "Locust ran past the scenario's duration"


def test_hostile_names_stay_well_formed_xml():
    hostile = '<pod name="x">&\x00\x1b]0;pwn\x07'
    summary = {**SUMMARY, "chaos": [{**SUMMARY["chaos"][1], "target": hostile, "reason": hostile}]}
    xml = junit_xml(summary, run_name=hostile, passed=False, reasons=[hostile])
    suite, cases = parse(xml)  # parses: escaped, control characters gone
    names = list(cases)
    assert any('<pod name="x">&' in name for name in names)
    assert "\x00" not in xml and "\x1b" not in xml
    assert suite.get("name") == 'LB Lab: <pod name="x">&]0;pwn'
