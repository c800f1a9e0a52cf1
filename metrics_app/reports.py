"""A finished run as a report for other tools and readers: JUnit XML for CI systems (one test
case per threshold the run was judged on and per chaos injection, as k6 users get from
handleSummary) and Markdown (a pull request comment, a wiki page), from the run's summary
(ARCHITECTURE.md s6) and verdict. The HTML report (tests_app/run_report.html) shows the same
chaos table with the same definitions (`CHAOS_FIGURES`).

Pure: no Django. Everything a target controls (pod names, fault targets, error messages) is
escaped for the format: XML through ElementTree, with the characters XML 1.0 cannot hold removed;
Markdown with its table and markup characters escaped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from metrics_app.figures import MARKS, scaling_label, tuning_label

# The thresholds a run is judged on (tests_app.verdict.judge), each with the words its failure
# reason opens with: a reason is the failure of the threshold it names.
THRESHOLD_CHECKS = (
    ("balance score", "balance score"),
    ("error rate", "error rate"),
    ("p95 latency", "p95 latency"),
)
NO_REQUESTS_REASON = "no request completed"  # fails every threshold
# The chaos table's columns: (summary key, heading, unit, definition for the legend).
CHAOS_FIGURES = (
    ("rto_s", "RTO", "s", "user-visible recovery: from the injection to the start of the first 3 s in which the "
                          "error rate and p95 stay within the steady state"),
    ("rto_limit_s", "RTO limit", "s", "the longest RTO that passes, for this kind of fault"),
    ("healing_s", "Healing", "s", "from the injection until the cluster had its ready pods back "
                                  "(its own events)"),
    ("balance_recovery_s", "Balance recovery", "s", "from the injection to the start of the first 3 s whose "
                                                    "balance score is back at or above the threshold"),
    ("availability", "Availability", "%", "successful / all requests from the injection to the recovery"),
    ("requests", "Requests", "", "requests completed from the injection to the recovery"),
    ("requests_failed", "Failed", "", "of those, the ones that failed"),
    ("p95_during_ms", "p95 during", "ms", "p95 latency from the injection to the fault's end or the recovery, "
                                          "whichever is later"),
    ("p95_after_ms", "p95 after", "ms", "p95 latency from then to the next injection or the end of the load"),
    ("first_failure_s", "First failure", "s", "the first failure came at or after this time (100 ms bounds)"),
    ("last_failure_s", "Last failure", "s", "the last failure came before this time (100 ms bounds)"),
)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Inline markup that can start anywhere in a cell or an item's text (line-start markup such as
# "#" or "-" cannot: every cell and item opens with LB Lab's own text).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _xml_text(value) -> str:
    return _NOT_XML.sub("", str(value))


def format_figure(key: str, value, unit: str) -> str:
    """A chaos figure as the tables show it: "–" when not measured."""
    if value is None or value == "":
        return "–"
    if unit == "%":
        return f"{float(value) * 100:.2f} %"
    if unit == "s":
        return f"{float(value):.1f} s" if key != "rto_limit_s" else f"{float(value):g} s"
    if unit == "ms":
        return f"{float(value):.1f} ms"
    return str(value)


def injection_title(injection: Mapping) -> str:
    """"step 0: pod_kill on pod-1 (medium)"."""
    title = f"step {injection.get('step', '?')}: {injection.get('kind', 'fault')}"
    if injection.get("target"):
        title += f" on {injection['target']}"
    if injection.get("severity"):
        title += f" ({injection['severity']})"
    return title


def injection_outcome(injection: Mapping) -> str:
    passed = injection.get("passed")
    return "not measured" if passed is None else ("passed" if passed else "failed")


def chaos_rows(chaos: Sequence[Mapping]) -> list[dict]:
    """Each injection's cells for a report table: title, start, end, outcome, reason, and
    `figures`: its `CHAOS_FIGURES` formatted, in that order."""
    return [{
        "title": injection_title(injection),
        "started": format_figure("started_at_s", injection.get("started_at_s"), "s"),
        "ended": format_figure("ended_at_s", injection.get("ended_at_s"), "s"),
        "outcome": injection_outcome(injection),
        "reason": str(injection.get("reason") or ""),
        "figures": [format_figure(key, injection.get(key), unit) for key, _, unit, _ in CHAOS_FIGURES],
    } for injection in chaos]


# The tuning table's columns, as the run page's decisions table has them.
TUNING_HEADINGS = ("Time (s)", "Action", "From → to", "Reason", "Score before", "Predicted", "Observed",
                   "Prediction error", "Outcome")


def signed_points(value) -> str:
    """A prediction error: "+1.2", "-0.8", "0.0" (never "-0.0"), "–" when not judged yet."""
    if value is None:
        return "–"
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def tuning_rows(tuning: Sequence[Mapping]) -> list[list[str]]:
    """Each tuning decision of the summary's `tuning` list as the cells of TUNING_HEADINGS: when,
    what changed, why, the score before, predicted and observed, observed minus predicted, outcome."""
    rows = []
    for decision in tuning:
        rows.append([_number(decision.get("t")), str(decision.get("action") or ""), tuning_label(decision, _FULL_LABEL),
                     str(decision.get("reason") or ""), _number(decision.get("score_before")),
                     _number(decision.get("predicted_score")), _number(decision.get("score_after")),
                     signed_points(decision.get("prediction_error")), str(decision.get("outcome") or "")])
    return rows


# The scaling table's columns: when, the change with who made it and the autoscaler's reading.
SCALING_HEADINGS = ("Time (s)", "Change")


def scaling_rows(scaling: Sequence[Mapping]) -> list[list[str]]:
    """Each scale change of the summary's `scaling` list as the cells of SCALING_HEADINGS."""
    return [[_number(change.get("t")), scaling_label(change)] for change in scaling]


