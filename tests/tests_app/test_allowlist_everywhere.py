"""The allow-list covers every address LB Lab contacts (the load, a target's Prometheus), on every
way in, when a run is created and again when it starts."""

import pytest
from django.urls import reverse

from tests_app import services
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db

STEADY = {"shape": "steady", "users": 1, "spawn_rate": 1, "duration_s": 5}
PROMETHEUS = {"kind": "url", "base_url": "http://127.0.0.1:8080", "attribution": "prometheus",
              "prometheus_query": "sum by (pod) (requests_total)"}


@pytest.mark.parametrize(
    ("base_url", "problem"),
    [
        ("http://user:secret@127.0.0.1:8080", "credentials"),
        ("http://127.0.0.1:8080@203.0.113.9", "credentials"),
        ("http://127.0.0.1\\@203.0.113.9", "backslash"),
        ("http://127.0.0.1:0", "port 0"),
        ("ftp://127.0.0.1", "scheme"),
    ],
)
def test_a_base_url_clients_disagree_about_is_a_field_error(base_url, problem, alice, api_for):
    response = api_for(alice).post(reverse("api:target-list"), {"name": "t", "kind": "url", "base_url": base_url},
                                   format="json")
    assert response.status_code == 400, response.content
    assert any(problem in message for message in response.json()["base_url"])
    assert not Target.objects.exists()


@pytest.mark.parametrize(
    ("prometheus_url", "problem"),
    [("http://203.0.113.9:9090", "not allow-listed"), ("ftp://127.0.0.1:9090", "scheme"),
     ("http://127.0.0.1:9090@203.0.113.9", "credentials")],
)
def test_a_prometheus_url_outside_the_allow_list_is_a_field_error(prometheus_url, problem, alice, api_for):
    client = api_for(alice)
    saved = client.post(reverse("api:target-list"), {**PROMETHEUS, "name": "t", "prometheus_url": prometheus_url},
                        format="json")
    inline = client.post(reverse("api:run-list"), {"target": {**PROMETHEUS, "prometheus_url": prometheus_url},
                                                   "scenario": STEADY}, format="json")
    assert saved.status_code == 400 and any(problem in message for message in saved.json()["prometheus_url"])
    assert inline.status_code == 400 and any(problem in m for m in inline.json()["target"]["prometheus_url"])
    assert not Target.objects.exists() and not LoadTestRun.objects.exists()


def test_a_prometheus_url_on_the_allow_list_is_accepted(alice, api_for, settings):
    settings.LBLAB_ALLOWED_TARGETS = ["127.0.0.1:8080", "127.0.0.1:9000-9099"]
    response = api_for(alice).post(reverse("api:target-list"),
                                   {**PROMETHEUS, "name": "t", "prometheus_url": "http://127.0.0.1:9090"}, format="json")
    assert response.status_code == 201, response.content


def test_a_run_queued_before_the_allow_list_narrowed_is_refused_at_start_with_the_reason(alice, settings):
    settings.LBLAB_ALLOWED_TARGETS = ["127.0.0.1:8000-8999"]
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target={"kind": "url", "base_url": "http://127.0.0.1:8080"}, scenario=STEADY), queue=False)
    settings.LBLAB_ALLOWED_TARGETS = ["127.0.0.1:9000-9999"]  # the operator narrows it while the run waits

    run = services.execute_run(run.pk)

    assert run.status == LoadTestRun.Status.ERROR
    assert run.error == ("refused at start: base_url: 127.0.0.1 is not allow-listed on port 8080 "
                         "(LBLAB_ALLOWED_TARGETS)")
    assert not run.samples.exists()
