"""What Locust's own UI shows per run, counted by the plugin: a row per endpoint of the request
mix (requests, failures, rates, percentiles) and the failures grouped by endpoint, type, status
and message. Exact like the per-pod counts: each endpoint's count is the target's own count of
that method and path, with one Locust process and with a master and two workers."""

import pytest

from tests_app.engine.testing import PodEchoServer, base_config, run_to_end

MIX = [
    {"path": "/api/items", "method": "GET", "weight": 3},
    {"path": "/api/orders", "method": "POST", "weight": 1, "body": {"qty": 2}, "name": "place order"},
    {"path": "/broken", "method": "GET", "weight": 1},
]
ENDPOINTS = {"GET /api/items": ("GET", "/api/items"), "POST place order": ("POST", "/api/orders"),
             "GET /broken": ("GET", "/broken")}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_endpoint_counts_equal_the_targets_own_and_failures_are_grouped(workers):
    with PodEchoServer(["pod-a", "pod-b"], header="X-Pod", failing={"/broken": 503}) as server:
        result = run_to_end(base_config(server.url, users=4, duration_s=3, request_mix=MIX), workers=workers,
                            wait_exit=True)
        served = dict(server.requests)
    final = result.final
    assert final is not None, result.log
    assert [row["endpoint"] for row in final["endpoints"]] == list(ENDPOINTS)  # the mix's order
    rows = {row["endpoint"]: row for row in final["endpoints"]}
    for name, key in ENDPOINTS.items():
        assert rows[name]["requests"] == served[key] > 0, name
    broken = served[("GET", "/broken")]
    assert {name: row["failures"] for name, row in rows.items()} == {
        "GET /api/items": 0, "POST place order": 0, "GET /broken": broken}
    assert final["failures"] == broken
    assert sum(row["requests"] for row in final["endpoints"]) == final["requests"]

    [error] = final["errors"]
    assert {key: error[key] for key in ("endpoint", "type", "status", "message", "count")} == {
        "endpoint": "GET /broken", "type": "HTTPError", "status": 503, "message": "Service Unavailable",
        "count": broken}
    # seconds since the run started; requests in flight at the end finish during the graceful
    # stop (up to timeout_s + 1 = 6 s here), after the duration
    assert 0.0 <= error["first_s"] <= error["last_s"] <= final["duration_s"] + 6

    for row in final["endpoints"]:
        assert row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert row["rps"] == pytest.approx(row["requests"] / final["duration_s"], rel=1e-3)
    # Each sample holds the run so far: the last one's tables are the final line's counts.
    last = result.samples[-1]
    assert [(row["endpoint"], row["requests"], row["failures"]) for row in last["endpoints"]] == [
        (row["endpoint"], row["requests"], row["failures"]) for row in final["endpoints"]]
    assert [(e["endpoint"], e["count"]) for e in last["errors"]] == [("GET /broken", broken)]
    running = [sample["endpoints"][0]["requests"] for sample in result.samples]  # GET /api/items
    assert running == sorted(running) and running[0] > 0  # counts since the start only grow
    assert sum(sample["endpoints"][2]["rps"] * (sample["t"] - before)  # GET /broken
               for sample, before in zip(result.samples, [0.0] + [s["t"] for s in result.samples], strict=False)
               ) == pytest.approx(broken, abs=0.01)  # each second's rate covers that second's requests
