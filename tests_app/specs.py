"""Parsing the command line's and the API's compact specs. Pure: no Django.

Durations: `30s`, `2m`, `1h`, `1m30s`, or plain seconds (`45`, `2.5`).
Chaos steps: `KIND@START:DURATION[:SEVERITY][:POD]`, e.g. `pod_kill@10s:0s`,
`latency@5s:20s:high:pod-1` (ARCHITECTURE.md s6).
"""

from __future__ import annotations

import re

CHAOS_KINDS = ("latency", "errors", "pod_kill", "partition", "node_drain", "cpu_stress", "primary_kill", "primary_stop")
SEVERITIES = ("low", "medium", "high")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


class SpecError(ValueError):
    """A spec that does not parse; the message says what was expected."""


def parse_duration(text: str | int | float) -> float:
    """Seconds in `text`; SpecError when it is not a duration."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        text = str(text).strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise SpecError(f"{text!r} is not a duration (e.g. 30s, 2m, 1m30s, 45)") from None
            factor = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
            seconds = sum(float(n) * factor[u] for n, u in parts)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise SpecError(f"{text!r} is not a duration of 0 or more seconds")
    return seconds


def parse_chaos(spec: str) -> dict:
    """One chaos step from `KIND@START:DURATION[:SEVERITY][:POD]`."""
    kind, at, rest = spec.strip().partition("@")
    if not at:
        raise SpecError(f"{spec!r}: expected KIND@START:DURATION[:SEVERITY][:POD]")
    if kind not in CHAOS_KINDS:
        raise SpecError(f"unknown chaos kind {kind!r}; one of {', '.join(CHAOS_KINDS)}")
    fields = rest.split(":")
    if len(fields) < 2 or len(fields) > 4:
        raise SpecError(f"{spec!r}: expected KIND@START:DURATION[:SEVERITY][:POD]")
    severity = fields[2] if len(fields) > 2 and fields[2] else "medium"
    if severity not in SEVERITIES:
        raise SpecError(f"{spec!r}: severity must be low, medium or high")
    return {
        "kind": kind, "start_s": parse_duration(fields[0]), "duration_s": parse_duration(fields[1]),
        "severity": severity, "target": fields[3] if len(fields) > 3 else "",
    }
