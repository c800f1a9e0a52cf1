"""The runs API of ARCHITECTURE.md s6: start with ids or inline objects, stop, read the
seconds since t; bad input is 400 with the field and nothing created; others' runs 404."""

import pytest
from django.urls import reverse

from metrics_app.models import MetricSample
from tests.factories import LoadTestRunFactory, MetricSampleFactory, PodSampleFactory, ScenarioFactory, TargetFactory
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db

INLINE = {"target": {"kind": "sandbox", "pods": 4, "algorithm": "round_robin"},
          "scenario": {"shape": "steady", "users": 10, "spawn_rate": 10, "duration_s": 10}}


def test_start_with_inline_objects_is_201_queued_and_queues_the_task(alice, api_for,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_for(alice).post(reverse("api:run-list"), {**INLINE, "chaos": [], "autotune": None},
                                       format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["scenario_config"]["users"] == 10
    run = LoadTestRun.objects.get(pk=body["id"])
    assert run.owner == alice and run.target.pods == 4 and run.target.name == "sandbox 4 pods round_robin"
    assert len(callbacks) == 1


def test_the_same_inline_target_is_reused(alice, api_for):
    api = api_for(alice)
    api.post(reverse("api:run-list"), INLINE, format="json")
    api.post(reverse("api:run-list"), INLINE, format="json")
    assert Target.objects.filter(owner=alice).count() == 1
    assert LoadTestRun.objects.filter(owner=alice).count() == 2


def test_start_with_ids(alice, api_for):
    target, scenario = TargetFactory(owner=alice), ScenarioFactory(owner=alice, users=3)
    response = api_for(alice).post(reverse("api:run-list"), {"target": target.pk, "scenario": scenario.pk},
                                   format="json")
    assert response.status_code == 201
    assert response.json()["target"] == target.pk and response.json()["scenario"] == scenario.pk


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({**INLINE, "target": {"kind": "sandbox", "pods": 0}}, "target", "pods"),
        ({**INLINE, "target": {"kind": "url", "base_url": "http://203.0.113.9"}}, "target", "base_url"),
        ({**INLINE, "target": "four pods"}, "target", "A target id or a target object."),
        ({**INLINE, "scenario": {"users": 0}}, "scenario", "users"),
        ({**INLINE, "scenario": 999999}, "scenario", "No such scenario."),
        ({**INLINE, "chaos": ["meteor@1s:1s"]}, "chaos", "unknown chaos kind 'meteor'"),
        ({**INLINE, "chaos": ["pod_kill@3s:0s::pod-9"]}, "chaos", "unknown pod 'pod-9'"),
        ({**INLINE, "chaos": ["latency@1s:2s", "latency@2s:2s::all"]}, "chaos", "replace the first"),
        ({**INLINE, "chaos": ["node_drain@1s:2s::node-7"]}, "chaos", "unknown node 'node-7'"),
        ({**INLINE, "chaos": ["pod_kill@3600s:0s"]}, "chaos", "at or after the end"),
        ({**INLINE, "chaos": "pod_kill@3s:0s"}, "chaos", ""),
        ({**INLINE, "target": {"kind": "url", "base_url": "http://127.0.0.1:9"}, "chaos": ["pod_kill@3s:0s"]},
         "chaos", "cannot inject faults into a URL target"),
        ({**INLINE, "experiment": "no such one"}, "experiment", "no chaos experiment 'no such one'"),
        ({**INLINE, "autotune": 999999}, "autotune", "tuning policy 999999 does not exist"),
        ({**INLINE, "workers": 0}, "workers", ""),
        ({"scenario": INLINE["scenario"]}, "target", ""),
    ],
)
def test_bad_input_is_400_with_the_field_and_nothing_created(payload, field, message, alice, api_for):
    response = api_for(alice).post(reverse("api:run-list"), payload, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field])
    assert not LoadTestRun.objects.exists()
    assert not Target.objects.exists()


def test_someone_elses_target_id_is_no_such_target(alice, bob, api_for):
    response = api_for(alice).post(reverse("api:run-list"),
                                   {"target": TargetFactory(owner=bob).pk, "scenario": INLINE["scenario"]}, format="json")
    assert response.status_code == 400 and response.json()["target"] == ["No such target."]


def test_stop_cancels_a_queued_run_and_others_get_404(alice, bob, api_for):
    run = LoadTestRunFactory(owner=alice)
    assert api_for(bob).post(reverse("api:run-stop", args=[run.pk])).status_code == 404
    response = api_for(alice).post(reverse("api:run-stop", args=[run.pk]))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_samples_since_returns_later_seconds_with_their_pods(alice, bob, api_for):
    run = LoadTestRunFactory(owner=alice)
    for t in (1.0, 2.0, 3.0):
        MetricSampleFactory(run=run, t=t, requests=10 * t)
        PodSampleFactory(run=run, t=t, pod="pod-0", requests=6 * t)
        PodSampleFactory(run=run, t=t, pod="pod-1", requests=4 * t)
    url = reverse("api:run-samples", args=[run.pk])
    body = api_for(alice).get(url, {"since": 1.0}).json()
    assert [s["t"] for s in body["samples"]] == [2.0, 3.0]
    assert body["samples"][1]["pods"]["pod-0"]["requests"] == 18
    assert sum(p["requests"] for p in body["samples"][0]["pods"].values()) == body["samples"][0]["requests"]
    assert len(api_for(alice).get(url).json()["samples"]) == MetricSample.objects.filter(run=run).count()
    assert api_for(alice).get(url, {"since": "soon"}).status_code == 400
    assert api_for(bob).get(url).status_code == 404
