"""Chaos a run cannot do is refused before anything starts, with one clear reason on the field it
came from (`loadtest`: the flag and exit 2; the API: 400 on the field, in tests_app's API tests;
the form: on the field), and nothing is created."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from chaos_app.models import ChaosExperiment, ChaosInjection
from tests.factories import ScenarioFactory, TargetFactory, UrlTargetFactory
from tests_app import services
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("flags", "reason"), [
    (["--chaos", "pod_kill@3s:0s::pod-4"], "--chaos: pod_kill@3s:0s:medium:pod-4: unknown pod 'pod-4'; the target's "
                                           "pods are pod-0, pod-1, pod-2, pod-3"),
    (["--chaos", "pod_kill@3s:0s::pod-1-ab12c"], "--chaos: pod_kill@3s:0s:medium:pod-1-ab12c: 'pod-1-ab12c' names a pod"),
    (["--chaos", "node_drain@3s:5s::node-2"], "--chaos: node_drain@3s:5s:medium:node-2: unknown node 'node-2'"),
    (["--chaos", "latency@3s:5s:extreme"], "--chaos: 'latency@3s:5s:extreme': severity must be low, medium or high"),
    (["--chaos", "latency@30s:5s", "--duration", "30s"], "--chaos: latency@30s:5s:medium: starts at 30 s, at or "
                                                         "after the end of the 30 s load"),
    (["--chaos", "errors@3s:10s::pod-1", "--chaos", "pod_kill@5s:0s::pod-1"], "--chaos: errors@3s:10s:medium:pod-1 and "
                                                                               "pod_kill@5s:0s:medium:pod-1 overlap"),
    (["--experiment", "nope"], "--experiment: no chaos experiment 'nope' you can use"),
    (["--retries", "11"], "--retries: Ensure this value is less than or equal to 10."),
])
def test_loadtest_refuses_with_the_flag_and_creates_nothing(flags, reason):
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--sandbox", *flags)
    assert caught.value.returncode == 2
    assert str(caught.value).startswith(reason), str(caught.value)
    assert "\n" not in str(caught.value)
    assert not LoadTestRun.objects.exists() and not Target.objects.exists() and not ChaosInjection.objects.exists()


def test_a_url_target_cannot_take_faults_and_says_what_still_works(alice):
    with pytest.raises(services.RunRejected) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(
            target=UrlTargetFactory(owner=alice, base_url="http://127.0.0.1:9"), scenario=ScenarioFactory(owner=alice),
            chaos=["pod_kill@3s:0s"]))
    (message,) = caught.value.errors["chaos"]
    assert "cannot inject faults into a URL target" in message and "external@START:DURATION" in message
    assert not LoadTestRun.objects.exists()


def test_steps_and_an_experiment_together_are_refused(alice):
    ChaosExperiment.objects.create(name="Kill one", steps=[{"kind": "pod_kill", "start_s": 4, "duration_s": 0}])
    with pytest.raises(services.RunRejected) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(
            target=TargetFactory(owner=alice), scenario=ScenarioFactory(owner=alice), chaos=["pod_kill@3s:0s"],
            experiment="Kill one"))
    assert caught.value.errors["chaos"] == ["give chaos steps or an experiment, not both"]
    assert not LoadTestRun.objects.exists()


def test_someone_elses_experiment_cannot_be_attached(alice, bob):
    ChaosExperiment.objects.create(owner=bob, name="bobs", steps=[{"kind": "pod_kill", "start_s": 4, "duration_s": 0}])
    with pytest.raises(services.RunRejected) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(
            target=TargetFactory(owner=alice), scenario=ScenarioFactory(owner=alice), experiment="bobs"))
    assert "no chaos experiment 'bobs'" in caught.value.errors["experiment"][0]


def test_an_experiments_steps_are_checked_against_the_target_on_the_experiment_field(alice):
    ChaosExperiment.objects.create(owner=alice, name="far", steps=[
        {"kind": "pod_kill", "target": "pod-9", "start_s": 4, "duration_s": 0}])
    with pytest.raises(services.RunRejected) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(
            target=TargetFactory(owner=alice), scenario=ScenarioFactory(owner=alice), experiment="far"))
    assert "unknown pod 'pod-9'" in caught.value.errors["experiment"][0]


@pytest.mark.parametrize(("stop", "message"), [
    ({"max_error_rate": 2}, "max_error_rate: must be <= 1"),
    ({"for_s": 0}, "for_s: must be >= 1"),
    ({"after": 3}, "Unknown key(s) after"),
    ([], "An object with keys among"),
])
def test_stop_conditions_are_validated(stop, message):
    experiment = ChaosExperiment(name="x", steps=[{"kind": "pod_kill", "start_s": 1, "duration_s": 0}],
                                 stop_conditions=stop)
    with pytest.raises(ValidationError) as caught:
        experiment.full_clean()
    assert message in caught.value.message_dict["stop_conditions"][0]


def test_retries_is_a_sandbox_target_option_of_every_medium(alice, api_for):
    response = api_for(alice).post("/api/runs/", {
        "target": {"kind": "sandbox", "pods": 2, "retries": 0}, "scenario": {"users": 2, "duration_s": 5},
        "chaos": ["pod_kill@2s:0s::pod-1"]}, format="json")
    assert response.status_code == 201, response.content
    target = Target.objects.get()
    assert target.retries == 0 and target.name == "sandbox 2 pods round_robin retries 0"
    assert target.spec().retries == 0
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--target", "http://127.0.0.1:9", "--no-retries")
    assert str(caught.value).startswith("--no-retries: only the sandbox's balancer has retries")


def test_an_experiment_name_with_a_nul_is_no_such_experiment(alice):
    with pytest.raises(services.RunRejected) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(
            target=TargetFactory(owner=alice), scenario=ScenarioFactory(owner=alice), experiment="a\x00b"))
    assert caught.value.errors["experiment"]
    assert not LoadTestRun.objects.exists()