def scaling_markdown(scaling: Sequence[Mapping]) -> list[str]:
    """The scaling table as Markdown lines (nothing when the replicas never changed)."""
    if not scaling:
        return []
    return ["## Scaling", "", *_md_table(SCALING_HEADINGS, scaling_rows(scaling)), "",
            "Seconds since the load started; by: the sandbox's autoscaler, a HorizontalPodAutoscaler (hpa), LB Lab, or "
            "someone else (external).", ""]


def tuning_markdown(tuning: Sequence[Mapping]) -> list[str]:
    """The tuning table as Markdown lines (nothing when the tuner took no decision)."""
    if not tuning:
        return []
    return ["## Tuning", "", *_md_table(TUNING_HEADINGS, tuning_rows(tuning)), "",
            "Scores in points of the policy's view; observed after the cooldown; prediction error: observed minus "
            "predicted.", ""]


# --------------------------------------------------------------------------- JUnit XML


def _threshold_case(name: str, *, detail: str, failed_by: list[str], skipped: str | None) -> ET.Element:
    case = ET.Element("testcase", {"classname": "lblab.thresholds", "name": name, "time": "0"})
    if skipped is not None:
        ET.SubElement(case, "skipped", {"message": _xml_text(skipped)})
    elif failed_by:
        failure = ET.SubElement(case, "failure", {"message": _xml_text(failed_by[0]), "type": "threshold"})
        failure.text = _xml_text("\n".join(failed_by))
    ET.SubElement(case, "system-out").text = _xml_text(detail)
    return case


