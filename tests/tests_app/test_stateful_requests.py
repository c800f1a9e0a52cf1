"""`--stateful redis|postgres [--durability sync|async]` and the same fields of the API and the new-run form:
a sandbox target's store, checked before anything is created (CLI exit 2 in one line, API 400 on the
field, the form's error on its field), and primary faults refused on a target without a store."""

import pytest
from django.urls import reverse

from tests.conftest import assert_loadtest_refused, assert_run_form_takes_then_refuses
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db

SCENARIO = {"shape": "steady", "users": 2, "spawn_rate": 2, "duration_s": 5}


def post_run(api, target: dict, chaos=()):
    return api.post(reverse("api:run-list"), {"target": target, "scenario": SCENARIO, "chaos": list(chaos)},
                    format="json")


def test_api_takes_a_stateful_sandbox_and_a_primary_kill(alice, api_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        answer = post_run(api_for(alice), {"kind": "sandbox", "pods": 2, "stateful": "redis", "durability": "async"},
                          chaos=["primary_kill@2s:1s"])
    assert answer.status_code == 201, answer.content
    target = LoadTestRun.objects.get().target
    assert (target.stateful, target.durability) == ("redis", "async")
    assert target.where.endswith("stateful redis async")


@pytest.mark.parametrize(("target", "chaos", "where", "says"), [
    ({"kind": "sandbox", "stateful": "postgres", "durability": "strict"}, [], ("target", "durability"),
     "unknown durability mode 'strict'"),
    ({"kind": "sandbox", "stateful": "mongo"}, [], ("target", "stateful"), "unknown stateful store 'mongo'"),
    ({"kind": "sandbox", "stateful": "redis", "durability": "maybe"}, [], ("target", "durability"),
     "unknown durability mode 'maybe'"),
    ({"kind": "url", "base_url": "http://127.0.0.1:9", "stateful": "redis"}, [], ("target", "stateful"),
     "sandbox's pods only"),
    ({"kind": "sandbox", "pods": 2}, ["primary_kill@2s:1s"], ("chaos",), "needs a stateful store"),
])
def test_api_refuses_bad_stateful_input_on_its_field(alice, api_for, target, chaos, where, says):
    answer = post_run(api_for(alice), target, chaos)
    assert answer.status_code == 400
    errors = answer.json()
    for key in where:
        errors = errors[key]
    assert says in errors[0], answer.json()
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()


@pytest.mark.parametrize(("flags", "reason"), [
    (["--sandbox", "--stateful", "postgres", "--durability", "strict"], "--durability: unknown durability mode"),
    (["--sandbox", "--stateful", "mongo"], "--stateful: unknown stateful store 'mongo'"),
    (["--sandbox", "--stateful", "redis", "--durability", "maybe"], "--durability: unknown durability mode"),
    (["--sandbox", "--durability", "async"], "--durability: a durability mode needs a stateful store"),
    (["--target", "http://127.0.0.1:9", "--stateful", "redis"], "--stateful: a stateful store runs beside"),
    (["--sandbox", "--chaos", "primary_stop@1s:1s"], "--chaos: primary_stop@1s:1s:medium: a primary fault needs"),
])
def test_loadtest_bad_stateful_input_is_exit_2_in_one_line(flags, reason):
    assert_loadtest_refused(*flags, "--duration", "5s", reason=reason)


def test_api_takes_a_postgres_sandbox(alice, api_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        answer = post_run(api_for(alice), {"kind": "sandbox", "pods": 2, "stateful": "postgres", "durability": "sync"},
                          chaos=["primary_stop@2s:1s"])
    assert answer.status_code == 201, answer.content
    target = LoadTestRun.objects.get().target
    assert (target.stateful, target.durability) == ("postgres", "sync")


def test_new_run_form_sends_the_store_and_shows_its_error(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    form = {"target": "", "sandbox_pods": "2", "sandbox_balancer": "lblab", "sandbox_algorithm": "round_robin",
            "sandbox_stateful": "redis", "sandbox_durability": "sync", "scenario": "", "shape": "steady",
            "users": "2", "spawn_rate": "2", "duration_s": "5", "workers": "1", "chaos": "primary_kill@2s:1s",
            "autotune": ""}
    run = assert_run_form_takes_then_refuses(client, django_capture_on_commit_callbacks, form,
                                             bad={"sandbox_stateful": "mongo"}, says="mongo")
    assert (run.target.stateful, run.target.durability) == ("redis", "sync")
