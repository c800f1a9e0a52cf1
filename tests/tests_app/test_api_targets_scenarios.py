"""`/api/targets/` and `/api/scenarios/`: the whole life of one's own objects, shared scenario
presets, and a target that runs still refer to is kept (409), not a server error."""

import pytest
from django.urls import reverse

from tests.factories import LoadTestRunFactory, ScenarioFactory, TargetFactory, UrlTargetFactory
from tests_app.models import Scenario, Target

pytestmark = pytest.mark.django_db


def test_target_create_list_read_update_delete(alice, api_for):
    api = api_for(alice)
    created = api.post(reverse("api:target-list"), {"name": "shop", "kind": "sandbox", "pods": 3,
                                                    "algorithm": "least_conn"}, format="json")
    assert created.status_code == 201, created.content
    target = Target.objects.get(pk=created.json()["id"])
    assert target.owner == alice and (target.pods, target.algorithm) == (3, "least_conn")
    assert [t["name"] for t in api.get(reverse("api:target-list")).json()["results"]] == ["shop"]
    url = reverse("api:target-detail", args=[target.pk])
    assert api.get(url).json()["algorithm"] == "least_conn"
    assert api.put(url, {"name": "shop", "kind": "sandbox", "pods": 5}, format="json").status_code == 200
    target.refresh_from_db()
    assert target.pods == 5
    assert api.delete(url).status_code == 204
    assert not Target.objects.filter(pk=target.pk).exists()


def test_target_filters(alice, api_for):
    TargetFactory(owner=alice, name="a", algorithm="p2c")
    TargetFactory(owner=alice, name="b", algorithm="random")
    body = api_for(alice).get(reverse("api:target-list"), {"algorithm": "p2c"}).json()
    assert [t["name"] for t in body["results"]] == ["a"]
    assert api_for(alice).get(reverse("api:target-list"), {"algorithm": "fastest"}).status_code == 400


def test_target_with_runs_is_kept_with_409(alice, api_for):
    run = LoadTestRunFactory(owner=alice)
    response = api_for(alice).delete(reverse("api:target-detail", args=[run.target_id]))
    assert response.status_code == 409, response.content
    assert "runs" in response.json()["detail"]
    assert Target.objects.filter(pk=run.target_id).exists()


def test_scenario_create_update_delete_and_presets_listed(alice, api_for):
    api = api_for(alice)
    created = api.post(reverse("api:scenario-list"), {"name": "burst", "shape": "spike", "users": 20,
                                                      "duration_s": 60, "spike_at_s": 10, "spike_length_s": 5},
                       format="json")
    assert created.status_code == 201, created.content
    url = reverse("api:scenario-detail", args=[created.json()["id"]])
    assert api.patch(url, {"users": 30}, format="json").json()["users"] == 30
    listed = api.get(reverse("api:scenario-list"), {"page_size": 200}).json()["results"]
    assert {"burst", "Sustained"} <= {s["name"] for s in listed}
    shapes = {s["shape"] for s in api.get(reverse("api:scenario-list"), {"shape": "spike", "page_size": 200}).json()["results"]}
    assert shapes == {"spike"}
    assert api.delete(url).status_code == 204
    assert not Scenario.objects.filter(owner=alice).exists()


def test_scenario_used_by_a_run_can_go_the_run_keeps_its_copy(alice, api_for):
    scenario = ScenarioFactory(owner=alice, users=7)
    run = LoadTestRunFactory(owner=alice, scenario=scenario)
    assert api_for(alice).delete(reverse("api:scenario-detail", args=[scenario.pk])).status_code == 204
    run.refresh_from_db()
    assert run.scenario is None and run.scenario_config["users"] == 7


def test_a_target_shows_its_own_kinds_fields_only(alice, api_for):
    api = api_for(alice)
    url_target = UrlTargetFactory(owner=alice, name="shop")
    body = api.get(reverse("api:target-detail", args=[url_target.pk])).json()
    assert body["base_url"] == "http://127.0.0.1:8080" and body["pod_header"] == "X-Pod"
    assert not {"pods", "nodes", "algorithm", "service_time_ms", "namespace", "service"} & set(body)
    sandbox = api.get(reverse("api:target-detail", args=[TargetFactory(owner=alice).pk])).json()
    assert sandbox["pods"] == 4 and sandbox["algorithm"] == "round_robin" and "base_url" not in sandbox
    listed = {t["name"]: t for t in api.get(reverse("api:target-list")).json()["results"]}
    assert "pods" not in listed["shop"]


def test_a_target_runs_use_is_not_changed_in_place_409(alice, api_for):
    run = LoadTestRunFactory(owner=alice, target__pods=4)
    response = api_for(alice).patch(reverse("api:target-detail", args=[run.target_id]), {"pods": 8}, format="json")
    assert response.status_code == 409 and "new target" in response.json()["detail"]
    run.target.refresh_from_db()
    assert run.target.pods == 4
