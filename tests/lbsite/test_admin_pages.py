"""Every admin page a staff user opens renders, with data in it; history is read-only."""

import pytest
from django.urls import reverse

from tests.factories import (
    ChaosExperimentFactory,
    ChaosInjectionFactory,
    LoadTestRunFactory,
    MetricSampleFactory,
    PodSampleFactory,
    TuningDecisionFactory,
)
from tests_app.models import LoadTestRun

pytestmark = pytest.mark.django_db

MODELS = ["tests_app.target", "tests_app.scenario", "tests_app.loadtestrun", "metrics_app.metricsample",
          "metrics_app.podsample", "metrics_app.tuningpolicy", "metrics_app.tuningdecision",
          "chaos_app.chaosexperiment", "chaos_app.chaosinjection"]


@pytest.fixture
def history(alice):
    run = LoadTestRunFactory(owner=alice, summary={"balance": {"score": 97.5, "grade": "A"}})
    for t in range(3):
        MetricSampleFactory(run=run, t=float(t))
        PodSampleFactory(run=run, t=float(t), pod="pod-0", requests=60)
        PodSampleFactory(run=run, t=float(t), pod="pod-1", requests=40)
    ChaosInjectionFactory(run=run)
    TuningDecisionFactory(run=run)
    ChaosExperimentFactory(owner=alice)
    return run


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_change_pages_render(model, history, admin_user, client):
    client.force_login(admin_user)
    app, name = model.split(".")
    response = client.get(reverse(f"admin:{app}_{name}_changelist"))
    assert response.status_code == 200
    first = response.context["cl"].result_list[0]
    assert client.get(reverse(f"admin:{app}_{name}_change", args=[first.pk])).status_code == 200


def test_run_page_shows_samples_summary_and_per_pod_totals(history, admin_user, client):
    client.force_login(admin_user)
    page = client.get(reverse("admin:tests_app_loadtestrun_change", args=[history.pk])).content.decode()
    assert "3 seconds recorded" in page
    assert "<td>pod-0</td><td>180</td>" in page and "<td>pod-1</td><td>120</td>" in page
    assert "97.5 % (A)" in client.get(reverse("admin:tests_app_loadtestrun_changelist")).content.decode()


def test_run_history_cannot_be_added_or_edited(history, admin_user, client):
    client.force_login(admin_user)
    assert client.get(reverse("admin:tests_app_loadtestrun_add")).status_code == 403
    response = client.post(reverse("admin:tests_app_loadtestrun_change", args=[history.pk]), {"status": "passed"})
    assert response.status_code == 403
    history.refresh_from_db()
    assert history.status == LoadTestRun.Status.QUEUED


def test_stop_action_stops_unfinished_runs(history, admin_user, client):
    client.force_login(admin_user)
    client.post(reverse("admin:tests_app_loadtestrun_changelist"),
                {"action": "stop_runs", "_selected_action": [history.pk]})
    history.refresh_from_db()
    assert history.status == LoadTestRun.Status.CANCELLED


def test_presets_are_editable_in_the_admin(admin_user, client):
    client.force_login(admin_user)
    page = client.get(reverse("admin:tests_app_scenario_changelist") + "?preset=yes").content.decode()
    assert "Spike ×3" in page and "Gradual ramp" in page


def test_non_staff_cannot_open_the_admin(alice, client):
    client.force_login(alice)
    assert client.get(reverse("admin:index")).status_code == 302