def junit_xml(summary: Mapping, *, run_name: str, passed: bool | None, reasons: Sequence[str],
              thresholds: Mapping | None = None) -> str:
    """The run as one JUnit `<testsuite>`: a test case per threshold of the verdict (balance
    score, error rate, p95 latency; a failure carries the verdict's reason) and one per
    injection of `summary["chaos"]` (a failure with its reason when it failed, skipped when its
    recovery was not measurable); a verdict reason that names neither fails a last "verdict"
    case. `passed` None (a run cancelled or ended in error before it was judged): the thresholds
    are skipped. `thresholds`: the scenario's `error_rate` and `p95_ms` (None: none set, the p95
    case is skipped), shown in each case's output."""
    reasons = [str(reason) for reason in reasons]
    thresholds = thresholds or {}
    requests = int(summary.get("requests") or 0)
    failures = int(summary.get("failures") or 0)
    judged_balance = summary.get("balance") or {}
    p95 = (summary.get("latency_ms") or {}).get("p95")
    chaos = list(summary.get("chaos") or [])
    chaos_reasons = {str(injection.get("reason")) for injection in chaos if injection.get("reason")}
    not_judged = None if passed is not None else f"the run was not judged (status {summary.get('status', 'unknown')})"

    def reasons_for(words: str) -> list[str]:
        return [reason for reason in reasons if reason.startswith(words) or reason.startswith(NO_REQUESTS_REASON)]

    score = judged_balance.get("score")
    error_rate = failures / requests if requests else None
    details = {
        "balance score": f"balance score {'–' if score is None else f'{score:.1f} %'}, threshold "
                         f"{judged_balance.get('threshold', '–')} %",
        "error rate": f"error rate {'–' if error_rate is None else f'{error_rate * 100:.2f} %'} "
                      f"({failures} of {requests} requests failed)"
                      + (f", threshold {thresholds['error_rate'] * 100:.2f} %" if thresholds.get("error_rate")
                         is not None else ""),
        "p95 latency": f"p95 latency {'–' if p95 is None else f'{p95:.1f} ms'}"
                       + (f", threshold {thresholds['p95_ms']:.1f} ms" if thresholds.get("p95_ms") is not None else ""),
    }
    cases = []
    matched: set[str] = set()
    for name, words in THRESHOLD_CHECKS:
        failed_by = reasons_for(words)
        matched.update(failed_by)
        skipped = not_judged
        if skipped is None and name == "p95 latency" and "p95_ms" in thresholds and thresholds["p95_ms"] is None \
                and not failed_by:
            skipped = "no p95 threshold set"
        cases.append(_threshold_case(name, detail=details[name], failed_by=failed_by, skipped=skipped))
    for injection in chaos:
        cases.append(_injection_case(injection))
    others = [reason for reason in reasons if reason not in matched and reason not in chaos_reasons]
    if others or (passed is False and not reasons):
        case = ET.Element("testcase", {"classname": "lblab.verdict", "name": "verdict", "time": "0"})
        message = others[0] if others else f"the run failed (status {summary.get('status', 'unknown')})"
        failure = ET.SubElement(case, "failure", {"message": _xml_text(message), "type": "verdict"})
        failure.text = _xml_text("\n".join(others or [message]))
        cases.append(case)

    suite = ET.Element("testsuite", {
        "name": _xml_text(f"LB Lab: {run_name}"),
        "tests": str(len(cases)),
        "failures": str(sum(case.find("failure") is not None for case in cases)),
        "errors": "0",
        "skipped": str(sum(case.find("skipped") is not None for case in cases)),
        "time": f"{float(summary.get('duration_s') or 0.0):.3f}",
    })
    suite.extend(cases)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _injection_case(injection: Mapping) -> ET.Element:
    rto = injection.get("rto_s")
    case = ET.Element("testcase", {"classname": "lblab.chaos", "name": _xml_text(injection_title(injection)),
                                   "time": f"{float(rto):.3f}" if rto is not None else "0"})
    reason = str(injection.get("reason") or "")
    if injection.get("passed") is None:
        ET.SubElement(case, "skipped", {"message": _xml_text(reason or "recovery not measurable")})
    elif injection.get("passed") is False:
        failure = ET.SubElement(case, "failure", {"message": _xml_text(reason), "type": "recovery"})
        failure.text = _xml_text(reason)
    lines = [reason] if reason else []
    lines += [f"{label}: {format_figure(key, injection.get(key), unit)}" for key, label, unit, _ in CHAOS_FIGURES]
    ET.SubElement(case, "system-out").text = _xml_text("\n".join(lines))
    return case


# --------------------------------------------------------------------------- Markdown


def md_cell(value) -> str:
    """Text a target may control, safe in a Markdown table cell: markup and `|` escaped, HTML
    angle brackets as entities, line breaks as spaces."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_table(headings: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(heading) for heading in headings) + " |",
             "|" + "|".join(" --- " for _ in headings) + "|"]
    lines += ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in rows]
    return lines


_FULL_LABEL = {**MARKS["tuning"], "label_max_chars": 10_000}  # a table shows the whole change, a chart a short one


def _number(value, fmt: str = "{:.1f}", unit: str = "") -> str:
    return "–" if value is None else fmt.format(value) + unit


def chaos_markdown(chaos: Sequence[Mapping]) -> list[str]:
    """The chaos table and its legend, as Markdown lines (nothing when no fault was injected)."""
    if not chaos:
        return []
    headings = ["Injection", "Start", "End", "Outcome",
                *(f"{label} ({unit})" if unit else label for _, label, unit, _ in CHAOS_FIGURES)]
    rows = [[row["title"], row["started"], row["ended"], row["outcome"], *row["figures"]] for row in chaos_rows(chaos)]
    lines = ["## Chaos", "", *_md_table(headings, rows), ""]
    lines += [f"- {md_cell(row['title'])}: {md_cell(row['reason'])}" for row in chaos_rows(chaos) if row["reason"]]
    lines += ["", "Definitions (times in seconds since the load started, 100 ms resolution; – : not measurable):", ""]
    lines += [f"- **{md_cell(label)}**: {md_cell(definition)}" for _, label, _, definition in CHAOS_FIGURES]
    return [*lines, ""]


def durability_facts(durability: Mapping) -> list[tuple[str, str]]:
    """The durability probe's verdict as (label, text) pairs: the report and the CLI show the same."""
    if durability.get("error"):
        facts = [("Read back", str(durability["error"]))]
    else:
        lost_ids = ", ".join(str(i) for i in (durability.get("lost_ids") or [])[:20])
        facts = [("Acknowledged", str(durability.get("acked"))),
                 ("Lost (acknowledged but absent)", f"{durability.get('lost')}" + (f": {lost_ids}" if lost_ids else "")),
                 ("Recovered (failed or timed out, yet present)", str(durability.get("recovered"))),
                 ("Unexpected (present but never written)", str(durability.get("unexpected")))]
        if durability.get("rpo_s") is not None:
            facts.append(("RPO", _number(durability["rpo_s"], "{:.3f}", " s")))
    return [*facts, ("Failed writes", str(durability.get("failed"))),
            ("What the mode promises", str(durability.get("promise", "")))]


