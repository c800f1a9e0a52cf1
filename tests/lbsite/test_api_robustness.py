"""What a request may be: JSON nested too deep and bodies too large are refused with a JSON 400 or
413 (on the unauthenticated token endpoint too), and a field an object does not have is a 400
naming it on every endpoint that saves one."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from chaos_app.models import ChaosExperiment
from tests.factories import ScenarioFactory
from tests_app.models import LoadTestRun, Scenario, Target

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("body", [DEEP, nested(40)])
def test_json_nested_too_deep_is_a_400_even_before_login(body):
    response = APIClient().post(reverse("api:token"), body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["detail"]


@pytest.mark.parametrize("body", [DEEP, '{"target": ' + nested(40) + ', "scenario": 1}'])
def test_json_nested_too_deep_is_a_400_on_every_operation(body, alice, api_for):
    client = api_for(alice)
    for url in (reverse("api:run-list"), reverse("api:target-list"), reverse("api:chaos-experiment-list")):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content[:200])
        assert "nested deeper than" in response.json()["detail"]
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()


def test_an_object_nested_as_deep_as_the_api_needs_is_read():
    response = APIClient().post(reverse("api:token"), '{"username": "x", "password": ' + nested(20) + "}",
                                content_type="application/json")
    assert response.status_code == 400 and "password" in response.json()  # read, then refused as a bad password


@pytest.mark.parametrize("authenticated", [False, True])
def test_a_body_over_the_limit_is_refused_before_it_is_read(authenticated, alice, api_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = api_for(alice) if authenticated else APIClient()
    body = '{"username": "' + "x" * 20_000 + '"}'
    for url in (reverse("api:token"), reverse("api:run-list")):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 413
        assert response.json() == {"detail": "The request body is larger than 10000 bytes."}


def test_a_page_refuses_a_body_over_the_limit_too(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = client.post(reverse("login"), {"username": "x" * 20_000, "password": "y"})
    assert response.status_code == 413


def test_a_body_within_the_limit_is_read(alice, api_for):
    response = api_for(alice).post(reverse("api:target-list"), {"name": "t", "kind": "sandbox"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("url_name", "payload", "unknown"),
    [
        ("api:target-list", {"name": "t", "kind": "sandbox", "replicas": 3}, "replicas"),
        ("api:scenario-list", {"name": "s", "shape": "steady", "user": 5}, "user"),
        ("api:chaos-experiment-list", {"name": "e", "steps": [{"kind": "pod_kill"}], "hypotesis": {}}, "hypotesis"),
    ],
)
def test_a_field_a_saved_object_does_not_have_is_a_400_naming_it(url_name, payload, unknown, alice, api_for):
    response = api_for(alice).post(reverse(url_name), payload, format="json")
    assert response.status_code == 400
    assert response.json() == {unknown: ["Unknown field."]}
    assert not Target.objects.exists() and not Scenario.objects.filter(owner=alice).exists()
    assert not ChaosExperiment.objects.filter(owner=alice).exists()


def test_an_update_naming_a_field_the_object_does_not_have_changes_nothing(alice, api_for):
    scenario = ScenarioFactory(owner=alice, users=10)
    response = api_for(alice).patch(reverse("api:scenario-detail", args=[scenario.pk]), {"user": 50}, format="json")
    assert response.status_code == 400 and response.json() == {"user": ["Unknown field."]}
    scenario.refresh_from_db()
    assert scenario.users == 10


def test_what_a_read_gave_can_be_sent_back(alice, api_for):
    """Read-only fields (id, created_at, is_preset) are the object's own: sending them back is no error."""
    client = api_for(alice)
    scenario = client.post(reverse("api:scenario-list"), {"name": "s", "shape": "steady"}, format="json").json()
    response = client.put(reverse("api:scenario-detail", args=[scenario["id"]]), {**scenario, "users": 7}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["users"] == 7


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"shape": "steady", "request_mix": [{"path": "/", "metod": "POST"}]}, "Request 1: unknown field 'metod'"),
        ({"shape": "stages", "duration_s": 10, "stages": [{"duration_s": 10, "user": 5}]}, "Stage 1: unknown field 'user'"),
        ({"shape": "steady", "request_mix": [{"path": "/", "body": 3}]}, "Request 1: body, when given, is text"),
    ],
)
def test_a_field_an_inline_entry_does_not_have_is_named(scenario, message, alice, api_for):
    client = api_for(alice)
    saved = client.post(reverse("api:scenario-list"), {"name": "s", **scenario}, format="json")
    run = client.post(reverse("api:run-list"), {"target": {"kind": "sandbox"}, "scenario": scenario}, format="json")
    field = "stages" if "stages" in scenario else "request_mix"
    assert saved.status_code == 400 and saved.json()[field][0].startswith(message)
    assert run.status_code == 400 and run.json()["scenario"][field][0].startswith(message)
