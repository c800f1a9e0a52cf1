"""A scale change during a run is on its timeline: a HorizontalPodAutoscaler scales the Kubernetes
target's Deployment mid-run (the API emulator does what the HPA controller does), and the run keeps
the change on the load clock with who made it and the HPA's reading; the live `events` message, the
summary's `scaling`, the charts' marks and the report all show that one record."""

from __future__ import annotations

import threading

import pytest

from metrics_app.figures import scaling_label
from metrics_app.reports import md_cell, run_report_markdown
from tests.conftest import wait_for
from tests.factories import ScenarioFactory
from tests.kube_support import emulated_namespace, kubernetes_target
from tests_app import services
from tests_app.models import LoadTestRun
from tests_app.selectors import report_figures, run_events

DURATION_S = 8


@pytest.fixture
def kube(tmp_path, monkeypatch, settings):
    yield from emulated_namespace(tmp_path, monkeypatch, settings)


def hpa_scales_once_the_load_runs(api, replicas: int) -> threading.Thread:
    """The HPA decides once the run has read the pods' metrics three times (three seconds of load)."""
    def decide():
        wait_for(lambda: sum("metrics.k8s.io" in request.path for request in list(api.requests)) >= 3,
                 "three seconds of load", poll_s=0.05)
        api.hpa_scales(replicas, cpu_utilisation=85)

    thread = threading.Thread(target=decide, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_an_hpa_scale_up_mid_run_is_on_the_runs_timeline(alice, kube):
    sandbox, api = kube
    api.add_hpa(min_replicas=2, max_replicas=6, cpu_target=60)
    deciding = hpa_scales_once_the_load_runs(api, 5)
    scenario = ScenarioFactory(owner=alice, users=8, spawn_rate=8, duration_s=DURATION_S)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=kubernetes_target(alice, sandbox), scenario=scenario), queue=False)
    run = services.execute_run(run.pk)
    deciding.join(timeout=5)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error

    [change] = run.summary["scaling"]
    assert {key: change[key] for key in ("replicas", "previous", "by", "desired", "autoscaler")} == {
        "replicas": 5, "previous": 3, "by": "hpa", "desired": 5, "autoscaler": "web"}
    assert change["metrics"] == [{"name": "cpu", "current": 85, "target": 60, "unit": "%"}]
    assert 0 < change["t"] < DURATION_S  # on the load's clock, during the load
    assert change["type"] == "scaled"
    assert LoadTestRun.objects.get(pk=run.pk).timeline == [change]  # the record the live page reads
    assert run_events(run.pk)["timeline"] == [change]

    label = scaling_label(change)
    assert label == "replicas 3 -> 5 by hpa (cpu 85/60 %)"
    throughput = report_figures(run)["throughput"]
    assert label.replace(">", "&gt;") in [note["text"] for note in throughput["layout"]["annotations"]]
    report = run_report_markdown(run.summary, run_name=run.name, run_id=run.pk)
    assert f"| {change['t']:.1f} | {md_cell(label)} |" in report.split("## Scaling")[1]