def failover_rows(stateful: Mapping) -> list[list[str]]:
    """The store's events on the load clock as FAILOVER_HEADINGS cells."""
    return [[_number(event.get("t"), "{:.2f}"), str(event.get("event")), str(event.get("server")),
             str(event.get("detail"))] for event in stateful.get("timeline") or []]


FAILOVER_HEADINGS = ["At (s)", "Event", "Server", "Detail"]


def durability_markdown(summary: Mapping) -> list[str]:
    """The durability probe's verdict and the failover, as Markdown lines (nothing without a store)."""
    durability = summary.get("durability")
    if not durability:
        return []
    stateful = summary.get("stateful") or {}
    lines = [f"## Durability ({md_cell(stateful.get('store', ''))}, {md_cell(durability.get('mode', ''))})", ""]
    lines += [f"- **{label}**: {md_cell(text)}" for label, text in durability_facts(durability)]
    rows = failover_rows(stateful)
    if rows:
        lines += ["", "### Failover", "", *_md_table(FAILOVER_HEADINGS, rows)]
    return [*lines, ""]


def run_report_markdown(summary: Mapping, *, run_name: str, run_id: int | None = None) -> str:
    """The run's report as Markdown: verdict, totals, latency, balance, pods, endpoints,
    failures and, when faults were injected, the chaos table with its definitions."""
    run_id = summary.get("run_id") if run_id is None else run_id
    verdict = summary.get("verdict") or {}
    passed = verdict.get("passed")
    lines = [f"# LB Lab run {md_cell(run_id if run_id is not None else '')}: {md_cell(run_name)}", ""]
    lines.append(f"- **Status**: {md_cell(summary.get('status', 'unknown'))}; verdict: "
                 + ("not judged" if passed is None else ("passed" if passed else "failed")))
    lines += [f"  - {md_cell(reason)}" for reason in verdict.get("reasons") or []]
    requests, failures = int(summary.get("requests") or 0), int(summary.get("failures") or 0)
    lines.append(f"- **Requests**: {requests} ({failures} failed) over {_number(summary.get('duration_s'))} s, "
                 f"{_number(summary.get('rps'))} req/s")
    latency = summary.get("latency_ms") or {}
    lines.append("- **Latency**: " + " · ".join(f"{name} {_number(latency.get(name), unit=' ms')}"
                                                 for name in ("p50", "p95", "p99", "max")))
    judged = summary.get("balance") or {}
    if judged:
        lines.append(f"- **Balance**: {_number(judged.get('score'), unit=' %')} (grade {md_cell(judged.get('grade'))}, "
                     f"threshold {_number(judged.get('threshold'), '{:g}', ' %')}), CV {_number(judged.get('cv'), '{:.4f}')}, "
                     f"Jain {_number(judged.get('jain'), '{:.4f}')}, max/mean {_number(judged.get('max_over_mean'), '{:.3f}')}")
    if summary.get("unattributed"):
        lines.append(f"- **Unattributed**: {int(summary['unattributed'])} requests named no pod")
    lines += [f"- Note: {md_cell(note)}" for note in summary.get("notes") or []]
    lines.append("")
    pods = summary.get("pods") or {}
    if pods:
        lines += ["## Pods", "", *_md_table(
            ["Pod", "Requests", "Failures", "p95 (ms)"],
            [[pod, figures.get("requests", 0), figures.get("failures", 0), _number(figures.get("p95_ms"))]
             for pod, figures in pods.items()]), ""]
    endpoints = summary.get("endpoints") or []
    if endpoints:
        lines += ["## Requests by endpoint", "", *_md_table(
            ["Endpoint", "Requests", "Failures", "req/s", "p50 (ms)", "p95 (ms)", "p99 (ms)", "max (ms)"],
            [[row.get("endpoint"), row.get("requests"), row.get("failures"), _number(row.get("rps")),
              *(_number(row.get(key)) for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))] for row in endpoints]), ""]
    errors = summary.get("errors") or []
    if errors:
        lines += ["## Failures", "", *_md_table(
            ["Endpoint", "Type", "Status", "Message", "Count", "First seen (s)", "Last seen (s)"],
            [[row.get("endpoint"), row.get("type"), row.get("status") or "–", row.get("message"), row.get("count"),
              _number(row.get("first_s")), _number(row.get("last_s"))] for row in errors]), ""]
    lines += chaos_markdown(summary.get("chaos") or [])
    lines += durability_markdown(summary)
    lines += tuning_markdown(summary.get("tuning") or [])
    lines += scaling_markdown(summary.get("scaling") or [])
    return "\n".join(lines).rstrip("\n") + "\n"
