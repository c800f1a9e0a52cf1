"""The new-run page: a preset or a custom scenario (every field the API takes) on a saved target
or a new sandbox; bad input is a field error with nothing created, every error in one round; what
the API refuses, the page refuses too, and what this build cannot do is not offered as working.
The operator's registered locustfiles are a scenario source, each offered with its user classes."""

import hashlib
import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from chaos_app.models import ChaosExperiment
from clusters.algorithms import ALGORITHMS
from tests.factories import LoadTestRunFactory, ScenarioFactory, TargetFactory, TuningPolicyFactory
from tests.tests_app.locustfile_support import write
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


def test_chaos_on_a_pod_the_sandbox_will_not_have_is_refused_on_the_field(logged_in):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "chaos": "pod_kill@3s:0s::pod-7"})
    assert "unknown pod 'pod-7'" in response.context["form"].errors["chaos"][0]
    assert not LoadTestRun.objects.exists()


def test_chaos_steps_and_an_experiment_start_a_run(logged_in):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "chaos": "pod_kill@3s:0s::pod-1\nlatency@5s:2s:high"})
    assert response.status_code == 302, response.context["form"].errors
    run = LoadTestRun.objects.get()
    assert run.chaos == ["pod_kill@3s:0s::pod-1", "latency@5s:2s:high"]
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "sandbox_retries": "0", "chaos": "pod_kill@3s:0s"})
    assert response.status_code == 302, response.context["form"].errors
    assert LoadTestRun.objects.order_by("-pk").first().target.retries == 0
    preset = ChaosExperiment.objects.create(name="Kill one", steps=[{"kind": "pod_kill", "start_s": 4, "duration_s": 0}],
                                            stop_conditions={"max_error_rate": 0.4, "for_s": 5})
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "experiment": preset.pk})
    assert response.status_code == 302, response.context["form"].errors
    run = LoadTestRun.objects.order_by("-pk").first()
    assert run.chaos_experiment == preset and run.chaos == ["pod_kill@4s:0s:medium"]
    assert run.chaos_settings["stop_conditions"] == {"max_error_rate": 0.4, "for_s": 5}


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


def test_every_scenario_field_the_api_takes_reaches_the_run(logged_in):
    response = logged_in.post(reverse("run-new"), {
        **CUSTOM, "shape": "spike", "spike_at_s": "5", "spike_length_s": "8", "spike_factor": "2.5",
        "request_mix": "GET / 3\nPOST /cart 1\n/health", "think_time_min_ms": "100", "think_time_max_ms": "300",
        "arrival_rate": "40", "threshold_balance": "90", "threshold_p95_ms": "250", "threshold_error_rate": "0.05",
    })  # keep_alive is not sent: an unticked box
    assert response.status_code == 302, response.context["form"].errors
    frozen = LoadTestRun.objects.get().scenario_config
    assert {key: frozen[key] for key in ("shape", "spike_at_s", "spike_length_s", "spike_factor", "think_time_min_ms",
                                         "think_time_max_ms", "keep_alive", "arrival_rate", "threshold_balance",
                                         "threshold_p95_ms", "threshold_error_rate")} == {
        "shape": "spike", "spike_at_s": 5, "spike_length_s": 8, "spike_factor": 2.5, "think_time_min_ms": 100,
        "think_time_max_ms": 300, "keep_alive": False, "arrival_rate": 40.0, "threshold_balance": 90.0,
        "threshold_p95_ms": 250.0, "threshold_error_rate": 0.05}
    assert frozen["request_mix"] == [{"path": "/", "method": "GET", "weight": 3.0},
                                     {"path": "/cart", "method": "POST", "weight": 1.0},
                                     {"path": "/health", "method": "GET", "weight": 1}]


def test_custom_stages_can_be_submitted_and_the_run_lasts_as_long_as_they_do(logged_in):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "shape": "stages", "stages": "30s 20\n1m 50 10\n\n15 0"})
    assert response.status_code == 302, response.context["form"].errors
    frozen = LoadTestRun.objects.get().scenario_config
    assert frozen["stages"] == [{"duration_s": 30, "users": 20}, {"duration_s": 60, "users": 50, "spawn_rate": 10.0},
                                {"duration_s": 15, "users": 0}]
    assert frozen["duration_s"] == 105


