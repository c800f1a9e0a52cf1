"""The reaper undoes what a run whose worker died left applied: through the target's cluster,
reopened, when there is one to reopen; a cluster that ended with the worker took its faults along."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chaos_app.models import ChaosInjection
from clusters.targets import TARGET_KINDS
from tests.clusters.support import RecordingCluster
from tests.factories import ChaosInjectionFactory, LoadTestRunFactory
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = pytest.mark.django_db(transaction=True)


def lost_run_with_a_fault(alice):
    run = LoadTestRunFactory(owner=alice, status=LoadTestRun.Status.RUNNING,
                             heartbeat_at=timezone.now() - timedelta(seconds=31), chaos=["latency@1s:60s:high:pod-1"])
    ChaosInjectionFactory(run=run, step=0, kind="latency", rollback=ChaosInjection.Rollback.PENDING)
    ChaosInjectionFactory(run=run, step=1, kind="pod_kill", rollback=ChaosInjection.Rollback.ROLLED_BACK)
    return run


def test_a_reopened_cluster_is_restored_and_the_injection_marked(alice, monkeypatch):
    cluster = RecordingCluster()
    monkeypatch.setattr(TARGET_KINDS["sandbox"], "reopen", lambda spec, run_id=None: cluster)
    run = lost_run_with_a_fault(alice)
    assert services.reap_stale_runs() == 1
    assert ("restore",) in cluster.calls
    open_one = ChaosInjection.objects.get(run=run, step=0)
    assert open_one.rollback == ChaosInjection.Rollback.ROLLED_BACK and "reopened and restored" in open_one.error
    assert ChaosInjection.objects.get(run=run, step=1).error == ""  # already rolled back: untouched


def test_a_cluster_that_cannot_be_restored_is_marked_failed(alice, monkeypatch):
    class Unreachable(RecordingCluster):
        def restore(self):
            raise ConnectionError("control API unreachable")

    monkeypatch.setattr(TARGET_KINDS["sandbox"], "reopen", lambda spec, run_id=None: Unreachable())
    run = lost_run_with_a_fault(alice)
    services.reap_stale_runs()
    failed = ChaosInjection.objects.get(run=run, step=0)
    assert failed.rollback == ChaosInjection.Rollback.FAILED and "control API unreachable" in failed.error
