"""Runs have names: given by the API, the form or `loadtest --name`, otherwise what ran on what
(a preset's name, or a custom scenario's shape, users and duration, on the target's name), so runs
started through the API are not all called "api". The API shows, filters and sorts by it."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.factories import LoadTestRunFactory
from tests_app import services
from tests_app.models import LoadTestRun, Scenario

pytestmark = pytest.mark.django_db

INLINE = {"target": {"kind": "sandbox", "pods": 4, "algorithm": "round_robin"},
          "scenario": {"shape": "steady", "users": 10, "spawn_rate": 10, "duration_s": 10}}


def test_an_api_run_is_named_after_what_it_runs_not_api(alice, api_for):
    api = api_for(alice)
    custom = api.post(reverse("api:run-list"), INLINE, format="json").json()
    assert custom["name"] == "steady · 10 users · 10 s on sandbox 4 pods round_robin"
    assert custom["scenario_config"]["name"] != "api"
    spike = api.post(reverse("api:run-list"), {**INLINE, "scenario": {
        "shape": "spike", "users": 5, "duration_s": 120, "spike_factor": 3, "spike_at_s": 10, "spike_length_s": 5,
    }}, format="json").json()
    assert spike["name"] == "spike ×3 · 5 users · 2 min on sandbox 4 pods round_robin"
    preset = Scenario.objects.get(owner=None, name="Sustained")
    by_preset = api.post(reverse("api:run-list"), {**INLINE, "scenario": preset.pk}, format="json").json()
    assert by_preset["name"] == "Sustained on sandbox 4 pods round_robin"


def test_the_api_takes_a_name_and_refuses_one_too_long(alice, api_for):
    api = api_for(alice)
    created = api.post(reverse("api:run-list"), {**INLINE, "name": "  nightly canary  "}, format="json")
    assert created.status_code == 201 and created.json()["name"] == "nightly canary"
    too_long = api.post(reverse("api:run-list"), {**INLINE, "name": "x" * 201}, format="json")
    assert too_long.status_code == 400 and "name" in too_long.json()
    assert LoadTestRun.objects.count() == 1


def test_the_api_filters_and_sorts_runs_by_name(alice, api_for):
    canary = LoadTestRunFactory(owner=alice, name="Nightly canary")
    LoadTestRunFactory(owner=alice, name="smoke")
    api = api_for(alice)
    found = api.get(reverse("api:run-list"), {"name": "CANARY"}).json()["results"]
    assert [run["id"] for run in found] == [canary.pk] and found[0]["name"] == "Nightly canary"
    ordered = api.get(reverse("api:run-list"), {"ordering": "name"}).json()["results"]
    assert [run["name"] for run in ordered] == ["Nightly canary", "smoke"]


def test_the_form_takes_a_name(alice, client):
    client.force_login(alice)
    client.post(reverse("run-new"), {"target": "", "sandbox_pods": "2", "sandbox_algorithm": "p2c", "scenario": "",
                                     "shape": "steady", "users": "3", "spawn_rate": "3", "duration_s": "9",
                                     "workers": "1", "name": "checkout smoke"})
    assert LoadTestRun.objects.get().name == "checkout smoke"


def test_loadtest_name_names_the_run(monkeypatch):
    def finish_at_once(run_id, **kwargs):  # the run itself is not what this test is about
        run = LoadTestRun.objects.get(pk=run_id)
        return services.finish_run(run, status=LoadTestRun.Status.PASSED, summary={}, passed=True)

    monkeypatch.setattr(services, "execute_run", finish_at_once)
    call_command("loadtest", "--sandbox", "--pods", "2", "--users", "3", "--duration", "5s", "--name", "ci smoke")
    run = LoadTestRun.objects.get()
    assert run.name == "ci smoke" and run.owner.username == "lblab-cli"


def test_loadtest_without_name_is_named_after_its_flags_and_a_bad_name_is_exit_2(monkeypatch):
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--sandbox", "--name", "n" * 201)
    assert caught.value.returncode == 2 and str(caught.value).startswith("--name: ")
    assert not LoadTestRun.objects.exists()
    monkeypatch.setattr(services, "execute_run", lambda run_id, **kwargs: services.finish_run(
        LoadTestRun.objects.get(pk=run_id), status=LoadTestRun.Status.PASSED, summary={}, passed=True))
    call_command("loadtest", "--sandbox", "--pods", "2", "--users", "3", "--duration", "5s")
    assert LoadTestRun.objects.get().name == "steady · 3 users · 5 s on sandbox 2 pods round_robin"


def test_a_run_made_any_other_way_is_named_too(alice):
    run = LoadTestRunFactory(owner=alice, scenario__name="checkout", target__name="shop")
    assert run.name == "checkout on shop"
