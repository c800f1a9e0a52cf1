"""A user's own locustfile names its requests as it goes: each process numbers the endpoints in the
order it first saw them, and the master renumbers a worker's by name, so the per-endpoint and
failures tables add up whatever order the processes learnt them in."""

import json

from tests_app.engine.stats import OTHER_ENDPOINTS, Aggregator, EndpointNames, Window


def worker_window(requests: list[tuple[str, bool]]) -> dict:
    window = Window(0, endpoint_names=EndpointNames())
    for name, failed in requests:
        number = window.endpoint(name)
        window.record("pod-a", 0.002, failed, number)
        if failed:
            window.record_error(number, "HTTPError", 503, "Service Unavailable", 1000.0)
    return json.loads(json.dumps(window.to_wire()))  # as it travels


def test_workers_that_learnt_endpoints_in_different_orders_add_up_by_name():
    names = EndpointNames()
    aggregator = Aggregator(endpoints=names, epoch=999.0)
    master = Window(0, endpoint_names=names)
    master.merge_wire(worker_window([("GET /", False), ("GET /items/[id]", False), ("GET /items/[id]", True)]))
    master.merge_wire(worker_window([("POST /login", False), ("GET /items/[id]", False), ("GET /", False)]))

    sample = aggregator.sample(master, t=1.0, users=2, active_connections=0)

    rows = {row["endpoint"]: (row["requests"], row["failures"]) for row in sample["endpoints"]}
    assert rows == {"GET /": (2, 0), "GET /items/[id]": (3, 1), "POST /login": (1, 0)}
    assert [row["endpoint"] for row in sample["endpoints"]] == ["GET /", "GET /items/[id]", "POST /login"]
    assert [(row["endpoint"], row["count"]) for row in sample["errors"]] == [("GET /items/[id]", 1)]
    assert sum(count for count, _ in rows.values()) == sample["requests"] == 6


def test_an_endpoint_learnt_after_a_window_was_made_is_listed_with_its_later_counts():
    names = EndpointNames()
    aggregator = Aggregator(endpoints=names)
    first = Window(0, endpoint_names=names)
    first.record(None, 0.001, False, first.endpoint("GET /"))
    aggregator.sample(first, t=1.0, users=1, active_connections=0)
    second = Window(0, endpoint_names=names)
    second.record(None, 0.001, False, second.endpoint("GET /cart"))

    rows = aggregator.sample(second, t=2.0, users=1, active_connections=0)["endpoints"]
    final = aggregator.final(duration_s=2.0, reason="duration")

    assert [(row["endpoint"], row["requests"], row["rps"]) for row in rows] == [("GET /", 1, 0.0), ("GET /cart", 1, 1.0)]
    assert [(row["endpoint"], row["requests"]) for row in final["endpoints"]] == [("GET /", 1), ("GET /cart", 1)]


def test_names_past_the_cap_are_counted_together():
    names = EndpointNames(cap=2)
    numbers = [names.number(f"GET /u/{i}") for i in range(5)]
    assert names.names == ["GET /u/0", "GET /u/1", OTHER_ENDPOINTS]
    assert numbers == [0, 1, 2, 2, 2]
