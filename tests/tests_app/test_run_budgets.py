"""Budgets: what one run may ask of the machine and how many runs a user may have queued or going,
set in settings and enforced by submit_run before anything is queued, on every way in (the API's
400 or 429 naming the field, the form's fields, `loadtest`'s exit 2), with one set of rules."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests_app import services
from tests_app.engine import config as engine_config
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db

SANDBOX = {"kind": "sandbox", "pods": 2}
STEADY = {"shape": "steady", "users": 10, "spawn_rate": 5, "duration_s": 30}


@pytest.fixture
def small_budgets(settings):
    settings.LBLAB_MAX_USERS = 100
    settings.LBLAB_MAX_SPAWN_RATE = 20.0
    settings.LBLAB_MAX_ARRIVAL_RATE = 500.0
    settings.LBLAB_MAX_WORKERS = 2
    settings.LBLAB_MAX_PODS = 8
    settings.LBLAB_MAX_RUN_SECONDS = 600
    settings.LBLAB_MAX_ACTIVE_RUNS_PER_USER = 2
    return settings


@pytest.mark.parametrize(
    ("changes", "where", "field", "message"),
    [
        ({"scenario": {**STEADY, "users": 101}}, "scenario", "users", "at most 100 (LBLAB_MAX_USERS)"),
        ({"scenario": {**STEADY, "shape": "spike", "users": 40, "spike_factor": 3, "spike_at_s": 5, "spike_length_s": 5}},
         "scenario", "users", "at the peak of its shape (120)"),
        ({"scenario": {**STEADY, "shape": "stages", "stages": [{"duration_s": 10, "users": 500}]}},
         "scenario", "users", "(LBLAB_MAX_USERS)"),
        ({"scenario": {**STEADY, "spawn_rate": 21}}, "scenario", "spawn_rate", "(LBLAB_MAX_SPAWN_RATE)"),
        ({"scenario": {**STEADY, "shape": "stages", "stages": [{"duration_s": 10, "users": 5, "spawn_rate": 50}]}},
         "scenario", "stages", "(LBLAB_MAX_SPAWN_RATE)"),
        ({"scenario": {**STEADY, "arrival_rate": 501}}, "scenario", "arrival_rate", "(LBLAB_MAX_ARRIVAL_RATE)"),
        ({"scenario": {**STEADY, "duration_s": 601}}, "scenario", "duration_s", "at most 600 s here (LBLAB_MAX_RUN_SECONDS)"),
        ({"target": {**SANDBOX, "pods": 9}}, "target", "pods", "at most 8 sandbox pods"),
        ({"workers": 3}, None, "workers", "at most 2 Locust worker processes"),
    ],
)
def test_a_run_past_a_budget_is_a_400_naming_the_field(changes, where, field, message, small_budgets, alice, api_for):
    response = api_for(alice).post(reverse("api:run-list"), {"target": SANDBOX, "scenario": STEADY, **changes},
                                   format="json")
    assert response.status_code == 400
    errors = response.json()[where] if where else response.json()
    assert any(message in text for text in errors[field]), response.json()
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()


def test_a_run_within_every_budget_is_created(small_budgets, alice, api_for):
    response = api_for(alice).post(reverse("api:run-list"), {
        "target": {**SANDBOX, "pods": 8}, "workers": 2,
        "scenario": {**STEADY, "users": 100, "spawn_rate": 20, "arrival_rate": 500, "duration_s": 600}}, format="json")
    assert response.status_code == 201, response.content


def test_a_run_longer_than_the_task_timeout_allows_is_refused_by_default(alice, api_for):
    response = api_for(alice).post(reverse("api:run-list"), {
        "target": SANDBOX, "scenario": {**STEADY, "duration_s": 5 * 3600}}, format="json")
    assert response.status_code == 400
    assert "(LBLAB_MAX_RUN_SECONDS)" in response.json()["scenario"]["duration_s"][0]


def test_too_many_queued_runs_is_a_429_and_others_are_not_held_back(small_budgets, alice, bob, api_for):
    client = api_for(alice)
    runs = [client.post(reverse("api:run-list"), {"target": SANDBOX, "scenario": STEADY}, format="json") for _ in range(3)]
    assert [response.status_code for response in runs] == [201, 201, 429]
    assert "you have 2 runs queued or running" in runs[2].json()["runs"][0]
    assert LoadTestRun.objects.filter(owner=alice).count() == 2
    assert api_for(bob).post(reverse("api:run-list"), {"target": SANDBOX, "scenario": STEADY},
                             format="json").status_code == 201
    client.post(reverse("api:run-stop", args=[runs[0].json()["id"]]))  # a queued run stopped is cancelled
    assert client.post(reverse("api:run-list"), {"target": SANDBOX, "scenario": STEADY},
                       format="json").status_code == 201


def test_the_form_shows_a_budget_on_its_field(small_budgets, client, alice):
    client.force_login(alice)
    response = client.post(reverse("run-new"), {
        "target": "", "sandbox_pods": "2", "sandbox_algorithm": "round_robin", "scenario": "", "shape": "steady",
        "users": "500", "spawn_rate": "5", "duration_s": "20", "workers": "1", "chaos": "", "autotune": ""})
    assert response.status_code == 200
    assert "(LBLAB_MAX_USERS)" in response.context["form"].errors["users"][0]
    assert not LoadTestRun.objects.exists()


@pytest.mark.parametrize(
    ("flags", "reason"),
    [(["--users", "101", "--spawn-rate", "5"], "--users: more users than a run may have here: at most 100"),
     (["--workers", "3"], "--workers: at most 2 Locust worker processes"),
     (["--pods", "9"], "--pods: at most 8 sandbox pods"),
     (["--duration", "11m"], "--duration: a run lasts at most 600 s here")],
)
def test_loadtest_refuses_a_run_past_a_budget_with_exit_2(flags, reason, small_budgets):
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--sandbox", *flags)
    assert caught.value.returncode == 2
    assert str(caught.value).startswith(reason), str(caught.value)
    assert not LoadTestRun.objects.exists()


def test_loadtest_by_default_starts_users_as_fast_as_the_budget_lets(small_budgets, monkeypatch):
    """Without --spawn-rate every user starts in the first second: never faster than the budget."""
    seen = []
    monkeypatch.setattr(services, "execute_run", lambda run_id, **kw: seen.append(run_id) or LoadTestRun.objects.get(
        pk=run_id))
    with pytest.raises(CommandError):  # the run never ran, so it has no verdict: exit 1
        call_command("loadtest", "--sandbox", "--users", "100")
    assert LoadTestRun.objects.get(pk=seen[0]).scenario_spec.spawn_rate == 20.0


def test_what_the_engine_would_refuse_at_start_is_refused_first(alice, monkeypatch):
    """One set of rules: the configuration a run would start Locust with is checked by the engine's
    own rules when the run is created, and the field it names is the run request's."""
    def refuse(config):
        raise engine_config.ConfigError("must be <= 2", field="shape.spike_factor")

    monkeypatch.setattr(engine_config, "parse_config", refuse)
    with pytest.raises(services.RunRejected) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(target=SANDBOX, scenario=STEADY))
    assert caught.value.errors == {"scenario": {"spike_factor": ["shape.spike_factor: must be <= 2"]}}
    assert not LoadTestRun.objects.exists()
