"""Attaching a tuning policy to a run (`autotune`): by id or name from the API, `loadtest
--autotune` and the new-run form, all through submit_run; an unknown or disabled policy, one whose
actions the target's balancer cannot do and a target whose balancer LB Lab cannot change are
refused on the field with nothing created."""

import pytest
from django.urls import reverse

from tests.conftest import assert_loadtest_refused
from tests.factories import TuningPolicyFactory
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db

SANDBOX = {"kind": "sandbox", "pods": 3, "algorithm": "l4_connection"}
SCENARIO = {"shape": "steady", "users": 4, "spawn_rate": 4, "duration_s": 10}


@pytest.fixture
def policies():
    TuningPolicyFactory(name="even", algorithms=["least_conn", "round_robin"])
    TuningPolicyFactory(name="off", enabled=False)
    TuningPolicyFactory(name="ewma only", algorithms=["ewma"])  # LB Lab's balancer has it; nginx has not


@pytest.mark.parametrize(("target", "autotune", "message"), [
    (SANDBOX, "nope", "tuning policy 'nope' does not exist; the enabled ones: "),
    (SANDBOX, "off", "tuning policy 'off' is disabled"),
    ({**SANDBOX, "balancer": "nginx"}, "ewma only", "cannot act on the nginx balancer: algorithms: ewma has no nginx"),
    ({"kind": "url", "base_url": "http://127.0.0.1:9"}, "even", "LB Lab cannot change the balancer of a url target"),
    (SANDBOX, ["even"], "A tuning policy's id or name."),
])
def test_api_refuses_a_policy_it_cannot_use_on_the_field(alice, api_for, policies, target, autotune, message):
    response = api_for(alice).post(reverse("api:run-list"), {"target": target, "scenario": SCENARIO,
                                                             "autotune": autotune}, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == ["autotune"]
    assert len(errors["autotune"]) == 1 and message in errors["autotune"][0]
    if autotune == "nope":  # the enabled policies are named, the disabled one not
        assert "even" in errors["autotune"][0] and "off" not in errors["autotune"][0]
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()


def test_api_attaches_a_policy_by_name_or_id(alice, api_for, policies):
    by_name = api_for(alice).post(reverse("api:run-list"), {"target": SANDBOX, "scenario": SCENARIO,
                                                            "autotune": "even"}, format="json")
    assert by_name.status_code == 201, by_name.content
    policy_id = LoadTestRun.objects.get(pk=by_name.json()["id"]).autotune.pk
    assert by_name.json()["autotune"] == policy_id
    by_id = api_for(alice).post(reverse("api:run-list"), {"target": SANDBOX, "scenario": SCENARIO,
                                                          "autotune": policy_id}, format="json")
    assert by_id.status_code == 201, by_id.content
    assert LoadTestRun.objects.get(pk=by_id.json()["id"]).autotune.name == "even"


@pytest.mark.parametrize(("flags", "reason"), [
    (["--sandbox", "--autotune", "nope"], "--autotune: tuning policy 'nope' does not exist"),
    (["--sandbox", "--autotune", "off"], "--autotune: tuning policy 'off' is disabled"),
    (["--sandbox", "--balancer", "nginx", "--autotune", "ewma only"],
     "--autotune: policy 'ewma only' cannot act on the nginx balancer"),
    (["--target", "http://127.0.0.1:{port}", "--autotune", "even"],
     "--autotune: LB Lab cannot change the balancer of a url target"),
])
def test_loadtest_refuses_with_exit_2_one_line_and_nothing_created(policies, live_port, flags, reason):
    flags = [flag.replace("{port}", str(live_port)) for flag in flags]
    assert_loadtest_refused(*flags, "--duration", "5s", reason=reason)


@pytest.fixture
def live_port():
    """A port something listens on, so a URL target passes its own checks and the policy is what is refused."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


CUSTOM = {"target": "", "sandbox_pods": "3", "sandbox_algorithm": "l4_connection", "scenario": "", "shape": "steady",
          "users": "4", "spawn_rate": "4", "duration_s": "10", "workers": "1", "chaos": ""}


def test_the_form_attaches_the_chosen_policy(client, alice, policies):
    client.force_login(alice)
    policy = TuningPolicyFactory._meta.model.objects.get(name="even")
    response = client.post(reverse("run-new"), {**CUSTOM, "autotune": policy.pk})
    assert response.status_code == 302, response.context["form"].errors
    assert LoadTestRun.objects.get().autotune == policy


def test_the_form_shows_a_policy_the_balancer_cannot_do_on_its_field(client, alice, policies):
    client.force_login(alice)
    policy = TuningPolicyFactory._meta.model.objects.get(name="ewma only")
    response = client.post(reverse("run-new"), {**CUSTOM, "sandbox_balancer": "haproxy", "autotune": policy.pk})
    errors = response.context["form"].errors
    assert list(errors) == ["autotune"], errors
    assert "cannot act on the haproxy balancer" in errors["autotune"][0]
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()