def test_every_error_comes_in_one_round(logged_in):
    policy = TuningPolicyFactory(enabled=False)  # not offered: the form's own error
    response = logged_in.post(reverse("run-new"), {
        **CUSTOM, "users": "0", "duration_s": "soon", "sandbox_pods": "99", "workers": "40", "name": "n" * 201,
        "threshold_error_rate": "2", "think_time_min_ms": "500", "think_time_max_ms": "100",
        "chaos": "meteor@3s:0s", "autotune": policy.pk,
    })
    errors = response.context["form"].errors
    assert set(errors) == {"users", "duration_s", "sandbox_pods", "workers", "name", "threshold_error_rate",
                           "think_time_max_ms", "chaos", "autotune"}
    assert "Nothing was started: 9 fields to fix" in response.content.decode()
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"shape": "spike", "spike_at_s": "25", "spike_length_s": "10"}, "spike_length_s", "must end within the duration"),
    ({"shape": "stages", "stages": ""}, "stages", "Give at least one stage"),
    ({"shape": "stages", "stages": "30s lots\nsoon 3"}, "stages", "Line 1: users must be a whole number"),
    ({"request_mix": "GET api/items"}, "request_mix", "path must start with '/'"),
    ({"request_mix": "GET / heavy"}, "request_mix", "Line 1: the weight must be a number"),
])
def test_spike_stages_and_requests_are_checked_on_their_fields(logged_in, changes, field, message):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, **changes})
    assert message in " ".join(response.context["form"].errors[field])
    assert not LoadTestRun.objects.exists()


def test_presets_say_what_they_do(logged_in):
    page = logged_in.get(reverse("run-new")).content.decode()
    assert "Spike ×3 (preset) — spike ×3 · 50 users · 2 min" in page
    assert "Sustained (preset) — sustained · 100 users · 30 min" in page
    assert "Gradual ramp (preset) — ramp · 200 users · 5 min" in page


def test_each_algorithm_carries_its_one_line_help(logged_in):
    page = logged_in.get(reverse("run-new")).content.decode()
    for algorithm in ALGORITHMS.values():
        option = re.search(rf'<option value="{algorithm.name}"[^>]*>', page).group(0)
        assert f'data-help="{escape(algorithm.help)}"' in option, option
    assert 'data-option-help-for="id_sandbox_algorithm"' in page


def test_sliders_have_a_number_input_beside_them(logged_in):
    page = logged_in.get(reverse("run-new")).content.decode()
    for name in ("users", "spawn_rate", "duration_s"):
        assert re.search(rf'<input type="number" name="{name}"[^>]*id="id_{name}"', page), name
        assert f'data-slider-for="id_{name}"' in page


def test_chaos_and_autotune_are_offered_with_the_enabled_policies(logged_in):
    TuningPolicyFactory(name="keep it even")
    TuningPolicyFactory(name="switched off", enabled=False)
    page = logged_in.get(reverse("run-new")).content.decode()
    assert not re.search(r'<textarea name="chaos"[^>]*disabled', page)
    assert not re.search(r'<select name="autotune"[^>]*disabled', page)
    assert "Not in this build" not in page
    assert re.search(r'<option value="\d+">keep it even</option>', page)
    assert "switched off" not in page


# Registered locustfiles (LBLAB_LOCUSTFILES_DIR) as the scenario's source: offered with their user
# classes; a file that cannot run is not offered, and the page says why.


def test_each_registered_locustfile_is_offered_with_its_user_classes(logged_in, registry):
    write(registry, "broken.py", "from locust import HttpUser\n\nVALUE = 1\n")
    page = logged_in.get(reverse("run-new")).content.decode()
    assert '<option value="shop.py">shop.py — Shopper, Admin</option>' in page
    assert '<option value="steps.py" data-help="Its LoadTestShape TwoSteps drives the users.">' in page
    assert 'value="broken.py"' not in page  # not offered, and why is said
    assert escape("Not offered: broken.py: defines no User class") in page
    assert 'name="user_classes"' in page


def test_without_a_registry_the_locustfile_choice_is_disabled_and_says_why(logged_in, settings):
    settings.LBLAB_LOCUSTFILES_DIR = None
    page = logged_in.get(reverse("run-new")).content.decode()
    assert "None registered: the operator puts locustfiles in LBLAB_LOCUSTFILES_DIR." in page
    assert '<select name="locustfile" disabled' in page or 'disabled id="id_locustfile"' in page


def test_choosing_a_registered_locustfile_and_a_user_class_starts_its_run(logged_in, registry):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "users": "4", "locustfile": "shop.py",
                                                   "user_classes": "Admin"})
    run = LoadTestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("run-detail", args=[run.pk])
    assert run.locustfile["registered"] == "shop.py" and run.locustfile["user_classes"] == ["Admin"]
    assert run.locustfile_sha256 == hashlib.sha256((registry / "shop.py").read_bytes()).hexdigest()
    assert run.scenario_config["users"] == 4  # the scenario still gives the users and the duration


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"locustfile": "../outside.py"}, "locustfile", "Select a valid choice"),
    ({"locustfile": "shop.py", "user_classes": "Shopper, Browser"}, "user_classes", "no user class Browser"),
    ({"user_classes": "Shopper"}, "user_classes", "give the locustfile too"),
])
def test_a_locustfile_that_cannot_run_is_an_error_on_its_field_and_nothing_is_created(logged_in, registry, changes,
                                                                                      field, message):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, **changes})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert str(registry) not in response.content.decode()
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()
