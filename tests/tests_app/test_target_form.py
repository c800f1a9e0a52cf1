"""The target page: field errors in the form, nothing saved until everything is right."""

import pytest
from django.urls import reverse

from tests_app.models import Target

pytestmark = pytest.mark.django_db

BASE = {"kind": "sandbox", "pods": 4, "nodes": 2, "algorithm": "round_robin", "service_time_ms": 1,
        "attribution": "header", "pod_header": "X-Pod", "expected_pods": "[]", "weights": "{}"}


def test_form_shows_field_errors_and_saves_nothing(alice, client):
    client.force_login(alice)
    response = client.post(reverse("target-new"), {**BASE, "name": "bad", "pods": 0})
    assert response.status_code == 200
    assert "pods" in response.context["form"].errors
    assert not Target.objects.filter(owner=alice).exists()


def test_form_rejects_a_target_outside_the_allow_list(alice, client):
    client.force_login(alice)
    response = client.post(
        reverse("target-new"), {**BASE, "name": "remote", "kind": "url", "base_url": "http://198.51.100.4/"}
    )
    assert "not allow-listed" in response.context["form"].errors["base_url"][0]
    assert not Target.objects.filter(owner=alice).exists()


def test_form_creates_target_for_the_logged_in_user(alice, client):
    client.force_login(alice)
    response = client.post(reverse("target-new"), {**BASE, "name": "lab"})
    assert response.status_code == 302
    assert Target.objects.get(name="lab").owner == alice
