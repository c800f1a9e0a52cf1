import pytest

from clusters.durations import SpecError, parse_duration
from clusters.faults import parse_step


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("2m", 120.0), ("1h", 3600.0), ("1m30s", 90.0), ("45", 45.0), ("2.5", 2.5), (10, 10.0),
     ("500ms", 0.5), (" 3S ", 3.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-5", "10x", "5s5", "m", "nan", "inf", True])
def test_bad_durations(text):
    with pytest.raises(SpecError):
        parse_duration(text)


def test_chaos_spec_full_and_defaults():
    assert parse_step("latency@5s:20s:high:pod-1").to_dict() == {
        "kind": "latency", "start_s": 5.0, "duration_s": 20.0, "severity": "high", "target": "pod-1"}
    assert parse_step("pod_kill@3s:0s").to_dict() == {
        "kind": "pod_kill", "start_s": 3.0, "duration_s": 0.0, "severity": "medium", "target": ""}


@pytest.mark.parametrize(
    ("spec", "message"),
    [("meteor@1s:1s", "unknown chaos kind 'meteor'"), ("latency", "expected KIND@"),
     ("latency@1s", "expected KIND@"), ("latency@1s:2s:extreme", "severity"), ("latency@soon:2s", "not a duration")],
)
def test_bad_chaos_specs(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_step(spec)
