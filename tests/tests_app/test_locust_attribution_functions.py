"""Attribution building blocks: header case, JSON fields, Prometheus vectors, counter deltas."""

import pytest

from tests_app.engine.attribution import CounterDeltas, header_value, json_field, parse_vector, response_attributor
from tests_app.engine.config import Attribution


class CaseSensitiveHeaders:
    """Headers that only answer to the exact spelling, like a plain dict of raw names."""

    def __init__(self, pairs):
        self.pairs = pairs

    def get(self, name):
        return dict(self.pairs).get(name)

    def items(self):
        return list(self.pairs)


@pytest.mark.parametrize("sent", ["X-Pod", "x-pod", "X-POD"])
def test_header_found_whatever_the_case(sent):
    headers = CaseSensitiveHeaders([("Content-Type", "text/plain"), (sent, " pod-7 ")])
    assert header_value(headers, "X-Pod") == "pod-7"
    assert header_value(headers, "x-pod") == "pod-7"
    assert header_value([(sent, "pod-7")], "X-Pod") == "pod-7"


def test_missing_or_empty_header_is_none():
    assert header_value(CaseSensitiveHeaders([("X-Pod", "")]), "X-Pod") is None
    assert header_value(None, "X-Pod") is None
    assert header_value({}, "X-Pod") is None


def test_json_field_paths():
    assert json_field(b'{"hostname": "pod-1"}', "hostname") == "pod-1"
    assert json_field(b'{"meta": {"pod": "pod-2"}}', "meta.pod") == "pod-2"
    assert json_field(b'{"hostname": 7}', "hostname") == "7"
    assert json_field(b"not json", "hostname") is None
    assert json_field(b"[1, 2]", "hostname") is None
    assert json_field(b'{"hostname": {"a": 1}}', "hostname") is None
    assert json_field(None, "hostname") is None


def test_attributor_reads_body_only_for_json():
    reads = []

    def body():
        reads.append(1)
        return b'{"hostname": "pod-9"}'

    assert response_attributor(Attribution(method="header"))({"X-Pod": "pod-1"}, body) == "pod-1"
    assert reads == []
    assert response_attributor(Attribution(method="json_field", field="hostname"))({}, body) == "pod-9"
    assert response_attributor(Attribution(method="prometheus", url="http://p", query="q"))({"X-Pod": "a"}, body) is None


def test_parse_vector_sums_series_per_pod():
    payload = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"pod": "a", "code": "200"}, "value": [1, "10"]},
        {"metric": {"pod": "a", "code": "500"}, "value": [1, "2"]},
        {"metric": {"pod": "b"}, "value": [1, "5.0"]},
    ]}}
    assert parse_vector(payload) == {"a": 12.0, "b": 5.0}
    with pytest.raises(ValueError, match="pod"):
        parse_vector({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}]}})
    with pytest.raises(ValueError, match="vector"):
        parse_vector({"status": "success", "data": {"resultType": "matrix", "result": []}})
    with pytest.raises(ValueError):
        parse_vector({"status": "error", "error": "bad query"})


def test_counter_deltas_handle_resets_gaps_and_new_pods():
    deltas = CounterDeltas({"a": 100, "b": 50})
    assert deltas.update({"a": 110, "b": 50}) == {"a": 10}
    assert deltas.update(None) == {}  # a failed reading: the next one carries it
    assert deltas.update({"a": 130, "b": 55}) == {"a": 20, "b": 5}
    assert deltas.update({"a": 4, "b": 55}) == {"a": 4}  # a restarted, counter reset
    assert deltas.update({"a": 4, "b": 55, "c": 3}) == {"c": 3}  # a pod that appeared mid-run
