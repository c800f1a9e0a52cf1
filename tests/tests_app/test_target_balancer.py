"""A sandbox target's balancer (`Target.balancer`: lblab, nginx, haproxy) end to end: the API, the
target and new-run forms, `loadtest --balancer`, and a run behind real nginx recorded like any other."""

import json
import subprocess

import pytest
from django.urls import reverse

from clusters.base import ClusterError
from clusters.sandbox.backends import BALANCER_BACKENDS, backend_named
from tests.conftest import PYTHON, REPO, assert_loadtest_refused, assert_run_form_takes_then_refuses
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db


def installed(name: str) -> bool:
    try:
        backend_named(name).located()
        return True
    except ClusterError:
        return False


def test_api_takes_a_balancer_and_shows_it(alice, api_for):
    api = api_for(alice)
    created = api.post(reverse("api:target-list"), {"name": "shop", "kind": "sandbox", "pods": 3,
                                                    "balancer": "haproxy", "algorithm": "least_conn"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["balancer"] == "haproxy"
    target = Target.objects.get(pk=created.json()["id"])
    assert target.balancer == "haproxy" and target.spec().balancer == "haproxy"
    assert "behind haproxy" in target.where


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"balancer": "envoy"}, "balancer", '"envoy" is not a valid choice'),
    ({"balancer": "nginx", "algorithm": "ewma"}, "algorithm", "ewma has no nginx equivalent"),
    ({"balancer": "haproxy", "algorithm": "consistent_hash"}, "algorithm", "needs options.header"),
])
def test_api_refuses_a_bad_balancer_on_its_field(alice, api_for, body, field, says):
    answer = api_for(alice).post(reverse("api:target-list"), {"name": "x", "kind": "sandbox", **body}, format="json")
    assert answer.status_code == 400
    assert list(answer.json()) == [field]
    assert says in answer.json()[field][0]
    assert not Target.objects.exists()


def test_an_inline_run_target_refuses_a_bad_balancer_on_its_field(alice, api_for):
    answer = api_for(alice).post(reverse("api:run-list"), {
        "target": {"kind": "sandbox", "pods": 2, "balancer": "nginx", "algorithm": "ewma"},
        "scenario": {"shape": "steady", "users": 2, "spawn_rate": 2, "duration_s": 2}}, format="json")
    assert answer.status_code == 400
    assert "algorithm" in answer.json()["target"]
    assert not LoadTestRun.objects.exists()


def test_forms_offer_every_balancer_of_the_registry(client, alice):
    client.force_login(alice)
    page = client.get(reverse("run-new")).content.decode()
    for name in BALANCER_BACKENDS:
        assert f'value="{name}"' in page
    assert 'name="sandbox_balancer"' in page
    target_page = client.get(reverse("target-new")).content.decode()
    assert 'name="balancer"' in target_page
    for name in BALANCER_BACKENDS:
        assert f'value="{name}"' in target_page


def test_target_form_saves_the_balancer_and_refuses_what_it_cannot_run(client, alice):
    client.force_login(alice)
    base = {"name": "lab", "kind": "sandbox", "pods": "3", "nodes": "2", "service_time_ms": "1",
            "attribution": "header", "pod_header": "X-Pod", "expected_pods": "[]", "weights": "{}"}
    refused = client.post(reverse("target-new"), base | {"balancer": "haproxy", "algorithm": "ewma"})
    assert refused.status_code == 200 and "ewma has no haproxy equivalent" in refused.content.decode()
    saved = client.post(reverse("target-new"), base | {"balancer": "haproxy", "algorithm": "p2c"})
    assert saved.status_code == 302, saved.content.decode()[-1500:]
    assert Target.objects.get().balancer == "haproxy"


def test_new_run_form_sends_the_balancer_to_the_run(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    form = {"target": "", "sandbox_pods": "3", "sandbox_balancer": "nginx", "sandbox_algorithm": "p2c",
            "scenario": "", "shape": "steady", "users": "4", "spawn_rate": "4", "duration_s": "5", "workers": "1",
            "chaos": "", "autotune": ""}
    run = assert_run_form_takes_then_refuses(client, django_capture_on_commit_callbacks, form,
                                             bad={"sandbox_algorithm": "ewma"}, says="ewma has no nginx equivalent")
    assert run.target.balancer == "nginx"


@pytest.mark.parametrize(("flags", "reason"), [
    (["--balancer", "envoy"], "--balancer: unknown balancer 'envoy'"),
    (["--balancer", "nginx", "--algorithm", "ewma"], "--algorithm: ewma has no nginx equivalent"),
])
def test_loadtest_bad_balancer_is_exit_2_in_one_line(flags, reason):
    assert_loadtest_refused("--sandbox", *flags, reason=reason)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("balancer", [
    pytest.param(name, marks=pytest.mark.skipif(not installed(name), reason=f"{name} is not installed: make balancers"))
    for name in ("nginx", "haproxy")])
def test_loadtest_behind_a_real_balancer_runs_and_attributes_every_pod(child_env, tmp_path, balancer):
    # HAProxy lower-cases the pods' X-Pod header: attribution matches it case-insensitively
    out = tmp_path / "summary.json"
    result = subprocess.run(
        [PYTHON, "manage.py", "loadtest", "--sandbox", "--balancer", balancer, "--pods", "3", "--users", "6",
         "--duration", "4s", "--json", str(out)], cwd=REPO, env=child_env, capture_output=True, text=True, timeout=200,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(out.read_text())
    run = LoadTestRun.objects.get()
    assert run.target.balancer == balancer
    assert len(summary["pods"]) == 3 and summary["unattributed"] == 0 and summary["failures"] == 0
    assert summary["balance"]["grade"] == "A"
