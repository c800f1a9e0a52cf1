"""`GET /metrics`: LB Lab's own metrics in Prometheus' text format, parsed back with
prometheus-client's own parser; the database's figures (runs by status, durations, samples,
queue depth) and this process's (request latency by view, WebSocket clients)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from metrics_app.models import MetricSample
from tests.factories import LoadTestRunFactory
from tests_app.models import LoadTestRun


def scrape(client) -> dict[str, dict]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {}
    for family in text_string_to_metric_families(response.content.decode()):
        families[family.name] = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                                 for sample in family.samples}
    return families


@pytest.mark.django_db
def test_runs_by_status_and_their_durations_come_from_the_database(client):
    now = timezone.now()
    for seconds, status in ((20, "passed"), (90, "failed"), (400, "passed")):
        LoadTestRunFactory(status=status, started_at=now - timedelta(seconds=seconds), ended_at=now)
    LoadTestRunFactory(status="queued")
    run = LoadTestRun.objects.first()
    MetricSample.objects.create(run=run, t=1.0, requests=10)
    MetricSample.objects.create(run=run, t=2.0, requests=10)

    metrics = scrape(client)
    runs = metrics["lblab_runs"]
    assert runs[("lblab_runs", (("status", "passed"),))] == 2
    assert runs[("lblab_runs", (("status", "failed"),))] == 1
    assert runs[("lblab_runs", (("status", "queued"),))] == 1
    assert runs[("lblab_runs", (("status", "running"),))] == 0
    durations = metrics["lblab_run_duration_seconds"]
    assert durations[("lblab_run_duration_seconds_bucket", (("le", "30.0"),))] == 1
    assert durations[("lblab_run_duration_seconds_bucket", (("le", "120.0"),))] == 2
    assert durations[("lblab_run_duration_seconds_bucket", (("le", "+Inf"),))] == 3
    assert durations[("lblab_run_duration_seconds_count", ())] == 3
    assert durations[("lblab_run_duration_seconds_sum", ())] == pytest.approx(510, abs=1)
    assert metrics["lblab_samples_written"][("lblab_samples_written_total", ())] == 2
    assert metrics["lblab_task_queue_depth"][("lblab_task_queue_depth", ())] >= 0


@pytest.mark.django_db
def test_its_own_requests_are_timed_by_view_name_not_path(client, alice):
    client.get("/healthz")
    client.get("/no/such/page/")
    metrics = scrape(client)
    latency = metrics["lblab_http_request_duration_seconds"]
    counted = {dict(labels)["view"]: value for (name, labels), value in latency.items()
               if name == "lblab_http_request_duration_seconds_count"}
    assert counted["healthz"] >= 1 and counted["unmatched"] >= 1
    assert not any("/" in view for view in counted)  # a run id never becomes a label
    assert ("lblab_websocket_clients", ()) in metrics["lblab_websocket_clients"]
