"""Killing the worker mid-run: no Locust or sandbox process survives it, and the reaper
ends the run as `error` (worker lost); the samples recorded so far are kept."""

import os
import signal
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from metrics_app.models import MetricSample
from tests.conftest import wait_for
from tests.factories import ScenarioFactory, TargetFactory
from tests_app import services
from tests_app.models import LoadTestRun


def is_load_process(process: psutil.Process) -> bool:
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return "locust" in command or "clusters.sandbox" in command


@pytest.mark.timeout(240)
def test_sigkill_of_the_worker_leaves_no_load_behind_and_the_run_ends_as_error(qcluster, alice):
    scenario = ScenarioFactory(owner=alice, users=4, spawn_rate=4, duration_s=120)
    target = TargetFactory(owner=alice, pods=2)
    run = services.submit_run(owner=alice, request=services.RunRequest(target=target, scenario=scenario))
    wait_for(lambda: MetricSample.objects.filter(run=run).count() >= 2, "the run to record samples", deadline_s=120)
    load = [p for p in psutil.Process(qcluster.pid).children(recursive=True) if is_load_process(p)]
    assert any("locust" in " ".join(p.cmdline()) for p in load)  # the run really is sending load

    os.killpg(qcluster.pid, signal.SIGKILL)  # the worker dies; Locust and the sandbox are in groups of their own
    _, alive = psutil.wait_procs(load, timeout=30)
    assert not alive, [" ".join(p.cmdline()) for p in alive]

    # The reaper runs every minute in production; here its heartbeat cut-off is passed by hand.
    LoadTestRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    assert services.reap_stale_runs() == 1
    run.refresh_from_db()
    assert run.status == LoadTestRun.Status.ERROR and "worker lost" in run.error
    assert MetricSample.objects.filter(run=run).count() >= 2
