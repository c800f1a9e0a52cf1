"""A task queued after commit is executed by a real `manage.py qcluster` worker.

The worker is a separate process on the test database (and on Redis when REDIS_URL is
set), exactly as in production; it is stopped by its process group.
"""

import os
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import PYTHON, REPO
from tests.factories import LoadTestRunFactory, ScenarioFactory, TargetFactory
from tests_app import services
from tests_app.models import LoadTestRun


@pytest.fixture
def qcluster(child_env):
    process = subprocess.Popen(
        [PYTHON, "manage.py", "qcluster"], cwd=REPO, env=child_env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(predicate, what: str, deadline_s: float = 90.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.mark.timeout(180)
def test_worker_claims_a_started_run(qcluster, alice):
    run = services.start_run(owner=alice, target=TargetFactory(owner=alice), scenario=ScenarioFactory(owner=alice))
    wait_for(lambda: LoadTestRun.objects.get(pk=run.pk).attempt == 1, "the worker to claim the run")
    wait_for(lambda: LoadTestRun.objects.get(pk=run.pk).is_finished, "the run to end")
    run.refresh_from_db()
    assert run.started_at is not None and run.ended_at is not None
    assert run.error == services.NO_LOAD_ENGINE


@pytest.mark.timeout(180)
def test_worker_runs_the_reaper(qcluster, alice):
    run = services.claim_run(LoadTestRunFactory(owner=alice).pk)
    LoadTestRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    from django.db import transaction

    with transaction.atomic():
        services.queue_reaper()
    wait_for(lambda: LoadTestRun.objects.get(pk=run.pk).status == LoadTestRun.Status.ERROR, "the reaper")
    assert "no heartbeat" in LoadTestRun.objects.get(pk=run.pk).error
