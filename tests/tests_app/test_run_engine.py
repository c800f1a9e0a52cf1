"""A run end to end through the run service: the real sandbox, a real Locust subprocess,
rows on the test database. Totals are exact sums of the seconds; balance figures follow
the definitions; a stop keeps the data; a failing target still gives a finished run."""

import statistics

import pytest
from django.db.models import Sum

from metrics_app.models import CompareSeries, MetricSample, PodSample
from tests.factories import ScenarioFactory, TargetFactory, UrlTargetFactory
from tests_app import services
from tests_app.engine.testing import LoopbackHTTPServer, QuietHandler
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def make_run(owner, target, **scenario):
    scenario = ScenarioFactory(owner=owner, **{"users": 6, "spawn_rate": 6, "duration_s": 4, **scenario})
    return services.submit_run(owner=owner, request=services.RunRequest(target=target, scenario=scenario), queue=False)


def test_run_records_each_second_and_totals_are_exact(alice):
    run = make_run(alice, TargetFactory(owner=alice, pods=3, algorithm="round_robin", service_time_ms=0.5))
    run = services.execute_run(run.pk)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    summary = run.summary
    seconds = MetricSample.objects.filter(run=run)
    assert seconds.count() >= 4
    assert seconds.aggregate(total=Sum("requests"))["total"] == summary["requests"] > 0
    for pod, figures in summary["pods"].items():
        recorded = PodSample.objects.filter(run=run, pod=pod).aggregate(total=Sum("requests"))["total"]
        assert recorded == figures["requests"], pod
    assert len(summary["pods"]) == 3
    counts = [figures["requests"] for figures in summary["pods"].values()]
    cv = statistics.pstdev(counts) / statistics.mean(counts)
    assert summary["balance"]["cv"] == pytest.approx(cv, abs=1e-9)
    assert summary["balance"]["score"] == pytest.approx(max(0.0, 1 - cv / 0.5) * 100, abs=1e-6)
    assert summary["verdict"] == {"passed": run.verdict_passed, "reasons": run.verdict_reasons}
    assert run.heartbeat_at is not None and run.attempt == 1
    stored = CompareSeries.objects.get(run=run).series  # stored as the run ended
    assert stored["t"] == list(seconds.order_by("t").values_list("t", flat=True))


def test_stop_half_way_is_cancelled_and_keeps_the_data(alice):
    run = make_run(alice, TargetFactory(owner=alice, pods=2), duration_s=60)
    seen = []

    def stop_after_two_seconds(ctx, second):
        seen.append(second.t)
        if len(seen) == 2:
            services.request_stop(run=LoadTestRun.objects.get(pk=ctx.run_id))

    run = services.execute_run(run.pk, listeners=[lambda events: events.second.add_listener(stop_after_two_seconds)])
    assert run.status == LoadTestRun.Status.CANCELLED
    assert MetricSample.objects.filter(run=run).count() >= 2
    assert run.summary["requests"] == MetricSample.objects.filter(run=run).aggregate(t=Sum("requests"))["t"] > 0
    assert run.ended_at is not None


class AlwaysFailing(QuietHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def failing_server():
    with LoopbackHTTPServer(AlwaysFailing) as server:
        yield server.url


def test_a_target_failing_every_request_gives_a_finished_failed_run(alice, failing_server):
    run = make_run(alice, UrlTargetFactory(owner=alice, base_url=failing_server), users=2, duration_s=3)
    run = services.execute_run(run.pk)
    assert run.status == LoadTestRun.Status.FAILED
    assert run.summary["requests"] > 0
    assert run.summary["failures"] == run.summary["requests"]
    assert run.summary["unattributed"] == run.summary["requests"]  # no X-Pod on any answer
    assert any("error rate" in reason for reason in run.verdict_reasons)
