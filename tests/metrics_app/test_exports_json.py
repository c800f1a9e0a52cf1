"""The JSON exports: the samples as one JSON document (streamed in pieces), the summary as is."""

import json

import pytest

from metrics_app import exports


def second(t):
    return {"t": float(t), "requests": 2, "rps": 2.0, "p95_ms": None, "pods": {"pod-0": {"requests": 2, "ready": True}}}


@pytest.mark.parametrize("count", [0, 1, 3])
def test_samples_json_is_one_document_with_every_second(count):
    text = exports.samples_json([second(t) for t in range(count)], run_id=7)
    document = json.loads(text)
    assert document == {"run": 7, "samples": [second(t) for t in range(count)]}


def test_samples_json_streams_from_an_iterator():
    pieces = list(exports.samples_json_chunks(iter([second(0), second(1)]), run_id=7))
    assert len(pieces) == 4
    assert json.loads("".join(pieces))["samples"][1]["t"] == 1.0


def test_summary_json_round_trips():
    summary = {"run_id": 3, "balance": {"score": 99.1, "windows": [97.2, 99.0]}, "verdict": {"passed": True}}
    assert json.loads(exports.summary_json(summary)) == summary


def test_values_json_cannot_carry_are_refused_not_written():
    with pytest.raises(ValueError, match="JSON"):
        exports.summary_json({"rps": float("nan")})
