"""The new-run page: a preset or a custom scenario on a saved target or a new sandbox; bad
input is a field error with nothing created; what the API refuses, the page refuses too."""

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory, ScenarioFactory, TargetFactory
from tests_app.models import LoadTestRun, Scenario, Target

pytestmark = pytest.mark.django_db

CUSTOM = {"target": "", "sandbox_pods": "3", "sandbox_algorithm": "least_conn", "scenario": "", "shape": "steady",
          "users": "12", "spawn_rate": "6", "duration_s": "20", "workers": "1", "chaos": "", "autotune": ""}


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def test_page_lists_own_targets_and_presets_not_others(logged_in, alice, bob):
    TargetFactory(owner=alice, name="alice's cluster")
    TargetFactory(owner=bob, name="bob's cluster")
    page = logged_in.get(reverse("run-new")).content.decode()
    assert "alice&#x27;s cluster" in page and "bob&#x27;s cluster" not in page
    assert Scenario.objects.filter(owner=None).exists()
    for preset in Scenario.objects.filter(owner=None):
        assert preset.name in page
    assert 'type="range"' in page  # users, spawn rate and duration are sliders


def test_custom_scenario_on_a_new_sandbox_queues_a_run(logged_in, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = logged_in.post(reverse("run-new"), CUSTOM)
    run = LoadTestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("run-detail", args=[run.pk])
    assert run.owner == alice and run.status == LoadTestRun.Status.QUEUED and len(queued) == 1
    assert (run.target.kind, run.target.pods, run.target.algorithm) == ("sandbox", 3, "least_conn")
    assert run.target.name == "sandbox 3 pods least_conn"  # as the CLI and the API name it
    assert (run.scenario_config["users"], run.scenario_config["spawn_rate"], run.scenario_config["duration_s"]) == (12, 6.0, 20)
    assert run.scenario is None  # a custom scenario is only the run's frozen copy


def test_preset_on_a_saved_target(logged_in, alice):
    target = TargetFactory(owner=alice)
    preset = Scenario.objects.filter(owner=None).first()
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "target": target.pk, "scenario": preset.pk, "workers": "2"})
    run = LoadTestRun.objects.get()
    assert response.status_code == 302
    assert run.target == target and run.scenario == preset and run.workers == 2
    assert run.scenario_config["users"] == preset.users


@pytest.mark.parametrize(("field", "value"), [
    ("users", "0"), ("sandbox_pods", "0"), ("duration_s", "abc"), ("sandbox_algorithm", "fastest"),
    ("chaos", "meteor@1s:1s"), ("workers", "0"),
])
def test_bad_input_is_a_field_error_and_nothing_is_created(logged_in, field, value):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, field: value})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()


def test_chaos_and_autotune_are_refused_with_the_reason(logged_in):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "chaos": "pod_kill@3s:0s"})
    assert "this build cannot inject faults yet" in response.context["form"].errors["chaos"][0]
    assert not LoadTestRun.objects.exists()


def test_someone_elses_target_or_scenario_cannot_be_chosen(logged_in, bob):
    theirs = TargetFactory(owner=bob)
    their_scenario = ScenarioFactory(owner=bob)
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "target": theirs.pk, "scenario": their_scenario.pk})
    assert set(response.context["form"].errors) == {"target", "scenario"}
    assert not LoadTestRun.objects.exists()


def test_stop_button_stops_own_run_and_is_404_for_others(logged_in, alice, bob):
    mine = LoadTestRunFactory(owner=alice, status="running")
    theirs = LoadTestRunFactory(owner=bob, status="running")
    assert logged_in.post(reverse("run-stop", args=[theirs.pk])).status_code == 404
    assert logged_in.post(reverse("run-stop", args=[mine.pk])).status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.stop_requested and mine.status == LoadTestRun.Status.STOPPING
    assert not theirs.stop_requested


def test_live_page_carries_the_socket_path_and_chart_containers(logged_in, alice):
    run = LoadTestRunFactory(owner=alice, status="running")
    page = logged_in.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert f'data-ws-path="/ws/runs/{run.pk}/"' in page
    for chart in ("throughput", "latency", "pod_requests", "pod_throughput", "balance", "cpu", "memory", "connections"):
        assert f'id="chart-{chart}"' in page
    assert "/static/plotly/plotly.min.js" in page and 'id="stop-form"' in page


def test_results_fragment_is_scoped(logged_in, alice, bob):
    theirs = LoadTestRunFactory(owner=bob, status="passed")
    assert logged_in.get(reverse("run-results", args=[theirs.pk])).status_code == 404
