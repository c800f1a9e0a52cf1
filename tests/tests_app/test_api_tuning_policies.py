"""`/api/tuning-policies/`: the enabled policies, shared and read-only (changed in the admin)."""

import pytest
from django.urls import reverse

from tests.factories import TuningPolicyFactory

pytestmark = pytest.mark.django_db


def test_enabled_policies_are_listed_read_only(alice, api_for):
    TuningPolicyFactory(name="off", enabled=False)
    api = api_for(alice)
    names = {p["name"] for p in api.get(reverse("api:tuning-policy-list")).json()["results"]}
    assert "Keep balance ≥ 95 %" in names and "off" not in names
    assert api.post(reverse("api:tuning-policy-list"), {"name": "mine"}, format="json").status_code == 405
    policy = TuningPolicyFactory(name="on")
    url = reverse("api:tuning-policy-detail", args=[policy.pk])
    assert api.get(url).json()["name"] == "on"
    assert api.delete(url).status_code == 405
