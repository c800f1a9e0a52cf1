"""Tasks queued after commit are executed by a real `manage.py qcluster` worker, on the
test database (and on Redis when REDIS_URL is set), exactly as in production."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from metrics_app.models import MetricSample
from tests.conftest import wait_for
from tests.factories import LoadTestRunFactory, ScenarioFactory, TargetFactory
from tests_app import services
from tests_app.models import LoadTestRun


@pytest.mark.timeout(240)
def test_worker_runs_a_started_run_to_its_end(qcluster, alice):
    scenario = ScenarioFactory(owner=alice, users=4, spawn_rate=4, duration_s=3)
    target = TargetFactory(owner=alice, pods=2)
    run = services.submit_run(owner=alice, request=services.RunRequest(target=target, scenario=scenario))
    wait_for(lambda: LoadTestRun.objects.get(pk=run.pk).is_finished, "the run to end", deadline_s=180)
    run.refresh_from_db()
    assert run.attempt == 1
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    assert MetricSample.objects.filter(run=run).exists()
    assert run.summary["requests"] > 0


@pytest.mark.timeout(180)
def test_worker_runs_the_reaper(qcluster, alice):
    run = services.claim_run(LoadTestRunFactory(owner=alice).pk)
    LoadTestRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    with transaction.atomic():
        services.queue_reaper()
    wait_for(lambda: LoadTestRun.objects.get(pk=run.pk).status == LoadTestRun.Status.ERROR, "the reaper")
    assert "no heartbeat" in LoadTestRun.objects.get(pk=run.pk).error
