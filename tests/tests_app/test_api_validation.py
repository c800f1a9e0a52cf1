"""Bad input through the API: 400 with the field that is wrong, and nothing saved."""

import pytest
from django.urls import reverse

from chaos_app.models import ChaosExperiment
from tests.factories import TargetFactory
from tests_app.models import Scenario, Target

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "t", "kind": "sandbox", "pods": 0}, "pods"),
        ({"name": "t", "kind": "sandbox", "algorithm": "fastest"}, "algorithm"),
        ({"name": "t", "kind": "url"}, "base_url"),
        ({"name": "t", "kind": "url", "base_url": "ftp://127.0.0.1/"}, "base_url"),
        ({"name": "t", "kind": "url", "base_url": "http://203.0.113.7:8080"}, "base_url"),
        ({"name": "t", "kind": "url", "base_url": "http://127.0.0.1:99999"}, "base_url"),
        ({"name": "t", "kind": "kubernetes", "namespace": "shop", "service": "web",
          "base_url": "http://127.0.0.1:8080"}, "namespace"),
        ({"name": "t", "kind": "kubernetes", "namespace": "shop", "service": "web"}, "base_url"),
        ({"name": "t", "kind": "sandbox", "weights": {"pod-0": "heavy"}}, "weights"),
        ({"kind": "sandbox"}, "name"),
    ],
)
def test_bad_target_is_400_with_field_and_not_saved(payload, field, alice, api_for):
    response = api_for(alice).post(reverse("api:target-list"), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Target.objects.filter(owner=alice).exists()


def test_allow_listed_url_target_is_created(alice, api_for):
    response = api_for(alice).post(
        reverse("api:target-list"), {"name": "local", "kind": "url", "base_url": "http://localhost:8080/"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Target.objects.get(owner=alice, name="local").base_url == "http://localhost:8080"


def test_duplicate_target_name_is_400(alice, api_for):
    TargetFactory(owner=alice, name="shop")
    response = api_for(alice).post(reverse("api:target-list"), {"name": "shop"}, format="json")
    assert response.status_code == 400
    assert Target.objects.filter(owner=alice, name="shop").count() == 1


def test_valid_update_is_saved(alice, api_for):
    target = TargetFactory(owner=alice, name="shop", pods=4)
    response = api_for(alice).patch(reverse("api:target-detail", args=[target.pk]), {"pods": 6}, format="json")
    assert response.status_code == 200, response.content
    target.refresh_from_db()
    assert (target.name, target.pods) == ("shop", 6)


def test_update_keeps_the_row_when_invalid(alice, api_for):
    target = TargetFactory(owner=alice, pods=4)
    response = api_for(alice).patch(reverse("api:target-detail", args=[target.pk]), {"pods": 500}, format="json")
    assert response.status_code == 400 and "pods" in response.json()
    target.refresh_from_db()
    assert target.pods == 4


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "s", "users": 0}, "users"),
        ({"name": "s", "shape": "stages", "stages": [{"duration_s": -5, "users": 3}]}, "stages"),
        ({"name": "s", "shape": "spike", "spike_length_s": 0}, "spike_length_s"),
        ({"name": "s", "think_time_min_ms": 10, "think_time_max_ms": 1}, "think_time_max_ms"),
    ],
)
def test_bad_scenario_is_400_with_field(payload, field, alice, api_for):
    response = api_for(alice).post(reverse("api:scenario-list"), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Scenario.objects.filter(owner=alice).exists()


def test_own_scenario_may_reuse_a_preset_name(alice, api_for):
    response = api_for(alice).post(reverse("api:scenario-list"), {"name": "High traffic", "users": 5}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["is_preset"] is False


def test_bad_chaos_experiment_is_400(alice, api_for):
    response = api_for(alice).post(
        reverse("api:chaos-experiment-list"),
        {"name": "x", "steps": [{"kind": "meteor", "start_s": 0, "duration_s": 1}]}, format="json",
    )
    assert response.status_code == 400 and "steps" in response.json()
    assert not ChaosExperiment.objects.filter(owner=alice).exists()


def test_token_endpoint(alice, client):
    good = client.post(reverse("api:token"), {"username": "alice", "password": "correct-horse-battery"})
    assert good.status_code == 200 and len(good.json()["token"]) == 40
    bad = client.post(reverse("api:token"), {"username": "alice", "password": "nope"})
    assert bad.status_code == 400


def test_schema_and_docs_are_served(alice, client):
    client.force_login(alice)
    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/runs/", "/api/targets/{id}/", "/api/scenarios/", "/api/chaos/experiments/", "/api/auth/token/"} <= set(paths)
    docs = client.get(reverse("api:docs"))
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()  # served from the sidecar package, no internet needed
