"""Bounds, choices and required fields of Target, Scenario and LoadTestRun: field errors
from full_clean, and the database refuses what slips past Python."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import LoadTestRunFactory, ScenarioFactory, TargetFactory, UserFactory
from tests_app.models import LoadTestRun, Scenario, Target

pytestmark = pytest.mark.django_db


def field_errors(instance) -> dict:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pods": 0}, "pods"),
        ({"pods": 65}, "pods"),
        ({"algorithm": "fastest"}, "algorithm"),
        ({"kind": "ftp"}, "kind"),
        ({"service_time_ms": -1.0}, "service_time_ms"),
        ({"kind": "url", "base_url": ""}, "base_url"),
        ({"kind": "url", "base_url": "not a url"}, "base_url"),
        ({"kind": "kubernetes", "service": "web"}, "namespace"),
        ({"kind": "kubernetes", "namespace": "shop"}, "service"),
        ({"attribution": "json_field"}, "pod_json_field"),
        ({"attribution": "prometheus"}, "prometheus_url"),
        ({"attribution": "prometheus", "prometheus_url": "http://127.0.0.1:9090"}, "prometheus_query"),
        ({"kind": "kubernetes", "namespace": "shop", "service": "web", "kubernetes_balancer": "ingress-nginx",
          "attribution": "prometheus", "prometheus_url": "http://127.0.0.1:9090"}, "prometheus_query"),
        ({"expected_pods": "pod-0"}, "expected_pods"),
        ({"weights": {"pod-0": -1}}, "weights"),
        ({"weights": {"pod-0": True}}, "weights"),
        ({"name": ""}, "name"),
    ],
)
def test_target_field_errors(changes, field):
    target = TargetFactory.build(owner=UserFactory(), **changes)
    assert field in field_errors(target)


def test_target_names_are_unique_per_owner_only():
    first = TargetFactory(name="shop")
    assert "__all__" in field_errors(TargetFactory.build(owner=first.owner, name="shop"))
    TargetFactory.build(name="shop").full_clean(exclude=["owner"])  # another owner may reuse it


def test_url_target_trailing_slash_is_dropped():
    # Locust would double the slash of every request path after it.
    target = TargetFactory.build(owner=UserFactory(), kind="url", base_url="http://127.0.0.1:8080/")
    target.full_clean()
    assert target.base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"pods": 0}, "target_pods_range"),
        ({"algorithm": "fastest"}, "target_algorithm_valid"),
        ({"kind": "url", "base_url": ""}, "target_url_needs_base_url"),
        ({"kind": "kubernetes"}, "target_kubernetes_needs_namespace_and_service"),
    ],
)
def test_database_refuses_invalid_target(changes, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        TargetFactory(**changes)
    assert not Target.objects.filter(**changes).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"users": 0}, "users"),
        ({"spawn_rate": 0}, "spawn_rate"),
        ({"duration_s": 0}, "duration_s"),
        ({"shape": "zigzag"}, "shape"),
        ({"spike_factor": 0.5}, "spike_factor"),
        ({"threshold_balance": 101}, "threshold_balance"),
        ({"threshold_error_rate": 1.5}, "threshold_error_rate"),
        ({"think_time_min_ms": 100, "think_time_max_ms": 10}, "think_time_max_ms"),
        ({"shape": "spike", "spike_length_s": 0}, "spike_length_s"),
        ({"shape": "spike", "spike_at_s": 8, "spike_length_s": 5, "duration_s": 10}, "spike_length_s"),
        ({"shape": "stages", "stages": []}, "stages"),
        ({"shape": "stages", "stages": [{"duration_s": 0, "users": 5}]}, "stages"),
        ({"shape": "stages", "stages": [{"duration_s": 5, "users": -1}]}, "stages"),
        ({"request_mix": [{"path": "no-slash"}]}, "request_mix"),
        ({"request_mix": [{"path": "/", "method": "BREW"}]}, "request_mix"),
        ({"request_mix": [{"path": "/", "weight": 0}]}, "request_mix"),
        ({"request_mix": [{"path": "/", "name": 5}]}, "request_mix"),
    ],
)
def test_scenario_field_errors(changes, field):
    assert field in field_errors(ScenarioFactory.build(owner=UserFactory(), **changes))


def test_stages_that_outlast_the_duration_are_refused_on_the_duration():
    scenario = ScenarioFactory.build(owner=UserFactory(), shape="stages", duration_s=30,
                                     stages=[{"duration_s": 30, "users": 10}, {"duration_s": 15, "users": 0}])
    assert field_errors(scenario)["duration_s"] == ["The stages last 45 s: make the duration at least that."]


def test_valid_stages_scenario_is_accepted():
    ScenarioFactory.build(
        owner=UserFactory(), shape="stages",
        stages=[{"duration_s": 5, "users": 10, "spawn_rate": 5}, {"duration_s": 5, "users": 0}],
    ).full_clean()


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"users": 0}, "scenario_users_range"),
        ({"spawn_rate": 0}, "scenario_spawn_rate_positive"),
        ({"think_time_min_ms": 5, "think_time_max_ms": 1}, "scenario_think_time_ordered"),
        ({"threshold_error_rate": 2}, "scenario_threshold_error_rate_range"),
    ],
)
def test_database_refuses_invalid_scenario(changes, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        ScenarioFactory(**changes)


def test_preset_names_are_unique_among_presets():
    with pytest.raises(IntegrityError, match="scenario_unique_preset_name|tests_app_scenario.name"), transaction.atomic():
        ScenarioFactory(owner=None, name="High traffic")  # seeded by the presets migration


def test_frozen_scenario_does_not_follow_later_edits():
    run = LoadTestRunFactory()
    run.scenario.users = 999
    run.scenario.save()
    run.refresh_from_db()
    assert run.scenario_config["users"] == 10


def test_run_status_and_times_are_constrained():
    run = LoadTestRunFactory()
    run.status = "exploded"
    assert "status" in field_errors(run)
    with pytest.raises(IntegrityError, match="run_status_valid"), transaction.atomic():
        LoadTestRun.objects.filter(pk=run.pk).update(status="exploded")
    from django.utils import timezone

    now = timezone.now()
    with pytest.raises(IntegrityError, match="run_ends_after_start"), transaction.atomic():
        LoadTestRun.objects.filter(pk=run.pk).update(started_at=now, ended_at=now - timezone.timedelta(seconds=1))


def test_target_with_runs_cannot_be_deleted():
    run = LoadTestRunFactory()
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        run.target.delete()
    assert LoadTestRun.objects.filter(pk=run.pk).exists()


def test_scenario_choices_match_the_model():
    assert Scenario.Shape.values == ["steady", "spike", "ramp", "sustained", "stages"]
