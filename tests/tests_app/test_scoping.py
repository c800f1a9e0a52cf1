"""Every page and API route that shows user data: the owner sees it, anyone else gets 404."""

import pytest
from django.urls import reverse

from tests.factories import ChaosExperimentFactory, LoadTestRunFactory, ScenarioFactory, TargetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_things(alice):
    run = LoadTestRunFactory(owner=alice)
    return {
        "run": run,
        "target": run.target,
        "scenario": run.scenario,
        "experiment": ChaosExperimentFactory(owner=alice),
    }


OWNED_API_DETAIL = [
    ("api:run-detail", "run"),
    ("api:target-detail", "target"),
    ("api:scenario-detail", "scenario"),
    ("api:chaos-experiment-detail", "experiment"),
]


@pytest.mark.parametrize(("route", "key"), OWNED_API_DETAIL)
def test_other_users_object_is_404_in_the_api(route, key, alices_things, alice, bob, api_for):
    url = reverse(route, args=[alices_things[key].pk])
    assert api_for(alice).get(url).status_code == 200
    bob_api = api_for(bob)
    assert bob_api.get(url).status_code == 404
    if route != "api:run-detail":  # runs are read-only here
        assert bob_api.patch(url, {"name": "mine now"}, format="json").status_code == 404
        assert bob_api.delete(url).status_code == 404
    alices_things[key].refresh_from_db()  # still there, unchanged


@pytest.mark.parametrize(
    ("route", "key"), [("api:run-list", "run"), ("api:target-list", "target"), ("api:scenario-list", "scenario"),
                       ("api:chaos-experiment-list", "experiment")],
)
def test_lists_show_only_own_objects(route, key, alices_things, alice, bob, api_for):
    ids_for = {
        user.username: {item["id"] for item in api_for(user).get(reverse(route)).json()["results"]}
        for user in (alice, bob)
    }
    assert alices_things[key].pk in ids_for["alice"]
    assert alices_things[key].pk not in ids_for["bob"]


def test_presets_are_readable_by_everyone_but_not_changeable(bob, api_for):
    api = api_for(bob)
    names = {s["name"] for s in api.get(reverse("api:scenario-list"), {"page_size": 100}).json()["results"]}
    assert {"High traffic", "Spike ×3", "Sustained", "Gradual ramp"} <= names
    preset = ScenarioFactory._meta.model.objects.get(owner=None, name="Sustained")
    assert api.get(reverse("api:scenario-detail", args=[preset.pk])).json()["is_preset"] is True
    assert api.patch(reverse("api:scenario-detail", args=[preset.pk]), {"users": 1}, format="json").status_code == 404
    assert api.delete(reverse("api:scenario-detail", args=[preset.pk])).status_code == 404
    preset.refresh_from_db()
    assert preset.users == 100


def test_other_users_run_page_is_404(alices_things, alice, bob, client):
    url = f"/runs/{alices_things['run'].pk}/"
    client.force_login(alice)
    assert client.get(url).status_code == 200
    client.force_login(bob)
    assert client.get(url).status_code == 404


def test_pages_list_only_own_objects(alices_things, alice, bob, client):
    other = TargetFactory(owner=bob, name="bobs-target")
    client.force_login(alice)
    runs_page = client.get(reverse("runs")).content.decode()
    targets_page = client.get(reverse("targets")).content.decode()
    assert f'href="/runs/{alices_things["run"].pk}/"' in runs_page
    assert alices_things["target"].name in targets_page and other.name not in targets_page
    client.force_login(bob)
    assert f'href="/runs/{alices_things["run"].pk}/"' not in client.get(reverse("runs")).content.decode()


@pytest.mark.parametrize("url", ["/", "/targets/", "/targets/new/", "/runs/1/"])
def test_pages_need_login(url, client, db):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", ["/api/runs/", "/api/targets/", "/api/scenarios/", "/api/chaos/experiments/"])
def test_api_needs_authentication(url, client, db):
    assert client.get(url).status_code in (401, 403)
