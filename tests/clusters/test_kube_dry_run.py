"""`loadtest --kubernetes --dry-run` against the API emulator: every object the run would create or
change (a pod kill's delete, a drain's cordon and evictions, Chaos Mesh's NetworkChaos, the tuner's
DestinationRules) printed as YAML, each valid for the API, built by the same code the run uses;
and nothing sent that changes anything, nothing created in LB Lab's database, no load."""

from __future__ import annotations

import io

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.factories import TuningPolicyFactory
from tests.kube_crd_schemas import validate_custom
from tests.kube_emulator import validate, validate_chaos_mesh
from tests.kube_support import emulated_namespace
from tests_app.models import LoadTestRun, Target

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def kube(tmp_path, monkeypatch, settings):
    settings.LBLAB_ALLOWED_TARGETS = ["127.0.0.1/32"]
    yield from emulated_namespace(tmp_path, monkeypatch, settings)


def loadtest(sandbox, *flags) -> str:
    out = io.StringIO()
    call_command("loadtest", "--kubernetes", "--namespace", "web", "--selector", "app=web", "--target",
                 sandbox.endpoint, "--dry-run", *flags, stdout=out)
    return out.getvalue()


def test_dry_run_prints_what_the_run_would_change_and_changes_nothing(kube):
    sandbox, api = kube
    pods_before = sorted(pod.name for pod in sandbox.pods())
    victim = pods_before[0]
    node = next(pod.node for pod in sandbox.pods() if pod.name == victim)
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["round_robin", "random"])
    users_before = get_user_model().objects.count()

    printed = loadtest(sandbox, "--balancer", "istio", "--autotune", policy.name,
                       "--chaos", f"pod_kill@2s:0s:high:{victim}", "--chaos", f"node_drain@3s:4s:high:{node}",
                       "--chaos", f"latency@4s:3s:medium:{victim}")

    heads = [line for line in printed.splitlines() if line.startswith("# ")]
    assert heads[0].startswith("# LB Lab dry run: ") and "nothing was sent" in heads[0]
    assert f"# chaos step 1 pod_kill at 2 s for 0 s: delete Pod {victim} (gracePeriodSeconds 0)" in heads
    assert f"# chaos step 2 node_drain at 3 s for 4 s: merge-patch Node {node}" in heads
    objects = [doc for doc in yaml.safe_load_all(printed) if doc]
    by_kind: dict[str, list[dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj.get("kind", "patch"), []).append(obj)
    evicted = sorted(pod.name for pod in sandbox.pods() if pod.node == node)
    assert sorted(eviction["metadata"]["name"] for eviction in by_kind["Eviction"]) == evicted
    for eviction in by_kind["Eviction"]:
        validate(eviction)
    [chaos] = by_kind["NetworkChaos"]
    validate_chaos_mesh({**chaos, "metadata": {key: value for key, value in chaos["metadata"].items()
                                               if key != "name"} | {"generateName": "lblab-latency-"}})
    assert chaos["spec"]["selector"]["pods"] == {"web": [victim]} and chaos["spec"]["duration"] == "3s"
    assert [rule["spec"]["trafficPolicy"]["loadBalancer"] for rule in by_kind["DestinationRule"]] == [
        {"simple": "ROUND_ROBIN"}, {"simple": "RANDOM"}]
    for rule in by_kind["DestinationRule"]:
        validate_custom(rule)

    # nothing changed: the API saw reads only, the pods are the same, LB Lab recorded nothing
    assert {request.method for request in api.requests} == {"GET"}
    assert sorted(pod.name for pod in sandbox.pods()) == pods_before
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()
    assert get_user_model().objects.count() == users_before


def test_dry_run_refuses_what_the_run_would_refuse_in_one_line(kube):
    sandbox, api = kube
    with pytest.raises(CommandError) as refused:
        loadtest(sandbox, "--balancer", "istio", "--chaos", "errors@2s:3s")
    assert refused.value.returncode == 2
    assert str(refused.value).startswith("--chaos: ")
    assert {request.method for request in api.requests} <= {"GET"}


def test_dry_run_shows_each_balancer_setting_as_it_is_now_and_as_the_run_would_make_it(kube):
    sandbox, api = kube
    api.add_balancer_object({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                             "metadata": {"name": "web-rule", "namespace": "web"},
                             "spec": {"host": "web.web.svc.cluster.local",
                                      "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}}})
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["round_robin", "consistent_hash"])
    printed = loadtest(sandbox, "--balancer", "istio", "--autotune", policy.name)
    heads = [line for line in printed.splitlines() if line.startswith("# ")]
    where = "setting of DestinationRule web-rule spec.trafficPolicy.loadBalancer"
    assert f"# the tuner switching to round_robin: {where}: current {{simple: RANDOM}} -> new {{simple: ROUND_ROBIN}}" in heads
    assert (f"# the tuner switching to consistent_hash: {where}: current {{simple: RANDOM}} "
            "-> new {consistentHash: {useSourceIp: true}}") in heads
    # the user's rule is patched (its setting replaced), no rule of LB Lab's created beside it
    patches = [doc for doc in yaml.safe_load_all(printed) if doc and doc.get("spec", {}).get("trafficPolicy")]
    assert [doc["spec"]["trafficPolicy"]["loadBalancer"] for doc in patches] == [
        {"simple": "ROUND_ROBIN"}, {"simple": None, "consistentHash": {"useSourceIp": True}}]
    assert all("kind" not in doc for doc in patches)
    assert {request.method for request in api.requests} == {"GET"}


def test_dry_run_says_a_setting_is_absent_before_lblab_creates_it(kube):
    sandbox, api = kube
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["round_robin"])
    printed = loadtest(sandbox, "--balancer", "istio", "--autotune", policy.name)
    assert ("# the tuner switching to round_robin: setting of DestinationRule lblab-web "
            "spec.trafficPolicy.loadBalancer: current absent -> new {simple: ROUND_ROBIN}") in printed.splitlines()
