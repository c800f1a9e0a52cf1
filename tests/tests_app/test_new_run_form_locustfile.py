"""The new-run page offers the operator's registered locustfiles as the scenario's source, each with
its user classes; choosing one runs its users (those named, or all) and the run keeps its text and
hash. What cannot run is an error on its field with nothing created; a file that cannot run is not
offered, and the page says why."""

import hashlib

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests.tests_app.locustfile_support import write
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db

CUSTOM = {"target": "", "sandbox_pods": "3", "sandbox_algorithm": "round_robin", "scenario": "", "shape": "steady",
          "users": "4", "spawn_rate": "4", "duration_s": "10", "workers": "1", "chaos": "", "autotune": ""}


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def test_each_registered_file_is_offered_with_its_user_classes(logged_in, registry):
    write(registry, "broken.py", "from locust import HttpUser\n\nVALUE = 1\n")
    page = logged_in.get(reverse("run-new")).content.decode()
    assert '<option value="shop.py">shop.py — Shopper, Admin</option>' in page
    assert '<option value="steps.py" data-help="Its LoadTestShape TwoSteps drives the users.">' in page
    assert 'value="broken.py"' not in page  # not offered, and why is said
    assert escape("Not offered: broken.py: defines no User class") in page
    assert 'name="user_classes"' in page


def test_without_a_registry_the_choice_is_disabled_and_says_why(logged_in, settings):
    settings.LBLAB_LOCUSTFILES_DIR = None
    page = logged_in.get(reverse("run-new")).content.decode()
    assert "None registered: the operator puts locustfiles in LBLAB_LOCUSTFILES_DIR." in page
    assert '<select name="locustfile" disabled' in page or 'disabled id="id_locustfile"' in page


def test_choosing_a_file_and_a_user_class_starts_its_run(logged_in, registry):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, "locustfile": "shop.py", "user_classes": "Admin"})
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
def test_what_cannot_run_is_an_error_on_its_field_and_nothing_is_created(logged_in, registry, changes, field,
                                                                         message):
    response = logged_in.post(reverse("run-new"), {**CUSTOM, **changes})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert str(registry) not in response.content.decode()
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()
