"""A fault is never left behind when the process running the run goes away: Ctrl-C on `loadtest`
mid-fault, and SIGKILL of the worker mid-fault followed by the reaper."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from chaos_app.models import ChaosInjection
from tests.conftest import PYTHON, REPO, wait_for
from tests.factories import ScenarioFactory, TargetFactory
from tests.tests_app.test_worker_killed import is_load_process
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def applied() -> ChaosInjection:
    wait_for(lambda: ChaosInjection.objects.filter(rollback=ChaosInjection.Rollback.PENDING).exists(),
             "the fault to be applied", deadline_s=120)
    return ChaosInjection.objects.get()


def test_ctrl_c_of_loadtest_mid_fault_rolls_it_back_and_leaves_no_process(child_env):
    process = subprocess.Popen(
        [PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", "2", "--users", "4", "--duration", "60s",
         "--chaos", "latency@1s:50s:high:pod-1"],
        cwd=REPO, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    applied()
    children = psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    injection = ChaosInjection.objects.get()
    assert injection.rollback == ChaosInjection.Rollback.ROLLED_BACK and injection.ended_at_s < 50
    assert LoadTestRun.objects.get().status == LoadTestRun.Status.CANCELLED
    assert "Chaos" in out and "latency@1s:50s:high:pod-1" in out  # the results say what was done
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []


@pytest.mark.timeout(300)
def test_sigkill_of_the_worker_mid_fault_then_the_reaper_rolls_it_back(qcluster, alice):
    scenario = ScenarioFactory(owner=alice, users=4, spawn_rate=4, duration_s=120)
    target = TargetFactory(owner=alice, pods=2)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, chaos=["latency@1s:100s:high:pod-1"]))
    applied()
    load = [p for p in psutil.Process(qcluster.pid).children(recursive=True) if is_load_process(p)]
    assert any("clusters.sandbox" in " ".join(p.cmdline()) for p in load)

    os.killpg(qcluster.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(load, timeout=30)
    assert not alive, [" ".join(p.cmdline()) for p in alive]  # the sandbox, its fault with it, is gone

    LoadTestRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    assert services.reap_stale_runs() == 1
    run.refresh_from_db()
    assert run.status == LoadTestRun.Status.ERROR
    injection = ChaosInjection.objects.get(run=run)
    assert injection.rollback == ChaosInjection.Rollback.ROLLED_BACK
    assert "rolled back by the reaper" in injection.error
