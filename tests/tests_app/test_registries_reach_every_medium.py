"""A vocabulary is a registry of small entries in the ground layer: a new entry is offered by the
forms, the API schema and the command line with no other change (its database check constraint
then needs a migration, as every new choice does)."""

import dataclasses

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from chaos_app.models import ChaosExperiment
from clusters import algorithms, faults, targets
from clusters.faults import FAULT_KINDS, FaultKind
from clusters.targets.url import Url
from tests_app.forms import RunForm, TargetForm
from tests_app.models import Target

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_algorithm(monkeypatch):
    entry = dataclasses.replace(algorithms.ALGORITHMS["round_robin"], name="fair_share_test", label="Fair share (test)")
    monkeypatch.setitem(algorithms.ALGORITHMS, entry.name, entry)
    return entry


@pytest.fixture
def new_fault_kind(monkeypatch):
    class Brownout(FaultKind):
        name = "brownout_test"
        label = "Brownout (test)"

        def apply(self, cluster, targets, params):
            return cluster.add_latency(targets, 10.0, 0.0, params["duration"])

    monkeypatch.setitem(FAULT_KINDS, Brownout.name, Brownout())
    return Brownout


@pytest.fixture
def new_target_kind(monkeypatch):
    class Mirror(Url):
        name = "mirror_test"
        label = "Mirror (test)"

    monkeypatch.setitem(targets.TARGET_KINDS, Mirror.name, Mirror())
    return Mirror


def schema_text(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.content.decode()


def test_a_new_algorithm_is_offered_everywhere(new_algorithm, alice, client, capsys):
    assert new_algorithm.name in dict(RunForm(owner=alice).fields["sandbox_algorithm"].choices)
    assert new_algorithm.name in dict(TargetForm(owner=alice).fields["algorithm"].choices)
    assert f'"{new_algorithm.name}"' in schema_text(client, alice)
    try:
        call_command("loadtest", "--help")
    except SystemExit:
        pass
    assert new_algorithm.name in capsys.readouterr().out
    # the model's own validation accepts it (the database constraint waits for its migration)
    Target(owner=alice, name="t", algorithm=new_algorithm.name).full_clean(validate_constraints=False)


def test_a_new_fault_kind_is_offered_everywhere(new_fault_kind, alice, client, capsys):
    assert new_fault_kind.name in RunForm(owner=alice).fields["chaos"].help_text
    assert faults.parse_step(f"{new_fault_kind.name}@1s:5s").kind == new_fault_kind.name
    try:
        call_command("loadtest", "--help")
    except SystemExit:
        pass
    assert new_fault_kind.name in capsys.readouterr().out
    ChaosExperiment(name="x", steps=[{"kind": new_fault_kind.name, "start_s": 1, "duration_s": 5}]).full_clean()


def test_a_new_target_kind_is_offered_in_the_form_and_the_schema(new_target_kind, alice, client):
    assert new_target_kind.name in dict(TargetForm(owner=alice).fields["kind"].choices)
    assert f'"{new_target_kind.name}"' in schema_text(client, alice)
    Target(owner=alice, name="t", kind=new_target_kind.name, base_url="http://127.0.0.1:8080").full_clean(
        validate_constraints=False)


@pytest.fixture
def new_balancer(monkeypatch):
    from clusters.sandbox import backends
    from clusters.sandbox.backends.nginx import Nginx

    class Angie(Nginx):  # an nginx fork: nginx's equivalents, another binary
        name = "angie_test"
        label = "Angie (test)"
        binary = "angie"

        def equivalent(self, algorithm):
            return algorithm.nginx

    monkeypatch.setitem(backends.BALANCER_BACKENDS, Angie.name, Angie())
    return Angie


def test_a_new_sandbox_balancer_is_offered_everywhere(new_balancer, alice, client, capsys):
    assert new_balancer.name in dict(RunForm(owner=alice).fields["sandbox_balancer"].choices)
    assert new_balancer.name in dict(TargetForm(owner=alice).fields["balancer"].choices)
    assert f'"{new_balancer.name}"' in schema_text(client, alice)
    for command in ("loadtest", "sandbox"):
        try:
            call_command(command, "--help")
        except SystemExit:
            pass
        assert new_balancer.name in capsys.readouterr().out
    Target(owner=alice, name="t", balancer=new_balancer.name, algorithm="p2c").full_clean(validate_constraints=False)
    with pytest.raises(ValidationError) as refused:  # and its equivalents decide what it runs
        Target(owner=alice, name="t", balancer=new_balancer.name, algorithm="ewma").full_clean(
            validate_constraints=False)
    assert "algorithm" in refused.value.message_dict
