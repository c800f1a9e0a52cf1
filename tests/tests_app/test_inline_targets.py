"""An inline target (`POST /api/runs/` with a target object) is found again by its name: requests
that create the same new one at once all succeed with one target, and one that differs from a saved
target some runs keep is saved as a new version (`lab v2`), never written over it."""

import threading

import pytest
from django.db import connections
from django.urls import reverse

from tests.factories import LoadTestRunFactory, UrlTargetFactory
from tests_app import services
from tests_app.models import LoadTestRun, Target

STEADY = {"shape": "steady", "users": 1, "spawn_rate": 1, "duration_s": 5}
SANDBOX = {"kind": "sandbox", "pods": 3, "algorithm": "p2c"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_with_the_same_new_inline_target_all_start_with_one_target(alice, api_for, settings):
    settings.LBLAB_MAX_ACTIVE_RUNS_PER_USER = 10  # the race, not the budget (its own test)
    clients = [api_for(alice) for _ in range(6)]
    start, answers = threading.Barrier(len(clients)), []

    def post(client):
        try:
            start.wait()
            answers.append(client.post(reverse("api:run-list"), {"target": SANDBOX, "scenario": STEADY}, format="json"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [201] * len(clients), [a.content for a in answers]
    assert Target.objects.filter(owner=alice).count() == 1
    assert LoadTestRun.objects.filter(owner=alice, target__name="sandbox 3 pods p2c").count() == len(clients)


@pytest.mark.django_db
def test_an_inline_target_another_request_created_first_is_used(alice, monkeypatch):
    """The race made certain: the lookup misses the target another request committed just after it."""
    other = Target.objects.create(owner=alice, name="sandbox 3 pods p2c", **{k: v for k, v in SANDBOX.items()})
    looked_up = services.targets_visible_to
    monkeypatch.setattr(services, "targets_visible_to", lambda owner: looked_up(owner).exclude(pk=other.pk))
    run = services.submit_run(owner=alice, request=services.RunRequest(target=SANDBOX, scenario=STEADY))
    assert run.target == other and Target.objects.count() == 1


@pytest.mark.django_db
def test_an_inline_target_that_differs_from_one_another_request_created_first_is_a_400(alice, monkeypatch):
    other = Target.objects.create(owner=alice, name="shop", kind="sandbox", pods=2)
    looked_up = services.targets_visible_to
    monkeypatch.setattr(services, "targets_visible_to", lambda owner: looked_up(owner).exclude(pk=other.pk))
    with pytest.raises(services.RunRejected) as caught:
        services.submit_run(owner=alice, request=services.RunRequest(target={**SANDBOX, "name": "shop"}, scenario=STEADY))
    assert "was just saved with other fields" in caught.value.errors["target"]["name"][0]
    assert Target.objects.count() == 1 and not LoadTestRun.objects.exists()


@pytest.mark.django_db
def test_an_inline_target_never_rewrites_a_saved_target_runs_keep(alice, api_for):
    lab = UrlTargetFactory(owner=alice, name="lab", base_url="http://127.0.0.1:8080")
    kept = LoadTestRunFactory(owner=alice, target=lab)
    client = api_for(alice)
    changed = {"name": "lab", "kind": "url", "base_url": "http://127.0.0.1:9090"}

    first = client.post(reverse("api:run-list"), {"target": changed, "scenario": STEADY}, format="json")
    again = client.post(reverse("api:run-list"), {"target": changed, "scenario": STEADY}, format="json")
    same = client.post(reverse("api:run-list"), {"target": {**changed, "base_url": "http://127.0.0.1:8080"},
                                                  "scenario": STEADY}, format="json")

    assert first.status_code == again.status_code == same.status_code == 201
    lab.refresh_from_db()
    assert lab.base_url == "http://127.0.0.1:8080" and kept.target == lab  # the runs keep what they ran on
    assert first.json()["target_name"] == again.json()["target_name"] == "lab v2"  # found again, not "lab v3"
    assert Target.objects.get(owner=alice, name="lab v2").base_url == "http://127.0.0.1:9090"
    assert same.json()["target"] == lab.pk  # unchanged: the saved target itself
    assert Target.objects.filter(owner=alice).count() == 2


@pytest.mark.django_db
def test_an_inline_target_no_run_keeps_is_updated_in_place(alice, api_for):
    lab = UrlTargetFactory(owner=alice, name="lab", base_url="http://127.0.0.1:8080")
    response = api_for(alice).post(reverse("api:run-list"), {
        "target": {"name": "lab", "kind": "url", "base_url": "http://127.0.0.1:9090"}, "scenario": STEADY}, format="json")
    assert response.status_code == 201 and response.json()["target"] == lab.pk
    lab.refresh_from_db()
    assert lab.base_url == "http://127.0.0.1:9090"
