"""A run end to end through the run service (a real Locust master and two workers against a
loopback target with a broken endpoint): the summary, the API's run detail and the live
tables kept for the run hold the per-endpoint table and the failures, exactly as the target
counted them."""

import pytest
from django.urls import reverse

from metrics_app.selectors import request_stats
from tests.factories import ScenarioFactory, UrlTargetFactory
from tests_app import services
from tests_app.engine.testing import PodEchoServer
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

MIX = [{"path": "/api/items", "method": "GET", "weight": 3}, {"path": "/broken", "method": "GET", "weight": 1}]


def test_summary_api_and_live_tables_hold_each_endpoint_and_the_failures(alice, api_for):
    with PodEchoServer(["pod-a", "pod-b"], header="X-Pod", failing={"/broken": 503}) as server:
        target = UrlTargetFactory(owner=alice, base_url=server.url, expected_pod_count=2)
        scenario = ScenarioFactory(owner=alice, users=4, spawn_rate=4, duration_s=3, request_mix=MIX)
        run = services.submit_run(owner=alice, queue=False,
                                  request=services.RunRequest(target=target, scenario=scenario, workers=2))
        run = services.execute_run(run.pk)
        served = dict(server.requests)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    summary = run.summary
    assert [(row["endpoint"], row["requests"]) for row in summary["endpoints"]] == [
        ("GET /api/items", served[("GET", "/api/items")]), ("GET /broken", served[("GET", "/broken")])]
    broken = served[("GET", "/broken")]
    assert summary["endpoints"][1]["failures"] == broken == summary["failures"] > 0
    [error] = summary["errors"]
    assert (error["endpoint"], error["type"], error["status"], error["message"], error["count"]) == (
        "GET /broken", "HTTPError", 503, "Service Unavailable", broken)

    detail = api_for(alice).get(reverse("api:run-detail", args=[run.pk])).json()
    assert detail["summary"]["endpoints"] == summary["endpoints"]
    assert detail["summary"]["errors"] == summary["errors"]

    live = request_stats(run.pk)  # what a reload of the live page is sent: the last second's tables
    assert [(row["endpoint"], row["requests"]) for row in live["endpoints"]] == [
        (row["endpoint"], row["requests"]) for row in summary["endpoints"]]
    assert [(e["endpoint"], e["count"]) for e in live["errors"]] == [("GET /broken", broken)]


class ListenerFailed(Exception):
    pass


def test_a_run_that_fails_midway_keeps_the_tables_it_measured(alice):
    def attach(events):
        def fail_at_the_third_second(ctx, second):
            if second.t >= 3:
                raise ListenerFailed("a listener failed")  # as a broken panel or database would end the run

        events.second.add_listener(fail_at_the_third_second)

    with PodEchoServer(["pod-a", "pod-b"], header="X-Pod", failing={"/broken": 503}) as server:
        target = UrlTargetFactory(owner=alice, base_url=server.url, expected_pod_count=2)
        scenario = ScenarioFactory(owner=alice, users=2, spawn_rate=2, duration_s=30, request_mix=MIX)
        run = services.submit_run(owner=alice, queue=False,
                                  request=services.RunRequest(target=target, scenario=scenario))
        run = services.execute_run(run.pk, listeners=[attach])
    assert run.status == LoadTestRun.Status.ERROR and "a listener failed" in run.error
    live = request_stats(run.pk)
    assert [row["endpoint"] for row in run.summary["endpoints"]] == ["GET /api/items", "GET /broken"]
    assert run.summary["endpoints"] == live["endpoints"] and run.summary["errors"] == live["errors"]
    assert run.summary["errors"][0]["count"] == run.summary["endpoints"][1]["failures"] > 0
