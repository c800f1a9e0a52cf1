"""The Markdown report: the summary's figures, and a chaos table with every figure and its unit."""

from metrics_app.reports import CHAOS_FIGURES, run_report_markdown

SUMMARY = {
    "run_id": 12, "status": "passed", "duration_s": 30.0, "requests": 1200, "failures": 3, "rps": 40.0,
    "latency_ms": {"p50": 1.2, "p95": 3.4, "p99": 5.6, "max": 20.1},
    "pods": {"pod-0": {"requests": 600, "failures": 1, "p95_ms": 3.3},
             "evil|<img src=x>": {"requests": 600, "failures": 2, "p95_ms": None}},
    "balance": {"score": 99.1, "cv": 0.004, "jain": 0.99998, "max_over_mean": 1.01, "grade": "A", "threshold": 95.0},
    "verdict": {"passed": True, "reasons": []},
    "chaos": [],
}
KILL = {"step": 0, "kind": "pod_kill", "target": "pod-1", "severity": "medium", "started_at_s": 10.0,
        "ended_at_s": 10.0, "rto_limit_s": 30.0, "rto_s": 2.3, "recovered_at_s": 12.3, "healing_s": 1.85,
        "balance_recovery_s": 3.8, "availability": 0.75, "requests": 920, "requests_failed": 230,
        "p95_during_ms": 900.0, "p95_after_ms": 2.0, "first_failure_s": 10.0, "last_failure_s": 12.3,
        "passed": True, "reason": "pod_kill recovered in 2.3 s, within 30 s"}


def test_the_report_has_the_runs_figures_and_escapes_pod_names():
    text = run_report_markdown(SUMMARY, run_name="ci smoke")
    assert text.startswith("# LB Lab run 12: ci smoke\n")
    assert "1200 (3 failed)" in text and "p95 3.4 ms" in text and "99.1 %" in text
    assert "evil\\|&lt;img src=x&gt;" in text  # no extra column, no HTML
    assert "## Chaos" not in text  # no fault injected, no table


def test_the_chaos_table_lists_every_figure_with_units_and_a_legend():
    text = run_report_markdown({**SUMMARY, "chaos": [KILL]}, run_name="chaos")
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| Injection"))
    row = next(line for line in lines if line.startswith("| step 0: pod\\_kill on pod-1"))
    assert header.count("|") == row.count("|")
    for _, label, unit, definition in CHAOS_FIGURES:
        assert (f"{label} ({unit})" if unit else label) in header
        assert definition.split()[0] in text
    for cell in ("2.3 s", "30 s", "1.9 s", "3.8 s", "75.00 %", "920", "230", "900.0 ms", "2.0 ms", "12.3 s"):
        assert f" {cell} |" in row, cell
    assert "pod\\_kill recovered in 2.3 s, within 30 s" in text
    unmeasured = run_report_markdown({**SUMMARY, "chaos": [{**KILL, "rto_s": None, "passed": None}]}, run_name="c")
    assert "not measured" in unmeasured and "| – |" in unmeasured
