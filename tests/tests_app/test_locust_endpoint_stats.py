"""The plugin's per-endpoint and per-error tables (tests_app/engine/stats.py): counted per
window like the per-pod counts, shipped from workers to the master, and turned into the run
so far in each sample line and the whole run in the final line."""

import json

import pytest

from tests_app.engine.stats import MAX_ERROR_GROUPS, OTHER_MESSAGES, Aggregator, Window, failure_of

ENDPOINTS = ("GET /a", "POST /b")
EPOCH = 1_700_000_000.0  # time.time() when the run started


def by_endpoint(line) -> dict[str, dict]:
    """A line's endpoint rows by name, without the name."""
    return {row["endpoint"]: {key: value for key, value in row.items() if key != "endpoint"} for row in line["endpoints"]}


def window(records, errors=()):
    w = Window(endpoints=len(ENDPOINTS))
    for pod, latency_s, failed, endpoint in records:
        w.record(pod, latency_s, failed, endpoint)
    for endpoint, failure, at in errors:
        w.record_error(endpoint, *failure, EPOCH + at)
    return w


HTTP_503 = ("HTTPError", 503, "Service Unavailable")
REFUSED = ("ConnectionRefusedError", None, "[Errno 111] Connection refused")


def test_endpoint_rows_hold_the_run_so_far_and_the_final_line_the_whole_run():
    agg = Aggregator(["p"], endpoints=ENDPOINTS, epoch=EPOCH)
    # latencies under 2.048 ms: the histograms hold them to the microsecond
    s1 = agg.sample(window([("p", 0.001, False, 0), ("p", 0.002, False, 0), ("p", 0.0015, True, 1)],
                           [(1, HTTP_503, 0.5)]), t=1.0, users=2, active_connections=2)
    s2 = agg.sample(window([("p", 0.0015, False, 0)]), t=2.0, users=2, active_connections=2)
    s3 = agg.sample(window([]), t=2.5, users=2, active_connections=0, last=True)
    final = agg.final(duration_s=2.5, reason="duration")

    assert [row["endpoint"] for row in s1["endpoints"]] == list(ENDPOINTS)
    assert by_endpoint(s1)["GET /a"] == {"requests": 2, "failures": 0, "rps": 2.0, "failures_per_s": 0.0,
                                         "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 2.0, "max_ms": 2.0}
    assert by_endpoint(s1)["POST /b"]["failures"] == 1 and by_endpoint(s1)["POST /b"]["failures_per_s"] == 1.0
    a2 = by_endpoint(s2)["GET /a"]
    assert (a2["requests"], a2["rps"], a2["p50_ms"]) == (3, 1.0, 1.5)  # counts since the start, rate of the second
    assert by_endpoint(s2)["POST /b"]["rps"] == 0.0 and by_endpoint(s2)["POST /b"]["requests"] == 1
    assert by_endpoint(s3)["GET /a"]["rps"] == 0.0 and by_endpoint(s3)["GET /a"]["requests"] == 3

    whole = by_endpoint(final)
    assert {name: (row["requests"], row["failures"]) for name, row in whole.items()} == {
        "GET /a": (3, 0), "POST /b": (1, 1)}
    assert whole["GET /a"]["rps"] == pytest.approx(3 / 2.5)  # over the whole run
    assert (whole["GET /a"]["p50_ms"], whole["POST /b"]["p50_ms"]) == (1.5, 1.5)
    assert final["errors"] == s3["errors"] == [{"endpoint": "POST /b", "type": "HTTPError", "status": 503,
                                                "message": "Service Unavailable", "count": 1, "first_s": 0.5,
                                                "last_s": 0.5}]
    json.dumps(final, allow_nan=False)


def test_an_endpoint_without_requests_is_a_row_of_zeros():
    agg = Aggregator(endpoints=ENDPOINTS, epoch=EPOCH)
    line = agg.sample(window([("p", 0.001, False, 0)]), t=1.0, users=1, active_connections=1)
    assert by_endpoint(line)["POST /b"] == {"requests": 0, "failures": 0, "rps": 0.0, "failures_per_s": 0.0,
                                            "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    assert line["errors"] == []


def test_errors_are_grouped_with_counts_and_first_and_last_seen():
    agg = Aggregator(endpoints=ENDPOINTS, epoch=EPOCH)
    agg.sample(window([("p", 0.001, True, 0)] * 3 + [(None, None, True, 1)],
                      [(0, HTTP_503, 0.2), (0, HTTP_503, 0.9), (0, REFUSED, 0.4), (1, REFUSED, 0.7)]),
               t=1.0, users=1, active_connections=1)
    line = agg.sample(window([("p", 0.001, True, 0)], [(0, HTTP_503, 1.6)]), t=2.0, users=1, active_connections=1)
    assert [(e["endpoint"], e["type"], e["status"], e["count"], e["first_s"], e["last_s"]) for e in line["errors"]] == [
        ("GET /a", "HTTPError", 503, 3, 0.2, 1.6),  # most frequent first
        ("GET /a", "ConnectionRefusedError", None, 1, 0.4, 0.4),
        ("POST /b", "ConnectionRefusedError", None, 1, 0.7, 0.7),
    ]
    assert sum(e["count"] for e in line["errors"]) == agg.failures == 5


def test_workers_windows_merge_into_the_same_tables():
    parts = [([("p", 0.001, False, 0), ("q", 0.050, True, 1)], [(1, HTTP_503, 0.3)]),
             ([("p", 0.003, True, 0), (None, 0.2, True, 1)], [(0, REFUSED, 0.1), (1, HTTP_503, 0.8)])]
    direct = window([record for records, _ in parts for record in records],
                    [error for _, errors in parts for error in errors])
    merged = Window(endpoints=len(ENDPOINTS))
    for records, errors in parts:
        merged.merge_wire(json.loads(json.dumps(window(records, errors).to_wire())))
    one = Aggregator(endpoints=ENDPOINTS, epoch=EPOCH).sample(direct, t=1.0, users=1, active_connections=0)
    two = Aggregator(endpoints=ENDPOINTS, epoch=EPOCH).sample(merged, t=1.0, users=1, active_connections=0)
    assert one == two
    assert [(e["type"], e["count"], e["first_s"], e["last_s"]) for e in one["errors"]] == [
        ("HTTPError", 2, 0.3, 0.8), ("ConnectionRefusedError", 1, 0.1, 0.1)]


def test_error_groups_are_bounded_and_every_failure_is_still_counted():
    w = Window(endpoints=1)
    for i in range(3 * MAX_ERROR_GROUPS):
        w.record("p", 0.001, True, 0)
        w.record_error(0, "ValueError", None, f"bad value {i}", EPOCH + i / 1000)
    assert len(w.errors) <= MAX_ERROR_GROUPS + 1
    agg = Aggregator(endpoints=("GET /",), epoch=EPOCH)
    line = agg.sample(w, t=1.0, users=1, active_connections=0)
    assert len(line["errors"]) <= MAX_ERROR_GROUPS + 1
    assert sum(e["count"] for e in line["errors"]) == 3 * MAX_ERROR_GROUPS
    other = [e for e in line["errors"] if e["message"] == OTHER_MESSAGES]
    assert other and other[0]["type"] == "ValueError" and other[0]["last_s"] == pytest.approx((3 * MAX_ERROR_GROUPS - 1) / 1000)


def test_failures_are_named_by_status_or_exception():
    assert failure_of(503, None) == HTTP_503
    assert failure_of(404, ConnectionError("bad status")) == ("HTTPError", 404, "Not Found")
    assert failure_of(0, ConnectionRefusedError(111, "Connection refused")) == REFUSED
    assert failure_of(0, TimeoutError("timed out")) == ("TimeoutError", None, "timed out")
    kind, status, message = failure_of(0, OSError("x" * 1000))
    assert (kind, status) == ("OSError", None) and len(message) <= 200
    assert failure_of(0, None) == ("NoResponse", None, "no status and no error")
